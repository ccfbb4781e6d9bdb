#include "framering/ringbuf/reader.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <thread>
#include <utility>

#include "control.hpp"
#include "framering/ringbuf/error.hpp"
#include "framering/ringbuf/layout.hpp"
#include "framering/ringbuf/names.hpp"
#include "segment_file.hpp"
#include "sys.hpp"

namespace framering::ring {

using detail::atomic_at;
using detail::errno_text;
using detail::Fd;

std::uint64_t monotonic_ns() {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::uint64_t>(ts.tv_sec) * 1'000'000'000ULL +
         static_cast<std::uint64_t>(ts.tv_nsec);
}

std::uint64_t realtime_ns() {
  timespec ts{};
  ::clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<std::uint64_t>(ts.tv_sec) * 1'000'000'000ULL +
         static_cast<std::uint64_t>(ts.tv_nsec);
}

const char* to_string(ReadStatus status) {
  switch (status) {
    case ReadStatus::kOk:
      return "OK";
    case ReadStatus::kNotYet:
      return "NOT_YET";
    case ReadStatus::kLapped:
      return "LAPPED";
    case ReadStatus::kTorn:
      return "TORN";
    case ReadStatus::kWriterGone:
      return "WRITER_GONE";
    case ReadStatus::kEpochChanged:
      return "EPOCH_CHANGED";
  }
  return "UNKNOWN";
}

namespace {

// One read-only mapping of one segment (one epoch); the region unmaps itself.
struct Mapping {
  Fd fd;  // the native handle: flock probes, fstat
  detail::bip::mapped_region region;
  const std::byte* base = nullptr;  // region's address
  std::size_t size = 0;
  ino_t inode = 0;
  uid_t owner = 0;
  RingInfo info;

  Mapping() = default;
  Mapping(Mapping&& o) noexcept { *this = std::move(o); }
  Mapping& operator=(Mapping&& o) noexcept {
    if (this != &o) {
      fd = std::move(o.fd);
      region = std::move(o.region);  // unmaps ours, leaves o's empty
      base = std::exchange(o.base, nullptr);
      size = std::exchange(o.size, 0);
      inode = o.inode;
      owner = o.owner;
      info = std::move(o.info);
    }
    return *this;
  }
};

Mapping open_mapping(const std::string& name, const std::vector<uid_t>& owners) {
  validate_ring_name(name);
  const std::string path = segment_path(name);
  Mapping m;
  detail::OpenedSegment seg = detail::open_segment_readonly(
      name, path, owners, kHeaderBytes, "start `framering ingest --ring " + name + "` first");
  m.fd = std::move(seg.fd);
  m.region = std::move(seg.region);
  m.base = std::exchange(seg.base, nullptr);
  m.size = seg.size;
  m.inode = seg.inode;
  m.owner = seg.owner;
  try {
    m.info = parse_header({m.base, m.size});
  } catch (const RingError& e) {
    throw RingError(e.kind(), "ring '" + name + "' (" + path + "): " + e.what());
  }
  return m;
}

}  // namespace

struct Reader::Impl {
  std::string name;
  ReaderOptions options;
  Mapping map;
  detail::LivenessProbe probe;

  std::atomic_ref<std::uint64_t> cursor_word() const {
    return atomic_at<std::uint64_t>(map.base, hdr::kCursor);
  }
  const std::byte* entry(std::uint32_t k) const {
    return map.base + map.info.slot_table_offset + std::uint64_t{k} * kSlotEntryBytes;
  }
  std::uint32_t state() const {
    return atomic_at<std::uint32_t>(map.base, hdr::kState).load(std::memory_order_acquire);
  }
  std::uint64_t heartbeat() const {
    return atomic_at<std::uint64_t>(map.base, hdr::kHeartbeatNs).load(std::memory_order_relaxed);
  }

  FrameView peek(std::uint32_t k) const {
    const std::byte* e = entry(k);
    auto get = [e](std::size_t offset) {
      return atomic_at<std::uint64_t>(e, offset).load(std::memory_order_relaxed);
    };
    FrameView f;
    f.slot = k;
    f.seq = get(slot::kSeq);
    f.frame_no = get(slot::kFrameNo);
    f.pts_ns = static_cast<std::int64_t>(get(slot::kPtsNs));
    f.capture_realtime_ns = get(slot::kCaptureRealtimeNs);
    f.publish_realtime_ns = get(slot::kPublishRealtimeNs);
    f.publish_monotonic_ns = get(slot::kPublishMonotonicNs);
    f.flags = atomic_at<std::uint32_t>(e, slot::kFlags).load(std::memory_order_relaxed);
    f.data = map.base + map.info.payload_offset + std::uint64_t{k} * map.info.slot_stride;
    f.bytes = map.info.frame_bytes;
    return f;
  }

  // Writer alive: LIVE and either a fresh heartbeat or (probed at most every 50 ms) a held flock.
  bool alive() {
    const auto stale = static_cast<std::uint64_t>(
        std::chrono::duration_cast<std::chrono::nanoseconds>(options.stale_after).count());
    return probe.alive(map.base, map.fd.get(), hdr::kState, hdr::kHeartbeatNs, stale);
  }

  // The writer is gone: has a new one put a fresh segment under our name?
  ReadResult successor_or_gone(std::uint64_t frame_no) {
    ReadResult r;
    r.status = ReadStatus::kWriterGone;
    r.next = frame_no;  // nothing was consumed: ask for the same frame again
    struct stat st {};
    if (::stat(segment_path(name).c_str(), &st) != 0 || st.st_ino == map.inode) return r;
    try {
      Mapping next = open_mapping(name, options.owners);
      if (next.info.epoch == map.info.epoch) return r;
      map = std::move(next);
      probe = {};
      r.status = ReadStatus::kEpochChanged;
      r.next = 0;
    } catch (const RingError&) {
      // Not (yet) a valid ring under that name; report the writer as gone and look again later.
    }
    return r;
  }

