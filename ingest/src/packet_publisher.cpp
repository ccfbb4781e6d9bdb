#include "packet_publisher.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>

#include "framering/ringbuf/reader.hpp"

namespace framering::ingest {

namespace {

constexpr std::uint64_t kFloorBytes = 1ULL << 20;
constexpr std::uint64_t kCapBytes = 256ULL << 20;

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

std::uint64_t packet_ring_bytes_for(double seconds, std::int64_t bit_rate, std::uint32_t width,
                                    std::uint32_t height, double fps) {
  double bytes_per_second = 0;
  if (bit_rate > 0) {
    bytes_per_second = static_cast<double>(bit_rate) / 8.0;
  } else {
    const double rate = fps > 0 && std::isfinite(fps) ? fps : 30.0;
    bytes_per_second = static_cast<double>(width) * height * rate * 0.1 / 8.0;
  }
  const double wanted = bytes_per_second * std::max(0.0, seconds) * 2.0;
  const auto bytes = static_cast<std::uint64_t>(
      std::clamp(wanted, static_cast<double>(kFloorBytes), static_cast<double>(kCapBytes)));
  return ring::packet_ring_capacity(bytes);
}

PacketPublisher::PacketPublisher(const IngestOptions& options, metrics::IngestMetrics& metrics)
    : options_(options), metrics_(metrics) {}

PacketPublisher::~PacketPublisher() {
  spdlog::info("shared {} packets ({} MiB) in the packet ring", shared_, shared_bytes_ >> 20);
}

void PacketPublisher::start_pass(const VideoInput& input) {
  ring::PacketStreamInfo stream = stream_info(input);
  if (writer_ && same_stream(writer_->info().stream, stream)) return;
  if (stream.extradata.size() > ring::pkt::kMaxExtradata) {
    spdlog::warn("codec extradata of {} B does not fit the packet ring; packets are not shared",
                 stream.extradata.size());
    close();
    return;
  }
  const AVCodecParameters& par = *input.stream().codecpar;
  const std::int64_t bit_rate = par.bit_rate > 0 ? par.bit_rate : input.container_bit_rate();
  const AVRational rate = input.frame_rate();
  const double fps = rate.num > 0 && rate.den > 0 ? av_q2d(rate) : 0.0;
  ring::PacketWriterOptions o;
  o.name = options_.ring;
  o.stream = std::move(stream);
  o.capacity = packet_ring_bytes_for(options_.packet_history_s, bit_rate, o.stream.width,
                                     o.stream.height, fps);
  o.mode = options_.shm_mode;
  o.group = options_.shm_group;
  o.keep_on_close = options_.keep;
  const bool replacing = writer_.has_value();
  close();  // the old epoch ends before the new one starts (same name)
  writer_.emplace(ring::PacketWriter::create(o));
  metrics_.packet_ring_bytes.Set(static_cast<double>(writer_->info().capacity));
  spdlog::info("{}packet ring {}: {} {}x{}, {} KiB for {:g} s at {} ({} bit/s)",
               replacing ? "stream parameters changed; new " : "", writer_->path(),
               writer_->info().stream.codec_name, o.stream.width, o.stream.height,
               writer_->info().capacity >> 10, options_.packet_history_s,
               bit_rate > 0 ? "the declared bit rate" : "an estimated 0.1 bit/pixel",
               bit_rate > 0 ? bit_rate
                            : static_cast<std::int64_t>(o.stream.width * o.stream.height *
                                                        (fps > 0 ? fps : 30.0) * 0.1));
}

void PacketPublisher::on_packet(const AVPacket& packet, bool first) {
  if (!writer_) return;
  ring::PacketMeta meta;
  meta.pts = packet.pts;  // AV_NOPTS_VALUE is INT64_MIN, the ring's "unknown"
  meta.dts = packet.dts;
  meta.duration = packet.duration;
  meta.capture_realtime_ns = ring::realtime_ns();
  if (packet.flags & AV_PKT_FLAG_KEY) meta.flags |= ring::pkt::kFlagKeyframe;
  if (packet.flags & AV_PKT_FLAG_CORRUPT) meta.flags |= ring::pkt::kFlagCorrupt;
  if (first) meta.flags |= ring::pkt::kFlagDiscontinuity;
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
  if (writer_) writer_->close();
  writer_.reset();
}

}  // namespace framering::ingest
