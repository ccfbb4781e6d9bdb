#include "framering/workers/runtime.hpp"

#include <cstdio>
#include <optional>
#include <thread>

#include "event_output.hpp"
#include "framering/metrics/catalogue.hpp"
#include "framering/ringbuf/error.hpp"
#include "framering/ringbuf/geometry.hpp"
#include "framering/ringbuf/names.hpp"
#include "framering/ringbuf/reader.hpp"
#include "framering/workers/analytic.hpp"
#include "framering/workers/analytic_error.hpp"
#include "framering/workers/config_error.hpp"
#include "framering/workers/event_sink.hpp"
#include "framering/workers/frame_mat.hpp"
#include "framering/workers/mqtt_settings.hpp"
#include "framering/workers/mqtt_url.hpp"
#include "report.hpp"

namespace framering::workers {

namespace {

using namespace std::chrono_literals;

constexpr auto kAttachRetry = 200ms;     // ring not created yet
constexpr auto kWriterGoneRetry = 50ms;  // between looks for a restarted writer
constexpr auto kFrameWait = 100ms;       // futex wait per loop turn: bounds SIGTERM latency

// "0.012345": nanoseconds as seconds to the microsecond (fine enough to show a ring's share).
std::string seconds_text(std::uint64_t ns) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.6f", static_cast<double>(ns) / 1e9);
  return buf;
}

void sleep_unless(const std::atomic<bool>& stop, std::chrono::milliseconds d) {
  if (!stop.load(std::memory_order_relaxed)) std::this_thread::sleep_for(d);
}

// The stream being read right now: how its frames map onto a cv::Mat and which band we analyse.
struct Stream {
  MatLayout layout;
  StreamInfo info;
};

Stream open_stream(const ring::Reader& reader, const WorkerOptions& o, Analytic& analytic) {
  const ring::RingInfo& ri = reader.info();
  Stream s;
  s.layout = mat_layout(ri.geometry);
  // The picture's size: a yuv420p/nv12 frame's chroma rows below the luma are not picture rows.
  s.info.ring_size = cv::Size(s.layout.cols, ring::is_yuv420(ri.geometry.pix_fmt)
                                                 ? static_cast<int>(ri.geometry.height())
                                                 : s.layout.rows);
  if (o.share.tiles && ring::is_yuv420(ri.geometry.pix_fmt)) {
    throw ConfigError(std::string("--tiles splits frames into bands of rows; a ") +
                      ring::pix_fmt_name(ri.geometry.pix_fmt) +
                      " ring stores its chroma in separate planes: ingest with --pix-fmt bgr24 "
                      "or gray8 for --tiles, or split frames with --members alone");
  }
  s.info.band = o.share.tiles ? band_rect(s.info.ring_size, o.share.member, o.share.members)
                              : cv::Rect(cv::Point(0, 0), s.info.ring_size);
  if (s.info.band.height == 0) {
    throw ConfigError("--tiles with --members " + std::to_string(o.share.members) +
                      ": frames are only " + std::to_string(s.layout.rows) +
                      " rows high, so band " + std::to_string(o.share.member) +
                      " is empty; use fewer members");
  }
  s.info.cv_type = s.layout.type;
  s.info.pix_fmt = ri.geometry.pix_fmt;
  s.info.fps =
      ri.geometry.rate_den ? static_cast<double>(ri.geometry.rate_num) / ri.geometry.rate_den : 0.0;
  analytic.configure(s.info);
  return s;
}

// The metrics endpoint, or null when disabled. Throws ConfigError naming --metrics-addr.
std::unique_ptr<metrics::Endpoint> open_endpoint(const WorkerOptions& o, const Log& log) {
  std::string host;
  std::uint16_t port = 0;
  if (!metrics::parse_metrics_addr(o.metrics_addr, host, port)) return nullptr;
  const int tries = o.metrics_port_search && port != 0 ? 64 : 1;
  std::string last_error;
  for (int i = 0; i < tries && port + i <= 65535; ++i) {
    const std::string addr = host + ":" + std::to_string(port + i);
    try {
      auto endpoint = std::make_unique<metrics::Endpoint>(
          host.find(':') != std::string::npos ? "[" + host + "]:" + std::to_string(port + i)
                                              : addr);
      log.info("metrics on http://" + endpoint->address() + "/metrics");
      return endpoint;
    } catch (const metrics::MetricsError& e) {
      last_error = e.what();
    }
  }
  throw ConfigError("--metrics-addr " + o.metrics_addr + ": " + last_error +
                    (tries > 1 ? " (and the next 63 ports are busy too)" : "") +
                    "; pass a free HOST:PORT or --metrics-addr 0 to disable metrics");
}

}  // namespace

