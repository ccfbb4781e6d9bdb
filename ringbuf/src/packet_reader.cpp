// A read-only packet ring reader (docs/packet-ring.md §5): read in place, then prove with
// tail_intent that the writer has not started overwriting what was read.
#include <sys/stat.h>

#include <algorithm>
#include <thread>
#include <utility>

#include "control.hpp"
#include "framering/ringbuf/error.hpp"
#include "framering/ringbuf/layout.hpp"
#include "framering/ringbuf/names.hpp"
#include "framering/ringbuf/packet_ring.hpp"
#include "segment_file.hpp"
#include "sys.hpp"

namespace framering::ring {

using detail::atomic_at;

namespace {

struct PacketMapping {
  detail::OpenedSegment segment;
  PacketRingInfo info;

  PacketMapping() = default;
  PacketMapping(PacketMapping&& o) noexcept { *this = std::move(o); }
  PacketMapping& operator=(PacketMapping&& o) noexcept {
    if (this != &o) {
      detail::unmap_segment(segment);
      segment = std::move(o.segment);
      o.segment.base = nullptr;
      info = std::move(o.info);
    }
    return *this;
  }
  ~PacketMapping() { detail::unmap_segment(segment); }
};

PacketMapping open_packets(const std::string& name, const std::vector<uid_t>& owners) {
  validate_ring_name(name);
  const std::string path = packet_segment_path(name);
  PacketMapping m;
  m.segment = detail::open_segment_readonly(
      name, path, owners, pkt::kHeaderBytes,
      "start `framering ingest --ring " + name + " --packet-history 30s` first");
  try {
    m.info = parse_packet_header({m.segment.base, m.segment.size});
  } catch (const RingError& e) {
    throw RingError(e.kind(), "ring '" + name + "' (" + path + "): " + e.what());
  }
  return m;
}

}  // namespace

struct PacketReader::Impl {
  std::string name;
  ReaderOptions options;
  PacketMapping map;
  detail::LivenessProbe probe;
  std::optional<std::uint64_t> expected_packet;  // packet_no the next kOk should carry

