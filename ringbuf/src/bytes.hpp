// Little-endian field access at a byte offset (internal). memcpy keeps it alignment-safe and
// free of strict-aliasing problems; the control words use atomic_ref instead (see control.hpp).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

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

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "the ring format is little-endian");

}  // namespace framering::ring::detail
