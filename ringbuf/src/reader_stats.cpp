#include "framering/ringbuf/reader_stats.hpp"

#include <fcntl.h>
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
#include "framering/ringbuf/names.hpp"
#include "sys.hpp"

namespace framering::ring {

namespace {
constexpr std::size_t kStatsBytes = 4096;
constexpr char kStatsMagic[8] = {'F', 'M', 'R', 'R', 'E', 'A', 'D', 'R'};
constexpr std::uint32_t kStatsVersion = 1;
namespace off {
constexpr std::size_t kMagic = 0, kVersion = 8, kPid = 12, kRing = 16, kReader = 80;
constexpr std::size_t kHeartbeat = 192, kPosition = 200, kFramesRead = 208, kBytesInPlace = 216,
                      kLapped = 224, kTorn = 232, kSkipped = 240, kBytesCopied = 248, kEpoch = 256;
}  // namespace off
constexpr std::size_t kNameField = 64;

bool valid_stats(const std::byte* b, const std::string& ring) {
  const char* ring_field = reinterpret_cast<const char*>(b + off::kRing);
  return std::memcmp(b, kStatsMagic, sizeof kStatsMagic) == 0 &&
         detail::load_le<std::uint32_t>(b, off::kVersion) == kStatsVersion &&
         std::string(ring_field, strnlen(ring_field, kNameField)) == ring;
}

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
  s.ring = name_field(b, off::kRing);
  s.reader = name_field(b, off::kReader);
  s.pid = detail::load_le<std::int32_t>(b, off::kPid);
  s.heartbeat_ns = load_u64(b, off::kHeartbeat);
  s.position = load_u64(b, off::kPosition);
  s.frames_read = load_u64(b, off::kFramesRead);
  s.bytes_in_place = load_u64(b, off::kBytesInPlace);
  s.lapped = load_u64(b, off::kLapped);
  s.torn = load_u64(b, off::kTorn);
  s.skipped = load_u64(b, off::kSkipped);
  s.bytes_copied = load_u64(b, off::kBytesCopied);
  s.epoch = load_u64(b, off::kEpoch);
  return s;
}
}  // namespace

std::string reader_stats_path(const std::string& ring, const std::string& reader_id) {
  return segment_path(ring) + ".reader." + reader_id;
}

ReaderStatsPublisher::ReaderStatsPublisher(const std::string& ring, const std::string& reader_id,
                                           mode_t mode) {
  validate_ring_name(ring);
  validate_ring_name(reader_id);
  path_ = reader_stats_path(ring, reader_id);
  // A random part keeps anyone from planting a file under the name we create; the ".tmp" end
  // keeps readers from listing it before it is complete.
  char suffix[24];
  std::snprintf(suffix, sizeof suffix, ".%016llx.tmp",
                static_cast<unsigned long long>(detail::random_u64()));
  const std::string temp = path_ + suffix;
  detail::Fd fd(::open(temp.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode));
  if (!fd || ::fchmod(fd.get(), mode) != 0 || ::ftruncate(fd.get(), kStatsBytes) != 0) {
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
  std::memcpy(b + off::kMagic, kStatsMagic, sizeof kStatsMagic);
  detail::store_le<std::uint32_t>(b, off::kVersion, kStatsVersion);
  detail::store_le<std::uint32_t>(b, off::kPid, static_cast<std::uint32_t>(::getpid()));
  std::memcpy(b + off::kRing, ring.data(), std::min(ring.size(), kNameField - 1));
  std::memcpy(b + off::kReader, reader_id.data(), std::min(reader_id.size(), kNameField - 1));
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
  ::unlink(path_.c_str());
}

std::atomic<std::uint64_t>& ReaderStatsPublisher::field(std::size_t offset) {
  // The stats file is ours alone (one writer); std::atomic<u64> is layout-compatible with u64.
  return *reinterpret_cast<std::atomic<std::uint64_t>*>(static_cast<std::byte*>(base_) + offset);
}
std::atomic<std::uint64_t>& ReaderStatsPublisher::heartbeat_ns() {
  return field(off::kHeartbeat);
}
std::atomic<std::uint64_t>& ReaderStatsPublisher::position() {
  return field(off::kPosition);
}
void ReaderStatsPublisher::announce_position(std::uint64_t next_wanted) {
  position().store(next_wanted, std::memory_order_release);
  // The futex word is the position's low half (little-endian), as for the ring cursor.
  detail::futex_wake_all(static_cast<std::byte*>(base_) + off::kPosition);
}

std::atomic<std::uint64_t>& ReaderStatsPublisher::frames_read() {
  return field(off::kFramesRead);
}
std::atomic<std::uint64_t>& ReaderStatsPublisher::bytes_in_place() {
  return field(off::kBytesInPlace);
}
std::atomic<std::uint64_t>& ReaderStatsPublisher::lapped() {
  return field(off::kLapped);
}
std::atomic<std::uint64_t>& ReaderStatsPublisher::torn() {
  return field(off::kTorn);
}
std::atomic<std::uint64_t>& ReaderStatsPublisher::skipped() {
  return field(off::kSkipped);
}
std::atomic<std::uint64_t>& ReaderStatsPublisher::bytes_copied() {
  return field(off::kBytesCopied);
}
std::atomic<std::uint64_t>& ReaderStatsPublisher::epoch() {
  return field(off::kEpoch);
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
      !valid_stats(copy, ring)) {
    return nullptr;
  }
  void* map = ::mmap(nullptr, kStatsBytes, PROT_READ, MAP_SHARED, fd.get(), 0);
  if (map == MAP_FAILED) return nullptr;
  return std::unique_ptr<ReaderStatsView>(new ReaderStatsView(map, st.st_uid, st.st_ino));
}

