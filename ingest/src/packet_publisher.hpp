// --packet-history: every demuxed video packet, before decoding, into the camera's packet ring
// (docs/packet-ring.md). One packet ring per stream configuration: a reconnect that brings other
// codec parameters starts a new one (new epoch), so readers never see parameters change mid-epoch.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "framering/ingest/options.hpp"
#include "framering/metrics/catalogue.hpp"
#include "framering/ringbuf/packet_ring.hpp"
#include "video_input.hpp"

namespace framering::ingest {

// Bytes of packet ring for `seconds` of a stream: the declared bit rate when the codec or
// container states one, else 0.1 bit per pixel per frame; doubled for bursts of keyframes, then
// rounded to a power of two between 1 MiB and 256 MiB.
std::uint64_t packet_ring_bytes_for(double seconds, std::int64_t bit_rate, std::uint32_t width,
                                    std::uint32_t height, double fps);

class PacketPublisher final : public PacketSink {
 public:
  PacketPublisher(const IngestOptions& options, metrics::IngestMetrics& metrics);
  PacketPublisher(const PacketPublisher&) = delete;
  PacketPublisher& operator=(const PacketPublisher&) = delete;
  ~PacketPublisher();  // logs what was shared

  // A new input was opened: keep the ring when the stream parameters are the same, else (first
  // open, other codec/extradata/size/time base) create one with a new epoch.
  void start_pass(const VideoInput& input);
  void on_packet(const AVPacket& packet, bool first) override;
  void close();

 private:
  const IngestOptions& options_;
  metrics::IngestMetrics& metrics_;
  std::optional<ring::PacketWriter> writer_;
  std::uint64_t too_large_ = 0;
  std::uint64_t shared_ = 0, shared_bytes_ = 0;
};

}  // namespace framering::ingest
