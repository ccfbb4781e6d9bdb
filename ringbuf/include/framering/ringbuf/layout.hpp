// The ring's byte layout: every offset a reader or writer touches, as a named constant.
// docs/ring-format.md is the prose twin of this file; the static_asserts below pin both together.
// This header is the protocol: no other file spells an offset.
//
// Segment /dev/shm/framering.<name>, all integers little-endian, all offsets from segment start:
//
//   0        4096                 payload_offset            + stride          + stride
//   +--------+--------------------+-------------------------+-----------------+----
//   | header | slot table         | slot 0 payload           | slot 1 payload  | ...
//   | 1 page | count x 128 B,     | frame_bytes, zero pad    |                 |
//   |        | padded to 4096     | to stride (4096-aligned) |                 |
//   +--------+--------------------+-------------------------+-----------------+----
//
// Header page (4096 B):
//   0   magic "FMRRING\0" (u64)     8   version (u32)        12  header_bytes (u32) = 4096
//   16  slot_table_offset (u64)     24  slot_table_bytes     32  slot_entry_bytes (u32) = 128
//   36  slot_count (u32)            40  payload_offset (u64) 48  slot_stride (u64)
//   56  frame_bytes (u64)           64  segment_bytes (u64)  72  epoch (u64, random, != 0)
//   80  writer_pid (u32)            84  pix_fmt (u32)        88  typestr char[8] e.g. "|u1"
//   96  ndim (u32)                  100 reserved (u32)       104 shape u64[4]
//   136 strides u64[4] (bytes)      168 created_realtime_ns  176 rate_num (u32) 180 rate_den (u32)
//   184 name char[64] (NUL-padded)  248..255 reserved
//   --- control block, one cache line each (written only by the writer) ---
//   256 state (u32 atomic: 0 INIT, 1 LIVE, 2 CLOSED)
//   320 heartbeat_ns (u64 atomic, CLOCK_MONOTONIC, refreshed every ~100 ms by the writer)
//   384 cursor (u64 atomic: number of committed frames; frame n committed => cursor >= n + 1).
//       Its low 32 bits are the futex word readers sleep on.
//   448..4095 reserved (zero)
//
// Slot table entry k (128 B at slot_table_offset + k*128), for frame n stored in slot n % count:
//   0  seq (u64 atomic: 0 never written, 2n+1 being written, 2n+2 committed)
//   8  frame_no (u64)   16 pts_ns (i64)      24 capture_realtime_ns (u64)
//   32 publish_realtime_ns (u64)             40 flags (u32)   44 reserved (u32)
//   48 publish_monotonic_ns (u64)            56..127 reserved (zero)
//
// Reader stats file /dev/shm/framering.<ring>.reader.<id> (4096 B, one per reader, written only
// by that reader, which holds an exclusive flock on it for its whole life):
//   0   magic "FMRREADR" (u64)      8   version (u32) = 2    12  pid (u32, informational)
//   16  ring char[64]               80  reader char[64]      144..191 reserved (zero)
//   u64 atomics: 192 heartbeat_ns (CLOCK_MONOTONIC) · 200 position (next frame wanted; low 32
//   bits are a futex word) · 208 frames_read · 216 bytes_in_place · 224 lapped · 232 torn ·
//   240 skipped · 248 bytes_copied · 256 epoch (of the ring being read) · 264..4095 reserved
#pragma once

#include <cstddef>
#include <cstdint>

