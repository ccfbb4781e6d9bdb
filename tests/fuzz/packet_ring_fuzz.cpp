// Fuzz target: what a packet ring reader trusts from a segment (docs/packet-ring.md §2-§3):
// parse_packet_header on the whole input, then, when it is accepted, a walk over the records
// from position 0 with parse_record, as a reader that never laps would make it. Every accepted
// header describes the input exactly and round-trips; every record parsed lies inside the data
// area, and the walk always moves forward.
#include <cstring>
#include <span>
#include <vector>

#include "framering/ringbuf/error.hpp"
#include "framering/ringbuf/layout.hpp"
#include "framering/ringbuf/packet_ring.hpp"
#include "fuzz_target.hpp"

using namespace framering::ring;

namespace {

void walk_records(std::span<const std::byte> area) {
  std::uint64_t position = 0;
  // At most one record per 8 bytes: bounds the walk even on a hostile input.
  for (std::uint64_t step = 0; step <= area.size() / 8 + 1; ++step) {
    const RecordParse rec = parse_record(area, position);
    if (rec.kind == RecordParse::Kind::kMalformed) return;
    FUZZ_CHECK(rec.next > position && rec.next % pkt::kRecordAlign == 0);
    FUZZ_CHECK(rec.next - position <= area.size());
    if (rec.kind == RecordParse::Kind::kPacket) {
      const std::byte* begin = rec.packet.data.data();
      FUZZ_CHECK(begin >= area.data() + pkt::kRecData);
      FUZZ_CHECK(begin + rec.packet.data.size() <= area.data() + area.size());
      FUZZ_CHECK(rec.packet.position == position);
    }
    position = rec.next;
    if (position >= area.size()) return;  // one lap of the data area is all a reader sees
  }
  FUZZ_CHECK(false && "record walk did not terminate");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  // Aligned like a mapping: the reader's atomic loads need 8-byte alignment.
  std::vector<std::uint64_t> storage((size + 7) / 8);
  std::memcpy(storage.data(), data, size);
  const std::span<const std::byte> segment(reinterpret_cast<const std::byte*>(storage.data()),
                                           size);

  // The record parser alone, on any power-of-two prefix (so short inputs exercise it too).
  std::size_t area = 8;
  while (area * 2 <= size) area *= 2;
  if (size >= 8) walk_records(segment.first(area));

  PacketRingInfo info;
  try {
    info = parse_packet_header(segment);
  } catch (const RingError& e) {
    FUZZ_CHECK(e.kind() == ErrorKind::kBadHeader);
    return 0;
  }
  FUZZ_CHECK(info.segment_bytes == size && info.capacity + pkt::kDataOffset == size);
  FUZZ_CHECK(info.stream.extradata.size() <= pkt::kMaxExtradata);
  FUZZ_CHECK(info.stream.time_base_num != 0 && info.stream.time_base_den != 0);
  walk_records(segment.subspan(pkt::kDataOffset));

  std::vector<std::uint64_t> copy_storage(storage.size());
  std::span<std::byte> copy(reinterpret_cast<std::byte*>(copy_storage.data()), size);
  write_packet_header(copy, info);
  const PacketRingInfo again = parse_packet_header(copy);
  FUZZ_CHECK(again.capacity == info.capacity && again.epoch == info.epoch);
  FUZZ_CHECK(again.name == info.name && again.stream.codec_name == info.stream.codec_name);
  FUZZ_CHECK(again.stream.extradata == info.stream.extradata);
  return 0;
}
