// The libav ingest loop: open -> decode -> scale into the claimed slot -> publish, with
// reconnects for live sources and --loop/--realtime for files.
#include <spdlog/spdlog.h>

#include <chrono>
#include <optional>

#include "frame_scaler.hpp"
#include "framering/ingest/backoff.hpp"
#include "framering/ringbuf/reader.hpp"
#include "native_copy.hpp"
#include "packet_publisher.hpp"
#include "sources.hpp"
#include "stop_signal.hpp"
#include "video_input.hpp"

namespace framering::ingest {

namespace {

using Clock = std::chrono::steady_clock;
constexpr AVRational kNanoseconds = {1, 1'000'000'000};

double seconds(std::chrono::milliseconds d) {
  return static_cast<double>(d.count()) / 1000.0;
}

// Publishes decoded frames: ring creation on the first frame, size-change logging, timestamps
// and --realtime pacing.
class FrameEmitter {
 public:
  FrameEmitter(const IngestOptions& options, bool live, Publisher& publisher)
      : options_(options), live_(live), publisher_(publisher) {}

  // A new pass over the input starts (open, reconnect, or --loop restart).
  void start_pass(const VideoInput& input) {
    time_base_ = input.time_base();
    rate_ = input.frame_rate();
    pass_first_pts_.reset();
    if (have_last_pts_ && options_.loop) {
      pass_offset_ns_ = last_pts_ns_ + frame_duration_ns();
    } else {
      pass_offset_ns_ = 0;
      pacing_anchor_.reset();
    }
  }

  // With --width/--height the geometry is known before any frame: the ring is created as soon
  // as the source is open (so the header carries the source's frame rate) and readers can
  // attach before the first frame. Called with no source open yet (it is down and being
  // retried), the ring is created with an unknown rate (0/1), so readers need not wait for it.
  void open_fixed_ring() {
    if (publisher_.has_ring() || options_.width == 0) return;
    publisher_.open_ring(with_rate(ring::Geometry::image(
        options_.width, options_.height, options_.pix_fmt.value_or(ring::PixFmt::kBgr24))));
  }

  // --packets-only: a packet is shared when its decode timestamp says under --realtime (dts
  // rises in stream order; pts does not where B-frames are reordered).
  void pace_packet(const AVPacket& packet) {
    const std::int64_t ns = source_time_ns(packet.dts != AV_NOPTS_VALUE ? packet.dts : packet.pts);
    if (options_.realtime && !live_) pace(ns);
  }

  void emit(AVFrame& frame, bool decode_error) {
    const std::int64_t pts_ns = frame_pts_ns(frame);
    if (decimated(pts_ns)) return;
    if (!publisher_.has_ring()) open_ring(frame);
    const ring::Geometry& g = publisher_.geometry();
    const auto ring_w = static_cast<int>(g.width());
    const auto ring_h = static_cast<int>(g.height());
    note_size(frame.width, frame.height, ring_w, ring_h);

    // A live source arrives at its own pace; pacing it again would only add latency.
    if (options_.realtime && !live_) pace(pts_ns);
    if (stop_requested() || !publisher_.wait_for_readers()) return;

    const std::uint64_t capture_ns = ring::realtime_ns();
    ring::Writer::Slot slot = publisher_.claim();
    try {
      const AVPixelFormat fmt = to_av_pix_fmt(g.pix_fmt);
      if (!copy_native_planes(frame, slot.payload(), ring_w, ring_h, fmt)) {
        scaler_.scale(frame, slot.payload(), ring_w, ring_h, fmt);
      }
    } catch (const std::exception& e) {
      // Readers never see the frame (the next claim reuses its number); it counts as an error.
      spdlog::error("frame {}: {}; skipped", slot.frame_no(), e.what());
      publisher_.abort(std::move(slot));
      publisher_.count_decode_errors(1);
      return;
    }
    slot.pts_ns = pts_ns;
    slot.capture_realtime_ns = capture_ns;
    if (is_keyframe(frame)) slot.flags |= ring::kFlagKeyframe;
    if (decode_error) slot.flags |= ring::kFlagDecodeError;
    if (frame.width != ring_w || frame.height != ring_h) slot.flags |= ring::kFlagResized;
    publisher_.publish(std::move(slot));
  }

 private:
  void open_ring(const AVFrame& frame) {
    const std::uint32_t w =
        options_.width ? options_.width : static_cast<std::uint32_t>(frame.width);
    const std::uint32_t h =
        options_.height ? options_.height : static_cast<std::uint32_t>(frame.height);
    check_picture_size(w, h, options_.pix_fmt.value_or(ring::PixFmt::kBgr24),
                       options_.width ? "--width/--height" : "the source's frames");
    publisher_.open_ring(
        with_rate(ring::Geometry::image(w, h, options_.pix_fmt.value_or(ring::PixFmt::kBgr24))));
  }

  // The rate frames arrive in the ring, into the header: the open source's nominal rate, or
  // --fps when lower; unknown (0/1) for keyframes only (their spacing is the source's GOP) and
  // for a source that states none or is not open yet.
  ring::Geometry with_rate(ring::Geometry g) const {
    AVRational rate = rate_;
    if (options_.decode == DecodeMode::kKeyframes) rate = {0, 1};
    if (interval_ns_ > 0 && (rate.num <= 0 || av_q2d(rate) > options_.max_fps)) {
      rate = av_d2q(options_.max_fps, 1000);
    }
    if (rate.num > 0 && rate.den > 0) {
      g.rate_num = static_cast<std::uint32_t>(rate.num);
      g.rate_den = static_cast<std::uint32_t>(rate.den);
    }
    return g;
  }

  // --fps: true for a frame that comes sooner (in source time) than 1/fps after the previous
  // published one; it was decoded, but is neither converted nor written. Published frames stay
  // on a 1/fps grid so the average rate is the one asked for even when 1/fps is not a whole
  // number of source frames; a jump in time (--loop, a reconnect, a camera's clock) restarts
  // the grid at the frame after it.
  bool decimated(std::int64_t pts_ns) {
    if (interval_ns_ == 0) return false;
    if (next_due_ns_ && pts_ns >= last_published_ns_ && pts_ns < *next_due_ns_) return true;
    const bool on_grid =
        next_due_ns_ && pts_ns >= last_published_ns_ && pts_ns - *next_due_ns_ < interval_ns_;
    next_due_ns_ = (on_grid ? *next_due_ns_ : pts_ns) + interval_ns_;
    last_published_ns_ = pts_ns;
    return false;
  }

  void note_size(int w, int h, int ring_w, int ring_h) {
    if (w == src_w_ && h == src_h_) return;
    if (src_w_ != 0) {
      spdlog::info("source frame size changed from {}x{} to {}x{}; scaling into the ring's {}x{}",
                   src_w_, src_h_, w, h, ring_w, ring_h);
    } else if (w != ring_w || h != ring_h) {
      spdlog::info("scaling {}x{} source frames into the ring's {}x{}", w, h, ring_w, ring_h);
    }
    src_w_ = w;
    src_h_ = h;
  }

  std::int64_t frame_duration_ns() const {
    if (rate_.num > 0 && rate_.den > 0) return av_rescale_q(1, av_inv_q(rate_), kNanoseconds);
    return 40'000'000;  // 25 fps when the input does not say
  }

  std::int64_t frame_pts_ns(const AVFrame& frame) {
    return source_time_ns(frame.best_effort_timestamp);
  }

  // A stream timestamp in ns, rising across --loop passes; guessed from the last one when
  // the source gives none.
  std::int64_t source_time_ns(std::int64_t timestamp) {
    std::int64_t pts_ns = 0;
    if (timestamp != AV_NOPTS_VALUE) {
      pts_ns = av_rescale_q(timestamp, time_base_, kNanoseconds);
      if (!pass_first_pts_) pass_first_pts_ = pts_ns;
      // --loop keeps timestamps increasing across passes.
      if (pass_offset_ns_ != 0) pts_ns = pts_ns - *pass_first_pts_ + pass_offset_ns_;
    } else {
      pts_ns = have_last_pts_ ? last_pts_ns_ + frame_duration_ns() : 0;
    }
    last_pts_ns_ = pts_ns;
    have_last_pts_ = true;
    return pts_ns;
  }

  // --realtime: publish each frame when its timestamp says, relative to the first frame; after a
  // long stall (a slow consumer of CPU, a paused process) re-anchor instead of bursting.
  void pace(std::int64_t pts_ns) {
    const auto now = Clock::now();
    if (!pacing_anchor_) pacing_anchor_ = std::make_pair(now, pts_ns);
    const auto target =
        pacing_anchor_->first + std::chrono::nanoseconds(pts_ns - pacing_anchor_->second);
    if (target > now) {
      sleep_unless_stopped(target - now);
    } else if (now - target > std::chrono::seconds(1)) {
      pacing_anchor_ = std::make_pair(now, pts_ns);
    }
  }

  const IngestOptions& options_;
  bool live_;
  Publisher& publisher_;
  FrameScaler scaler_;
  AVRational time_base_ = {1, 1};
  AVRational rate_ = {0, 1};
  int src_w_ = 0, src_h_ = 0;
  std::optional<std::int64_t> pass_first_pts_;
  std::int64_t pass_offset_ns_ = 0;
  std::int64_t last_pts_ns_ = 0;
  bool have_last_pts_ = false;
  std::optional<std::pair<Clock::time_point, std::int64_t>> pacing_anchor_;
  const std::int64_t interval_ns_ = options_.max_fps > 0
                                        ? static_cast<std::int64_t>(1e9 / options_.max_fps)
                                        : 0;
  std::optional<std::int64_t> next_due_ns_;
  std::int64_t last_published_ns_ = 0;
};

}  // namespace

int run_video_source(const IngestOptions& options, const SourceSpec& spec, const std::string& label,
                     Publisher& publisher) {
  const std::int64_t max_retries = options.max_retries.value_or(spec.live() ? -1 : 0);
  InputSettings settings;
  settings.decode_threads = options.decode_threads;
  settings.keyframes_only = options.decode == DecodeMode::kKeyframes;
  settings.target_width = static_cast<int>(options.width);
  settings.target_height = static_cast<int>(options.height);
  settings.io_timeout = std::chrono::milliseconds(static_cast<long>(options.io_timeout_s * 1000));
  settings.label = label;
  settings.decode = !options.packets_only;

  if (options.packets_only) spdlog::info("sharing packets only, decoding nothing (--packets-only)");
  if (options.decode == DecodeMode::kKeyframes)
    spdlog::info("decoding keyframes only (--decode keyframes)");
  if (options.max_fps > 0) spdlog::info("publishing at most {} frames/s (--fps)", options.max_fps);
  // --packet-history: the compressed packets go to the packet ring before they are decoded.
  std::optional<PacketPublisher> packets;
  if (options.packet_history_s > 0) {
    packets.emplace(options, publisher.metrics());
    settings.packets = &*packets;
  }
  FrameEmitter emitter(options, spec.live(), publisher);
  FramePtr frame = make_frame();
  Backoff backoff;
  std::int64_t failed_attempts = 0;  // consecutive attempts that brought no frame
  bool connected_before = false;

  // Decides between another attempt (after a backoff sleep) and giving up.
  auto retry_or_give_up = [&](const std::string& why) -> bool {
    if (max_retries == 0) {
      spdlog::error("{}", why);
      return false;
    }
    if (max_retries > 0 && failed_attempts >= max_retries) {
      spdlog::error("{}; giving up after {} retr{} (--max-retries {})", why, failed_attempts,
                    failed_attempts == 1 ? "y" : "ies", max_retries);
      return false;
    }
    ++failed_attempts;
    const auto delay = backoff.next_delay();
    spdlog::warn("{}; retry {} in {:.1f} s", why, failed_attempts, seconds(delay));
    publisher.count_reconnect();
    return sleep_unless_stopped(delay);
  };

  while (!stop_requested()) {
    std::optional<VideoInput> input;
    try {
      input.emplace(spec, settings);
    } catch (const SourceError& e) {
      if (stop_requested()) break;
      if (max_retries != 0) emitter.open_fixed_ring();  // readers may attach while we retry
      if (!retry_or_give_up(e.what())) return 3;
      continue;
    }
    spdlog::info("{} {}: {}", connected_before ? "reconnected to" : "opened", label,
                 input->describe());
    if (input->lowres() > 0) {
      spdlog::info("decoding at 1/{} size for the {}x{} ring (decoder lowres {})",
                   1 << input->lowres(), options.width, options.height, input->lowres());
    }
    emitter.start_pass(*input);
    emitter.open_fixed_ring();
    if (packets) packets->start_pass(*input);
    const auto up_since = Clock::now();
    std::uint64_t pass_frames = 0;

    while (!stop_requested()) {
      const VideoInput::Next got =
          options.packets_only ? input->next_packet() : input->next(*frame);
      if (got == VideoInput::Next::kEnd) break;
      const std::uint64_t errors = input->take_decode_errors();
      publisher.count_decode_errors(errors);
      if (pass_frames++ == 0) {
        publisher.set_source_up(true);
        failed_attempts = 0;
        connected_before = true;
      }
      if (got == VideoInput::Next::kPacket) {
        emitter.pace_packet(input->packet());
        if (!stop_requested()) packets->on_packet(input->packet(), input->first_packet());
        continue;
      }
      emitter.emit(*frame, errors != 0);
      av_frame_unref(frame.get());
      if (publisher.reached_max_frames()) {
        spdlog::info("published --max-frames {} frames; stopping", options.max_frames);
        return 0;
      }
    }
    publisher.count_decode_errors(input->take_decode_errors());
    backoff.connection_lasted(
        std::chrono::duration_cast<Backoff::Duration>(Clock::now() - up_since));
    if (stop_requested()) break;

    std::string why;
    if (input->read_error() == AVERROR_EXIT) {
      why = "no data from " + label + " for " + std::to_string(options.io_timeout_s) + " s";
    } else if (input->read_error() != 0) {
      why = "reading " + label + " failed after " + std::to_string(pass_frames) +
            " frames: " + av_error(input->read_error());
    } else if (input->truncated()) {
      why = label + " ends after " + std::to_string(pass_frames) +
            " frames, before the frame count its header announces (truncated file)";
    }
    if (!spec.live()) {
      if (!why.empty()) {
        // A damaged file still delivers what it has: count it, say so, carry on or finish.
        spdlog::warn("{}", why);
        publisher.count_decode_errors(1);
      }
      if (pass_frames == 0) {
        spdlog::error("{} produced no video frames; check that it is a playable video", label);
        return 3;
      }
      if (!options.loop) {
        spdlog::info("end of {}", label);
        return 0;
      }
      spdlog::debug("end of {}; --loop restarts it", label);
      continue;
    }
    // A live source that ends or fails is down until a reconnect brings frames again.
    publisher.set_source_up(false);
    if (why.empty()) why = label + " ended the stream";
    if (!retry_or_give_up("lost " + label + ": " + why)) return 3;
  }
  spdlog::info("stop requested (signal {})", stop_signal_number());
  return 0;
}

}  // namespace framering::ingest
