#include "bitrate_probe.hpp"

#include <algorithm>
#include <new>

extern "C" {
#include <libavutil/avutil.h>
}

namespace framering::ingest {

namespace {

// dts rises in decode order (pts does not, with B-frames); pts when a demuxer gives no dts.
std::int64_t timestamp(const AVPacket& p) {
  return p.dts != AV_NOPTS_VALUE ? p.dts : p.pts;
}

void free_packet(AVPacket* p) {
  av_packet_free(&p);
}

}  // namespace

BitrateProbe::BitrateProbe(double time_base, double fps, BitrateProbeLimits limits)
    : time_base_(time_base > 0 ? time_base : 0), fps_(fps > 0 ? fps : 0), limits_(limits) {}

double BitrateProbe::span_to(std::int64_t end_ts, std::size_t frames) const {
  if (first_ts_known_ && end_ts != AV_NOPTS_VALUE && time_base_ > 0 && end_ts > first_ts_)
    return static_cast<double>(end_ts - first_ts_) * time_base_;
  // No usable timestamps: count frames at the declared (or a camera's usual) rate.
  return static_cast<double>(frames) / (fps_ > 0 ? fps_ : 30.0);
}

bool BitrateProbe::complete_before(const AVPacket& next) const {
  if (held_.empty()) return false;
  if (bytes_ >= limits_.max_bytes || held_.size() >= limits_.max_packets) return true;
  const double span = span_to(timestamp(next), held_.size());
  if (span >= limits_.window_seconds) return true;
  // A whole GOP (from the first keyframe held to the next) carries its keyframe's share: the
  // rate it shows is the stream's, however long the GOP.
  return (next.flags & AV_PKT_FLAG_KEY) && keyframes_ > 0 && span >= limits_.min_gop_seconds;
}

std::size_t BitrateProbe::hold(const AVPacket& packet, const ring::PacketMeta& meta, bool first) {
  Held h{{av_packet_alloc(), free_packet}, meta, first};
  if (!h.packet || av_packet_ref(h.packet.get(), &packet) < 0) throw std::bad_alloc();
  if (held_.empty()) {
    first_ts_ = timestamp(packet);
    first_ts_known_ = first_ts_ != AV_NOPTS_VALUE;
  }
  if (packet.flags & AV_PKT_FLAG_KEY) ++keyframes_;
  bytes_ += static_cast<std::uint64_t>(std::max(0, packet.size));
  held_.push_back(std::move(h));
  return packet.buf ? 0 : static_cast<std::size_t>(std::max(0, packet.size));
}

double BitrateProbe::window_seconds(const AVPacket* end) const {
  if (held_.empty()) return 0;
  if (end) return span_to(timestamp(*end), held_.size());
  // The stream ended first: the window runs to the end of the last packet held.
  const AVPacket& last = *held_.back().packet;
  std::int64_t end_ts = timestamp(last);
  if (end_ts != AV_NOPTS_VALUE) {
    std::int64_t step = last.duration;
    if (step <= 0 && fps_ > 0 && time_base_ > 0)
      step = std::max<std::int64_t>(1, static_cast<std::int64_t>(1.0 / (fps_ * time_base_)));
    end_ts += std::max<std::int64_t>(step, 0);
  }
  return span_to(end_ts, held_.size());
}

double BitrateProbe::bytes_per_second(const AVPacket* end) const {
  const double span = window_seconds(end);
  if (held_.empty() || span <= 0) return 0;
  return static_cast<double>(bytes_) / span;
}

}  // namespace framering::ingest