namespace framering::ring {

inline constexpr std::uint64_t kMagic = 0x00474E4952524D46ULL;  // "FMRRING\0" read as LE bytes
inline constexpr char kMagicBytes[8] = {'F', 'M', 'R', 'R', 'I', 'N', 'G', '\0'};
inline constexpr std::uint32_t kVersion = 1;

inline constexpr std::size_t kPageBytes = 4096;
inline constexpr std::size_t kCacheLine = 64;
inline constexpr std::size_t kHeaderBytes = kPageBytes;
inline constexpr std::size_t kSlotEntryBytes = 128;
inline constexpr std::size_t kMaxDims = 4;
inline constexpr std::size_t kTypestrBytes = 8;
inline constexpr std::size_t kNameBytes = 64;

// Limits every reader enforces before trusting a header (untrusted input).
// The slot-count rule of every ring, writer and reader alike; the ingest CLI and the run config
// refuse what the ring would. Two at least: the writer may be rewriting one slot while a reader
// reads another.
inline constexpr std::uint32_t kMinSlots = 2;
inline constexpr std::uint32_t kMaxSlots = 1u << 16;
inline constexpr std::uint64_t kMaxFrameBytes = 1ULL << 32;  // 4 GiB: a large imaging volume
inline constexpr std::size_t kMaxRingNameLength = 48;        // leaves room for suffixes in 64 B

namespace hdr {
inline constexpr std::size_t kMagic = 0;
inline constexpr std::size_t kVersion = 8;
inline constexpr std::size_t kHeaderBytes = 12;
inline constexpr std::size_t kSlotTableOffset = 16;
inline constexpr std::size_t kSlotTableBytes = 24;
inline constexpr std::size_t kSlotEntryBytes = 32;
inline constexpr std::size_t kSlotCount = 36;
inline constexpr std::size_t kPayloadOffset = 40;
inline constexpr std::size_t kSlotStride = 48;
inline constexpr std::size_t kFrameBytes = 56;
inline constexpr std::size_t kSegmentBytes = 64;
inline constexpr std::size_t kEpoch = 72;
inline constexpr std::size_t kWriterPid = 80;
inline constexpr std::size_t kPixFmt = 84;
inline constexpr std::size_t kTypestr = 88;
inline constexpr std::size_t kNdim = 96;
inline constexpr std::size_t kShape = 104;
inline constexpr std::size_t kStrides = 136;
inline constexpr std::size_t kCreatedRealtimeNs = 168;
inline constexpr std::size_t kRateNum = 176;
inline constexpr std::size_t kRateDen = 180;
inline constexpr std::size_t kName = 184;
inline constexpr std::size_t kState = 256;
inline constexpr std::size_t kHeartbeatNs = 320;
inline constexpr std::size_t kCursor = 384;
inline constexpr std::size_t kControlEnd = 448;
}  // namespace hdr

namespace slot {
inline constexpr std::size_t kSeq = 0;
inline constexpr std::size_t kFrameNo = 8;
inline constexpr std::size_t kPtsNs = 16;
inline constexpr std::size_t kCaptureRealtimeNs = 24;
inline constexpr std::size_t kPublishRealtimeNs = 32;
inline constexpr std::size_t kFlags = 40;
inline constexpr std::size_t kPublishMonotonicNs = 48;
}  // namespace slot

// The reader stats file (docs/ring-format.md §8).
inline constexpr char kStatsMagicBytes[8] = {'F', 'M', 'R', 'R', 'E', 'A', 'D', 'R'};
// 2: the reader holds an exclusive flock on its file while it lives (1 had no lock; its readers
// could only be judged by pid, which another pid namespace or a reused pid makes meaningless).
inline constexpr std::uint32_t kStatsVersion = 2;
inline constexpr std::size_t kStatsBytes = kPageBytes;

namespace stats {
inline constexpr std::size_t kMagic = 0;
inline constexpr std::size_t kVersion = 8;
inline constexpr std::size_t kPid = 12;
inline constexpr std::size_t kRing = 16;
inline constexpr std::size_t kReader = 80;
inline constexpr std::size_t kHeartbeatNs = 192;
inline constexpr std::size_t kPosition = 200;
inline constexpr std::size_t kFramesRead = 208;
inline constexpr std::size_t kBytesInPlace = 216;
inline constexpr std::size_t kLapped = 224;
inline constexpr std::size_t kTorn = 232;
inline constexpr std::size_t kSkipped = 240;
inline constexpr std::size_t kBytesCopied = 248;
inline constexpr std::size_t kEpoch = 256;
inline constexpr std::size_t kEnd = 264;
}  // namespace stats

enum class State : std::uint32_t { kInit = 0, kLive = 1, kClosed = 2 };

// Pixel formats the ingest writes; kRaw means "an array described only by typestr/shape" (npy).
// kYuv420p and kNv12 are the decoders' own 4:2:0 planes, stacked into one (H*3/2, W) |u1 array:
// Y (H rows of W) then U then V (H/2 rows of W/2 each), or Y then interleaved UV (H/2 rows of W).
enum class PixFmt : std::uint32_t {
  kRaw = 0,
  kBgr24 = 1,
  kRgb24 = 2,
  kGray8 = 3,
  kYuv420p = 4,
  kNv12 = 5,
};
inline constexpr PixFmt kLastPixFmt = PixFmt::kNv12;

// Slot flags (bit set).
inline constexpr std::uint32_t kFlagKeyframe = 1u << 0;
inline constexpr std::uint32_t kFlagDecodeError = 1u << 1;
inline constexpr std::uint32_t kFlagResized = 1u << 2;

constexpr std::uint64_t align_up(std::uint64_t v, std::uint64_t a) {
  return (v + a - 1) / a * a;
}

// The sequence word protocol: frame n is being written at 2n+1 and committed at 2n+2.
constexpr std::uint64_t seq_writing(std::uint64_t frame_no) {
  return 2 * frame_no + 1;
}
constexpr std::uint64_t seq_committed(std::uint64_t frame_no) {
  return 2 * frame_no + 2;
}

// Control words each sit alone on a cache line so the writer's updates do not false-share
// with the read-mostly header fields.
static_assert(hdr::kState % kCacheLine == 0 && hdr::kState >= hdr::kName + kNameBytes);
static_assert(hdr::kHeartbeatNs == hdr::kState + kCacheLine);
static_assert(hdr::kCursor == hdr::kHeartbeatNs + kCacheLine);
static_assert(hdr::kControlEnd <= kHeaderBytes);
static_assert(hdr::kStrides == hdr::kShape + 8 * kMaxDims);
static_assert(hdr::kCreatedRealtimeNs == hdr::kStrides + 8 * kMaxDims);
static_assert(hdr::kTypestr + kTypestrBytes == hdr::kNdim);
static_assert(slot::kPublishMonotonicNs + 8 <= kSlotEntryBytes);
static_assert(stats::kRing + kNameBytes == stats::kReader);
static_assert(stats::kReader + kNameBytes <= stats::kHeartbeatNs);
static_assert(stats::kHeartbeatNs % 8 == 0 && stats::kEpoch + 8 == stats::kEnd);
static_assert(stats::kEnd <= kStatsBytes);
static_assert(kSlotEntryBytes % kCacheLine == 0);
static_assert(kMagic == (std::uint64_t{'F'} | std::uint64_t{'M'} << 8 | std::uint64_t{'R'} << 16 |
                         std::uint64_t{'R'} << 24 | std::uint64_t{'I'} << 32 |
                         std::uint64_t{'N'} << 40 | std::uint64_t{'G'} << 48));

}  // namespace framering::ring
