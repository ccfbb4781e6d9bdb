// Little-endian field access at a byte offset (internal). memcpy keeps it alignment-safe and
// free of strict-aliasing problems; the control words use atomic_ref instead (see control.hpp).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>

namespace framering::ring::detail {

template <typename T>
T load_le(const std::byte* base, std::size_t offset) {
  T value;
  std::memcpy(&value, base + offset, sizeof value);
  return value;  // x86-64 and aarch64 are little-endian; the format is little-endian
}

template <typename T>
void store_le(std::byte* base, std::size_t offset, T value) {
  std::memcpy(base + offset, &value, sizeof value);
}

// A NUL-padded text field of `size` bytes (name, typestr, codec): up to its first NUL, never
// past the field, so an unterminated field in an untrusted header reads as `size` characters.
inline std::string fixed_string(const std::byte* base, std::size_t offset, std::size_t size) {
  const char* begin = reinterpret_cast<const char*>(base + offset);
  return std::string(begin, strnlen(begin, size));
}

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "the ring format is little-endian");

}  // namespace framering::ring::detail
