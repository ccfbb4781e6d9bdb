#include "framering/ringbuf/writer.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
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
#include "segment.hpp"
#include "sys.hpp"

namespace framering::ring {

using detail::atomic_at;
using detail::errno_text;
using detail::Fd;

namespace {

[[noreturn]] void throw_not_accessible(const std::string& name, const std::string& path, int err) {
  if (err == EACCES || err == EPERM) {
    throw RingError(ErrorKind::kPermission,
                    "ring '" + name + "': " + path +
                        " exists and is not accessible to this user (" + errno_text(err) +
                        "); remove it as its owner or choose another --ring");
  }
  if (err == ELOOP || err == EINVAL) {
    throw RingError(ErrorKind::kBadHeader, "ring '" + name + "': " + path + " " +
                                               detail::open_regular_error(err) +
                                               "; remove it or choose another --ring");
  }
  throw RingError(ErrorKind::kSystem, "ring '" + name + "': open " + path + ": " + errno_text(err));
}

// Takes the exclusive lock of the segment now at `path` (a dead writer's), or reports that a
// live writer holds it; an empty Fd means there is no segment. The lock is only worth something
// on the inode that is still at `path`: another writer may have replaced (or a cleanup removed)
// the file between our open and our flock, so the lock is verified against stat(path) and the
// whole step retried when they differ. Readers probe with short shared locks, so a busy lock is
// retried briefly before a live writer is reported.
Fd lock_existing(const std::string& name, const std::string& path) {
  for (int round = 0; round < 100; ++round) {
    struct stat st {};
    Fd fd = detail::open_regular(path, O_RDONLY, &st);
    if (!fd) {
      if (errno == ENOENT) return Fd{};
      throw_not_accessible(name, path, errno);
    }
    bool locked = false;
    for (int attempt = 0; attempt < 40 && !locked; ++attempt) {
      if (::flock(fd.get(), LOCK_EX | LOCK_NB) == 0) {
        locked = true;
      } else if (errno != EWOULDBLOCK) {
        break;
      } else {
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
      }
    }
    if (locked) {
      struct stat now {};
      if (::stat(path.c_str(), &now) == 0 && now.st_ino == st.st_ino && now.st_dev == st.st_dev)
        return fd;
      continue;  // replaced or removed while we waited: the lock guards nothing, look again
    }
    struct stat now {};
    if (::stat(path.c_str(), &now) == 0 && now.st_ino != st.st_ino) continue;  // a newer file
    std::string owner;
    std::int32_t pid = 0;
    if (::pread(fd.get(), &pid, sizeof pid, hdr::kWriterPid) == sizeof pid && pid > 0) {
      owner = " (writer pid " + std::to_string(pid) + ")";
    }
    throw RingError(ErrorKind::kLiveWriter, "ring '" + name + "' already has a live writer" +
                                                owner +
                                                "; stop it first or choose another --ring name");
  }
  throw RingError(ErrorKind::kLiveWriter, "ring '" + name + "': " + path +
                                              " keeps being replaced by another process; stop the "
                                              "other writer or choose another --ring name");
}

}  // namespace

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

  std::mutex hb_mutex;
  std::condition_variable hb_cv;
  bool hb_stop = false;
  std::thread hb_thread;

  std::atomic_ref<std::uint64_t> cursor_word() {
    return atomic_at<std::uint64_t>(base, hdr::kCursor);
  }
  std::byte* entry(std::uint32_t slot) {
    return base + info.slot_table_offset + std::uint64_t{slot} * kSlotEntryBytes;
  }

  void beat() {
    atomic_at<std::uint64_t>(base, hdr::kHeartbeatNs)
        .store(monotonic_ns(), std::memory_order_relaxed);
  }

