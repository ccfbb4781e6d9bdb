// Per-reader stats: a small file /dev/shm/framering.<ring>.reader.<id> that one reader (a worker)
// writes and `framering stat` reads, so lag and drops per reader are visible without readers ever
// writing to the ring segment itself. Its byte layout is in layout.hpp (namespace stats) and
// docs/ring-format.md §8.
//
// Liveness: the reader holds an exclusive flock on its file from before the file appears under
// its name until the process ends; the kernel drops the lock however the process ends. A reader
// is alive exactly while that lock is held (reader_alive()): a stopped (SIGSTOP) reader is alive,
// a killed one is dead even if its pid now belongs to another process, and neither the pid nor
// the heartbeat is ever asked. That also holds across pid namespaces (containers).
#pragma once

#include <sys/types.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace framering::ring {

struct ReaderStatsSnapshot {
  // Names as read from the file, with anything outside [A-Za-z0-9_-] replaced by '?' (whoever
  // wrote the file chose these bytes: they are printed and put in JSON).
  std::string ring;
  std::string reader;
  uid_t uid = 0;         // the file's owner
  std::int32_t pid = 0;  // informational (the reader's own pid namespace): never for liveness
  bool alive = false;    // reader_alive() when the file was read
  std::uint64_t heartbeat_ns = 0;
  std::uint64_t position = 0;
  std::uint64_t frames_read = 0;
  std::uint64_t bytes_in_place = 0;
  std::uint64_t lapped = 0;
  std::uint64_t torn = 0;
  std::uint64_t skipped = 0;
  std::uint64_t bytes_copied = 0;
  std::uint64_t epoch = 0;
};

// The name a reader of ring `ring`'s packet ring publishes its stats under ("<ring>.packets"):
// its file is /dev/shm/framering.<ring>.packets.reader.<id>, apart from the frame ring's readers
// (whose positions count frames, not bytes).
std::string packet_reader_stats_ring(const std::string& ring);

class ReaderStatsPublisher {
 public:
  // Creates (or replaces) the stats file for reader `reader_id` ([A-Za-z0-9_-]) of `ring` (a ring
  // name, or packet_reader_stats_ring() of one). When
  // that name is held by a file this user cannot replace (planted by another user), publishes
  // under "<id>.<pid>" instead and says so in displaced(): never a failure on every restart.
  ReaderStatsPublisher(const std::string& ring, const std::string& reader_id, mode_t mode = 0600);
  ~ReaderStatsPublisher();  // unlinks the file
  ReaderStatsPublisher(const ReaderStatsPublisher&) = delete;
  ReaderStatsPublisher& operator=(const ReaderStatsPublisher&) = delete;

  std::atomic<std::uint64_t>& heartbeat_ns();
  std::atomic<std::uint64_t>& position();
  // Stores `next_wanted` as the position and wakes a writer waiting for it (ReaderGate): call
  // once the frames before `next_wanted` are no longer needed.
  void announce_position(std::uint64_t next_wanted);
  std::atomic<std::uint64_t>& frames_read();
  std::atomic<std::uint64_t>& bytes_in_place();
  std::atomic<std::uint64_t>& lapped();
  std::atomic<std::uint64_t>& torn();
  std::atomic<std::uint64_t>& skipped();
  std::atomic<std::uint64_t>& bytes_copied();
  std::atomic<std::uint64_t>& epoch();

  const std::string& path() const { return path_; }
  // Empty, or why the file is not at its usual name (for the caller to log).
  const std::string& displaced() const { return displaced_; }

 private:
  std::atomic<std::uint64_t>& field(std::size_t offset);
  std::string path_;
  std::string displaced_;
  void* base_ = nullptr;
  int fd_ = -1;  // open for the publisher's whole life: it carries the liveness lock
};

// One reader's stats file mapped read-only: what `framering stat` and ReaderGate read.
class ReaderStatsView {
 public:
  // nullptr unless `path` is a regular stats file (right size, magic, version) of a reader of
  // `ring` and, if `owner` is given, owned by that uid (checked before the file is mapped: a
  // stranger's file could be truncated under the mapping). Only for files of our own user; every
  // other reader of stats uses read_reader_stats(), which copies instead of mapping.
  static std::unique_ptr<ReaderStatsView> open(const std::string& path, const std::string& ring,
                                               std::optional<uid_t> owner = std::nullopt);
  ~ReaderStatsView();
  ReaderStatsView(const ReaderStatsView&) = delete;
  ReaderStatsView& operator=(const ReaderStatsView&) = delete;

  ReaderStatsSnapshot snapshot() const;
  std::int32_t pid() const;
  bool alive() const;                     // reader_alive() on this file
  uid_t owner() const { return owner_; }  // the file's owner (who created it)
  ino_t inode() const { return inode_; }  // a reader that replaced the file has a new one
  std::uint64_t position() const;
  std::uint64_t epoch() const;
  // Sleeps until the position is announced as something other than `seen`, or `timeout_ns`.
  void wait_position_change(std::uint64_t seen, std::uint64_t timeout_ns) const;

 private:
  ReaderStatsView(const void* base, int fd, uid_t owner, ino_t inode)
      : base_(base), fd_(fd), owner_(owner), inode_(inode) {}
  std::uint64_t load(std::size_t offset) const;
  const void* base_;
  int fd_;
  uid_t owner_;
  ino_t inode_;
};

// Whether the reader that publishes the stats file open at `stats_fd` is alive: true while some
// open file description holds an exclusive flock on the file (probed with a shared lock that is
// released at once). The one definition of a live reader, for the ReaderGate, `framering stat`
// and cleanup_stale alike.
bool reader_alive(int stats_fd);

// Why the 4096 bytes of a stats file are not a stats file of `ring` this framering reads (empty
// if they are): wrong magic, another version, or another ring's name. The bytes are untrusted.
std::string stats_file_problem(const std::byte* bytes, const std::string& ring);

// One stats file, checked as read_reader_stats_file() does, with the reason when it is rejected.
struct ReaderStatsFile {
  std::optional<ReaderStatsSnapshot> stats;  // set when the file is accepted
  std::string rejected;                      // otherwise why, e.g. "version 1 (this reads 2)"
};
ReaderStatsFile inspect_reader_stats_file(const std::string& path, const std::string& ring,
                                          const std::vector<uid_t>& owners = {});

// Paths of the stats files that name `ring` (sorted; not yet validated).
std::vector<std::string> reader_stats_files(const std::string& ring);

// One stats file of `ring`, read with pread into a private copy (never mapped: its owner could
// truncate it under a mapping), or nullopt unless it is a regular file of the right size, magic,
// version and ring, owned by one of `owners` (empty: this process's effective uid).
std::optional<ReaderStatsSnapshot> read_reader_stats_file(const std::string& path,
                                                          const std::string& ring,
                                                          const std::vector<uid_t>& owners = {});

// Every valid stats file of `ring` owned by one of `owners` (empty: this process's effective
// uid); anything else under a stats name is skipped.
std::vector<ReaderStatsSnapshot> read_reader_stats(const std::string& ring,
                                                   const std::vector<uid_t>& owners = {});
std::string reader_stats_path(const std::string& ring, const std::string& reader_id);

}  // namespace framering::ring
