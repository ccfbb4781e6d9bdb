// The packet ring: a camera's compressed video packets, as the ingest demuxed them, in a byte
// ring of variable-length records beside the frame ring. One writer that never waits; any number
// of read-only readers that detect being lapped. docs/packet-ring.md is the prose twin of the
// constants below; no other file spells an offset.
//
// Segment /dev/shm/framering.<name>.packets, integers little-endian, offsets from segment start:
//
//   0                    1024                 4096 (data_offset)           4096 + capacity
//   +--------------------+--------------------+------------------------------------------+
//   | header + control   | codec extradata    | data: records, 8-byte aligned, a padding |
//   | (below)            | (<= 3072 B)        | record fills the end before a wrap       |
//   +--------------------+--------------------+------------------------------------------+
//
// Header:
//   0   magic "FMRPKTS\0" (u64)   8   version (u32)       12  header_bytes (u32) = 4096
//   16  data_offset (u64) = 4096  24  capacity (u64, power of two)
//   32  segment_bytes (u64)       40  epoch (u64, random, != 0)
//   48  writer_pid (i32)          52  codec_id (u32, libavcodec AVCodecID, informational)
//   56  width (u32)  60 height    64  time_base_num (u32)  68 time_base_den (u32)
//   72  rate_num (u32) 76 rate_den 80  extradata_bytes (u32) 84 reserved (u32)
//   88  created_realtime_ns (u64) 96  codec_name char[32] (libavcodec name, e.g. "h264")
//   128 name char[64]             192 sizing_bytes_per_second (u64)  200 history_ms (u64)
//   208 sizing_basis (u32: 0 unknown, 1 measured, 2 declared, 3 estimated)  212..255 reserved
//   --- control block, written only by the writer, one cache line each ---
//   256 state (u32 atomic: 0 INIT, 1 LIVE, 2 CLOSED)
//   320 heartbeat_ns (u64 atomic, CLOCK_MONOTONIC)
//   384 tail_intent (u64 atomic)  392 tail (u64 atomic; low 32 bits: futex word)
//   400 latest (u64 atomic: position of the newest packet record)
//   408 packets (u64 atomic: packets published)
//   416 oldest (u64 atomic: position of the oldest packet record not yet overwritten)
//
// Record at data_offset + (position & (capacity - 1)); positions only grow:
//   0  length (u32: bytes of the record before 8-byte alignment)   4 type (u32: 1 packet, 2 pad)
//   -- packet records only --
//   8  packet_no (u64)   16 pts (i64)   24 dts (i64)   32 duration (i64)   (stream time base;
//   INT64_MIN = unknown)  40 capture_realtime_ns (u64)  48 flags (u32)  52 data_bytes (u32)
//   56 data (data_bytes)
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "framering/ringbuf/reader.hpp"

