#include "framering/ringbuf/names.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <signal.h>
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
}  // namespace

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

std::vector<std::string> list_rings() {
  std::vector<std::string> rings;
  for (const std::string& file : shm_entries()) {
    std::string name = file.substr(std::string(kPrefix).size());
    if (name.find('.') != std::string::npos) continue;  // temp or reader-stats file
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
      // Reader stats: stale when the owning pid is gone.
      for (const auto& snap : read_reader_stats(rest.substr(0, infix))) {
        if (rest.substr(infix + std::string(kReaderInfix).size()) != snap.reader) continue;
        if (snap.pid > 0 && ::kill(snap.pid, 0) != 0 && errno == ESRCH &&
            ::unlink(path.c_str()) == 0) {
          ++removed;
        }
      }
      continue;
    }
    // Ring segments and abandoned temp files: stale when no writer holds the flock. A ring its
    // writer closed on purpose and kept (`--keep`, state CLOSED) is left for whoever inspects it.
    detail::Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
    if (!fd || detail::flock_held_elsewhere(fd.get())) continue;
    std::uint32_t state = 0;
    const bool is_ring = rest.find('.') == std::string::npos;
    if (is_ring && ::pread(fd.get(), &state, sizeof state, hdr::kState) == sizeof state &&
        state == static_cast<std::uint32_t>(State::kClosed)) {
      continue;
    }
    if (::unlink(path.c_str()) == 0) ++removed;
  }
  return removed;
}

}  // namespace framering::ring