void validate(WorkerOptions& o) {
  try {
    ring::validate_ring_name(o.ring);
  } catch (const ring::RingError& e) {
    throw ConfigError(std::string("--ring: ") + e.what());
  }
  if (o.share.members == 0) throw ConfigError("--members must be at least 1");
  if (o.share.member >= o.share.members) {
    throw ConfigError("--member " + std::to_string(o.share.member) + " must be below --members " +
                      std::to_string(o.share.members) + " (members are numbered 0..N-1)");
  }
  if (o.name.empty()) {
    o.name = o.share.members > 1 ? o.analytic + "-" + std::to_string(o.share.member) : o.analytic;
  }
  try {
    ring::validate_ring_name(o.name);
  } catch (const ring::RingError&) {
    throw ConfigError("--name '" + o.name + "': use 1-48 characters from A-Z a-z 0-9 _ -");
  }
  if (o.camera.empty()) o.camera = o.ring;
  try {
    ring::validate_ring_name(o.camera);
  } catch (const ring::RingError&) {
    throw ConfigError("--camera '" + o.camera + "': use 1-48 characters from A-Z a-z 0-9 _ -");
  }
  (void)make_analytic(o.analytic, Params::parse(o.params));
  check_mqtt_settings({o.mqtt_url, o.mqtt_topic_prefix, o.mqtt_ca_file, o.mqtt_queue});
  if (o.snapshot_keep < 1) throw ConfigError("--snapshot-keep must be at least 1");
  if (!(o.snapshot_max_age_s > 0)) throw ConfigError("--snapshot-max-age must be above 0 seconds");
  try {
    std::string host;
    std::uint16_t port = 0;
    (void)metrics::parse_metrics_addr(o.metrics_addr, host, port);
  } catch (const metrics::MetricsError& e) {
    throw ConfigError(std::string("--metrics-addr: ") + e.what());
  }
}

