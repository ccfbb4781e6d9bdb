#include "packet_publisher.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>

#include "framering/ringbuf/reader.hpp"

namespace framering::ingest {

namespace {

constexpr std::uint64_t kFloorBytes = 1ULL << 20;
constexpr std::uint64_t kCapBytes = 256ULL << 20;
// Headroom over the measured rate: the first seconds may be a quieter scene than later ones, and
// a power-of-two round-up then adds up to as much again.
constexpr double kMargin = 2.0;

ring::PacketStreamInfo stream_info(const VideoInput& input) {
  const AVStream& st = input.stream();
  const AVCodecParameters& par = *st.codecpar;
  ring::PacketStreamInfo s;
  s.codec_id = static_cast<std::uint32_t>(par.codec_id);
  s.codec_name = avcodec_get_name(par.codec_id);
  s.width = static_cast<std::uint32_t>(std::max(0, par.width));
  s.height = static_cast<std::uint32_t>(std::max(0, par.height));
  s.time_base_num = static_cast<std::uint32_t>(std::max(1, st.time_base.num));
  s.time_base_den = static_cast<std::uint32_t>(std::max(1, st.time_base.den));
  const AVRational rate = input.frame_rate();
  if (rate.num > 0 && rate.den > 0) {
    s.rate_num = static_cast<std::uint32_t>(rate.num);
    s.rate_den = static_cast<std::uint32_t>(rate.den);
  }
  if (par.extradata && par.extradata_size > 0) {
    const auto* p = reinterpret_cast<const std::byte*>(par.extradata);
    s.extradata.assign(p, p + par.extradata_size);
  }
  return s;
}

bool same_stream(const ring::PacketStreamInfo& a, const ring::PacketStreamInfo& b) {
  return a.codec_name == b.codec_name && a.width == b.width && a.height == b.height &&
         a.time_base_num == b.time_base_num && a.time_base_den == b.time_base_den &&
         a.extradata == b.extradata;
}

}  // namespace

std::uint64_t packet_ring_bytes_for(double seconds, double bytes_per_second) {
  const double wanted = std::max(0.0, bytes_per_second) * std::max(0.0, seconds) * kMargin;
  const auto bytes = static_cast<std::uint64_t>(
      std::clamp(wanted, static_cast<double>(kFloorBytes), static_cast<double>(kCapBytes)));
  return ring::packet_ring_capacity(bytes);
}

ring::PacketRingSizing fallback_sizing(std::int64_t declared_bit_rate, std::uint32_t width,
                                       std::uint32_t height, double fps) {
  ring::PacketRingSizing s;
  if (declared_bit_rate > 0) {
    s.basis = ring::PacketRingSizing::Basis::kDeclared;
    s.bytes_per_second = static_cast<std::uint64_t>(declared_bit_rate / 8);
    return s;
  }
  const double rate = fps > 0 && std::isfinite(fps) ? fps : 30.0;
  s.basis = ring::PacketRingSizing::Basis::kEstimated;
  s.bytes_per_second =
      static_cast<std::uint64_t>(static_cast<double>(width) * height * rate * 0.1 / 8.0);
  return s;
}

PacketPublisher::PacketPublisher(const IngestOptions& options, metrics::IngestMetrics& metrics)
    : options_(options), metrics_(metrics) {}

PacketPublisher::~PacketPublisher() {
  try {
    close();
  } catch (const std::exception& e) {
    spdlog::error("packet ring: {}", e.what());
  }
  spdlog::info("shared {} packets ({} MiB) in the packet ring", shared_, shared_bytes_ >> 20);
}

void PacketPublisher::start_pass(const VideoInput& input) {
  ring::PacketStreamInfo stream = stream_info(input);
  if (writer_ && same_stream(writer_->info().stream, stream)) return;
  if (pending_ && same_stream(pending_->stream, stream)) return;  // still measuring (--loop)
  const bool replacing = writer_.has_value() || pending_.has_value();
  no_ring_ = false;
  close();  // the old epoch ends before the new one starts (same name)
  if (stream.extradata.size() > ring::pkt::kMaxExtradata) {
    spdlog::warn("codec extradata of {} B does not fit the packet ring; packets are not shared",
                 stream.extradata.size());
    return;
  }
  const AVCodecParameters& par = *input.stream().codecpar;
  const std::int64_t declared = par.bit_rate > 0 ? par.bit_rate : input.container_bit_rate();
  const AVRational rate = input.frame_rate();
  const double fps = rate.num > 0 && rate.den > 0 ? av_q2d(rate) : 0.0;
  ring::PacketRingSizing fallback = fallback_sizing(declared, stream.width, stream.height, fps);
  if (replacing) spdlog::info("stream parameters changed; measuring the new stream's bit rate");
  pending_.emplace(
      Pending{std::move(stream), fallback, BitrateProbe(av_q2d(input.stream().time_base), fps)});
}

ring::PacketMeta PacketPublisher::meta_of(const AVPacket& packet, bool first) {
  ring::PacketMeta meta;
  meta.pts = packet.pts;  // AV_NOPTS_VALUE is INT64_MIN, the ring's "unknown"
  meta.dts = packet.dts;
  meta.duration = packet.duration;
  meta.capture_realtime_ns = ring::realtime_ns();
  if (packet.flags & AV_PKT_FLAG_KEY) meta.flags |= ring::pkt::kFlagKeyframe;
  if (packet.flags & AV_PKT_FLAG_CORRUPT) meta.flags |= ring::pkt::kFlagCorrupt;
  if (first) meta.flags |= ring::pkt::kFlagDiscontinuity;
  return meta;
}

void PacketPublisher::on_packet(const AVPacket& packet, bool first) {
  const ring::PacketMeta meta = meta_of(packet, first);
  if (pending_) {
    if (!pending_->probe.complete_before(packet)) {
      // Held by reference until the ring exists; a packet libavformat did not reference-count
      // is copied, and counted as such.
      const std::size_t copied = pending_->probe.hold(packet, meta, first);
      if (copied) metrics_.bytes_copied.Increment(static_cast<double>(copied));
      return;
    }
    create_ring(&packet);
  }
  if (writer_) {
    publish(packet, meta);
  } else if (no_ring_) {
    metrics_.packets_no_ring.Increment();
  }
}

void PacketPublisher::create_ring(const AVPacket* end) {
  Pending& p = *pending_;
  ring::PacketRingSizing sizing = p.fallback;
  const double measured = p.probe.bytes_per_second(end);
  const double window = p.probe.window_seconds(end);
  if (measured > 0) {
    sizing.basis = ring::PacketRingSizing::Basis::kMeasured;
    sizing.bytes_per_second = static_cast<std::uint64_t>(std::llround(measured));
  }
  sizing.history_ms = static_cast<std::uint64_t>(std::llround(options_.packet_history_s * 1000));
  ring::PacketWriterOptions o;
  o.name = options_.ring;
  o.stream = p.stream;
  o.capacity = packet_ring_bytes_for(options_.packet_history_s,
                                     static_cast<double>(sizing.bytes_per_second));
  o.sizing = sizing;
  o.mode = options_.shm_mode;
  o.group = options_.shm_group;
  o.keep_on_close = options_.keep;
  std::vector<BitrateProbe::Held> held = std::move(p.probe.held());
  const std::uint64_t held_bytes = p.probe.held_bytes();
  pending_.reset();
  try {
    writer_.emplace(ring::PacketWriter::create(o));
  } catch (const std::exception& e) {
    if (options_.packets_only) throw;  // packets are all this ingest is for: fail loudly
    // Recording is lost for this stream, analytics must not be: frames go on without it.
    no_ring_ = true;
    metrics_.packet_ring_bytes.Set(0);
    metrics_.packets_no_ring.Increment(static_cast<double>(held.size()));
    spdlog::error(
        "packet ring: {}; the stream's packets are not shared (nothing to record) while frames "
        "go on; free space in /dev/shm or ask for less --packet-history, then restart the ingest",
        e.what());
    return;
  }
  metrics_.packet_ring_bytes.Set(static_cast<double>(writer_->info().capacity));
  metrics_.packet_ring_rate.Set(static_cast<double>(sizing.bytes_per_second));
  if (sizing.basis == ring::PacketRingSizing::Basis::kMeasured) {
    spdlog::info(
        "packet ring {}: {} {}x{}, {} KiB for {:g} s at a measured {} bit/s ({} packets, {} B "
        "over {:.2f} s; ×{:g} headroom)",
        writer_->path(), o.stream.codec_name, o.stream.width, o.stream.height,
        writer_->info().capacity >> 10, options_.packet_history_s, sizing.bytes_per_second * 8,
        held.size(), held_bytes, window, kMargin);
  } else {
    spdlog::info("packet ring {}: {} {}x{}, {} KiB for {:g} s at {} {} bit/s (nothing to measure)",
                 writer_->path(), o.stream.codec_name, o.stream.width, o.stream.height,
                 writer_->info().capacity >> 10, options_.packet_history_s,
                 ring::sizing_basis_name(sizing.basis), sizing.bytes_per_second * 8);
  }
  // What was held while measuring goes out first, in order, with its own capture times.
  for (BitrateProbe::Held& h : held) publish(*h.packet, h.meta);
}

void PacketPublisher::publish(const AVPacket& packet, ring::PacketMeta meta) {
  const std::span<const std::byte> data(reinterpret_cast<const std::byte*>(packet.data),
                                        static_cast<std::size_t>(std::max(0, packet.size)));
  // The packet's one copy: from libavformat's buffer into the ring record.
  if (writer_->publish(meta, data)) {
    metrics_.packets_published.Increment();
    ++shared_;
    shared_bytes_ += data.size();
    return;
  }
  metrics_.packets_too_large.Increment();
  if (too_large_++ == 0) {
    spdlog::warn(
        "a {} B packet exceeds a quarter of the packet ring ({} KiB) and was not shared; "
        "ask for more --packet-history",
        packet.size, writer_->info().capacity >> 10);
  }
}

void PacketPublisher::close() {
  if (pending_) {
    if (pending_->probe.empty()) {
      pending_.reset();  // nothing arrived: no ring to make
    } else {
      create_ring(nullptr);  // the stream ended within its measuring window
    }
  }
  if (writer_) writer_->close();
  writer_.reset();
}

}  // namespace framering::ingest
