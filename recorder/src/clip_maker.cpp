#include "clip_maker.hpp"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <fstream>
#include <nlohmann/json.hpp>

#include "framering/ringbuf/reader.hpp"

namespace framering::recorder {

namespace fs = std::filesystem;

namespace {

// File-name safe: the event ids workers make are "<seconds>.<micros>-<hex>".
bool safe_id(const std::string& id) {
  if (id.empty() || id.size() > 64 || id[0] == '.') return false;
  for (char c : id) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '.' || c == '-' || c == '_';
    if (!ok) return false;
  }
  return true;
}

std::uint64_t seconds_ns(double s) {
  return static_cast<std::uint64_t>(s * 1e9);
}

}  // namespace

ClipMaker::ClipMaker(ClipOptions options, metrics::RecorderMetrics& metrics)
    : options_(std::move(options)), metrics_(metrics) {
  // Events already in the file when the recorder starts are history, not clips to make.
  std::error_code ec;
  const auto size = fs::file_size(options_.events_path, ec);
  if (!ec) events_offset_ = size;
}

ClipMaker::~ClipMaker() {
  finish_clip();
}

void ClipMaker::on_packet(ring::PacketReader& reader, const ring::PacketView& packet) {
  index_.push_back({packet.position, packet.capture_realtime_ns, packet.keyframe()});
  // Forget what the writer has overwritten (a position is readable while within one capacity).
  const std::uint64_t tail = reader.tail();
  while (!index_.empty() && index_.front().position + reader.info().capacity <= tail)
    index_.pop_front();
  if (!clip_ || !clip_->writer) return;
  try {
    clip_->writer->write(packet);
  } catch (const std::exception& e) {
    spdlog::error("clip {}: {}", clip_->path.string(), e.what());
    clip_.reset();
  }
}

void ClipMaker::discontinuity() {
  finish_clip();
  index_.clear();
}

void ClipMaker::poll(ring::PacketReader& reader) {
  // New complete lines since the last poll (a line still being written waits for its newline).
  const int fd = ::open(options_.events_path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd >= 0) {
    char buf[65536];
    for (;;) {
      const ssize_t n = ::pread(fd, buf, sizeof buf, static_cast<off_t>(events_offset_));
      if (n <= 0) break;
      events_offset_ += static_cast<std::uint64_t>(n);
      partial_line_.append(buf, static_cast<std::size_t>(n));
      std::size_t nl;
      while ((nl = partial_line_.find('\n')) != std::string::npos) {
        const std::string line = partial_line_.substr(0, nl);
        partial_line_.erase(0, nl + 1);
        on_event_line(reader, line);
      }
      if (partial_line_.size() > (1 << 20)) partial_line_.clear();  // not JSON lines
    }
    ::close(fd);
  }
  if (clip_ && clip_->until_ns != 0 && ring::realtime_ns() >= clip_->until_ns) finish_clip();
}

void ClipMaker::on_event_line(ring::PacketReader& reader, const std::string& line) {
  const nlohmann::json e = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (!e.is_object() || e.contains("clip")) return;  // not an event, or our own update
  auto text = [&](const char* key) {
    return e.contains(key) && e[key].is_string() ? e[key].get<std::string>() : std::string();
  };
  auto number = [&](const char* key) -> std::uint64_t {
    return e.contains(key) && e[key].is_number_unsigned() ? e[key].get<std::uint64_t>() : 0;
  };
  if (text("camera") != options_.camera && text("ring") != options_.ring) return;
  const std::string type = text("type");
  const std::string id = text("id");
  if (!safe_id(id)) return;
  if (type == "start") {
    if (!options_.kinds.empty() && std::find(options_.kinds.begin(), options_.kinds.end(),
                                             text("kind")) == options_.kinds.end()) {
      return;  // not a kind this camera clips
    }
    const std::uint64_t start =
        number("start_time_ns") ? number("start_time_ns") : number("wall_time_ns");
    if (clip_) {
      clip_->open_events.insert(id);  // overlapping: the same clip goes on
      clip_->until_ns = 0;
      return;
    }
    start_clip(reader, id, text("kind"), text("analytic"), start);
  } else if (type == "end" && clip_ && clip_->open_events.erase(id) == 1 &&
             clip_->open_events.empty()) {
    const std::uint64_t end = number("wall_time_ns") ? number("wall_time_ns") : ring::realtime_ns();
    clip_->until_ns = end + seconds_ns(options_.post_s);
  }
}

