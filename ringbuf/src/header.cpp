#include "framering/ringbuf/header.hpp"

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <cstring>

#include "bytes.hpp"
#include "framering/ringbuf/error.hpp"
#include "framering/ringbuf/layout.hpp"
#include "framering/ringbuf/names.hpp"

namespace framering::ring {

using detail::fixed_string;
using detail::load_le;
using detail::store_le;

namespace {

[[noreturn]] void bad(const std::string& what) {
  throw RingError(ErrorKind::kBadHeader, "not a valid framering ring: " + what);
}

// Fills the derived sizes from geometry and slots; returns false on overflow.
bool lay_out(RingInfo& info) {
  info.frame_bytes = info.geometry.frame_bytes();
  if (info.frame_bytes == 0) return false;
  info.slot_table_offset = kHeaderBytes;
  info.slot_table_bytes = align_up(std::uint64_t{info.slots} * kSlotEntryBytes, kPageBytes);
  info.payload_offset = info.slot_table_offset + info.slot_table_bytes;
  info.slot_stride = align_up(info.frame_bytes, kPageBytes);
  std::uint64_t payload = 0;
  if (__builtin_mul_overflow(info.slot_stride, std::uint64_t{info.slots}, &payload)) return false;
  return !__builtin_add_overflow(info.payload_offset, payload, &info.segment_bytes);
}

}  // namespace

RingInfo plan_layout(const std::string& name, const Geometry& geometry, std::uint32_t slots) {
  validate_ring_name(name);
  if (slots < kMinSlots || slots > kMaxSlots) {
    throw RingError(ErrorKind::kInvalidArgument,
                    "ring '" + name + "': --slots must be between " + std::to_string(kMinSlots) +
                        " and " + std::to_string(kMaxSlots) + ", got " + std::to_string(slots));
  }
  if (geometry.item_bytes() == 0) {
    throw RingError(ErrorKind::kInvalidArgument,
                    "ring '" + name + "': unsupported dtype '" + geometry.typestr + "'");
  }
  if (geometry.shape.empty() || geometry.shape.size() > kMaxDims) {
    throw RingError(ErrorKind::kInvalidArgument,
                    "ring '" + name + "': frames need 1 to 4 dimensions");
  }
  if (!image_shape_matches(geometry)) {
    throw RingError(ErrorKind::kInvalidArgument,
                    "ring '" + name + "': frame geometry " + geometry.describe() + " is not a " +
                        pix_fmt_name(geometry.pix_fmt) +
                        " image (4:2:0 formats need an even width and height)");
  }
  RingInfo info;
  info.name = name;
  info.version = kVersion;
  info.slots = slots;
  info.geometry = geometry;
  if (!lay_out(info) || info.frame_bytes > kMaxFrameBytes) {
    throw RingError(ErrorKind::kInvalidArgument, "ring '" + name + "': frame geometry " +
                                                     geometry.describe() +
                                                     " is empty or larger than 4 GiB per frame");
  }
  return info;
}

RingInfo parse_header(std::span<const std::byte> segment) {
  if (segment.size() < kHeaderBytes) {
    bad("segment is " + std::to_string(segment.size()) +
        " bytes, smaller than its 4096-byte header");
  }
  const std::byte* b = segment.data();
  if (std::memcmp(b + hdr::kMagic, kMagicBytes, sizeof kMagicBytes) != 0) bad("wrong magic");
  RingInfo info;
  info.version = load_le<std::uint32_t>(b, hdr::kVersion);
  if (info.version != kVersion) {
    bad("format version " + std::to_string(info.version) + ", this build reads version " +
        std::to_string(kVersion));
  }
  if (load_le<std::uint32_t>(b, hdr::kHeaderBytes) != kHeaderBytes) bad("header_bytes != 4096");
  if (load_le<std::uint32_t>(b, hdr::kSlotEntryBytes) != kSlotEntryBytes) {
    bad("slot_entry_bytes != 128");
  }
  info.slots = load_le<std::uint32_t>(b, hdr::kSlotCount);
  if (info.slots < kMinSlots || info.slots > kMaxSlots) bad("slot_count out of range");

  Geometry& g = info.geometry;
  g.typestr = fixed_string(b, hdr::kTypestr, kTypestrBytes);
  if (g.item_bytes() == 0) bad("unsupported typestr");
  const auto ndim = load_le<std::uint32_t>(b, hdr::kNdim);
  if (ndim < 1 || ndim > kMaxDims) bad("ndim out of range");
  for (std::size_t i = 0; i < ndim; ++i) {
    g.shape.push_back(load_le<std::uint64_t>(b, hdr::kShape + 8 * i));
  }
  const auto pix = load_le<std::uint32_t>(b, hdr::kPixFmt);
  if (pix > static_cast<std::uint32_t>(kLastPixFmt)) bad("unknown pix_fmt");
  g.pix_fmt = static_cast<PixFmt>(pix);
  if (!image_shape_matches(g)) bad("pix_fmt does not match the shape/typestr");
  g.rate_num = load_le<std::uint32_t>(b, hdr::kRateNum);
  g.rate_den = load_le<std::uint32_t>(b, hdr::kRateDen);
  if (g.rate_num != 0 && g.rate_den == 0) bad("rate_den is 0");
  info.name = fixed_string(b, hdr::kName, kNameBytes);

  RingInfo expected = info;
  if (!lay_out(expected) || expected.frame_bytes > kMaxFrameBytes) bad("frame size overflows");
  const std::vector<std::uint64_t> strides = g.strides();
  for (std::size_t i = 0; i < ndim; ++i) {
    if (load_le<std::uint64_t>(b, hdr::kStrides + 8 * i) != strides[i]) {
      bad("strides are not C-contiguous for the shape");
    }
  }
  auto check = [&](std::size_t offset, std::uint64_t want, const char* field) {
    if (load_le<std::uint64_t>(b, offset) != want)
      bad(std::string(field) + " does not match the geometry");
  };
  check(hdr::kSlotTableOffset, expected.slot_table_offset, "slot_table_offset");
  check(hdr::kSlotTableBytes, expected.slot_table_bytes, "slot_table_bytes");
  check(hdr::kPayloadOffset, expected.payload_offset, "payload_offset");
  check(hdr::kSlotStride, expected.slot_stride, "slot_stride");
  check(hdr::kFrameBytes, expected.frame_bytes, "frame_bytes");
  check(hdr::kSegmentBytes, expected.segment_bytes, "segment_bytes");
  if (expected.segment_bytes != segment.size()) {
    bad("segment is " + std::to_string(segment.size()) + " bytes but its header describes " +
        std::to_string(expected.segment_bytes) + " (truncated or padded)");
  }
  info = expected;
  info.epoch = load_le<std::uint64_t>(b, hdr::kEpoch);
  info.writer_pid = load_le<std::int32_t>(b, hdr::kWriterPid);
  info.created_realtime_ns = load_le<std::uint64_t>(b, hdr::kCreatedRealtimeNs);
  return info;
}

std::string epoch_text(std::uint64_t epoch) {
  char text[20];
  std::snprintf(text, sizeof text, "%016" PRIx64, epoch);
  return text;
}

void write_header(std::span<std::byte> segment, const RingInfo& info) {
  std::byte* b = segment.data();
  std::memcpy(b + hdr::kMagic, kMagicBytes, sizeof kMagicBytes);
  store_le<std::uint32_t>(b, hdr::kVersion, kVersion);
  store_le<std::uint32_t>(b, hdr::kHeaderBytes, kHeaderBytes);
  store_le<std::uint64_t>(b, hdr::kSlotTableOffset, info.slot_table_offset);
  store_le<std::uint64_t>(b, hdr::kSlotTableBytes, info.slot_table_bytes);
  store_le<std::uint32_t>(b, hdr::kSlotEntryBytes, kSlotEntryBytes);
  store_le<std::uint32_t>(b, hdr::kSlotCount, info.slots);
  store_le<std::uint64_t>(b, hdr::kPayloadOffset, info.payload_offset);
  store_le<std::uint64_t>(b, hdr::kSlotStride, info.slot_stride);
  store_le<std::uint64_t>(b, hdr::kFrameBytes, info.frame_bytes);
  store_le<std::uint64_t>(b, hdr::kSegmentBytes, info.segment_bytes);
  store_le<std::uint64_t>(b, hdr::kEpoch, info.epoch);
  store_le<std::int32_t>(b, hdr::kWriterPid, info.writer_pid);
  store_le<std::uint32_t>(b, hdr::kPixFmt, static_cast<std::uint32_t>(info.geometry.pix_fmt));
  std::memset(b + hdr::kTypestr, 0, kTypestrBytes);
  std::memcpy(b + hdr::kTypestr, info.geometry.typestr.data(),
              std::min(info.geometry.typestr.size(), kTypestrBytes - 1));
  store_le<std::uint32_t>(b, hdr::kNdim, static_cast<std::uint32_t>(info.geometry.shape.size()));
  const auto strides = info.geometry.strides();
  for (std::size_t i = 0; i < info.geometry.shape.size(); ++i) {
    store_le<std::uint64_t>(b, hdr::kShape + 8 * i, info.geometry.shape[i]);
    store_le<std::uint64_t>(b, hdr::kStrides + 8 * i, strides[i]);
  }
  store_le<std::uint64_t>(b, hdr::kCreatedRealtimeNs, info.created_realtime_ns);
  store_le<std::uint32_t>(b, hdr::kRateNum, info.geometry.rate_num);
  store_le<std::uint32_t>(b, hdr::kRateDen, info.geometry.rate_den);
  std::memset(b + hdr::kName, 0, kNameBytes);
  std::memcpy(b + hdr::kName, info.name.data(), std::min(info.name.size(), kNameBytes - 1));
}

}  // namespace framering::ring
