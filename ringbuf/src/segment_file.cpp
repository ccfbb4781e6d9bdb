#include "segment_file.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <thread>

#include "control.hpp"
#include "framering/ringbuf/error.hpp"
#include "framering/ringbuf/layout.hpp"
#include "framering/ringbuf/names.hpp"
#include "framering/ringbuf/reader.hpp"

namespace framering::ring::detail {

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
                                               open_regular_error(err) +
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
Fd lock_existing(const SegmentSpec& spec) {
  const std::string& name = spec.name;
  const std::string& path = spec.path;
  for (int round = 0; round < 100; ++round) {
    struct stat st {};
    Fd fd = open_regular(path, O_RDONLY, &st);
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
    if (::pread(fd.get(), &pid, sizeof pid, static_cast<off_t>(spec.writer_pid_offset)) ==
            sizeof pid &&
        pid > 0) {
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

CreatedSegment create_segment(const SegmentSpec& spec,
                              const std::function<void(std::span<std::byte>)>& init) {
  const std::string& name = spec.name;
  const std::string& path = spec.path;
  Fd previous = lock_existing(spec);  // held until our segment replaces it

  // A random part, so nobody can plant a file (or a FIFO) under the name we are about to use.
  char suffix[24];
  std::snprintf(suffix, sizeof suffix, ".%016llx", static_cast<unsigned long long>(random_u64()));
  const std::string temp = path + ".tmp." + std::to_string(::getpid()) + suffix;
  const auto mode = static_cast<mode_t>(segment_permissions(spec.mode).get_permissions());
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
  if (spec.group && ::fchown(fd.get(), static_cast<uid_t>(-1), *spec.group) != 0) {
    fail(ErrorKind::kPermission, "cannot give the segment to group " + std::to_string(*spec.group) +
                                     ": " + errno_text(errno));
  }
  if (int err = ::posix_fallocate(fd.get(), 0, static_cast<off_t>(spec.bytes)); err != 0) {
    struct statvfs vfs {};
    std::string free_text;
    if (::statvfs(shm_dir().c_str(), &vfs) == 0) {
      free_text = ", " + shm_dir() + " has " +
                  mib_text(std::uint64_t{vfs.f_bavail} * vfs.f_frsize) + " free";
    }
    if (err == ENOSPC) {
      fail(ErrorKind::kNoSpace, "needs " + mib_text(spec.bytes) + " (" +
                                    std::to_string(spec.bytes) + " bytes: " + spec.size_detail +
                                    ")" + free_text + ": " + spec.make_smaller +
                                    ", or enlarge /dev/shm (docker run --shm-size)");
    }
    fail(ErrorKind::kSystem, "posix_fallocate: " + errno_text(err) + free_text);
  }
  // From here the region unmaps itself on every exit path; only the temp file needs removing.
  bip::mapped_region region;
  std::byte* base = nullptr;
  try {
    region = map_segment(fd.get(), spec.bytes, bip::read_write, name);
    base = static_cast<std::byte*>(region.get_address());
    init({base, spec.bytes});
  } catch (...) {
    ::unlink(temp.c_str());
    throw;
  }

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
      err = rename_noreplace(temp, path);
    }
    if (err == 0) break;
    if (err != EEXIST) {
      fail(err == EPERM || err == EACCES ? ErrorKind::kPermission : ErrorKind::kSystem,
           "cannot move the new segment into place at " + path + ": " + errno_text(err));
    }
    try {
      previous = lock_existing(spec);
    } catch (...) {
      ::unlink(temp.c_str());
      throw;
    }
  }
  CreatedSegment out;
  struct stat st {};
  ::fstat(fd.get(), &st);
  out.inode = st.st_ino;
  out.fd = std::move(fd);
  out.region = std::move(region);
  out.base = base;
  return out;
}

void release_segment(const std::string& path, ino_t inode, bip::mapped_region& region, bool keep) {
  if (!keep) {
    struct stat st {};
    if (::stat(path.c_str(), &st) == 0 && st.st_ino == inode) ::unlink(path.c_str());
  }
  region = bip::mapped_region();  // unmaps
}

OpenedSegment open_segment_readonly(const std::string& name, const std::string& path,
                                    const std::vector<uid_t>& owners, std::size_t min_bytes,
                                    const std::string& start_hint) {
  OpenedSegment m;
  struct stat st {};
  m.fd = open_regular(path, O_RDONLY, &st);
  if (!m.fd) {
    const int err = errno;
    if (err == ENOENT) {
      throw RingError(ErrorKind::kNotFound,
                      "no ring '" + name + "' (" + path + " does not exist): " + start_hint);
    }
    if (err == ELOOP || err == EINVAL) {
      throw RingError(ErrorKind::kBadHeader, "ring '" + name + "': " + path + " " +
                                                 open_regular_error(err) +
                                                 "; remove it or choose another --ring");
    }
    throw RingError(
        err == EACCES ? ErrorKind::kPermission : ErrorKind::kSystem,
        "ring '" + name + "': cannot open " + path + ": " + errno_text(err) +
            (err == EACCES ? " (the segment's mode/owner does not allow this user to read it;"
                             " see --shm-mode)"
                           : ""));
  }
  if (!owners.empty() && std::find(owners.begin(), owners.end(), st.st_uid) == owners.end()) {
    throw RingError(ErrorKind::kPermission,
                    "ring '" + name + "': " + path + " belongs to uid " +
                        std::to_string(st.st_uid) +
                        ", not to a user trusted here (its owner could truncate it under our "
                        "mapping); remove it or choose another --ring");
  }
  // Other users who can write the segment could truncate it under every reader's mapping.
  if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
    throw RingError(ErrorKind::kPermission, "ring '" + name + "': " + path +
                                                " is writable by group or others (refused: "
                                                "readers never need write access; see --shm-mode)");
  }
  if (st.st_size < static_cast<off_t>(min_bytes)) {
    throw RingError(ErrorKind::kBadHeader,
                    "ring '" + name + "': not a valid framering ring: " + path + " is " +
                        std::to_string(st.st_size) + " bytes, smaller than the " +
                        std::to_string(min_bytes) + "-byte header");
  }
  m.owner = st.st_uid;
  m.size = static_cast<std::size_t>(st.st_size);
  m.inode = st.st_ino;
  m.region = map_segment(m.fd.get(), m.size, bip::read_only, name);
  m.base = static_cast<const std::byte*>(m.region.get_address());
  return m;
}

void unmap_segment(OpenedSegment& segment) {
  segment.region = bip::mapped_region();
  segment.base = nullptr;
}

bool LivenessProbe::alive(const std::byte* base, int fd, std::size_t state_offset,
                          std::size_t heartbeat_offset, std::uint64_t stale_after_ns) {
  // INIT is the moment between rename and LIVE; a writer that dies there is caught by the
  // same heartbeat/flock check as a LIVE one. CLOSED or an unknown value: gone.
  const std::uint32_t st =
      atomic_at<std::uint32_t>(base, state_offset).load(std::memory_order_acquire);
  if (st != static_cast<std::uint32_t>(State::kLive) &&
      st != static_cast<std::uint32_t>(State::kInit)) {
    return false;
  }
  const std::uint64_t now = monotonic_ns();
  const std::uint64_t hb =
      atomic_at<std::uint64_t>(base, heartbeat_offset).load(std::memory_order_relaxed);
  if (hb <= now && now - hb < stale_after_ns) return true;
  if (writer_gone) return false;
  if (now - last_probe_ns < 50'000'000ULL) return true;
  last_probe_ns = now;
  writer_gone = !flock_held_elsewhere(fd);
  return !writer_gone;
}

}  // namespace framering::ring::detail

namespace framering::ring::detail {

void Heartbeat::start(std::byte* word, int period_ms) {
  auto beat = [word] {
    atomic_at<std::uint64_t>(word, 0).store(monotonic_ns(), std::memory_order_relaxed);
  };
  beat();
  thread_ = std::thread([this, beat, period_ms] {
    std::unique_lock lock(mutex_);
    while (!cv_.wait_for(lock, std::chrono::milliseconds(period_ms), [this] { return stop_; })) {
      beat();
    }
  });
}

void Heartbeat::stop() {
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

}  // namespace framering::ring::detail
