// Helpers for ring tests: unique ring names and cleanup of their files.
#pragma once

#include <stdlib.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <optional>
#include <stdexcept>
#include <string>

#include "framering/ringbuf/geometry.hpp"
#include "framering/ringbuf/names.hpp"

namespace framering::testing {

inline std::string unique_ring(const std::string& tag) {
  static std::atomic<int> counter{0};
  return "gt" + tag + std::to_string(::getpid()) + "x" + std::to_string(counter++);
}

// Removes every file of a ring (segment, temp, reader stats) when it goes out of scope.
struct RingCleanup {
  std::string name;
  ~RingCleanup() {
    namespace fs = std::filesystem;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(ring::shm_dir(), ec)) {
      if (e.path().filename().string().rfind("framering." + name, 0) == 0) fs::remove(e.path(), ec);
    }
  }
};

// Points FRAMERING_SHM_DIR at a fresh directory on /dev/shm for its lifetime. For tests of
// cleanup_stale(), which sweeps its whole directory: in the shared /dev/shm it would judge (and
// remove) other processes' dead rings, and their leftovers would change its counts.
struct PrivateShmDir {
  std::string dir;
  std::optional<std::string> previous;
  PrivateShmDir() {
    char path[] = "/dev/shm/framering-test-XXXXXX";
    if (::mkdtemp(path) == nullptr) throw std::runtime_error("mkdtemp in /dev/shm failed");
    dir = path;
    if (const char* old = std::getenv("FRAMERING_SHM_DIR")) previous = old;
    ::setenv("FRAMERING_SHM_DIR", dir.c_str(), 1);
  }
  ~PrivateShmDir() {
    if (previous) {
      ::setenv("FRAMERING_SHM_DIR", previous->c_str(), 1);
    } else {
      ::unsetenv("FRAMERING_SHM_DIR");
    }
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
  PrivateShmDir(const PrivateShmDir&) = delete;
  PrivateShmDir& operator=(const PrivateShmDir&) = delete;
};

inline ring::Geometry small_geometry(std::uint64_t bytes = 4096) {
  ring::Geometry g;
  g.shape = {bytes};
  return g;
}

inline bool ring_file_exists(const std::string& name) {
  return std::filesystem::exists(ring::segment_path(name));
}

}  // namespace framering::testing