  void start_heartbeat(int period_ms) {
    hb_thread = std::thread([this, period_ms] {
      std::unique_lock lock(hb_mutex);
      while (
          !hb_cv.wait_for(lock, std::chrono::milliseconds(period_ms), [this] { return hb_stop; })) {
        beat();
      }
    });
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
    {
      std::lock_guard lock(hb_mutex);
      hb_stop = true;
    }
    hb_cv.notify_all();
    if (hb_thread.joinable()) hb_thread.join();
    atomic_at<std::uint32_t>(base, hdr::kState)
        .store(static_cast<std::uint32_t>(State::kClosed), std::memory_order_release);
    detail::futex_wake_all(base + hdr::kCursor);
    if (!keep) {
      // Unlink only our own segment: a successor may already own the name.
      struct stat st {};
      if (::stat(path.c_str(), &st) == 0 && st.st_ino == inode) ::unlink(path.c_str());
    }
    region = detail::bip::mapped_region();  // unmaps
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

  Fd previous = lock_existing(name, path);  // held until our segment replaces it

  // A random part, so nobody can plant a file (or a FIFO) under the name we are about to use.
  char suffix[24];
  std::snprintf(suffix, sizeof suffix, ".%016llx",
                static_cast<unsigned long long>(detail::random_u64()));
  const std::string temp = path + ".tmp." + std::to_string(::getpid()) + suffix;
  const detail::bip::permissions perm = detail::segment_permissions(options.mode);
  const auto mode = static_cast<mode_t>(perm.get_permissions());
  Fd fd(::open(temp.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode));
  if (!fd) {
    throw RingError(errno == EACCES ? ErrorKind::kPermission : ErrorKind::kSystem,
                    "ring '" + name + "': cannot create " + temp + ": " + errno_text(errno) +
                        " (is " + shm_dir() + " writable?)");
  }
  auto fail = [&](ErrorKind kind, const std::string& message) {
    ::unlink(temp.c_str());
    throw RingError(kind, "ring '" + name + "': " + message);
  };
  if (::flock(fd.get(), LOCK_EX | LOCK_NB) != 0)
    fail(ErrorKind::kSystem, "flock: " + errno_text(errno));
  if (::fchmod(fd.get(), mode) != 0) fail(ErrorKind::kSystem, "fchmod: " + errno_text(errno));
  if (options.group && ::fchown(fd.get(), static_cast<uid_t>(-1), *options.group) != 0) {
    fail(ErrorKind::kPermission, "cannot give the segment to group " +
                                     std::to_string(*options.group) + ": " + errno_text(errno));
  }
  if (int err = ::posix_fallocate(fd.get(), 0, static_cast<off_t>(info.segment_bytes)); err != 0) {
    struct statvfs vfs {};
    std::string free_text;
    if (::statvfs(shm_dir().c_str(), &vfs) == 0) {
      free_text = ", " + shm_dir() + " has " +
                  mib_text(std::uint64_t{vfs.f_bavail} * vfs.f_frsize) + " free";
    }
    if (err == ENOSPC) {
      fail(ErrorKind::kNoSpace, "needs " + mib_text(info.segment_bytes) + " (" +
                                    std::to_string(info.segment_bytes) +
                                    " bytes: " + std::to_string(info.slots) + " slots x " +
                                    std::to_string(info.slot_stride) + " B + tables)" + free_text +
                                    ": use fewer --slots or a smaller frame, or enlarge /dev/shm "
                                    "(docker run --shm-size)");
    }
    fail(ErrorKind::kSystem, "posix_fallocate: " + errno_text(err) + free_text);
  }
  try {
    impl->region = detail::map_segment(fd.get(), info.segment_bytes, detail::bip::read_write, name);
  } catch (const RingError&) {
    ::unlink(temp.c_str());
    throw;
  }
  impl->base = static_cast<std::byte*>(impl->region.get_address());

  do {
    info.epoch = detail::random_u64();
  } while (info.epoch == 0);
  info.writer_pid = static_cast<std::int32_t>(::getpid());
  info.created_realtime_ns = realtime_ns();
  write_header({impl->base, info.segment_bytes}, info);
  impl->info = info;
  impl->beat();

  // Into place: over the dead writer's segment whose lock we hold (re-verified: nothing that
  // respects the lock can have replaced it), or, when there was none, only if nobody else has
  // created one meanwhile. Losing that race means another writer won: its segment is locked.
  for (;;) {
    int err = 0;
    if (previous) {
      struct stat held {};
      struct stat now {};
      ::fstat(previous.get(), &held);
      if (::stat(path.c_str(), &now) != 0 || now.st_ino != held.st_ino) {
        err = EEXIST;  // removed or replaced by something that ignored the lock: look again
      } else if (::rename(temp.c_str(), path.c_str()) != 0) {
        err = errno;
      }
    } else {
      err = detail::rename_noreplace(temp, path);
    }
    if (err == 0) break;
    if (err != EEXIST) {
      fail(err == EPERM || err == EACCES ? ErrorKind::kPermission : ErrorKind::kSystem,
           "cannot move the new segment into place at " + path + ": " + errno_text(err));
    }
    try {
      previous = lock_existing(name, path);
    } catch (...) {
      ::unlink(temp.c_str());
      throw;
    }
  }
  struct stat st {};
  ::fstat(fd.get(), &st);
  impl->inode = st.st_ino;
  impl->fd = std::move(fd);
  previous = Fd{};

  atomic_at<std::uint32_t>(impl->base, hdr::kState)
      .store(static_cast<std::uint32_t>(State::kLive), std::memory_order_release);
  impl->start_heartbeat(options.heartbeat_period_ms > 0 ? options.heartbeat_period_ms : 100);
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
