// Fuzz target: ring::parse_header, the check a reader runs on attach before trusting any byte
// of a segment (docs/ring-format.md §2). The input is the whole segment. Whatever it accepts
// must describe a layout that fits the input exactly, and must survive a write/parse round trip.
#include <cstring>
#include <span>
#include <vector>

#include "framering/ringbuf/error.hpp"
#include "framering/ringbuf/header.hpp"
#include "framering/ringbuf/layout.hpp"
#include "fuzz_target.hpp"

using namespace framering::ring;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::span<const std::byte> segment(reinterpret_cast<const std::byte*>(data), size);
  RingInfo info;
  try {
    info = parse_header(segment);
  } catch (const RingError& e) {
    FUZZ_CHECK(e.kind() == ErrorKind::kBadHeader);
    return 0;
  }
  // Everything a reader will later index with lies inside the segment.
  FUZZ_CHECK(info.slots >= 2 && info.slots <= kMaxSlots);
  FUZZ_CHECK(info.segment_bytes == size);
  FUZZ_CHECK(info.slot_table_offset >= kHeaderBytes);
  FUZZ_CHECK(info.slot_table_offset + std::uint64_t{info.slots} * kSlotEntryBytes <=
             info.payload_offset);
  FUZZ_CHECK(info.frame_bytes > 0 && info.frame_bytes <= info.slot_stride);
  FUZZ_CHECK(info.slot_stride % kPageBytes == 0 && info.payload_offset % kPageBytes == 0);
  FUZZ_CHECK(info.payload_offset + std::uint64_t{info.slots} * info.slot_stride == size);
  FUZZ_CHECK(info.geometry.frame_bytes() == info.frame_bytes);

  // Writing the parsed header into a blank segment of the same size parses back the same.
  std::vector<std::byte> copy(size);
  write_header(copy, info);
  const RingInfo again = parse_header(copy);
  FUZZ_CHECK(again.geometry == info.geometry);
  FUZZ_CHECK(again.slots == info.slots && again.epoch == info.epoch);
  FUZZ_CHECK(again.name == info.name && again.writer_pid == info.writer_pid);
  return 0;
}
