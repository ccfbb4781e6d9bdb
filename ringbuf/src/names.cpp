#include "framering/ringbuf/names.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>

#include "framering/ringbuf/error.hpp"
#include "framering/ringbuf/layout.hpp"
#include "framering/ringbuf/reader_stats.hpp"
#include "sys.hpp"

namespace framering::ring {

namespace {
constexpr const char* kPrefix = "framering.";
constexpr const char* kReaderInfix = ".reader.";

bool is_name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '-';
}

std::vector<std::string> shm_entries() {
  std::vector<std::string> names;
  DIR* dir = ::opendir(shm_dir().c_str());
  if (!dir) return names;
  while (dirent* entry = ::readdir(dir)) {
    std::string file = entry->d_name;
    if (file.rfind(kPrefix, 0) == 0) names.push_back(file);
  }
  ::closedir(dir);
  std::sort(names.begin(), names.end());
  return names;
}

bool remove_if_stale(const std::string& path, bool keep_closed) {
  struct stat st {};
  detail::Fd fd = detail::open_regular(path, O_RDONLY, &st);
  // Another user's file is never ours to judge (root could remove it from a sticky /dev/shm).
  if (!fd || st.st_uid != ::geteuid()) return false;
  // Stale means no writer holds the lock; taking it ourselves keeps a writer from taking the
  // name over while we decide, and the inode check makes sure what we remove is what we locked.
  if (::flock(fd.get(), LOCK_EX | LOCK_NB) != 0) return false;
  struct stat now {};
  if (::lstat(path.c_str(), &now) != 0 || now.st_ino != st.st_ino || now.st_dev != st.st_dev)
    return false;
  std::uint32_t state = 0;
  if (keep_closed && ::pread(fd.get(), &state, sizeof state, hdr::kState) == sizeof state &&
      state == static_cast<std::uint32_t>(State::kClosed)) {
    return false;
  }
  return ::unlink(path.c_str()) == 0;  // still holding the lock on the verified inode
}
}  // namespace

std::string mib_text(std::uint64_t bytes) {
  // Tenths of a MiB, rounded down: free space is never overstated; a need is shown at most
  // 0.1 MiB short, and the messages that state a need give the exact bytes too.
  constexpr std::uint64_t kMiB = 1024 * 1024;
  const std::uint64_t tenths = bytes % kMiB * 10 / kMiB;
  return std::to_string(bytes / kMiB) + "." + std::to_string(tenths) + " MiB";
}

std::string shm_dir() {
  const char* dir = std::getenv("FRAMERING_SHM_DIR");
  return (dir && *dir) ? dir : "/dev/shm";
}

void validate_ring_name(const std::string& name) {
  bool ok = !name.empty() && name.size() <= kMaxRingNameLength &&
            std::all_of(name.begin(), name.end(), is_name_char);
  if (!ok) {
    throw RingError(ErrorKind::kInvalidArgument,
                    "ring name '" + name.substr(0, 80) +
                        "' is invalid: use 1-48 characters from A-Z a-z 0-9 _ -");
  }
}

std::string segment_path(const std::string& name) {
  return shm_dir() + "/" + kPrefix + name;
}

std::string packet_segment_path(const std::string& name) {
  return segment_path(name) + ".packets";
}

std::vector<std::string> list_rings() {
  std::vector<std::string> rings;
  for (const std::string& file : shm_entries()) {
    std::string name = file.substr(std::string(kPrefix).size());
    // Temp and reader-stats files have a '.'; anything else outside the name alphabet (terminal
    // escapes, invalid UTF-8) was not made by framering and must not reach a table or JSON.
    if (name.empty() || name.size() > kMaxRingNameLength ||
        !std::all_of(name.begin(), name.end(), is_name_char)) {
      continue;
    }
    rings.push_back(name);
  }
  return rings;
}

int cleanup_stale() {
  int removed = 0;
  for (const std::string& file : shm_entries()) {
    const std::string path = shm_dir() + "/" + file;
    const std::string rest = file.substr(std::string(kPrefix).size());
    const auto infix = rest.find(kReaderInfix);
    if (infix != std::string::npos) {
      // Reader stats (ours only: read_reader_stats_file checks the owner): stale when no reader
      // holds its lock (reader_alive), whatever pid the file names. The file is "<id>" or, when
      // that name was taken, "<id>.<pid>"; the unlink itself happens under our own lock on the
      // verified inode, so a reader that takes the file over meanwhile keeps it.
      const std::string ring = rest.substr(0, infix);
      const std::string id = rest.substr(infix + std::string(kReaderInfix).size());
      const auto snap = read_reader_stats_file(path, ring);
      if (!snap || (id != snap->reader && id.rfind(snap->reader + ".", 0) != 0)) continue;
      if (!snap->alive && remove_if_stale(path, false)) ++removed;
      continue;
    }
    // Ring segments and abandoned temp files: stale when no writer holds the flock. A ring its
    // writer closed on purpose and kept (`--keep`, state CLOSED) is left for whoever inspects it.
    const auto dot = rest.find('.');
    const bool is_ring = dot == std::string::npos || rest.substr(dot) == ".packets";
    if (remove_if_stale(path, is_ring)) ++removed;
  }
  return removed;
}

bool remove_stale_ring(const std::string& name) {
  validate_ring_name(name);
  return remove_if_stale(segment_path(name), false);
}

}  // namespace framering::ring
