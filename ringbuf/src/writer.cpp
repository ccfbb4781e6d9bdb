#include "framering/ringbuf/writer.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <utility>

#include "control.hpp"
#include "framering/ringbuf/error.hpp"
#include "framering/ringbuf/layout.hpp"
#include "framering/ringbuf/names.hpp"
#include "framering/ringbuf/reader.hpp"
#include "segment_file.hpp"
#include "sys.hpp"

namespace framering::ring {

using detail::atomic_at;
using detail::errno_text;
using detail::Fd;

struct Writer::Impl {
  RingInfo info;
  std::string path;
  Fd fd;  // the native handle: flock (held for the writer's life), fstat
  detail::bip::mapped_region region;
  std::byte* base = nullptr;  // region's address, kept for the hot path
  ino_t inode = 0;
  std::uint64_t next_frame = 0;
  // The Slot handed out by claim() and not yet published or aborted (its address follows its
  // moves), so a second claim, a foreign publish and a Slot outliving close() are all caught.
  Slot* outstanding = nullptr;
  std::uint64_t aborted = 0;
  bool closed = false;
  bool keep = false;

  detail::Heartbeat heartbeat;

  std::atomic_ref<std::uint64_t> cursor_word() {
    return atomic_at<std::uint64_t>(base, hdr::kCursor);
  }
  std::byte* entry(std::uint32_t slot) {
    return base + info.slot_table_offset + std::uint64_t{slot} * kSlotEntryBytes;
  }

  // The claim ends unpublished: seq stays odd (2n+1) and the cursor stays at n, which is what
  // docs/ring-format.md §5 has readers see of a slot being written — TORN for a reader holding
  // the slot's previous frame, NOT_YET for frame n — and the next claim rewrites frame n.
  void abort(Slot& s) {
    s.owner_ = nullptr;
    s.payload_ = {};
    outstanding = nullptr;
    ++aborted;
  }

  // Throws unless `s` is the claim this writer has outstanding.
  void check_owner(const Slot& s, const char* what) const {
    if (s.owner_ == nullptr) {
      throw std::logic_error(std::string("Writer::") + what +
                             ": the Slot was already published, aborted or moved from");
    }
    if (s.owner_ != this || outstanding != &s) {
      throw std::logic_error(std::string("Writer::") + what + ": the Slot (frame " +
                             std::to_string(s.frame_no_) + ") belongs to another writer of ring '" +
                             s.owner_->info.name + "'");
    }
  }