  std::uint64_t load(std::size_t offset, std::memory_order order) const {
    return atomic_at<std::uint64_t>(map.segment.base, offset).load(order);
  }
  std::span<const std::byte> data() const {
    return {map.segment.base + pkt::kDataOffset, map.info.capacity};
  }
  // Still intact: the writer has not reserved anything that reaches `position` again.
  bool intact(std::uint64_t position) const {
    std::atomic_thread_fence(std::memory_order_acquire);
    return load(pkt::kTailIntent, std::memory_order_relaxed) <= position + map.info.capacity;
  }
  bool alive() {
    const auto stale = static_cast<std::uint64_t>(
        std::chrono::duration_cast<std::chrono::nanoseconds>(options.stale_after).count());
    return probe.alive(map.segment.base, map.segment.fd.get(), pkt::kState, pkt::kHeartbeatNs,
                       stale);
  }
  PacketReadResult skip_to_latest(ReadStatus status) {
    PacketReadResult r;
    r.status = status;
    r.next = load(pkt::kLatest, std::memory_order_acquire);
    return r;
  }
  PacketReadResult not_yet(std::uint64_t position) {
    PacketReadResult r;
    r.status = ReadStatus::kNotYet;
    r.next = position;
    if (alive()) return r;
    r.status = ReadStatus::kWriterGone;
    struct stat st {};
    if (::stat(packet_segment_path(name).c_str(), &st) != 0 || st.st_ino == map.segment.inode)
      return r;
    try {
      PacketMapping next = open_packets(name, options.owners);
      if (next.info.epoch == map.info.epoch) return r;
      map = std::move(next);
      probe = {};
      expected_packet.reset();
      r.status = ReadStatus::kEpochChanged;
      r.next = 0;
    } catch (const RingError&) {
      // Not (yet) a valid packet ring under that name; look again later.
    }
    return r;
  }
};

PacketReader PacketReader::attach(const std::string& name, ReaderOptions options) {
  auto impl = std::make_unique<Impl>();
  impl->name = name;
  impl->options = std::move(options);
  impl->map = open_packets(name, impl->options.owners);
  return PacketReader(std::move(impl));
}

PacketReader::PacketReader(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
PacketReader::PacketReader(PacketReader&&) noexcept = default;
PacketReader& PacketReader::operator=(PacketReader&&) noexcept = default;
PacketReader::~PacketReader() = default;

PacketReadResult PacketReader::read(std::uint64_t position) {
  return read_record(position, /*live=*/true);
}

PacketReadResult PacketReader::reread(std::uint64_t position) {
  return read_record(position, /*live=*/false);
}

PacketReadResult PacketReader::read_record(std::uint64_t position, bool live) {
  Impl& r = *impl_;
  // A record is never longer than the data area: at most one padding record, then a packet.
  for (int hop = 0; hop < 2; ++hop) {
    const std::uint64_t tail = r.load(pkt::kTail, std::memory_order_acquire);
    if (position >= tail) {
      if (live) return r.not_yet(position);
      PacketReadResult out;
      out.next = position;
      return out;
    }
    if (!r.intact(position)) return r.skip_to_latest(ReadStatus::kLapped);
    const RecordParse rec = parse_record(r.data(), position);
    // Whatever the bytes said, they only count if the writer had not come round meanwhile.
    if (!r.intact(position)) return r.skip_to_latest(ReadStatus::kLapped);
    if (rec.kind == RecordParse::Kind::kMalformed || rec.next > tail)
      return r.skip_to_latest(ReadStatus::kTorn);
    if (rec.kind == RecordParse::Kind::kPadding) {
      position = rec.next;
      continue;
    }
    PacketReadResult out;
    out.status = ReadStatus::kOk;
    out.packet = rec.packet;
    out.next = rec.next;
    if (!live) return out;
    if (r.expected_packet && rec.packet.packet_no > *r.expected_packet)
      out.missed = rec.packet.packet_no - *r.expected_packet;
    r.expected_packet = rec.packet.packet_no + 1;
    return out;
  }
  return r.skip_to_latest(ReadStatus::kTorn);  // padding after padding: not a valid ring
}

PacketReadResult PacketReader::wait_next(std::uint64_t position, std::chrono::nanoseconds timeout) {
  const std::uint64_t deadline =
      monotonic_ns() + static_cast<std::uint64_t>(std::max<std::int64_t>(0, timeout.count()));
  for (;;) {
    PacketReadResult r = read(position);
    if (r.status != ReadStatus::kNotYet && r.status != ReadStatus::kWriterGone) return r;
    const std::uint64_t now = monotonic_ns();
    if (now >= deadline) return r;
    if (r.status == ReadStatus::kWriterGone) {
      std::this_thread::sleep_for(
          std::chrono::nanoseconds(std::min<std::uint64_t>(deadline - now, 50'000'000ULL)));
      continue;
    }
    const std::uint64_t tail = impl_->load(pkt::kTail, std::memory_order_acquire);
    if (tail > position) continue;
    // Sleep on the tail's low 32 bits; wake at least every 100 ms to notice a dead writer.
    detail::futex_wait(impl_->map.segment.base + pkt::kTail, static_cast<std::uint32_t>(tail),
                       std::min<std::uint64_t>(deadline - now, 100'000'000ULL));
  }
}

bool PacketReader::valid(const PacketView& packet) const {
  const auto area = impl_->data();
  // A view from before a re-attach belongs to an unmapped segment.
  if (packet.data.data() < area.data() || packet.data.data() >= area.data() + area.size())
    return false;
  return impl_->intact(packet.position);
}

std::uint64_t PacketReader::tail() const {
  return impl_->load(pkt::kTail, std::memory_order_acquire);
}
std::uint64_t PacketReader::latest() const {
  return impl_->load(pkt::kLatest, std::memory_order_acquire);
}
std::uint64_t PacketReader::packets() const {
  return impl_->load(pkt::kPackets, std::memory_order_acquire);
}
std::uint64_t PacketReader::oldest() const {
  const std::uint64_t intent = impl_->load(pkt::kTailIntent, std::memory_order_acquire);
  return intent <= impl_->map.info.capacity ? 0 : latest();
}
std::uint64_t PacketReader::oldest_record() const {
  return impl_->load(pkt::kOldest, std::memory_order_acquire);
}
bool PacketReader::writer_alive() {
  return impl_->alive();
}
std::uint32_t PacketReader::state() const {
  return atomic_at<std::uint32_t>(impl_->map.segment.base, pkt::kState)
      .load(std::memory_order_acquire);
}
const PacketRingInfo& PacketReader::info() const {
  return impl_->map.info;
}

}  // namespace framering::ring
