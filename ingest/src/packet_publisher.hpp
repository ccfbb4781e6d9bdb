// --packet-history: every demuxed video packet, before decoding, into the camera's packet ring
// (docs/packet-ring.md). One packet ring per stream configuration: a reconnect that brings other
// codec parameters starts a new one (new epoch), so readers never see parameters change mid-epoch.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "bitrate_probe.hpp"
#include "framering/ingest/options.hpp"
#include "framering/metrics/catalogue.hpp"
#include "framering/ringbuf/packet_ring.hpp"
#include "video_input.hpp"

namespace framering::ingest {

// Bytes of packet ring for `seconds` of a stream sending `bytes_per_second`: doubled (a scene
// busier than the measured seconds, keyframe bursts), then rounded up to a power of two between
// 1 MiB and 256 MiB.
std::uint64_t packet_ring_bytes_for(double seconds, double bytes_per_second);

// The rate to size from when none could be measured (a stream that ended within its first
// packets): the declared bit rate when the codec or container states one, else 0.1 bit per pixel
// per frame.
ring::PacketRingSizing fallback_sizing(std::int64_t declared_bit_rate, std::uint32_t width,
                                       std::uint32_t height, double fps);

class PacketPublisher final : public PacketSink {
 public:
  PacketPublisher(const IngestOptions& options, metrics::IngestMetrics& metrics);
  ~PacketPublisher() override;  // closes the ring and logs what was shared
  PacketPublisher(const PacketPublisher&) = delete;
  PacketPublisher& operator=(const PacketPublisher&) = delete;

  // A new input was opened: keep the ring when the stream parameters are the same, else (first
  // open, other codec/extradata/size/time base) measure the new stream's rate over its first
  // packets, then create a ring with a new epoch.
  void start_pass(const VideoInput& input);
  void on_packet(const AVPacket& packet, bool first) override;
  // Creates the ring from a measurement cut short (the stream ended) and publishes what it
  // holds; then CLOSED (and unlinked unless --keep).
  void close();

 private:
  // A stream whose ring is not created yet: its parameters and the packets being measured.
  struct Pending {
    ring::PacketStreamInfo stream;
    ring::PacketRingSizing fallback;
    BitrateProbe probe;
  };
  void create_ring(const AVPacket* end);
  void publish(const AVPacket& packet, ring::PacketMeta meta);
  static ring::PacketMeta meta_of(const AVPacket& packet, bool first);

  const IngestOptions& options_;
  metrics::IngestMetrics& metrics_;
  std::optional<Pending> pending_;
  std::optional<ring::PacketWriter> writer_;
  std::uint64_t too_large_ = 0;
  // The packet ring could not be created for this stream (e.g. /dev/shm full): its packets are
  // counted and not shared; frames go on. Cleared when a new stream (pass) tries again.
  bool no_ring_ = false;
  std::uint64_t shared_ = 0, shared_bytes_ = 0;
};

}  // namespace framering::ingest
