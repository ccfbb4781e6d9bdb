#include "framering/ringbuf/reader_stats.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <dirent.h>

#include <algorithm>
#include <cstdio>
#include <cstring>

#include "bytes.hpp"
#include "control.hpp"
#include "framering/ringbuf/error.hpp"
#include "framering/ringbuf/layout.hpp"
#include "framering/ringbuf/names.hpp"
#include "sys.hpp"

namespace framering::ring {

namespace {
constexpr std::size_t kNameField = kNameBytes;

// A name field as text safe to print or put in JSON: whoever wrote the file may have put terminal
// escapes or invalid UTF-8 there, so anything outside the ring-name alphabet becomes '?'.
std::string name_field(const std::byte* b, std::size_t offset) {
  const char* field = reinterpret_cast<const char*>(b + offset);
  std::string name(field, strnlen(field, kNameField));
  for (char& c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '_' || c == '-';
    if (!ok) c = '?';
  }
  return name;
}

std::uint64_t load_u64(const std::byte* b, std::size_t offset) {
  return detail::atomic_at<std::uint64_t>(b, offset).load(std::memory_order_acquire);
}

ReaderStatsSnapshot decode_stats(const std::byte* b) {
  ReaderStatsSnapshot s;
  s.ring = name_field(b, stats::kRing);
  s.reader = name_field(b, stats::kReader);
  s.pid = detail::load_le<std::int32_t>(b, stats::kPid);
  s.heartbeat_ns = load_u64(b, stats::kHeartbeatNs);
  s.position = load_u64(b, stats::kPosition);
  s.frames_read = load_u64(b, stats::kFramesRead);
  s.bytes_in_place = load_u64(b, stats::kBytesInPlace);
  s.lapped = load_u64(b, stats::kLapped);
  s.torn = load_u64(b, stats::kTorn);
  s.skipped = load_u64(b, stats::kSkipped);
  s.bytes_copied = load_u64(b, stats::kBytesCopied);
  s.epoch = load_u64(b, stats::kEpoch);
  return s;
}
}  // namespace

std::string reader_stats_path(const std::string& ring, const std::string& reader_id) {
  return segment_path(ring) + ".reader." + reader_id;
}

std::string packet_reader_stats_ring(const std::string& ring) {
  return ring + ".packets";
}

ReaderStatsPublisher::ReaderStatsPublisher(const std::string& ring, const std::string& reader_id,
                                           mode_t mode) {
  const std::string packets = ".packets";
  const bool of_packets = ring.size() > packets.size() &&
                          ring.compare(ring.size() - packets.size(), packets.size(), packets) == 0;
  validate_ring_name(of_packets ? ring.substr(0, ring.size() - packets.size()) : ring);
  validate_ring_name(reader_id);
  path_ = reader_stats_path(ring, reader_id);
  // A random part keeps anyone from planting a file under the name we create; the ".tmp" end
  // keeps readers from listing it before it is complete.
  char suffix[24];
  std::snprintf(suffix, sizeof suffix, ".%016llx.tmp",
                static_cast<unsigned long long>(detail::random_u64()));
  const std::string temp = path_ + suffix;
  detail::Fd fd(::open(temp.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode));
  // The liveness lock is taken before the file gets its name, so nobody ever sees the file of a
  // live reader unlocked. Nobody else can hold a lock on a file we just created (O_EXCL).
  if (!fd || ::flock(fd.get(), LOCK_EX | LOCK_NB) != 0 || ::fchmod(fd.get(), mode) != 0 ||
      ::ftruncate(fd.get(), kStatsBytes) != 0) {
    const int err = errno;
    if (fd) ::unlink(temp.c_str());
    throw RingError(ErrorKind::kSystem, "reader stats " + temp + ": " + detail::errno_text(err));
  }
  void* map = ::mmap(nullptr, kStatsBytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd.get(), 0);
  if (map == MAP_FAILED) {
    ::unlink(temp.c_str());
    throw RingError(ErrorKind::kSystem, "reader stats mmap: " + detail::errno_text(errno));
  }
  base_ = map;
  auto* b = static_cast<std::byte*>(base_);
  std::memcpy(b + stats::kMagic, kStatsMagicBytes, sizeof kStatsMagicBytes);
  detail::store_le<std::uint32_t>(b, stats::kVersion, kStatsVersion);
  detail::store_le<std::uint32_t>(b, stats::kPid, static_cast<std::uint32_t>(::getpid()));
  std::memcpy(b + stats::kRing, ring.data(), std::min(ring.size(), kNameField - 1));
  std::memcpy(b + stats::kReader, reader_id.data(), std::min(reader_id.size(), kNameField - 1));
  // Our own file of an earlier run is replaced. Anything else under the name (another user's
  // file, which the sticky /dev/shm keeps us from replacing, or a directory) would make the
  // rename fail on every restart: publish under "<id>.<pid>" instead (readers of stats go by
  // the reader field inside, and skip files of other users anyway).
  std::string err_text;
  for (const std::string& target : {path_, path_ + "." + std::to_string(::getpid())}) {
    if (::rename(temp.c_str(), target.c_str()) == 0) {
      if (target != path_) {
        displaced_ = "reader stats " + path_ + " is held by a file this user cannot replace (" +
                     err_text + "); publishing as " + target + " instead";
      }
      path_ = target;
      fd_ = fd.release();  // keeps the lock until the process ends or the destructor runs
      return;
    }
    err_text = detail::errno_text(errno);
  }
  ::munmap(base_, kStatsBytes);
  base_ = nullptr;
  ::unlink(temp.c_str());
  throw RingError(ErrorKind::kSystem, "reader stats: cannot move " + temp + " into place at " +
                                          path_ + ": " + err_text +
                                          " (remove that file or choose another worker id)");
}

ReaderStatsPublisher::~ReaderStatsPublisher() {
  if (base_) ::munmap(base_, kStatsBytes);
  ::unlink(path_.c_str());  // unlinked while still locked: never seen as a dead reader's file
  if (fd_ >= 0) ::close(fd_);
}

std::atomic<std::uint64_t>& ReaderStatsPublisher::field(std::size_t offset) {
  // The stats file is ours alone (one writer); std::atomic<u64> is layout-compatible with u64.
  return *reinterpret_cast<std::atomic<std::uint64_t>*>(static_cast<std::byte*>(base_) + offset);
}
std::atomic<std::uint64_t>& ReaderStatsPublisher::heartbeat_ns() {
  return field(stats::kHeartbeatNs);
}
std::atomic<std::uint64_t>& ReaderStatsPublisher::position() {
  return field(stats::kPosition);
}
void ReaderStatsPublisher::announce_position(std::uint64_t next_wanted) {
  position().store(next_wanted, std::memory_order_release);
  // The futex word is the position's low half (little-endian), as for the ring cursor.
  detail::futex_wake_all(static_cast<std::byte*>(base_) + stats::kPosition);
}

std::atomic<std::uint64_t>& ReaderStatsPublisher::frames_read() {
  return field(stats::kFramesRead);
}
std::atomic<std::uint64_t>& ReaderStatsPublisher::bytes_in_place() {
  return field(stats::kBytesInPlace);
}
std::atomic<std::uint64_t>& ReaderStatsPublisher::lapped() {
  return field(stats::kLapped);
}
std::atomic<std::uint64_t>& ReaderStatsPublisher::torn() {
  return field(stats::kTorn);
}
std::atomic<std::uint64_t>& ReaderStatsPublisher::skipped() {
  return field(stats::kSkipped);
}
std::atomic<std::uint64_t>& ReaderStatsPublisher::bytes_copied() {
  return field(stats::kBytesCopied);
}
std::atomic<std::uint64_t>& ReaderStatsPublisher::epoch() {
  return field(stats::kEpoch);
}

std::unique_ptr<ReaderStatsView> ReaderStatsView::open(const std::string& path,
                                                       const std::string& ring,
                                                       std::optional<uid_t> owner) {
  struct stat st {};
  detail::Fd fd = detail::open_regular(path, O_RDONLY, &st);
  if (!fd || st.st_size != static_cast<off_t>(kStatsBytes) || (owner && st.st_uid != *owner)) {
    return nullptr;
  }
  // Validate from a private copy before mapping anything.
  alignas(8) std::byte copy[kStatsBytes];
  if (::pread(fd.get(), copy, kStatsBytes, 0) != static_cast<ssize_t>(kStatsBytes) ||
      !stats_file_problem(copy, ring).empty()) {
    return nullptr;
  }
  void* map = ::mmap(nullptr, kStatsBytes, PROT_READ, MAP_SHARED, fd.get(), 0);
  if (map == MAP_FAILED) return nullptr;
  // The descriptor stays open: alive() probes the reader's lock through it.
  return std::unique_ptr<ReaderStatsView>(
      new ReaderStatsView(map, fd.release(), st.st_uid, st.st_ino));
}

ReaderStatsView::~ReaderStatsView() {
  ::munmap(const_cast<void*>(base_), kStatsBytes);
  ::close(fd_);
}

bool ReaderStatsView::alive() const {
  return reader_alive(fd_);
}

std::uint64_t ReaderStatsView::load(std::size_t offset) const {
  return detail::atomic_at<std::uint64_t>(static_cast<const std::byte*>(base_), offset)
      .load(std::memory_order_acquire);
}

std::int32_t ReaderStatsView::pid() const {
  return detail::load_le<std::int32_t>(static_cast<const std::byte*>(base_), stats::kPid);
}
std::uint64_t ReaderStatsView::position() const {
  return load(stats::kPosition);
}
std::uint64_t ReaderStatsView::epoch() const {
  return load(stats::kEpoch);
}

void ReaderStatsView::wait_position_change(std::uint64_t seen, std::uint64_t timeout_ns) const {
  detail::futex_wait(static_cast<const std::byte*>(base_) + stats::kPosition,
                     static_cast<std::uint32_t>(seen), timeout_ns);
}

ReaderStatsSnapshot ReaderStatsView::snapshot() const {
  ReaderStatsSnapshot s = decode_stats(static_cast<const std::byte*>(base_));
  s.uid = owner_;
  s.alive = alive();
  return s;
}

bool reader_alive(int stats_fd) {
  return detail::flock_held_elsewhere(stats_fd);
}

std::string stats_file_problem(const std::byte* b, const std::string& ring) {
  if (std::memcmp(b + stats::kMagic, kStatsMagicBytes, sizeof kStatsMagicBytes) != 0)
    return "not a framering reader stats file (no FMRREADR magic)";
  const auto version = detail::load_le<std::uint32_t>(b, stats::kVersion);
  if (version != kStatsVersion) {
    return "stats format version " + std::to_string(version) + " (this framering reads " +
           std::to_string(kStatsVersion) + "; restart that reader with this framering)";
  }
  const char* ring_field = reinterpret_cast<const char*>(b + stats::kRing);
  if (std::string(ring_field, strnlen(ring_field, kNameField)) != ring)
    return "names ring '" + name_field(b, stats::kRing) + "', not '" + ring + "'";
  return {};
}

ReaderStatsFile inspect_reader_stats_file(const std::string& path, const std::string& ring,
                                          const std::vector<uid_t>& owners) {
  ReaderStatsFile out;
  struct stat st {};
  detail::Fd fd = detail::open_regular(path, O_RDONLY, &st);
  if (!fd) {
    out.rejected = detail::open_regular_error(errno);
    return out;
  }
  if (st.st_size != static_cast<off_t>(kStatsBytes)) {
    out.rejected = std::to_string(st.st_size) + " bytes, not " + std::to_string(kStatsBytes);
    return out;
  }
  const uid_t me = ::geteuid();
  const bool trusted = owners.empty()
                           ? st.st_uid == me
                           : std::find(owners.begin(), owners.end(), st.st_uid) != owners.end();
  if (!trusted) {
    out.rejected = "owned by uid " + std::to_string(st.st_uid) + ", not a trusted user";
    return out;
  }
  // A private copy, never a mapping: the owner may truncate the file while we read it, which
  // on a mapping is a SIGBUS and here is a short read.
  alignas(8) std::byte copy[kStatsBytes];
  if (::pread(fd.get(), copy, kStatsBytes, 0) != static_cast<ssize_t>(kStatsBytes)) {
    out.rejected = "short read (the file shrank while it was read)";
    return out;
  }
  out.rejected = stats_file_problem(copy, ring);
  if (!out.rejected.empty()) return out;
  ReaderStatsSnapshot s = decode_stats(copy);
  s.uid = st.st_uid;
  s.alive = reader_alive(fd.get());
  out.stats = std::move(s);
  return out;
}

std::optional<ReaderStatsSnapshot> read_reader_stats_file(const std::string& path,
                                                          const std::string& ring,
                                                          const std::vector<uid_t>& owners) {
  return inspect_reader_stats_file(path, ring, owners).stats;
}

std::vector<std::string> reader_stats_files(const std::string& ring) {
  std::vector<std::string> files;
  const std::string prefix = "framering." + ring + ".reader.";
  DIR* dir = ::opendir(shm_dir().c_str());
  if (!dir) return files;
  while (dirent* entry = ::readdir(dir)) {
    std::string file = entry->d_name;
    // "<id>.tmp" is a stats file being created; an id may itself start with "tmp".
    const bool temp = file.size() >= 4 && file.compare(file.size() - 4, 4, ".tmp") == 0;
    if (file.rfind(prefix, 0) == 0 && !temp) files.push_back(shm_dir() + "/" + file);
  }
  ::closedir(dir);
  std::sort(files.begin(), files.end());
  return files;
}

std::vector<ReaderStatsSnapshot> read_reader_stats(const std::string& ring,
                                                   const std::vector<uid_t>& owners) {
  std::vector<ReaderStatsSnapshot> out;
  for (const std::string& path : reader_stats_files(ring)) {
    if (auto s = read_reader_stats_file(path, ring, owners)) out.push_back(std::move(*s));
  }
  return out;
}

}  // namespace framering::ring