  ReadResult not_yet(std::uint64_t frame_no) {
    if (!alive()) return successor_or_gone(frame_no);
    ReadResult r;
    r.status = ReadStatus::kNotYet;
    r.next = frame_no;
    return r;
  }
};

Reader Reader::attach(const std::string& name, ReaderOptions options) {
  auto impl = std::make_unique<Impl>();
  impl->name = name;
  impl->options = options;
  impl->map = open_mapping(name, options.owners);
  return Reader(std::move(impl));
}

Reader::Reader(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Reader::Reader(Reader&&) noexcept = default;
Reader& Reader::operator=(Reader&&) noexcept = default;
Reader::~Reader() = default;

ReadResult Reader::read(std::uint64_t n) {
  Impl& r = *impl_;
  const std::uint64_t cursor = r.cursor_word().load(std::memory_order_acquire);
  if (n >= cursor) return r.not_yet(n);
  const std::uint32_t slots = r.map.info.slots;
  const auto k = static_cast<std::uint32_t>(n % slots);
  const std::byte* e = r.entry(k);
  const std::uint64_t s1 = atomic_at<std::uint64_t>(e, slot::kSeq).load(std::memory_order_acquire);
  ReadResult out;
  const std::uint64_t want = seq_committed(n);
  // The oldest frame that may still be intact: the writer may be writing frame `cursor` into
  // the slot of frame cursor - slots right now.
  const std::uint64_t oldest_safe = cursor >= slots ? cursor - slots + 1 : 0;
  if (s1 != want) {
    out.status = s1 > want ? ReadStatus::kLapped : ReadStatus::kTorn;
    out.next = std::max(n + 1, oldest_safe);
    out.missed = out.next - n;
    return out;
  }
  FrameView f = r.peek(k);
  std::atomic_thread_fence(std::memory_order_acquire);
  const std::uint64_t s2 = atomic_at<std::uint64_t>(e, slot::kSeq).load(std::memory_order_relaxed);
  if (s2 != s1 || f.frame_no != n) {
    out.status = ReadStatus::kLapped;
    out.next = std::max(n + 1, oldest_safe);
    out.missed = out.next - n;
    return out;
  }
  f.seq = s1;
  out.status = ReadStatus::kOk;
  out.frame = f;
  out.next = n + 1;
  return out;
}

ReadResult Reader::latest() {
  for (int attempt = 0; attempt < 4; ++attempt) {
    const std::uint64_t cursor = impl_->cursor_word().load(std::memory_order_acquire);
    if (cursor == 0) return impl_->not_yet(0);
    ReadResult r = read(cursor - 1);
    if (r.status != ReadStatus::kLapped) return r;
  }
  return read(impl_->cursor_word().load(std::memory_order_acquire) - 1);
}

ReadResult Reader::wait_next(std::uint64_t n, std::chrono::nanoseconds timeout) {
  const std::uint64_t deadline =
      monotonic_ns() + static_cast<std::uint64_t>(std::max<std::int64_t>(0, timeout.count()));
  for (;;) {
    ReadResult r = read(n);
    if (r.status != ReadStatus::kNotYet && r.status != ReadStatus::kWriterGone) return r;
    const std::uint64_t now = monotonic_ns();
    if (now >= deadline) return r;
    if (r.status == ReadStatus::kWriterGone) {
      // No writer: look for a successor every 50 ms until the deadline.
      const std::uint64_t nap = std::min<std::uint64_t>(deadline - now, 50'000'000ULL);
      std::this_thread::sleep_for(std::chrono::nanoseconds(nap));
      continue;
    }
    const auto cursor = impl_->cursor_word().load(std::memory_order_acquire);
    if (cursor > n) continue;
    // Sleep on the cursor's low 32 bits; wake at least every 100 ms to notice a dead writer.
    detail::futex_wait(impl_->map.base + hdr::kCursor, static_cast<std::uint32_t>(cursor),
                       std::min<std::uint64_t>(deadline - now, 100'000'000ULL));
  }
}

bool Reader::valid(const FrameView& frame) const {
  // A view from before a re-attach (EPOCH_CHANGED) belongs to an unmapped segment: never valid.
  if (frame.slot >= impl_->map.info.slots || frame.data != impl_->peek(frame.slot).data)
    return false;
  std::atomic_thread_fence(std::memory_order_acquire);
  const std::uint64_t seq = atomic_at<std::uint64_t>(impl_->entry(frame.slot), slot::kSeq)
                                .load(std::memory_order_relaxed);
  return seq == frame.seq;
}

std::uint64_t Reader::cursor() const {
  return impl_->cursor_word().load(std::memory_order_acquire);
}
bool Reader::writer_alive() {
  return impl_->alive();
}
const RingInfo& Reader::info() const {
  return impl_->map.info;
}
uid_t Reader::owner() const {
  return impl_->map.owner;
}
std::string Reader::name() const {
  return impl_->name;
}
std::span<const std::byte> Reader::mapping() const {
  return {impl_->map.base, impl_->map.size};
}
FrameView Reader::peek_slot(std::uint32_t k) const {
  return impl_->peek(k % impl_->map.info.slots);
}
State Reader::state() const {
  return static_cast<State>(impl_->state());
}
std::uint64_t Reader::heartbeat_ns() const {
  return impl_->heartbeat();
}

}  // namespace framering::ring
