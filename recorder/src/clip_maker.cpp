#include "clip_maker.hpp"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
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
  events_fd_ = ::open(options_.events_path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  struct stat st {};
  if (events_fd_ >= 0 && ::fstat(events_fd_, &st) == 0) {
    events_inode_ = st.st_ino;
    events_offset_ = static_cast<std::uint64_t>(st.st_size);
  }
}

ClipMaker::~ClipMaker() {
  finish_clip();
  if (events_fd_ >= 0) ::close(events_fd_);
}

void ClipMaker::on_packet(ring::PacketReader& reader, const ring::PacketView& packet) {
  if (reader.info().epoch != pre_checked_epoch_) check_pre_roll_fits(reader.info());
  // A reconnect or a looped source: timestamps start afresh, and what follows may not begin
  // with a keyframe. The history before it cannot be a pre-roll of what comes after.
  if (packet.flags & ring::pkt::kFlagDiscontinuity) {
    index_.clear();
    if (clip_ && clip_->writer) {
      clip_->writer->continue_after_gap();
      clip_->await_keyframe = true;
      spdlog::info("clip {}: the stream restarted; going on at its next keyframe",
                   clip_->path.string());
    }
  }
  index_.push_back({packet.position, packet.capture_realtime_ns, packet.keyframe()});
  // Forget what the writer has overwritten (a position is readable while within one capacity).
  const std::uint64_t tail = reader.tail();
  while (!index_.empty() && index_.front().position + reader.info().capacity <= tail)
    index_.pop_front();
  if (!clip_ || !clip_->writer) return;
  if (clip_->until_ns != 0 && packet.capture_realtime_ns >= clip_->until_ns) {
    finish_clip();  // `post` seconds after the last end, by capture time
    return;
  }
  if (clip_->await_keyframe && !packet.keyframe()) return;
  clip_->await_keyframe = false;
  try {
    clip_->writer->write(packet);
  } catch (const std::exception& e) {
    spdlog::error("clip {}: {}", clip_->path.string(), e.what());
    clip_.reset();
    return;
  }
  if (clip_->writer->seconds() >= options_.max_clip_s) {
    spdlog::warn("clip {} reached --max-clip-seconds {} with {} event(s) still open; finished",
                 clip_->path.string(), options_.max_clip_s, clip_->open_events.size());
    finish_clip();
  }
}

void ClipMaker::discontinuity() {
  finish_clip();
  index_.clear();
}

void ClipMaker::check_pre_roll_fits(const ring::PacketRingInfo& info) {
  pre_checked_epoch_ = info.epoch;
  const double held_s = static_cast<double>(info.sizing.history_ms) / 1000.0;
  if (info.sizing.history_ms != 0 && options_.pre_s > held_s) {
    spdlog::warn(
        "--pre {} s is more than the packet history ring '{}' holds (the ingest's "
        "--packet-history {} s): clips get at most {} s before their event; raise "
        "--packet-history or lower --pre",
        options_.pre_s, options_.ring, held_s, held_s);
  }
}