int run_worker(WorkerOptions o, const std::atomic<bool>& stop) {
  Log log("framering worker " + (o.name.empty() ? o.analytic : o.name), o.log_level);
  try {
    validate(o);
    std::unique_ptr<Analytic> analytic = make_analytic(o.analytic, Params::parse(o.params));
    EventSink sink(o.events, {o.camera, o.ring, o.name, o.analytic});

    // A worker may start before its ingest: wait for the ring to appear.
    std::optional<ring::Reader> reader;
    bool waiting_logged = false;
    while (!stop.load(std::memory_order_relaxed)) {
      try {
        reader.emplace(ring::Reader::attach(o.ring));
        break;
      } catch (const ring::RingError& e) {
        if (e.kind() != ring::ErrorKind::kNotFound) {
          log.error(e.what());
          return e.exit_code();
        }
        if (!waiting_logged)
          log.info("waiting for ring '" + o.ring + "' to appear (retrying every 200 ms)");
        waiting_logged = true;
        sleep_unless(stop, kAttachRetry);
      }
    }
    if (!reader) return 0;

    std::unique_ptr<metrics::Endpoint> endpoint = open_endpoint(o, log);
    Report report(o.ring, o.name, endpoint ? &endpoint->worker(o.ring, o.name) : nullptr);
    if (!report.stats_displaced().empty()) log.warn(report.stats_displaced());
    std::unique_ptr<MqttPublisher> mqtt;
    if (!o.mqtt_url.empty()) {
      mqtt = std::make_unique<MqttPublisher>(
          MqttSettings{o.mqtt_url, o.mqtt_topic_prefix, o.mqtt_ca_file, o.mqtt_queue}, o.camera,
          o.name, log, endpoint ? &endpoint->mqtt(o.name) : nullptr);
    }
    std::unique_ptr<Snapshots> snapshots;
    if (!o.snapshot_dir.empty()) {
      snapshots = std::make_unique<Snapshots>(
          SnapshotSettings{o.snapshot_dir, o.snapshot_keep, o.snapshot_max_age_s}, o.camera, log);
    }
    EventOutput output(sink, o.analytic, log, report, std::move(mqtt), std::move(snapshots));
    FrameContext last_ctx;
    Stream stream = open_stream(*reader, o, *analytic);
    Follower follower(*reader, o.mode, o.share);
    // Position before epoch: a writer waiting for readers (ReaderGate) counts this reader from
    // the moment its epoch matches, so the position it sees then must already be the real one.
    report.position(follower.position(), reader->cursor());
    report.epoch(reader->info().epoch);
    auto describe = [&] {
      return "ring '" + o.ring + "' " + reader->info().geometry.describe() + ", epoch " +
             ring::epoch_text(reader->info().epoch) + ", " +
             (o.mode == FollowMode::kEvery ? "every" : "latest") + " mode, " +
             (o.share.members > 1
                  ? (o.share.tiles ? "band " : "member ") + std::to_string(o.share.member) + "/" +
                        std::to_string(o.share.members) + " "
                  : "") +
             "starting at frame " + std::to_string(follower.position());
    };
    log.info("reading " + describe());

    std::uint64_t processed = 0, torn_after_use = 0;
    // Where the time of analysed frames went: the ring's part (getting the frame, when it was
    // already there, and the seqlock re-check) against the analytic's; logged at stop.
    std::uint64_t ring_ns = 0, analyse_ns = 0;
    bool gone_logged = false;
    std::vector<Event> events;
    auto publish_stats = [&] {
      report.position(follower.position(), reader->cursor());
      report.drops(follower.counts(), torn_after_use);
    };

    while (!stop.load(std::memory_order_relaxed) &&
           (o.max_frames == 0 || processed < o.max_frames)) {
      publish_stats();
      const std::uint64_t asked_ns = ring::monotonic_ns();
      const Follower::Step step = follower.next(kFrameWait);
      const std::uint64_t got_ns = ring::monotonic_ns();
      switch (step.kind) {
        case Follower::Kind::kIdle:
          continue;
        case Follower::Kind::kWriterGone:
          if (!gone_logged) {
            log.warn("writer of ring '" + o.ring +
                     "' is gone (closed or died); waiting for ingest to restart it");
          }
          gone_logged = true;
          sleep_unless(stop, kWriterGoneRetry);
          continue;
        case Follower::Kind::kEpochChanged:
          gone_logged = false;
          output.close_all("stream replaced", last_ctx);  // the analytic starts afresh
          stream = open_stream(*reader, o, *analytic);
          report.position(follower.position(), reader->cursor());  // before the epoch, as above
          report.epoch(reader->info().epoch);
          log.info("new writer; resuming on " + describe());
          continue;
        case Follower::Kind::kFrame:
          break;
      }
      const ring::FrameView& f = step.frame;
      const cv::Mat full = view_frame(f, stream.layout);
      const cv::Mat view = o.share.tiles ? full(stream.info.band) : full;
      const FrameContext ctx{f.frame_no, f.seq, f.pts_ns, f.capture_realtime_ns};
      events.clear();
      // A frame that was already published when asked for: the wait is the ring's cost, not
      // idle time for the next frame to arrive.
      const bool was_ready = f.publish_monotonic_ns <= asked_ns;
      try {
        analytic->analyse(view, ctx, events);
      } catch (const AnalyticError& e) {
        report.copied(analytic->bytes_copied());
        // Logged the first time and then every 100th, so a model failing on every frame
        // does not flood the log; the metric counts each one.
        if (report.analytic_error() % 100 == 1) {
          log.warn("frame " + std::to_string(f.frame_no) + ": " + e.what() +
                   " (dropped as analytic_error; going on)");
        }
        continue;
      }
      report.copied(analytic->bytes_copied());
      const std::uint64_t analysed_ns = ring::monotonic_ns();
      // The seqlock re-check after use: if the writer reused the slot meanwhile, what we
      // computed mixes two frames; drop it.
      const bool intact = reader->valid(f);
      analyse_ns += analysed_ns - got_ns;
      ring_ns += ring::monotonic_ns() - analysed_ns + (was_ready ? got_ns - asked_ns : 0);
      if (!intact) {
        ++torn_after_use;
        log.debug("frame " + std::to_string(f.frame_no) +
                  " was overwritten during analysis; dropped (torn)");
        continue;
      }
      analytic->commit();
      last_ctx = ctx;
      output.frame(events, ctx, stream.info.band.tl(),
                   SourceFrame{full, stream.info.pix_fmt, [&] { return reader->valid(f); }});
      ++processed;
      report.frame(view.total() * view.elemSize(), f.capture_realtime_ns);
      report.detected(analytic->detected_classes());
    }
    output.close_all("stopped", last_ctx);
    publish_stats();
    const FollowCounts& c = follower.counts();
    log.info("stopping: " + std::to_string(processed) +
             " frames analysed, dropped: " + std::to_string(c.lapped) + " lapped, " +
             std::to_string(c.torn + torn_after_use) + " torn, " + std::to_string(c.skipped) +
             " skipped, " + std::to_string(report.analytic_errors()) + " analytic errors; " +
             seconds_text(analyse_ns) + " s analysing, " + seconds_text(ring_ns) +
             " s in ring reads and checks");
    return 0;
  } catch (const ConfigError& e) {
    log.error(e.what());
    return 2;
  } catch (const ring::RingError& e) {
    log.error(e.what());
    return e.exit_code();
  }
}

}  // namespace framering::workers