  void close() {
    if (closed) return;
    closed = true;
    if (outstanding) abort(*outstanding);  // the Slot must not reach back into a closed ring
    heartbeat.stop();
    atomic_at<std::uint32_t>(base, hdr::kState)
        .store(static_cast<std::uint32_t>(State::kClosed), std::memory_order_release);
    detail::futex_wake_all(base + hdr::kCursor);
    // Unlink only our own segment (a successor may already own the name), then unmap.
    detail::release_segment(path, inode, region, keep);
    base = nullptr;
    fd = Fd{};  // releases the flock
  }
};

Writer Writer::create(const WriterOptions& options) {
  RingInfo info = plan_layout(options.name, options.geometry, options.slots);
  auto impl = std::make_unique<Impl>();
  impl->path = segment_path(options.name);
  impl->keep = options.keep_on_close;
  const std::string& path = impl->path;
  const std::string& name = options.name;

  detail::SegmentSpec spec;
  spec.name = name;
  spec.path = path;
  spec.bytes = info.segment_bytes;
  spec.mode = options.mode;
  spec.group = options.group;
  spec.writer_pid_offset = hdr::kWriterPid;
  spec.size_detail =
      std::to_string(info.slots) + " slots x " + std::to_string(info.slot_stride) + " B + tables";
  spec.make_smaller = "use fewer --slots or a smaller frame";
  do {
    info.epoch = detail::random_u64();
  } while (info.epoch == 0);
  info.writer_pid = static_cast<std::int32_t>(::getpid());
  info.created_realtime_ns = realtime_ns();
  detail::CreatedSegment segment = detail::create_segment(spec, [&](std::span<std::byte> bytes) {
    write_header(bytes, info);
    atomic_at<std::uint64_t>(bytes.data(), hdr::kHeartbeatNs)
        .store(monotonic_ns(), std::memory_order_relaxed);
  });
  impl->region = std::move(segment.region);
  impl->base = segment.base;
  impl->info = info;
  impl->inode = segment.inode;
  impl->fd = std::move(segment.fd);

  atomic_at<std::uint32_t>(impl->base, hdr::kState)
      .store(static_cast<std::uint32_t>(State::kLive), std::memory_order_release);
  impl->heartbeat.start(impl->base + hdr::kHeartbeatNs,
                        options.heartbeat_period_ms > 0 ? options.heartbeat_period_ms : 100);
  return Writer(std::move(impl));
}

Writer::Writer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Writer::Writer(Writer&&) noexcept = default;
Writer& Writer::operator=(Writer&& other) noexcept {
  if (this != &other) {
    if (impl_) impl_->close();
    impl_ = std::move(other.impl_);
  }
  return *this;
}
Writer::~Writer() {
  if (impl_) impl_->close();
}

Writer::Slot::Slot(Impl* owner, std::span<std::byte> payload, std::uint64_t frame_no,
                   std::uint64_t claim_ns)
    : owner_(owner), payload_(payload), frame_no_(frame_no), claim_realtime_ns_(claim_ns) {
  owner_->outstanding = this;
}

Writer::Slot::Slot(Slot&& other) noexcept
    : pts_ns(other.pts_ns),
      capture_realtime_ns(other.capture_realtime_ns),
      flags(other.flags),
      owner_(std::exchange(other.owner_, nullptr)),
      payload_(std::exchange(other.payload_, {})),
      frame_no_(other.frame_no_),
      claim_realtime_ns_(other.claim_realtime_ns_) {
  if (owner_) owner_->outstanding = this;
}

Writer::Slot& Writer::Slot::operator=(Slot&& other) noexcept {
  if (this != &other) {
    release();
    pts_ns = other.pts_ns;
    capture_realtime_ns = other.capture_realtime_ns;
    flags = other.flags;
    owner_ = std::exchange(other.owner_, nullptr);
    payload_ = std::exchange(other.payload_, {});
    frame_no_ = other.frame_no_;
    claim_realtime_ns_ = other.claim_realtime_ns_;
    if (owner_) owner_->outstanding = this;
  }
  return *this;
}

void Writer::Slot::release() {
  if (owner_) owner_->abort(*this);
}

Writer::Slot Writer::claim() {
  Impl& w = *impl_;
  if (w.closed) throw std::logic_error("Writer::claim: ring '" + w.info.name + "' is closed");
  if (w.outstanding) {
    throw std::logic_error("Writer::claim: frame " + std::to_string(w.outstanding->frame_no_) +
                           " of ring '" + w.info.name +
                           "' is still claimed; publish or abort it before claiming again");
  }
  const std::uint64_t n = w.next_frame;
  const auto k = static_cast<std::uint32_t>(n % w.info.slots);
  // seq <- odd (relaxed), then a release fence: no payload store below can become visible to a
  // reader before the odd value does.
  atomic_at<std::uint64_t>(w.entry(k), slot::kSeq).store(seq_writing(n), std::memory_order_relaxed);
  std::atomic_thread_fence(std::memory_order_release);
  std::byte* payload = w.base + w.info.payload_offset + std::uint64_t{k} * w.info.slot_stride;
  return Slot(&w, {payload, w.info.frame_bytes}, n, realtime_ns());
}

void Writer::publish(Slot&& s) {
  Impl& w = *impl_;
  w.check_owner(s, "publish");
  const std::uint64_t n = s.frame_no_;
  const auto k = static_cast<std::uint32_t>(n % w.info.slots);
  std::byte* e = w.entry(k);
  const std::uint64_t now_rt = realtime_ns();
  const std::uint64_t now_mono = monotonic_ns();
  auto put = [e](std::size_t offset, std::uint64_t value) {
    atomic_at<std::uint64_t>(e, offset).store(value, std::memory_order_relaxed);
  };
  put(slot::kFrameNo, n);
  put(slot::kPtsNs, static_cast<std::uint64_t>(s.pts_ns));
  put(slot::kCaptureRealtimeNs,
      s.capture_realtime_ns ? s.capture_realtime_ns : s.claim_realtime_ns_);
  put(slot::kPublishRealtimeNs, now_rt);
  put(slot::kPublishMonotonicNs, now_mono);
  atomic_at<std::uint32_t>(e, slot::kFlags).store(s.flags, std::memory_order_relaxed);
  // seq <- even (release) publishes payload and metadata; then the cursor (release).
  atomic_at<std::uint64_t>(e, slot::kSeq).store(seq_committed(n), std::memory_order_release);
  w.cursor_word().store(n + 1, std::memory_order_release);
  atomic_at<std::uint64_t>(w.base, hdr::kHeartbeatNs).store(now_mono, std::memory_order_relaxed);
  detail::futex_wake_all(w.base + hdr::kCursor);
  w.next_frame = n + 1;
  w.outstanding = nullptr;
  s.owner_ = nullptr;
  s.payload_ = {};
}

void Writer::abort(Slot&& s) {
  impl_->check_owner(s, "abort");
  impl_->abort(s);
}

std::uint64_t Writer::frames_aborted() const {
  return impl_->aborted;
}

void Writer::close() {
  impl_->close();
}
const RingInfo& Writer::info() const {
  return impl_->info;
}
std::uint64_t Writer::cursor() const {
  return impl_->next_frame;
}
std::string Writer::path() const {
  return impl_->path;
}
std::span<const std::byte> Writer::mapping() const {
  return {impl_->base, impl_->info.segment_bytes};
}

}  // namespace framering::ring
