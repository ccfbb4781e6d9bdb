// Fuzzes parse_npy_header(): any bytes must either parse into a self-consistent header or throw
// NpyError; never crash, hang or read past the input.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>

#include "framering/ingest/npy_header.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::span<const std::byte> bytes(reinterpret_cast<const std::byte*>(data), size);
  try {
    const framering::ingest::NpyHeader h = framering::ingest::parse_npy_header(bytes);
    if (h.data_offset > size || h.item_bytes == 0 || h.typestr.size() != 3) std::abort();
    std::uint64_t total = h.item_bytes;
    for (std::uint64_t dim : h.shape) total *= dim;
    if (total != h.data_bytes) std::abort();
  } catch (const framering::ingest::NpyError&) {
  }
  return 0;
}