namespace framering::ring {

namespace pkt {
inline constexpr char kMagicBytes[8] = {'F', 'M', 'R', 'P', 'K', 'T', 'S', '\0'};
inline constexpr std::uint32_t kVersion = 1;
inline constexpr std::size_t kHeaderBytes = 4096;
inline constexpr std::size_t kDataOffset = 4096;
inline constexpr std::size_t kExtradataOffset = 1024;
inline constexpr std::size_t kMaxExtradata = kDataOffset - kExtradataOffset;  // 3072
inline constexpr std::size_t kCodecNameBytes = 32;
inline constexpr std::size_t kNameBytes = 64;
inline constexpr std::uint64_t kMinCapacity = 64 * 1024;
inline constexpr std::uint64_t kMaxCapacity = 1ULL << 30;

// Header fields.
inline constexpr std::size_t kMagic = 0;
inline constexpr std::size_t kVersionField = 8;
inline constexpr std::size_t kHeaderBytesField = 12;
inline constexpr std::size_t kDataOffsetField = 16;
inline constexpr std::size_t kCapacity = 24;
inline constexpr std::size_t kSegmentBytes = 32;
inline constexpr std::size_t kEpoch = 40;
inline constexpr std::size_t kWriterPid = 48;
inline constexpr std::size_t kCodecId = 52;
inline constexpr std::size_t kWidth = 56;
inline constexpr std::size_t kHeight = 60;
inline constexpr std::size_t kTimeBaseNum = 64;
inline constexpr std::size_t kTimeBaseDen = 68;
inline constexpr std::size_t kRateNum = 72;
inline constexpr std::size_t kRateDen = 76;
inline constexpr std::size_t kExtradataBytes = 80;
inline constexpr std::size_t kCreatedRealtimeNs = 88;
inline constexpr std::size_t kCodecName = 96;
inline constexpr std::size_t kName = 128;
inline constexpr std::size_t kSizingBytesPerSecond = 192;
inline constexpr std::size_t kHistoryMs = 200;
inline constexpr std::size_t kSizingBasis = 208;
// Control block (same state/heartbeat offsets as the frame ring).
inline constexpr std::size_t kState = 256;
inline constexpr std::size_t kHeartbeatNs = 320;
inline constexpr std::size_t kTailIntent = 384;
inline constexpr std::size_t kTail = 392;
inline constexpr std::size_t kLatest = 400;
inline constexpr std::size_t kPackets = 408;
inline constexpr std::size_t kOldest = 416;

// Record fields, relative to the record's start.
inline constexpr std::size_t kRecLength = 0;
inline constexpr std::size_t kRecType = 4;
inline constexpr std::size_t kRecPacketNo = 8;
inline constexpr std::size_t kRecPts = 16;
inline constexpr std::size_t kRecDts = 24;
inline constexpr std::size_t kRecDuration = 32;
inline constexpr std::size_t kRecCaptureRealtimeNs = 40;
inline constexpr std::size_t kRecFlags = 48;
inline constexpr std::size_t kRecDataBytes = 52;
inline constexpr std::size_t kRecData = 56;
inline constexpr std::size_t kPaddingBytes = 8;  // a padding record is length + type only
inline constexpr std::size_t kRecordAlign = 8;

inline constexpr std::uint32_t kTypePacket = 1;
inline constexpr std::uint32_t kTypePadding = 2;

// Packet flags (bit set).
inline constexpr std::uint32_t kFlagKeyframe = 1u << 0;
inline constexpr std::uint32_t kFlagCorrupt = 1u << 1;
inline constexpr std::uint32_t kFlagDiscontinuity = 1u << 2;  // first packet after a (re)open

inline constexpr std::int64_t kNoTimestamp = INT64_MIN;

static_assert(kName + kNameBytes == kSizingBytesPerSecond && kSizingBasis + 4 <= kState);
static_assert(kName + kNameBytes <= kState && kState % 64 == 0);
static_assert(kHeartbeatNs == kState + 64 && kTailIntent == kHeartbeatNs + 64);
static_assert(kOldest + 8 <= kHeartbeatNs + 128 && kPackets + 8 <= kExtradataOffset &&
              kCodecName + kCodecNameBytes == kName);
static_assert(kRecData % kRecordAlign == 0 && kPaddingBytes % kRecordAlign == 0);
}  // namespace pkt

// What a muxer needs to write the stream without asking the ingest.
struct PacketStreamInfo {
  std::uint32_t codec_id = 0;
  std::string codec_name;  // libavcodec's name: "h264", "hevc", "mpeg4", ...
  std::uint32_t width = 0, height = 0;
  std::uint32_t time_base_num = 1, time_base_den = 1;
  std::uint32_t rate_num = 0, rate_den = 1;  // 0/1: unknown
  std::vector<std::byte> extradata;          // codec parameters (SPS/PPS, ...), <= 3072 B
};

// How the writer chose the capacity (informational: readers never depend on it). A writer that
// predates these fields leaves them 0 (unknown).
struct PacketRingSizing {
  enum class Basis : std::uint32_t { kUnknown = 0, kMeasured = 1, kDeclared = 2, kEstimated = 3 };
  std::uint64_t bytes_per_second = 0;  // the stream's byte rate the capacity was computed from
  std::uint64_t history_ms = 0;        // the history asked (--packet-history)
  Basis basis = Basis::kUnknown;
};
const char* sizing_basis_name(PacketRingSizing::Basis basis);  // "measured", "declared", ...

struct PacketRingInfo {
  std::string name;
  std::uint32_t version = 0;
  std::uint64_t capacity = 0;
  std::uint64_t segment_bytes = 0;
  std::uint64_t epoch = 0;
  std::int32_t writer_pid = 0;
  std::uint64_t created_realtime_ns = 0;
  PacketStreamInfo stream;
  PacketRingSizing sizing;
};

// Capacity rounded up to a power of two within [kMinCapacity, kMaxCapacity].
std::uint64_t packet_ring_capacity(std::uint64_t wanted_bytes);

// Validates every header field against the segment size and the format limits. Throws
// RingError(kBadHeader) naming the first bad field. Untrusted input.
PacketRingInfo parse_packet_header(std::span<const std::byte> segment);
void write_packet_header(std::span<std::byte> segment, const PacketRingInfo& info);

struct PacketMeta {
  std::int64_t pts = pkt::kNoTimestamp;
  std::int64_t dts = pkt::kNoTimestamp;
  std::int64_t duration = 0;
  std::uint64_t capture_realtime_ns = 0;  // 0: publish() stamps it
  std::uint32_t flags = 0;
};

// One packet record as a reader sees it, in place.
struct PacketView {
  std::span<const std::byte> data;
  std::uint64_t packet_no = 0;
  std::int64_t pts = pkt::kNoTimestamp;
  std::int64_t dts = pkt::kNoTimestamp;
  std::int64_t duration = 0;
  std::uint64_t capture_realtime_ns = 0;
  std::uint32_t flags = 0;
  std::uint64_t position = 0;  // where the record starts (read(position) returns it again)
  bool keyframe() const { return (flags & pkt::kFlagKeyframe) != 0; }
};

// Decoding one record of a data area (capacity bytes) at `position` (untrusted bytes):
// what a reader does after the lapped check. Never reads outside `data`.
struct RecordParse {
  enum class Kind { kPacket, kPadding, kMalformed } kind = Kind::kMalformed;
  std::uint64_t next = 0;  // position of the following record
  PacketView packet;       // kPacket only
};
RecordParse parse_record(std::span<const std::byte> data, std::uint64_t position);

struct PacketWriterOptions {
  std::string name;
  PacketStreamInfo stream;
  std::uint64_t capacity = 4 << 20;  // rounded by packet_ring_capacity
  PacketRingSizing sizing;           // recorded in the header for `framering stat`
  mode_t mode = 0600;
  std::optional<gid_t> group;
  bool keep_on_close = false;
  int heartbeat_period_ms = 100;
};

class PacketWriter {
 public:
  // Same lifecycle as Writer::create (temp name + rename, fallocate, flock, new epoch).
  static PacketWriter create(const PacketWriterOptions& options);
  PacketWriter(PacketWriter&&) noexcept;
  PacketWriter& operator=(PacketWriter&&) noexcept;
  ~PacketWriter();

