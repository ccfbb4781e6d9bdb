#include "event_output.hpp"

#include <algorithm>

#include "framering/ringbuf/reader.hpp"

namespace framering::workers {

EventOutput::EventOutput(EventSink& sink, std::string analytic, Log log, Report& report,
                         std::unique_ptr<MqttPublisher> mqtt, std::unique_ptr<Snapshots> snapshots)
    : sink_(sink),
      analytic_(std::move(analytic)),
      log_(std::move(log)),
      report_(report),
      snapshots_(std::move(snapshots)),
      mqtt_(std::move(mqtt)) {
  if (mqtt_) mqtt_->state(analytic_, lifecycles_.state().dump());  // nothing active yet
}

void EventOutput::measurement(const Event& e, const FrameContext& ctx) const {
  nlohmann::json j = e.fields;
  j["boxes"] = e.boxes.size();
  log_.debug("frame " + std::to_string(ctx.frame_no) + " " + e.kind + ": " + j.dump());
}

std::string EventOutput::snapshot(const std::string& name, const Event& e, cv::Point offset,
                                  const SourceFrame& source) {
  SnapshotMarks marks;
  for (const cv::Rect& b : e.boxes) marks.boxes.push_back(b + offset);
  for (const auto& poly : e.outlines) {
    std::vector<cv::Point> moved;
    for (const cv::Point& p : poly) moved.push_back(p + offset);
    marks.outlines.push_back(std::move(moved));
  }
  const SnapshotResult snap =
      snapshots_->write(name, source.full, source.pix_fmt, marks, source.still_valid);
  report_.copied(snap.bytes_copied);
  if (snap.torn) report_.snapshot_torn();
  return snap.path;
}

void EventOutput::write(const Event& e, const FrameContext& ctx, cv::Point offset,
                        const SourceFrame* source) {
  const std::uint64_t now = ring::realtime_ns();
  const Lifecycle* life = lifecycles_.apply(e, ctx.frame_no, now);
  if (life && snapshots_ && source && !source->full.empty()) {
    if (e.phase == Phase::kStart) {
      const std::string path = snapshot(life->id, e, offset, *source);
      if (!path.empty()) lifecycles_.set_snapshot(life->id, path);
    } else if (e.phase == Phase::kUpdate && !e.scores.empty()) {
      // An update scoring above everything before it gets a picture too, "<id>-best.jpg",
      // replaced whenever a later update beats it.
      const double score = *std::max_element(e.scores.begin(), e.scores.end());
      if (score > life->best_score) {
        lifecycles_.set_best(life->id, score, snapshot(life->id + "-best", e, offset, *source));
      }
    }
  }
  const nlohmann::ordered_json json = sink_.to_json(e, life, ctx, offset, now);
  sink_.write(json);
  report_.event(e);
  if (!mqtt_) return;
  mqtt_->event(json.dump());
  if (e.phase == Phase::kStart || e.phase == Phase::kUpdate || e.phase == Phase::kEnd)
    mqtt_->state(analytic_, lifecycles_.state().dump());
}

void EventOutput::frame(const std::vector<Event>& events, const FrameContext& ctx, cv::Point offset,
                        const SourceFrame& source) {
  for (const Event& e : events) {
    if (e.phase == Phase::kMeasurement)
      measurement(e, ctx);
    else
      write(e, ctx, offset, &source);
  }
}

void EventOutput::close_all(const std::string& reason, const FrameContext& ctx) {
  for (const Event& e : lifecycles_.close_all(reason)) write(e, ctx, cv::Point(), nullptr);
}

}  // namespace framering::workers