void ClipMaker::poll(ring::PacketReader& reader) {
  const std::uint64_t now = ring::monotonic_ns();
  if (now - last_events_look_ns_ >= 100'000'000ULL) {  // the loop runs per packet: not each time
    last_events_look_ns_ = now;
    read_events(reader);
  }
  if (!clip_) return;
  const std::uint64_t wall = ring::realtime_ns();
  // No packet reached the end time (the stream stalled or stopped): finish by the clock, with
  // a margin for packets still on their way.
  if (clip_->until_ns != 0 && wall >= clip_->until_ns + 2'000'000'000ULL) finish_clip();
  // Packets stopped while an event is open: the cap holds by the clock too.
  else if (wall >= clip_->opened_ns + seconds_ns(options_.max_clip_s + options_.pre_s + 2)) {
    spdlog::warn("clip {} open for --max-clip-seconds {}; finished", clip_->path.string(),
                 options_.max_clip_s);
    finish_clip();
  }
}

void ClipMaker::read_events(ring::PacketReader& reader) {
  auto read_lines = [&](int fd) {
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
  };
  struct stat st {};
  if (::stat(options_.events_path.c_str(), &st) == 0 &&
      (events_fd_ < 0 || static_cast<std::uint64_t>(st.st_ino) != events_inode_)) {
    // A new file under the name (first created, or rotated): finish the old one, then read the
    // new one from its beginning.
    if (events_fd_ >= 0) {
      read_lines(events_fd_);
      ::close(events_fd_);
      spdlog::info("events file {} was replaced (rotated); reading the new one from its start",
                   options_.events_path);
    }
    events_fd_ = ::open(options_.events_path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    events_inode_ = static_cast<std::uint64_t>(st.st_ino);
    events_offset_ = 0;
    partial_line_.clear();
  }
  if (events_fd_ < 0) return;
  struct stat now {};
  if (::fstat(events_fd_, &now) == 0 && static_cast<std::uint64_t>(now.st_size) < events_offset_) {
    spdlog::info("events file {} was truncated (to {} bytes); reading it from its start",
                 options_.events_path, now.st_size);
    events_offset_ = 0;
    partial_line_.clear();
  }
  read_lines(events_fd_);
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
  // The frame's capture time: the packets carry the same clock. The times the worker wrote
  // the event (start_time_ns, wall_time_ns) are later by the analysis latency; they are only
  // the fallback for events without capture_ns.
  const std::uint64_t capture = number("capture_ns");
  if (type == "start") {
    if (!options_.kinds.empty() && std::find(options_.kinds.begin(), options_.kinds.end(),
                                             text("kind")) == options_.kinds.end()) {
      return;  // not a kind this camera clips
    }
    const std::uint64_t start = capture                   ? capture
                                : number("start_time_ns") ? number("start_time_ns")
                                                          : number("wall_time_ns");
    if (clip_) {
      clip_->open_events.insert(id);  // overlapping: the same clip goes on
      clip_->until_ns = 0;
      return;
    }
    start_clip(reader, id, text("kind"), text("analytic"), start);
  } else if (type == "end" && clip_ && clip_->open_events.erase(id) == 1 &&
             clip_->open_events.empty()) {
    const std::uint64_t end = capture                  ? capture
                              : number("wall_time_ns") ? number("wall_time_ns")
                                                       : ring::realtime_ns();
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
  clip.opened_ns = ring::realtime_ns();
  clip.open_events.insert(id);
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
  try {
    write_pre_roll(
        reader, clip,
        start_ns > seconds_ns(options_.pre_s) ? start_ns - seconds_ns(options_.pre_s) : 0);
  } catch (const std::exception& e) {
    spdlog::error("clip for event {}: {}", id, e.what());
    return;
  }
  spdlog::info("clip {} started ({} event {}{})", clip.path.string(), kind, id,
               clip.await_keyframe ? "; no pre-roll, from the next keyframe" : "");
  clip_ = std::move(clip);
}

// Pre-roll: re-read the history from the ring, in place, from the keyframe at or before `want`
// (else the oldest keyframe held) up to what the recorder has read. With no keyframe held, or
// a history overwritten while it was read, the clip starts at the next live keyframe instead:
// a decoder can do nothing with the P-frames before it.
void ClipMaker::write_pre_roll(ring::PacketReader& reader, Clip& clip, std::uint64_t want) {
  std::optional<std::size_t> from;
  for (std::size_t i = 0; i < index_.size(); ++i) {
    if (!index_[i].keyframe) continue;
    if (!from || index_[i].capture_ns <= want) from = i;
    if (index_[i].capture_ns > want) break;
  }
  if (!from) {
    clip.await_keyframe = true;
    return;
  }
  for (std::size_t i = *from; i < index_.size(); ++i) {
    const ring::PacketReadResult r = reader.reread(index_[i].position);
    bool ok = r.status == ring::ReadStatus::kOk && r.packet.position == index_[i].position;
    if (ok) {
      clip.writer->write(r.packet);
      ok = reader.valid(r.packet);  // overwritten while muxed?
    }
    if (ok) continue;
    // A part of the pre-roll is gone: start the file again, at the next live keyframe.
    const std::string part = clip.writer->path();
    clip.writer.reset();
    std::error_code ec;
    fs::remove(part, ec);
    clip.writer = std::make_unique<SegmentWriter>(part, reader.info().stream);
    clip.await_keyframe = true;
    spdlog::warn("clip {}: the pre-roll was overwritten while read; starting at the next keyframe",
                 clip.path.string());
    return;
  }
}

void ClipMaker::finish_clip() {
  if (!clip_) return;
  Clip clip = std::move(*clip_);
  clip_.reset();
  if (!clip.writer) return;
  if (clip.writer->packets() == 0) {
    // Its time passed before a keyframe came: nothing a player could show.
    const std::string part = clip.writer->path();
    clip.writer.reset();
    std::error_code ec;
    fs::remove(part, ec);
    spdlog::warn("clip {}: no keyframe arrived before its end; no clip", clip.path.string());
    return;
  }
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
