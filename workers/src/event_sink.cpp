#include "framering/workers/event_sink.hpp"

#include <cerrno>
#include <cstring>

#include "framering/ringbuf/reader.hpp"
#include "framering/workers/config_error.hpp"
#include "lifecycles.hpp"

namespace framering::workers {

EventSink::EventSink(const std::string& path, EventSource source)
    : source_(std::move(source)), path_(path) {
  if (path == "-") {
    out_ = stdout;
    return;
  }
  out_ = std::fopen(path.c_str(), "a");
  if (!out_) {
    throw ConfigError(
        "--events " + path + ": cannot open for appending: " + std::strerror(errno) +
        " (check the directory exists and is writable, or use --events - for stdout)");
  }
  owned_ = true;
}

EventSink::~EventSink() {
  if (owned_) std::fclose(out_);
}

nlohmann::ordered_json EventSink::to_json(const Event& event, const Lifecycle* life,
                                          const FrameContext& ctx, cv::Point offset,
                                          std::uint64_t wall_time_ns) const {
  nlohmann::ordered_json j;  // keys in schema order, analytic-specific fields last
  j["schema_version"] = kEventSchemaVersion;
  if (life) j["id"] = life->id;
  j["type"] = phase_name(event.phase);
  j["camera"] = source_.camera;
  j["ring"] = source_.ring;
  j["worker"] = source_.worker;
  j["analytic"] = source_.analytic;
  j["kind"] = event.kind;
  if (!event.subject.empty()) j["subject"] = event.subject;
  j["frame_no"] = ctx.frame_no;
  j["seq"] = ctx.seq;
  j["pts_ns"] = ctx.pts_ns;
  // When the ingest received the frame: the time a recorder cuts a clip at, which the
  // analysis latency in wall_time_ns/start_time_ns would shift.
  if (ctx.capture_realtime_ns) j["capture_ns"] = ctx.capture_realtime_ns;
  j["wall_time_ns"] = wall_time_ns;
  if (life) {
    j["start_time_ns"] = life->start_time_ns;
    j["start_frame_no"] = life->start_frame_no;
  }
  nlohmann::ordered_json boxes = nlohmann::ordered_json::array();
  for (const cv::Rect& b : event.boxes) {
    boxes.push_back({b.x + offset.x, b.y + offset.y, b.width, b.height});
  }
  j["boxes"] = std::move(boxes);
  j["scores"] = event.scores;
  if (!event.outlines.empty()) {
    nlohmann::ordered_json zones = nlohmann::ordered_json::array();
    for (const auto& poly : event.outlines) {
      nlohmann::ordered_json pts = nlohmann::ordered_json::array();
      for (const cv::Point& p : poly) pts.push_back({p.x + offset.x, p.y + offset.y});
      zones.push_back(std::move(pts));
    }
    j["zones"] = std::move(zones);
  }
  if (life && !life->snapshot.empty()) j["snapshot"] = life->snapshot;
  if (life && !life->best_snapshot.empty()) j["best_snapshot"] = life->best_snapshot;
  for (const auto& [key, value] : event.fields.items()) j[key] = value;
  return j;
}

void EventSink::write(const nlohmann::ordered_json& event) {
  const std::string line = event.dump() + "\n";
  std::fwrite(line.data(), 1, line.size(), out_);
  std::fflush(out_);
}

}  // namespace framering::workers