  // Writes one record (the one copy of the packet's bytes) and publishes it. Returns false, and
  // writes nothing, when the packet exceeds max_packet_bytes(); its packet_no is used up all
  // the same, so readers see the gap.
  [[nodiscard]] bool publish(const PacketMeta& meta, std::span<const std::byte> data);
  void close();  // CLOSED, wake readers, unlink unless keep_on_close. Idempotent.

  std::uint64_t max_packet_bytes() const;  // a quarter of the capacity, minus the record header
  std::uint64_t packets() const;
  std::uint64_t tail() const;
  const PacketRingInfo& info() const;
  std::string path() const;

 private:
  struct Impl;
  explicit PacketWriter(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

struct PacketReadResult {
  ReadStatus status = ReadStatus::kNotYet;
  PacketView packet;         // kOk
  std::uint64_t missed = 0;  // kOk: packets skipped since the previous kOk (lapped earlier)
  std::uint64_t next = 0;    // position to read next
};

class PacketReader {
 public:
  // Maps /dev/shm/framering.<name>.packets PROT_READ after validating its header.
  static PacketReader attach(const std::string& name, ReaderOptions options = {});
  PacketReader(PacketReader&&) noexcept;
  PacketReader& operator=(PacketReader&&) noexcept;
  ~PacketReader();

  // The record at `position` (skipping padding), in place; re-check with valid() after use.
  // kLapped: the writer overwrote it; `next` is the newest record. kTorn: a malformed record
  // (a hostile or broken writer); `next` is the newest record. kEpochChanged: a new writer (new
  // stream parameters: see info()); `next` is 0.
  PacketReadResult read(std::uint64_t position);
  // read() of a record already read (a recorder's pre-roll): the same result, but the gap count
  // (`missed`) of the following read() is left as the live reading set it, and a position past
  // the tail is kNotYet without looking for a new writer.
  PacketReadResult reread(std::uint64_t position);
  // Blocks (futex on the tail) until a record at `position` is committed or `timeout` passes.
  PacketReadResult wait_next(std::uint64_t position, std::chrono::nanoseconds timeout);
  // After using packet.data: false if the writer may have overwritten it meanwhile.
  bool valid(const PacketView& packet) const;

  std::uint64_t tail() const;    // where the next record will start
  std::uint64_t latest() const;  // the newest packet record
  std::uint64_t packets() const;
  // The oldest position still readable: 0 before the first wrap, else the newest record.
  std::uint64_t oldest() const;
  // The oldest packet record the writer has not overwritten (its `oldest` field): where the
  // history the ring holds begins. May be overwritten by the time it is read (kLapped).
  std::uint64_t oldest_record() const;
  bool writer_alive();
  std::uint32_t state() const;
  const PacketRingInfo& info() const;

 private:
  struct Impl;
  explicit PacketReader(std::unique_ptr<Impl> impl);
  PacketReadResult read_record(std::uint64_t position, bool live);
  std::unique_ptr<Impl> impl_;
};

}  // namespace framering::ring
