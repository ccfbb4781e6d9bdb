// Per-reader stats: a small file /dev/shm/framering.<ring>.reader.<id> that one reader (a worker)
// writes and `framering stat` reads, so lag and drops per reader are visible without readers ever
// writing to the ring segment itself.
//
// Layout (4096 B, little-endian): 0 magic "FMRREADR" (u64) · 8 version u32 = 1 · 12 pid u32 ·
// 16 ring char[64] · 80 reader char[64] · then u64 atomics: 192 heartbeat_ns (monotonic) ·
// 200 position (next frame wanted) · 208 frames_read · 216 bytes_in_place · 224 lapped ·
// 232 torn · 240 skipped · 248 bytes_copied · 256 epoch (of the ring being read).
#pragma once

#include <sys/types.h>

#include <atomic>
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
  uid_t uid = 0;  // the file's owner
  std::int32_t pid = 0;
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

class ReaderStatsPublisher {
 public:
  // Creates (or replaces) the stats file for reader `reader_id` ([A-Za-z0-9_-]) of `ring`. When
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
  uid_t owner() const { return owner_; }  // the file's owner (who created it)
  ino_t inode() const { return inode_; }  // a reader that replaced the file has a new one
  std::uint64_t position() const;
  std::uint64_t epoch() const;
  // Sleeps until the position is announced as something other than `seen`, or `timeout_ns`.
  void wait_position_change(std::uint64_t seen, std::uint64_t timeout_ns) const;

 private:
  ReaderStatsView(const void* base, uid_t owner, ino_t inode)
      : base_(base), owner_(owner), inode_(inode) {}
  std::uint64_t load(std::size_t offset) const;
  const void* base_;
  uid_t owner_;
  ino_t inode_;
};

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
