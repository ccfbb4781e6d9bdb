// The packet ring's single writer (docs/packet-ring.md §4): reserve with tail_intent, write the
// record (and a padding record at the wrap), publish with tail.
#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <deque>

#include "bytes.hpp"
#include "control.hpp"
#include "framering/ringbuf/error.hpp"
#include "framering/ringbuf/layout.hpp"
#include "framering/ringbuf/names.hpp"
#include "framering/ringbuf/packet_ring.hpp"
#include "segment_file.hpp"
#include "sys.hpp"

namespace framering::ring {

using detail::atomic_at;
using detail::store_le;

struct PacketWriter::Impl {
  PacketRingInfo info;
  std::string path;
  detail::Fd fd;
  detail::bip::mapped_region region;  // unmaps itself
  std::byte* base = nullptr;          // region's address
  ino_t inode = 0;
  bool keep = false;
  bool closed = false;
  std::uint64_t tail = 0;
  std::uint64_t packets = 0;
  // The next record's packet_no. A dropped packet uses one up too: readers see the gap.
  std::uint64_t packet_no = 0;
  // Positions of the records not yet overwritten, oldest first: the `oldest` field's source.
  std::deque<std::uint64_t> records;
  detail::Heartbeat heartbeat;

  void store64(std::size_t offset, std::uint64_t value, std::memory_order order) {
    atomic_at<std::uint64_t>(base, offset).store(value, order);
  }

