// The NumPy .npy header, parsed from untrusted bytes. A pure function (no I/O, no allocation
// beyond the result) so it can be fuzzed: bytes in, header or NpyError out.
//
// Format (numpy.lib.format): "\x93NUMPY" | major u8 | minor u8 | header_len (u16 LE for 1.x,
// u32 LE for 2.x/3.x) | ASCII/UTF-8 Python dict literal, space-padded, '\n'-terminated, e.g.
//   {'descr': '<u2', 'fortran_order': False, 'shape': (480, 640), }
// followed by the array data (C order unless fortran_order).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

namespace framering::ingest {

class NpyError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct NpyHeader {
  int major = 0;
  int minor = 0;
  std::string descr;    // as written, e.g. "<u2", "|u1"
  std::string typestr;  // normalised ring typestr ("|u1", "<u2", ...)
  bool fortran_order = false;
  std::vector<std::uint64_t> shape;  // may be empty for a 0-d array
  std::uint64_t item_bytes = 0;
  std::uint64_t data_bytes = 0;  // product(shape) * item_bytes
  std::size_t data_offset = 0;   // where the array data starts in the file
};

// Longest header we read before giving up (numpy itself limits headers to 10 kB by default).
inline constexpr std::size_t kMaxNpyHeaderBytes = 64 * 1024;

// Parses the header at the start of `bytes` (which may extend past it). Throws NpyError saying
// which part is wrong. Only little-endian/byte-sized numeric dtypes the ring supports are accepted;
// fortran_order is reported, not rejected (the caller decides).
NpyHeader parse_npy_header(std::span<const std::byte> bytes);

}  // namespace framering::ingest