void ClipMaker::start_clip(ring::PacketReader& reader, const std::string& id,
                           const std::string& kind, const std::string& analytic,
                           std::uint64_t start_ns) {
  Clip clip;
  clip.id = id;
  clip.kind = kind;
  clip.analytic = analytic;
  clip.start_time_ns = start_ns;
  clip.open_events.insert(id);
  // The keyframe at or before start - pre, else the oldest keyframe we still have.
  const std::uint64_t want =
      start_ns > seconds_ns(options_.pre_s) ? start_ns - seconds_ns(options_.pre_s) : 0;
  std::optional<std::size_t> from;
  for (std::size_t i = 0; i < index_.size(); ++i) {
    if (!index_[i].keyframe) continue;
    if (!from || index_[i].capture_ns <= want) from = i;
    if (index_[i].capture_ns > want) break;
  }
  const ring::PacketStreamInfo& stream = reader.info().stream;
  const fs::path dir = fs::path(options_.clips_dir) / options_.camera;
  std::error_code ec;
  fs::create_directories(dir, ec);
  clip.path = dir / (id + container_extension(stream));
  try {
    clip.writer = std::make_unique<SegmentWriter>(clip.path.string() + ".part", stream);
  } catch (const std::exception& e) {
    spdlog::error("clip for event {}: {}", id, e.what());
    return;
  }
  // Pre-roll: re-read the history from the ring, in place, up to what the recorder has read.
  if (from) {
    for (std::size_t i = *from; i < index_.size(); ++i) {
      const ring::PacketReadResult r = reader.read(index_[i].position);
      if (r.status != ring::ReadStatus::kOk || r.packet.position != index_[i].position) break;
      clip.writer->write(r.packet);
      if (!reader.valid(r.packet)) break;  // overwritten while muxed: keep what came before
    }
  }
  spdlog::info("clip {} started ({} event {})", clip.path.string(), kind, id);
  clip_ = std::move(clip);
}

void ClipMaker::finish_clip() {
  if (!clip_) return;
  Clip clip = std::move(*clip_);
  clip_.reset();
  if (!clip.writer) return;
  try {
    clip.writer->finish();
    std::error_code ec;
    fs::rename(clip.writer->path(), clip.path, ec);
    if (ec) throw std::runtime_error("rename: " + ec.message());
  } catch (const std::exception& e) {
    spdlog::error("clip {}: {}", clip.path.string(), e.what());
    return;
  }
  metrics_.clips.Increment();
  spdlog::info("clip {} finished: {} packets, {:.2f} s", clip.path.string(), clip.writer->packets(),
               clip.writer->seconds());
  publish_clip_path(clip);
}

void ClipMaker::publish_clip_path(const Clip& clip) {
  nlohmann::json u;
  u["schema_version"] = 1;
  u["id"] = clip.id;
  u["type"] = "update";
  u["camera"] = options_.camera;
  u["ring"] = options_.ring;
  u["worker"] = "record";
  u["analytic"] = clip.analytic;
  u["kind"] = clip.kind;
  u["wall_time_ns"] = ring::realtime_ns();
  u["start_time_ns"] = clip.start_time_ns;
  u["clip"] = clip.path.string();
  const std::string json = u.dump();
  if (options_.publish_update) options_.publish_update(json);
  const std::string line = json + "\n";
  // One append of one whole line: O_APPEND keeps it from interleaving with the workers' lines.
  const int fd = ::open(options_.events_path.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
  if (fd < 0 || ::write(fd, line.data(), line.size()) != static_cast<ssize_t>(line.size())) {
    spdlog::warn("could not append the clip of event {} to {}", clip.id, options_.events_path);
  }
  if (fd >= 0) ::close(fd);
}

}  // namespace framering::recorder
