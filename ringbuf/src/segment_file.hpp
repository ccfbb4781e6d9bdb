// The lifecycle every shared segment follows, frame ring and packet ring alike (internal):
// a writer builds the file under a random temporary name (explicit mode, posix_fallocate, header
// written), takes its exclusive flock and renames it into place over a dead writer's segment or
// onto a free name; a reader opens it without following links or blocking, refuses what is not
// a regular file of a trusted owner, and maps it read-only. docs/ring-format.md §1 and §6.
#pragma once

#include <sys/stat.h>
#include <sys/types.h>

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "segment.hpp"
#include "sys.hpp"

namespace framering::ring::detail {

struct SegmentSpec {
  std::string name;                   // ring name, for messages
  std::string path;                   // where the segment lives
  std::uint64_t bytes = 0;            // file size, reserved with posix_fallocate
  mode_t mode = 0600;                 // applied with fchmod (the umask does not matter)
  std::optional<gid_t> group;         // chgrp, to share with a group of readers
  std::size_t writer_pid_offset = 0;  // where the header keeps the writer pid (for messages)
  std::string size_detail;            // what the bytes are made of, for the ENOSPC message
  std::string make_smaller;           // what the user can do to need less space
};

// A segment this process created and owns: locked, mapped read-write (a Boost.Interprocess
// region, unmapped when destroyed), in place under its path.
struct CreatedSegment {
  Fd fd;  // holds the exclusive flock while the writer lives
  bip::mapped_region region;
  std::byte* base = nullptr;  // region's address
  ino_t inode = 0;
};

// Creates the segment, calls `init` on the zeroed mapping to write the header (before anyone can
// see the file under its name), then renames it into place. A segment whose writer died is
// replaced; one with a live writer is refused with RingError(kLiveWriter).
CreatedSegment create_segment(const SegmentSpec& spec,
                              const std::function<void(std::span<std::byte>)>& init);

// Unless `keep`, unlinks `path` if it is still our inode (a successor may own the name already),
// then unmaps `region`. Dropping the Fd afterwards releases the flock.
void release_segment(const std::string& path, ino_t inode, bip::mapped_region& region, bool keep);

// A read-only mapping of an existing segment (a read-only Boost.Interprocess region).
struct OpenedSegment {
  Fd fd;
  bip::mapped_region region;
  const std::byte* base = nullptr;  // region's address
  std::size_t size = 0;
  ino_t inode = 0;
  uid_t owner = 0;
};

// Opens and maps `path` PROT_READ after the checks every reader makes: regular file, no symlink,
// owner in `owners` (when not empty), no group/other write, at least `min_bytes` long.
// `start_hint` completes "does not exist: ..." (which command creates it).
OpenedSegment open_segment_readonly(const std::string& name, const std::string& path,
                                    const std::vector<uid_t>& owners, std::size_t min_bytes,
                                    const std::string& start_hint);
void unmap_segment(OpenedSegment& segment);

// Is the writer of a mapped segment alive? LIVE/INIT and a fresh heartbeat, or (probed at most
// every 50 ms, remembered once false) its flock still held.
struct LivenessProbe {
  std::uint64_t last_probe_ns = 0;
  bool writer_gone = false;
  bool alive(const std::byte* base, int fd, std::size_t state_offset, std::size_t heartbeat_offset,
             std::uint64_t stale_after_ns);
};

}  // namespace framering::ring::detail

namespace framering::ring::detail {

// The writer's liveness tick: a thread that stores CLOCK_MONOTONIC into a header word every
// period until stopped, so readers can tell a quiet writer (camera down) from a dead one.
class Heartbeat {
 public:
  Heartbeat() = default;
  Heartbeat(const Heartbeat&) = delete;
  Heartbeat& operator=(const Heartbeat&) = delete;
  ~Heartbeat() { stop(); }
  void start(std::byte* word, int period_ms);
  void stop();  // idempotent; joins the thread

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace framering::ring::detail