  void close() {
    if (closed) return;
    closed = true;
    heartbeat.stop();
    atomic_at<std::uint32_t>(base, pkt::kState)
        .store(static_cast<std::uint32_t>(State::kClosed), std::memory_order_release);
    detail::futex_wake_all(base + pkt::kTail);
    detail::release_segment(path, inode, region, keep);
    base = nullptr;
    fd = detail::Fd{};  // releases the flock
  }
};

PacketWriter PacketWriter::create(const PacketWriterOptions& options) {
  validate_ring_name(options.name);
  if (options.stream.extradata.size() > pkt::kMaxExtradata) {
    throw RingError(ErrorKind::kInvalidArgument,
                    "ring '" + options.name + "': codec extradata of " +
                        std::to_string(options.stream.extradata.size()) +
                        " B does not fit the packet ring header (at most 3072 B)");
  }
  if (options.stream.codec_name.empty() ||
      options.stream.codec_name.size() >= pkt::kCodecNameBytes) {
    throw RingError(ErrorKind::kInvalidArgument,
                    "ring '" + options.name + "': codec name must be 1-31 characters");
  }
  auto impl = std::make_unique<Impl>();
  impl->path = packet_segment_path(options.name);
  impl->keep = options.keep_on_close;
  PacketRingInfo& info = impl->info;
  info.name = options.name;
  info.version = pkt::kVersion;
  info.capacity = packet_ring_capacity(options.capacity);
  info.segment_bytes = pkt::kDataOffset + info.capacity;
  do {
    info.epoch = detail::random_u64();
  } while (info.epoch == 0);
  info.writer_pid = static_cast<std::int32_t>(::getpid());
  info.created_realtime_ns = realtime_ns();
  info.stream = options.stream;
  info.sizing = options.sizing;
  if (info.stream.time_base_num == 0 || info.stream.time_base_den == 0) {
    throw RingError(ErrorKind::kInvalidArgument,
                    "ring '" + options.name + "': the stream's time base has a zero term");
  }
  if (info.stream.rate_den == 0) info.stream.rate_num = 0, info.stream.rate_den = 1;

  detail::SegmentSpec spec;
  spec.name = options.name;
  spec.path = impl->path;
  spec.bytes = info.segment_bytes;
  spec.mode = options.mode;
  spec.group = options.group;
  spec.writer_pid_offset = pkt::kWriterPid;
  spec.size_detail = "packet history of " + std::to_string(info.capacity >> 10) + " KiB";
  spec.make_smaller = "ask for less --packet-history";
  detail::CreatedSegment segment = detail::create_segment(
      spec, [&](std::span<std::byte> bytes) { write_packet_header(bytes, info); });
  impl->region = std::move(segment.region);
  impl->base = segment.base;
  impl->inode = segment.inode;
  impl->fd = std::move(segment.fd);
  atomic_at<std::uint32_t>(impl->base, pkt::kState)
      .store(static_cast<std::uint32_t>(State::kLive), std::memory_order_release);
  impl->heartbeat.start(impl->base + pkt::kHeartbeatNs,
                        options.heartbeat_period_ms > 0 ? options.heartbeat_period_ms : 100);
  return PacketWriter(std::move(impl));
}

PacketWriter::PacketWriter(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
PacketWriter::PacketWriter(PacketWriter&&) noexcept = default;
PacketWriter& PacketWriter::operator=(PacketWriter&& other) noexcept {
  if (this != &other) {
    if (impl_) impl_->close();
    impl_ = std::move(other.impl_);
  }
  return *this;
}
PacketWriter::~PacketWriter() {
  if (impl_) impl_->close();
}

std::uint64_t PacketWriter::max_packet_bytes() const {
  return impl_->info.capacity / 4 - pkt::kRecData;
}

bool PacketWriter::publish(const PacketMeta& meta, std::span<const std::byte> data) {
  Impl& w = *impl_;
  if (data.size() > max_packet_bytes()) {
    // Nothing written, but its number is gone: a reader sees the gap in packet_no and knows a
    // packet (perhaps the keyframe the next ones need) is missing (docs/packet-ring.md §3).
    ++w.packet_no;
    return false;
  }
  const std::uint64_t capacity = w.info.capacity;
  const auto length = static_cast<std::uint32_t>(pkt::kRecData + data.size());
  const std::uint64_t aligned = align_up(length, pkt::kRecordAlign);
  const std::uint64_t position = w.tail;
  std::uint64_t offset = position & (capacity - 1);
  const std::uint64_t padding = offset + aligned > capacity ? capacity - offset : 0;
  const std::uint64_t record_position = position + padding;
  const std::uint64_t new_tail = record_position + aligned;

  // tail_intent first (relaxed), then a release fence: no record byte below becomes visible to
  // a reader before the intent that tells it those bytes are being overwritten.
  w.store64(pkt::kTailIntent, new_tail, std::memory_order_relaxed);
  std::atomic_thread_fence(std::memory_order_release);
  std::byte* area = w.base + pkt::kDataOffset;
  auto put32 = [](std::byte* r, std::size_t field, std::uint32_t v) {
    atomic_at<std::uint32_t>(r, field).store(v, std::memory_order_relaxed);
  };
  auto put64 = [](std::byte* r, std::size_t field, std::uint64_t v) {
    atomic_at<std::uint64_t>(r, field).store(v, std::memory_order_relaxed);
  };
  if (padding != 0) {
    put32(area + offset, pkt::kRecLength, static_cast<std::uint32_t>(padding));
    put32(area + offset, pkt::kRecType, pkt::kTypePadding);
    offset = 0;
  }
  std::byte* r = area + offset;
  put32(r, pkt::kRecLength, length);
  put32(r, pkt::kRecType, pkt::kTypePacket);
  put64(r, pkt::kRecPacketNo, w.packet_no);
  put64(r, pkt::kRecPts, static_cast<std::uint64_t>(meta.pts));
  put64(r, pkt::kRecDts, static_cast<std::uint64_t>(meta.dts));
  put64(r, pkt::kRecDuration, static_cast<std::uint64_t>(meta.duration));
  put64(r, pkt::kRecCaptureRealtimeNs,
        meta.capture_realtime_ns ? meta.capture_realtime_ns : realtime_ns());
  put32(r, pkt::kRecFlags, meta.flags);
  put32(r, pkt::kRecDataBytes, static_cast<std::uint32_t>(data.size()));
  if (!data.empty()) std::memcpy(r + pkt::kRecData, data.data(), data.size());  // the one copy

  // A record at p stays intact while tail_intent <= p + capacity.
  while (!w.records.empty() && w.records.front() + capacity < new_tail) w.records.pop_front();
  w.records.push_back(record_position);
  w.store64(pkt::kOldest, w.records.front(), std::memory_order_relaxed);
  w.store64(pkt::kLatest, record_position, std::memory_order_relaxed);
  w.store64(pkt::kPackets, w.packets + 1, std::memory_order_relaxed);
  // tail (release) publishes the record and everything above.
  w.store64(pkt::kTail, new_tail, std::memory_order_release);
  detail::futex_wake_all(w.base + pkt::kTail);
  w.tail = new_tail;
  ++w.packets;
  ++w.packet_no;
  return true;
}

void PacketWriter::close() {
  impl_->close();
}
std::uint64_t PacketWriter::packets() const {
  return impl_->packets;
}
std::uint64_t PacketWriter::tail() const {
  return impl_->tail;
}
const PacketRingInfo& PacketWriter::info() const {
  return impl_->info;
}
std::string PacketWriter::path() const {
  return impl_->path;
}

}  // namespace framering::ring
