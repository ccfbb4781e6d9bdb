// Packet ring header and record parsing from untrusted bytes (docs/packet-ring.md §2, §3).
#include <algorithm>
#include <bit>
#include <cstring>

#include "bytes.hpp"
#include "control.hpp"
#include "framering/ringbuf/error.hpp"
#include "framering/ringbuf/layout.hpp"
#include "framering/ringbuf/packet_ring.hpp"

namespace framering::ring {

using detail::atomic_at;
using detail::fixed_string;
using detail::load_le;
using detail::store_le;

namespace {

[[noreturn]] void bad(const std::string& what) {
  throw RingError(ErrorKind::kBadHeader, "not a valid framering packet ring: " + what);
}

bool printable_name(const std::string& s) {
  return std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-' || c == '.';
  });
}

}  // namespace

const char* sizing_basis_name(PacketRingSizing::Basis basis) {
  switch (basis) {
    case PacketRingSizing::Basis::kMeasured:
      return "measured";
    case PacketRingSizing::Basis::kDeclared:
      return "declared";
    case PacketRingSizing::Basis::kEstimated:
      return "estimated";
    case PacketRingSizing::Basis::kUnknown:
      break;
  }
  return "unknown";
}

std::uint64_t packet_ring_capacity(std::uint64_t wanted_bytes) {
  const std::uint64_t clamped = std::clamp(wanted_bytes, pkt::kMinCapacity, pkt::kMaxCapacity);
  return std::bit_ceil(clamped);
}

PacketRingInfo parse_packet_header(std::span<const std::byte> segment) {
  if (segment.size() < pkt::kHeaderBytes)
    bad("the segment is " + std::to_string(segment.size()) + " bytes, smaller than its header");
  const std::byte* b = segment.data();
  if (std::memcmp(b + pkt::kMagic, pkt::kMagicBytes, sizeof pkt::kMagicBytes) != 0)
    bad("wrong magic (expected FMRPKTS)");
  PacketRingInfo info;
  info.version = load_le<std::uint32_t>(b, pkt::kVersionField);
  if (info.version != pkt::kVersion)
    bad("format version " + std::to_string(info.version) + " (this reader knows version 1)");
  if (load_le<std::uint32_t>(b, pkt::kHeaderBytesField) != pkt::kHeaderBytes)
    bad("header_bytes is not 4096");
  if (load_le<std::uint64_t>(b, pkt::kDataOffsetField) != pkt::kDataOffset)
    bad("data_offset is not 4096");
  info.capacity = load_le<std::uint64_t>(b, pkt::kCapacity);
  if (info.capacity < pkt::kMinCapacity || info.capacity > pkt::kMaxCapacity ||
      !std::has_single_bit(info.capacity)) {
    bad("capacity " + std::to_string(info.capacity) + " is not a power of two in [64 KiB, 1 GiB]");
  }
  info.segment_bytes = load_le<std::uint64_t>(b, pkt::kSegmentBytes);
  if (info.segment_bytes != pkt::kDataOffset + info.capacity ||
      info.segment_bytes != segment.size())
    bad("segment_bytes does not match data_offset + capacity and the file size");
  info.epoch = load_le<std::uint64_t>(b, pkt::kEpoch);
  if (info.epoch == 0) bad("epoch is 0");
  info.writer_pid = load_le<std::int32_t>(b, pkt::kWriterPid);
  info.created_realtime_ns = load_le<std::uint64_t>(b, pkt::kCreatedRealtimeNs);
  PacketStreamInfo& s = info.stream;
  s.codec_id = load_le<std::uint32_t>(b, pkt::kCodecId);
  s.width = load_le<std::uint32_t>(b, pkt::kWidth);
  s.height = load_le<std::uint32_t>(b, pkt::kHeight);
  if (s.width > 65536 || s.height > 65536) bad("width/height above 65536");
  s.time_base_num = load_le<std::uint32_t>(b, pkt::kTimeBaseNum);
  s.time_base_den = load_le<std::uint32_t>(b, pkt::kTimeBaseDen);
  if (s.time_base_num == 0 || s.time_base_den == 0) bad("time base has a zero term");
  // libav's rationals are signed ints: a larger term would turn negative in a muxer.
  constexpr std::uint32_t kMaxTerm = 0x7fffffff;
  if (s.time_base_num > kMaxTerm || s.time_base_den > kMaxTerm) bad("time base term above 2^31-1");
  s.rate_num = load_le<std::uint32_t>(b, pkt::kRateNum);
  s.rate_den = load_le<std::uint32_t>(b, pkt::kRateDen);
  if (s.rate_den == 0) bad("frame rate denominator is 0");
  if (s.rate_num > kMaxTerm || s.rate_den > kMaxTerm) bad("frame rate term above 2^31-1");
  const auto extradata = load_le<std::uint32_t>(b, pkt::kExtradataBytes);
  if (extradata > pkt::kMaxExtradata) bad("extradata_bytes above 3072");
  s.extradata.assign(b + pkt::kExtradataOffset, b + pkt::kExtradataOffset + extradata);
  s.codec_name = fixed_string(b, pkt::kCodecName, pkt::kCodecNameBytes);
  if (s.codec_name.empty() || s.codec_name.size() == pkt::kCodecNameBytes ||
      !printable_name(s.codec_name)) {
    bad("codec_name is empty, unterminated or not [A-Za-z0-9_.-]");
  }
  info.name = fixed_string(b, pkt::kName, pkt::kNameBytes);
  if (info.name.empty() || info.name.size() > kMaxRingNameLength || !printable_name(info.name) ||
      info.name.find('.') != std::string::npos) {
    bad("name is empty, too long or outside [A-Za-z0-9_-]");
  }
  info.sizing.bytes_per_second = load_le<std::uint64_t>(b, pkt::kSizingBytesPerSecond);
  info.sizing.history_ms = load_le<std::uint64_t>(b, pkt::kHistoryMs);
  // Informational: a value this reader does not know reads as unknown, never as an error.
  const auto basis = load_le<std::uint32_t>(b, pkt::kSizingBasis);
  info.sizing.basis =
      basis <= 3 ? static_cast<PacketRingSizing::Basis>(basis) : PacketRingSizing::Basis::kUnknown;
  return info;
}

