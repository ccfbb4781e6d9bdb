// Measures a stream's byte rate from its first packets, so the packet ring is sized from what the
// camera really sends rather than from a rate a container declares (often absent, or the
// encoder's target rather than its output). The packets stay held (references, not copies) until
// the ring exists, then all of them are published: sizing costs no packet. docs/recording.md.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

extern "C" {
#include <libavcodec/packet.h>
}

#include "framering/ringbuf/packet_ring.hpp"

namespace framering::ingest {

struct BitrateProbeLimits {
  double window_seconds = 2.0;            // measure at most this much stream time...
  double min_gop_seconds = 0.5;           // ...or one GOP (keyframe to keyframe) at least this long
  std::uint64_t max_bytes = 32ULL << 20;  // held memory bound (a rate beyond ~128 Mbit/s)
  std::size_t max_packets = 1000;         // bound for streams without usable timestamps
};

class BitrateProbe {
 public:
  struct Held {
    std::unique_ptr<AVPacket, void (*)(AVPacket*)> packet;
    ring::PacketMeta meta;
    bool first = false;  // the first packet since the input was opened
  };

  // `time_base`: the stream's (pts/dts unit); `fps`: frame rate, 0 if unknown.
  BitrateProbe(double time_base, double fps, BitrateProbeLimits limits = {});

  // True when `next` (not yet held) completes the measurement: the held packets then cover a
  // window from the first one up to `next`'s timestamp.
  bool complete_before(const AVPacket& next) const;
  // Holds a reference to the packet's buffer. A packet without one (not reference-counted) is
  // copied; returns the bytes copied that way (0 for the demuxers' usual packets).
  std::size_t hold(const AVPacket& packet, const ring::PacketMeta& meta, bool first);

  // The measured rate over the held packets, ending at `end` (the packet that completed the
  // measurement) or, without one (the stream ended first), one frame after the last packet.
  // 0 when nothing measurable was held.
  double bytes_per_second(const AVPacket* end) const;
  double window_seconds(const AVPacket* end) const;

  std::vector<Held>& held() { return held_; }
  std::uint64_t held_bytes() const { return bytes_; }
  bool empty() const { return held_.empty(); }

 private:
  double span_to(std::int64_t end_ts, std::size_t frames) const;
  double time_base_;
  double fps_;
  BitrateProbeLimits limits_;
  std::vector<Held> held_;
  std::uint64_t bytes_ = 0;
  std::size_t keyframes_ = 0;
  std::int64_t first_ts_ = 0;
  bool first_ts_known_ = false;
};

}  // namespace framering::ingest
