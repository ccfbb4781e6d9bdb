// The recorder loop: follow the packet ring, cut segments at keyframes, stay correct when lapped
// or when the ingest restarts (docs/recording.md).
#include "framering/recorder/recorder.hpp"

#include <signal.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <memory>
#include <optional>
#include <thread>
#include <utility>

#include "clip_maker.hpp"
#include "framering/metrics/catalogue.hpp"
#include "framering/ringbuf/error.hpp"
#include "framering/ringbuf/names.hpp"
#include "framering/ringbuf/packet_ring.hpp"
#include "framering/ringbuf/reader_stats.hpp"
#include "framering/workers/config_error.hpp"
#include "framering/workers/log.hpp"
#include "framering/workers/mqtt_publisher.hpp"
#include "segment_files.hpp"
#include "segment_writer.hpp"

namespace framering::recorder {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

std::atomic<bool> g_stop{false};

void on_stop(int) {
  g_stop.store(true);
}

void install_stop_handlers() {
  struct sigaction sa {};
  sa.sa_handler = on_stop;
  sigemptyset(&sa.sa_mask);
  ::sigaction(SIGINT, &sa, nullptr);
  ::sigaction(SIGTERM, &sa, nullptr);
}

class Recorder {
 public:
  Recorder(const RecorderOptions& options, metrics::RecorderMetrics& metrics,
           metrics::MqttMetrics* mqtt_metrics)
      : options_(options),
        camera_(options.camera.empty() ? options.ring : options.camera),
        dir_(fs::path(options.dir) / camera_),
        metrics_(metrics) {
    if (options.clips_dir.empty()) return;
    ClipOptions clip{options.clips_dir, options.events_path, camera_, options.ring, options.pre_s,
                     options.post_s,    options.clip_kinds,  {}};
    clip.max_clip_s = options.max_clip_s;
    if (!options.mqtt.url.empty()) {
      workers::LogLevel level = workers::LogLevel::kInfo;
      workers::parse_log_level(options.log_level, level);
      // Availability as <prefix>/<camera>/record/available, beside the workers'.
      mqtt_ = std::make_unique<workers::MqttPublisher>(
          options.mqtt, camera_, "record", workers::Log("framering record " + camera_, level),
          mqtt_metrics);
      spdlog::info("clip updates also go to MQTT {}", mqtt_->events_topic());
      clip.publish_update = [this](const std::string& json) { mqtt_->event(json); };
    }
    clips_.emplace(std::move(clip), metrics);
  }

  int run() {
    if (options_.segments) {
      std::error_code ec;
      fs::create_directories(dir_, ec);
      if (ec) {
        spdlog::error("--dir: cannot create {}: {}; choose a writable directory", dir_.string(),
                      ec.message());
        return 2;
      }
      recover_crashed_segments();
      retention();
      recorded_until_ = recorded_until(dir_, camera_);
    } else {
      spdlog::info("--no-segments: event clips only");
    }
    std::optional<ring::PacketReader> reader = attach();
    if (!reader) return 0;  // stopped before a packet ring appeared
    // What `framering stat` shows beside the packet ring: position, lag, packets read, drops.
    // Two recorders may read one ring: the pid tells their files apart.
    ring::ReaderStatsPublisher stats(ring::packet_reader_stats_ring(options_.ring),
                                     "record-" + std::to_string(::getpid()));
    if (!stats.displaced().empty()) spdlog::warn("{}", stats.displaced());
    // All the history the ring still holds; what an earlier run already wrote is skipped (a
    // restart neither duplicates nor loses footage, docs/recording.md).
    std::uint64_t position = reader->oldest_record();
    if (recorded_until_ != 0) {
      const auto& st = reader->info().stream;
      half_frame_ns_ = st.rate_num != 0 ? 500'000'000ULL * st.rate_den / st.rate_num : 20'000'000;
      spdlog::info("footage up to {} is on disk already; resuming after it",
                   segment_name(camera_, recorded_until_, ""));
    }
    auto last_retention = std::chrono::steady_clock::now();
    while (!g_stop.load()) {
      const ring::PacketReadResult r = reader->wait_next(position, 200ms);
      stats.heartbeat_ns().store(ring::monotonic_ns(), std::memory_order_relaxed);
      stats.epoch().store(reader->info().epoch, std::memory_order_relaxed);
      switch (r.status) {
        case ring::ReadStatus::kOk:
          stats.frames_read().fetch_add(1, std::memory_order_relaxed);
          stats.bytes_in_place().fetch_add(r.packet.data.size(), std::memory_order_relaxed);
          if (r.missed) stats.lapped().fetch_add(r.missed, std::memory_order_relaxed);
          if (on_packet(*reader, r) && clips_) clips_->on_packet(*reader, r.packet);
          break;
        case ring::ReadStatus::kLapped:
          if (catching_up_) {  // the oldest record went while we got there: the next oldest
            resume_at_ = reader->oldest_record();
            break;
          }
          [[fallthrough]];
        case ring::ReadStatus::kTorn:
          lost(r.status == ring::ReadStatus::kLapped ? "lapped by the ingest"
                                                     : "a malformed record");
          break;
        case ring::ReadStatus::kEpochChanged:
          spdlog::info("ring '{}': a new ingest (epoch {:016x}, {} {}x{}); new segment",
                       options_.ring, reader->info().epoch, reader->info().stream.codec_name,
                       reader->info().stream.width, reader->info().stream.height);
          close_segment();
          if (clips_) clips_->discontinuity();
          break;
        case ring::ReadStatus::kWriterGone:
          if (segment_)
            spdlog::info("ring '{}': the ingest stopped; segment closed", options_.ring);
          close_segment();
          break;
        case ring::ReadStatus::kNotYet:
          break;
      }
      position = resume_at_ ? *std::exchange(resume_at_, std::nullopt) : r.next;
      stats.position().store(position, std::memory_order_release);
      if (clips_) clips_->poll(*reader);
      metrics_.lag_bytes.Set(
          static_cast<double>(reader->tail() - std::min(reader->tail(), position)));
      if (options_.segments && std::chrono::steady_clock::now() - last_retention > 10s) {
        retention();
        last_retention = std::chrono::steady_clock::now();
      }
    }
    close_segment();
    if (clips_) clips_->finish_clip();
    if (options_.segments) retention();
    spdlog::info("stop requested; {} segments written", segments_written_);
    return 0;
  }

