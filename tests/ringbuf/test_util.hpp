// Helpers for ring tests: unique ring names and cleanup of their files.
#pragma once

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
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

inline ring::Geometry small_geometry(std::uint64_t bytes = 4096) {
  ring::Geometry g;
  g.shape = {bytes};
  return g;
}

inline bool ring_file_exists(const std::string& name) {
  return std::filesystem::exists(ring::segment_path(name));
}

}  // namespace framering::testing
