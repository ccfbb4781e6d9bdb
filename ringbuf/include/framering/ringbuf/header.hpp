// Parsing and validating a ring header from untrusted bytes. A reader calls this on attach with
// the segment's real size; nothing in the header is trusted until it returns.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

#include "framering/ringbuf/geometry.hpp"

namespace framering::ring {

struct RingInfo {
  std::string name;
  std::uint32_t version = 0;
  std::uint32_t slots = 0;
  std::uint64_t slot_table_offset = 0;
  std::uint64_t slot_table_bytes = 0;
  std::uint64_t payload_offset = 0;
  std::uint64_t slot_stride = 0;
  std::uint64_t frame_bytes = 0;
  std::uint64_t segment_bytes = 0;
  std::uint64_t epoch = 0;
  std::int32_t writer_pid = 0;
  std::uint64_t created_realtime_ns = 0;
  Geometry geometry;
};

// Sizes and offsets of a ring with this geometry and slot count (what a writer lays out).
// Throws RingError(kInvalidArgument) for unsupported geometry or sizes.
RingInfo plan_layout(const std::string& name, const Geometry& geometry, std::uint32_t slots);

// Validates every header field against the segment size and the format limits.
// Throws RingError(kBadHeader) naming the first bad field.
RingInfo parse_header(std::span<const std::byte> segment);

// An epoch as logs, `framering stat` and its JSON show it: 16 lower-case hex digits.
std::string epoch_text(std::uint64_t epoch);

// Writes the immutable header fields of `info` into a zeroed header page.
void write_header(std::span<std::byte> segment, const RingInfo& info);

}  // namespace framering::ring