void write_packet_header(std::span<std::byte> segment, const PacketRingInfo& info) {
  std::byte* b = segment.data();
  std::memcpy(b + pkt::kMagic, pkt::kMagicBytes, sizeof pkt::kMagicBytes);
  store_le<std::uint32_t>(b, pkt::kVersionField, pkt::kVersion);
  store_le<std::uint32_t>(b, pkt::kHeaderBytesField, pkt::kHeaderBytes);
  store_le<std::uint64_t>(b, pkt::kDataOffsetField, pkt::kDataOffset);
  store_le<std::uint64_t>(b, pkt::kCapacity, info.capacity);
  store_le<std::uint64_t>(b, pkt::kSegmentBytes, info.segment_bytes);
  store_le<std::uint64_t>(b, pkt::kEpoch, info.epoch);
  store_le<std::int32_t>(b, pkt::kWriterPid, info.writer_pid);
  const PacketStreamInfo& s = info.stream;
  store_le<std::uint32_t>(b, pkt::kCodecId, s.codec_id);
  store_le<std::uint32_t>(b, pkt::kWidth, s.width);
  store_le<std::uint32_t>(b, pkt::kHeight, s.height);
  store_le<std::uint32_t>(b, pkt::kTimeBaseNum, s.time_base_num);
  store_le<std::uint32_t>(b, pkt::kTimeBaseDen, s.time_base_den);
  store_le<std::uint32_t>(b, pkt::kRateNum, s.rate_num);
  store_le<std::uint32_t>(b, pkt::kRateDen, s.rate_den);
  store_le<std::uint32_t>(b, pkt::kExtradataBytes, static_cast<std::uint32_t>(s.extradata.size()));
  store_le<std::uint64_t>(b, pkt::kCreatedRealtimeNs, info.created_realtime_ns);
  // An empty vector's data() may be null, which memcpy must not be given even for 0 bytes
  // (MS-MPEG4 in AVI has no extradata).
  if (!s.extradata.empty())
    std::memcpy(b + pkt::kExtradataOffset, s.extradata.data(), s.extradata.size());
  std::memcpy(b + pkt::kCodecName, s.codec_name.data(),
              std::min(s.codec_name.size(), pkt::kCodecNameBytes - 1));
  std::memcpy(b + pkt::kName, info.name.data(), std::min(info.name.size(), pkt::kNameBytes - 1));
  store_le<std::uint64_t>(b, pkt::kSizingBytesPerSecond, info.sizing.bytes_per_second);
  store_le<std::uint64_t>(b, pkt::kHistoryMs, info.sizing.history_ms);
  store_le<std::uint32_t>(b, pkt::kSizingBasis, static_cast<std::uint32_t>(info.sizing.basis));
}

RecordParse parse_record(std::span<const std::byte> data, std::uint64_t position) {
  RecordParse out;
  const std::uint64_t capacity = data.size();
  if (capacity == 0 || !std::has_single_bit(capacity) || position % pkt::kRecordAlign != 0)
    return out;
  const std::uint64_t offset = position & (capacity - 1);
  const std::byte* r = data.data() + offset;
  // Relaxed atomic loads: the writer may be storing here concurrently (then the lapped check
  // that follows discards what we read).
  const std::uint32_t length =
      atomic_at<std::uint32_t>(r, pkt::kRecLength).load(std::memory_order_relaxed);
  const std::uint32_t type =
      atomic_at<std::uint32_t>(r, pkt::kRecType).load(std::memory_order_relaxed);
  const std::uint64_t room = capacity - offset;
  if (type == pkt::kTypePadding) {
    // A padding record always runs to the end of the data area.
    if (length != room) return out;
    out.kind = RecordParse::Kind::kPadding;
    out.next = position + length;
    return out;
  }
  if (type != pkt::kTypePacket || length < pkt::kRecData) return out;
  const std::uint64_t aligned = align_up(length, pkt::kRecordAlign);
  if (aligned > room) return out;
  auto u64 = [r](std::size_t field) {
    return atomic_at<std::uint64_t>(r, field).load(std::memory_order_relaxed);
  };
  PacketView& p = out.packet;
  p.packet_no = u64(pkt::kRecPacketNo);
  p.pts = static_cast<std::int64_t>(u64(pkt::kRecPts));
  p.dts = static_cast<std::int64_t>(u64(pkt::kRecDts));
  p.duration = static_cast<std::int64_t>(u64(pkt::kRecDuration));
  p.capture_realtime_ns = u64(pkt::kRecCaptureRealtimeNs);
  p.flags = atomic_at<std::uint32_t>(r, pkt::kRecFlags).load(std::memory_order_relaxed);
  const std::uint32_t bytes =
      atomic_at<std::uint32_t>(r, pkt::kRecDataBytes).load(std::memory_order_relaxed);
  if (std::uint64_t{bytes} + pkt::kRecData != length) return out;
  p.data = {r + pkt::kRecData, bytes};
  p.position = position;
  out.kind = RecordParse::Kind::kPacket;
  out.next = position + aligned;
  return out;
}

}  // namespace framering::ring
