#include "framering/ringbuf/reader_stats.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <dirent.h>

#include <algorithm>
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
}  // namespace

std::string reader_stats_path(const std::string& ring, const std::string& reader_id) {
  return segment_path(ring) + ".reader." + reader_id;
}

ReaderStatsPublisher::ReaderStatsPublisher(const std::string& ring, const std::string& reader_id,
                                           mode_t mode) {
  validate_ring_name(ring);
  validate_ring_name(reader_id);
  path_ = reader_stats_path(ring, reader_id);
  const std::string temp = path_ + ".tmp";
  ::unlink(temp.c_str());
  detail::Fd fd(::open(temp.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode));
  if (!fd || ::fchmod(fd.get(), mode) != 0 || ::ftruncate(fd.get(), kStatsBytes) != 0) {
    throw RingError(ErrorKind::kSystem, "reader stats " + path_ + ": " + detail::errno_text(errno));
  }
  void* map = ::mmap(nullptr, kStatsBytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd.get(), 0);
  if (map == MAP_FAILED)
    throw RingError(ErrorKind::kSystem, "reader stats mmap: " + detail::errno_text(errno));
  base_ = map;
  auto* b = static_cast<std::byte*>(base_);
  std::memcpy(b + off::kMagic, kStatsMagic, sizeof kStatsMagic);
  detail::store_le<std::uint32_t>(b, off::kVersion, kStatsVersion);
  detail::store_le<std::uint32_t>(b, off::kPid, static_cast<std::uint32_t>(::getpid()));
  std::memcpy(b + off::kRing, ring.data(), std::min(ring.size(), kNameField - 1));
  std::memcpy(b + off::kReader, reader_id.data(), std::min(reader_id.size(), kNameField - 1));
  if (::rename(temp.c_str(), path_.c_str()) != 0) {
    ::munmap(base_, kStatsBytes);
    ::unlink(temp.c_str());
    throw RingError(ErrorKind::kSystem,
                    "reader stats rename " + path_ + ": " + detail::errno_text(errno));
  }
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
  detail::Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  struct stat st {};
  if (!fd || ::fstat(fd.get(), &st) != 0 || st.st_size != static_cast<off_t>(kStatsBytes) ||
      (owner && st.st_uid != *owner)) {
    return nullptr;
  }
  void* map = ::mmap(nullptr, kStatsBytes, PROT_READ, MAP_SHARED, fd.get(), 0);
  if (map == MAP_FAILED) return nullptr;
  std::unique_ptr<ReaderStatsView> view(new ReaderStatsView(map, st.st_uid, st.st_ino));
  const auto* b = static_cast<const std::byte*>(map);
  const char* ring_field = reinterpret_cast<const char*>(b + off::kRing);
  if (std::memcmp(b, kStatsMagic, sizeof kStatsMagic) != 0 ||
      detail::load_le<std::uint32_t>(b, off::kVersion) != kStatsVersion ||
      std::string(ring_field, strnlen(ring_field, kNameField)) != ring) {
    return nullptr;
  }
  return view;
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
  const auto* b = static_cast<const std::byte*>(base_);
  ReaderStatsSnapshot s;
  const char* ring_field = reinterpret_cast<const char*>(b + off::kRing);
  const char* reader_field = reinterpret_cast<const char*>(b + off::kReader);
  s.ring.assign(ring_field, strnlen(ring_field, kNameField));
  s.reader.assign(reader_field, strnlen(reader_field, kNameField));
  s.pid = pid();
  s.heartbeat_ns = load(off::kHeartbeat);
  s.position = load(off::kPosition);
  s.frames_read = load(off::kFramesRead);
  s.bytes_in_place = load(off::kBytesInPlace);
  s.lapped = load(off::kLapped);
  s.torn = load(off::kTorn);
  s.skipped = load(off::kSkipped);
  s.bytes_copied = load(off::kBytesCopied);
  s.epoch = load(off::kEpoch);
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

std::vector<ReaderStatsSnapshot> read_reader_stats(const std::string& ring) {
  std::vector<ReaderStatsSnapshot> out;
  for (const std::string& path : reader_stats_files(ring)) {
    if (auto view = ReaderStatsView::open(path, ring)) out.push_back(view->snapshot());
  }
  return out;
}

}  // namespace framering::ring