ReaderStatsView::~ReaderStatsView() {
  ::munmap(const_cast<void*>(base_), kStatsBytes);
}

std::uint64_t ReaderStatsView::load(std::size_t offset) const {
  return detail::atomic_at<std::uint64_t>(static_cast<const std::byte*>(base_), offset)
      .load(std::memory_order_acquire);
}

std::int32_t ReaderStatsView::pid() const {
  return detail::load_le<std::int32_t>(static_cast<const std::byte*>(base_), off::kPid);
}
std::uint64_t ReaderStatsView::position() const {
  return load(off::kPosition);
}
std::uint64_t ReaderStatsView::epoch() const {
  return load(off::kEpoch);
}

void ReaderStatsView::wait_position_change(std::uint64_t seen, std::uint64_t timeout_ns) const {
  detail::futex_wait(static_cast<const std::byte*>(base_) + off::kPosition,
                     static_cast<std::uint32_t>(seen), timeout_ns);
}

ReaderStatsSnapshot ReaderStatsView::snapshot() const {
  ReaderStatsSnapshot s = decode_stats(static_cast<const std::byte*>(base_));
  s.uid = owner_;
  return s;
}

std::optional<ReaderStatsSnapshot> read_reader_stats_file(const std::string& path,
                                                          const std::string& ring,
                                                          const std::vector<uid_t>& owners) {
  struct stat st {};
  detail::Fd fd = detail::open_regular(path, O_RDONLY, &st);
  if (!fd || st.st_size != static_cast<off_t>(kStatsBytes)) return std::nullopt;
  const uid_t me = ::geteuid();
  const bool trusted = owners.empty()
                           ? st.st_uid == me
                           : std::find(owners.begin(), owners.end(), st.st_uid) != owners.end();
  if (!trusted) return std::nullopt;
  // A private copy, never a mapping: the owner may truncate the file while we read it, which
  // on a mapping is a SIGBUS and here is a short read.
  alignas(8) std::byte copy[kStatsBytes];
  if (::pread(fd.get(), copy, kStatsBytes, 0) != static_cast<ssize_t>(kStatsBytes) ||
      !valid_stats(copy, ring)) {
    return std::nullopt;
  }
  ReaderStatsSnapshot s = decode_stats(copy);
  s.uid = st.st_uid;
  return s;
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