 private:
  std::optional<ring::PacketReader> attach() {
    bool told = false;
    while (!g_stop.load()) {
      try {
        return ring::PacketReader::attach(options_.ring);
      } catch (const ring::RingError& e) {
        if (e.kind() != ring::ErrorKind::kNotFound) throw;
        if (!told)
          spdlog::info("waiting for {} ({})", ring::packet_segment_path(options_.ring), e.what());
        told = true;
      }
      std::this_thread::sleep_for(100ms);
    }
    return std::nullopt;
  }

  // Writes the packet into the segment; false when it was lost (the reader is too far behind).
  bool on_packet(ring::PacketReader& reader, const ring::PacketReadResult& r) {
    const ring::PacketView& p = r.packet;
    if (r.missed && restarting_) {
      metrics_.dropped_lapped.Increment(static_cast<double>(r.missed));  // our own lap's loss
    } else if (r.missed && !catching_up_) {  // (catching up, nothing is written yet)
      // A gap nobody lapped us for: the ingest dropped packets (too large for the ring). The
      // next ones may need what is missing (a keyframe): end here, resume at a keyframe.
      spdlog::warn("ring '{}': {} packet(s) before packet {} were dropped by the ingest; {}",
                   options_.ring, r.missed, p.packet_no,
                   segment_ ? "segment closed, restarting at the next keyframe"
                            : "waiting for the next keyframe");
      close_segment();
      if (clips_) clips_->discontinuity();
    }
    // More than half a ring behind: the writer could reach this record while the muxer still
    // reads it. Give up the segment now instead of risking a corrupt file, and jump to the
    // newest record once: the packets in between are counted (this one now, the rest as the
    // gap in packet_no the next read reports), and the episode is one restart.
    if (reader.tail() - p.position > reader.info().capacity / 2) {
      if (catching_up_) {
        // A restart reading the ring's history: the older half is about to be overwritten;
        // history starts within the newer half instead (no restart, nothing of ours lost).
        if (!told_old_half_)
          spdlog::info(
              "ring '{}': the older half of the history is too close to the writer "
              "to record; starting in the newer half",
              options_.ring);
        told_old_half_ = true;
        return false;
      }
      metrics_.dropped_lapped.Increment();
      lost("more than half the packet ring behind");
      resume_at_ = reader.latest();
      return false;
    }
    restarting_ = false;  // in step with the writer again
    catching_up_ = false;
    if (!options_.segments) return true;                           // clips only
    if (p.flags & ring::pkt::kFlagDiscontinuity) close_segment();  // a reconnect: a gap
    // Already in a segment an earlier run wrote (within half a frame of clock jitter).
    if (!segment_ && p.capture_realtime_ns + half_frame_ns_ <= recorded_until_) return true;
    if (!segment_ && !p.keyframe()) return true;  // a segment starts at a keyframe
    if (segment_ && p.keyframe() && segment_->seconds() >= options_.segment_seconds)
      close_segment();
    try {
      if (!segment_) open_segment(reader.info().stream, p.capture_realtime_ns);
      segment_->write(p);
    } catch (const std::exception& e) {
      spdlog::error("{}; segment abandoned", e.what());
      abandon_segment();
      return true;
    }
    if (!reader.valid(p)) {  // overwritten while the muxer used it
      metrics_.dropped_lapped.Increment();
      abandon_segment();
      lost("lapped while writing");
      return false;
    }
    metrics_.packets.Increment();
    metrics_.bytes.Increment(static_cast<double>(p.data.size()));
    return true;
  }

