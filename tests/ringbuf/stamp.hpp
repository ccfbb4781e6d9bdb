// Stamped test payloads: frame number first, a pattern derived from it, a checksum last.
// A reader that verifies a stamp knows whether the bytes it saw are exactly one frame's.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace framering::testing {

inline std::uint64_t stamp_checksum(const std::byte* data, std::size_t bytes) {
  std::uint64_t h = 0x9E3779B97F4A7C15ULL;
  for (std::size_t i = 0; i + 8 <= bytes - 8; i += 8) {
    std::uint64_t w;
    std::memcpy(&w, data + i, 8);
    h = (h ^ w) * 0x100000001B3ULL;
    h ^= h >> 29;
  }
  return h;
}

// Writes frame `n` into `data` (bytes >= 16, multiple of 8): number, pattern, checksum.
inline void write_stamp(std::byte* data, std::size_t bytes, std::uint64_t n) {
  std::memcpy(data, &n, 8);
  for (std::size_t i = 8; i + 8 <= bytes - 8; i += 8) {
    const std::uint64_t w = n * 0x9E3779B97F4A7C15ULL + i;
    std::memcpy(data + i, &w, 8);
  }
  const std::uint64_t h = stamp_checksum(data, bytes);
  std::memcpy(data + bytes - 8, &h, 8);
}

// True if `data` holds exactly frame `n`'s stamp.
inline bool verify_stamp(const std::byte* data, std::size_t bytes, std::uint64_t n) {
  std::uint64_t got_n, got_h;
  std::memcpy(&got_n, data, 8);
  std::memcpy(&got_h, data + bytes - 8, 8);
  return got_n == n && got_h == stamp_checksum(data, bytes);
}

}  // namespace framering::testing