  // One restart per episode: a lap noticed while writing, then by the next read, is one.
  void lost(const char* why) {
    if (segment_)
      spdlog::warn("ring '{}': {}; segment closed, restarting at the next keyframe", options_.ring,
                   why);
    if (!restarting_) metrics_.lapped_restarts.Increment();
    restarting_ = true;
    close_segment();
    if (clips_) clips_->discontinuity();
  }

  void open_segment(const ring::PacketStreamInfo& stream, std::uint64_t start_ns) {
    const std::string ext = container_extension(stream);
    std::string name = segment_name(camera_, start_ns, ext);
    final_path_ = dir_ / name;
    // The same start twice (a restarted recorder re-reading the ring's history): never replace
    // a file, add a counter instead.
    for (int n = 1; fs::exists(final_path_) || fs::exists(final_path_.string() + ".part"); ++n) {
      final_path_ =
          dir_ / (name.substr(0, name.size() - ext.size()) + "-" + std::to_string(n) + ext);
    }
    segment_ = std::make_unique<SegmentWriter>(final_path_.string() + ".part", stream);
    metrics_.segments_open.Set(1);
    spdlog::info("segment {} started", final_path_.string());
  }

  void close_segment() {
    if (!segment_) return;
    try {
      segment_->finish();
      std::error_code ec;
      fs::rename(segment_->path(), final_path_, ec);
      if (ec) throw std::runtime_error("rename " + segment_->path() + ": " + ec.message());
      ++segments_written_;
      metrics_.segments.Increment();
      spdlog::info("segment {} closed: {} packets, {:.2f} s", final_path_.string(),
                   segment_->packets(), segment_->seconds());
    } catch (const std::exception& e) {
      spdlog::error("closing a segment: {}", e.what());
    }
    segment_.reset();
    metrics_.segments_open.Set(0);
  }

  // The muxer failed or the bytes it used were overwritten: the file is not trusted.
  void abandon_segment() {
    if (!segment_) return;
    const std::string part = segment_->path();
    segment_.reset();
    std::error_code ec;
    fs::rename(part, part + ".broken", ec);
    metrics_.segments_open.Set(0);
  }

  void recover_crashed_segments() {
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(dir_, ec)) {
      if (entry.path().extension() != ".part") continue;
      const fs::path result = recover_partial(entry.path());
      spdlog::warn("{} was left by a crash; recovered as {}", entry.path().string(),
                   result.string());
    }
  }

  void retention() {
    const auto max_bytes = static_cast<std::uint64_t>(options_.retain_gb * 1e9);
    const RetentionResult r = apply_retention(dir_, camera_, options_.retain_hours * 3600.0,
                                              max_bytes, ring::realtime_ns());
    for (const fs::path& p : r.removed) spdlog::info("retention: removed {}", p.string());
    metrics_.retained_bytes.Set(static_cast<double>(r.kept_bytes));
  }

  const RecorderOptions& options_;
  std::string camera_;
  fs::path dir_;
  metrics::RecorderMetrics& metrics_;
  std::unique_ptr<SegmentWriter> segment_;
  std::unique_ptr<workers::MqttPublisher> mqtt_;  // before clips_: outlives the last update
  std::optional<ClipMaker> clips_;
  fs::path final_path_;
  std::uint64_t segments_written_ = 0;
  std::uint64_t recorded_until_ = 0;  // capture time the segments already on disk reach
  std::uint64_t half_frame_ns_ = 0;
  std::optional<std::uint64_t> resume_at_;  // where to read next instead of the next record
  bool restarting_ = false;                 // lost() since the last packet read in step
  bool catching_up_ = true;                 // no packet read within half a ring of the writer yet
  bool told_old_half_ = false;
};

}  // namespace

int run_recorder(const RecorderOptions& options) {
  if (!spdlog::get("record")) {
    auto logger = spdlog::stderr_color_mt("record");
    logger->set_pattern("%Y-%m-%dT%H:%M:%S.%e record %^%l%$: %v");
    logger->set_level(spdlog::level::from_str(options.log_level));
    logger->flush_on(spdlog::level::trace);
    spdlog::set_default_logger(std::move(logger));
  }
  try {
    ring::validate_ring_name(options.ring);
    install_stop_handlers();
    metrics::Endpoint endpoint(options.metrics_addr.empty() ? "0" : options.metrics_addr);
    if (!options.metrics_addr.empty() && endpoint.serving())
      spdlog::info("metrics on http://{}/metrics", endpoint.address());
    if (!options.mqtt.url.empty()) workers::check_mqtt_settings(options.mqtt);
    Recorder recorder(options, endpoint.recorder(options.ring),
                      options.mqtt.url.empty() ? nullptr : &endpoint.mqtt("record"));
    return recorder.run();
  } catch (const workers::ConfigError& e) {
    spdlog::error("{}", e.what());  // names the flag; any URL in it is already redacted
    return 2;
  } catch (const metrics::MetricsError& e) {
    spdlog::error("{}", e.what());
    return 2;
  } catch (const ring::RingError& e) {
    spdlog::error("{}", e.what());
    return e.exit_code();
  } catch (const std::exception& e) {
    spdlog::error("{}", e.what());
    return 1;
  }
}

}  // namespace framering::recorder
