// A read-only view of a ring. Frames are read in place by frame number; the seqlock tells the
// reader when a slot was overwritten while it looked (LAPPED before, TORN after use).
//
//   auto reader = Reader::attach("cam0");
//   auto r = reader.wait_next(next, 1s);
//   if (r.status == ReadStatus::kOk) { analyse(r.frame.data); if (reader.valid(r.frame)) keep(); }
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include <sys/types.h>

#include "framering/ringbuf/header.hpp"

namespace framering::ring {

enum class ReadStatus {
  kOk,          // frame is in `frame`; re-check with valid() after use
  kNotYet,      // that frame has not been published yet
  kLapped,      // the writer overwrote it before we looked; `missed` frames lost, resume at `next`
  kTorn,        // (from valid()/read after use) overwritten while we looked
  kWriterGone,  // writer closed or died; keep calling to notice a new writer
  kEpochChanged,  // a new writer replaced the ring; the reader re-attached, resume at `next`
};
const char* to_string(ReadStatus status);

struct FrameView {
  const std::byte* data = nullptr;
  std::size_t bytes = 0;
  std::uint64_t frame_no = 0;
  std::uint64_t seq = 0;
  std::int64_t pts_ns = 0;
  std::uint64_t capture_realtime_ns = 0;
  std::uint64_t publish_realtime_ns = 0;
  std::uint64_t publish_monotonic_ns = 0;
  std::uint32_t flags = 0;
  std::uint32_t slot = 0;
};

struct ReadResult {
  ReadStatus status = ReadStatus::kNotYet;
  FrameView frame;           // valid when status == kOk
  std::uint64_t missed = 0;  // frames lost (kLapped)
  std::uint64_t next = 0;    // frame number to ask for next
};

struct ReaderOptions {
  // A writer whose heartbeat is older than this is probed (flock) for liveness.
  std::chrono::milliseconds stale_after{300};
  // When not empty, a segment owned by any other uid is refused (kPermission) before it is
  // mapped: its owner could truncate it under the mapping. Empty: any owner (a group-readable
  // ring of another user is a supported setup).
  std::vector<uid_t> owners;
};

class Reader {
 public:
  // Maps the ring PROT_READ after validating its header against the file size.
  // Throws RingError: kNotFound (no such ring), kBadHeader (not a valid ring: says why),
  // kPermission (mode forbids reading).
  static Reader attach(const std::string& name, ReaderOptions options = {});

  Reader(Reader&&) noexcept;
  Reader& operator=(Reader&&) noexcept;
  ~Reader();

  // Frame `frame_no`, in place. Never blocks.
  ReadResult read(std::uint64_t frame_no);
  // The newest committed frame (kNotYet when none).
  ReadResult latest();
  // Blocks (futex on the cursor) until `frame_no` is committed or `timeout` passes. While the
  // writer is gone it keeps looking for a successor and returns kEpochChanged when one appears,
  // kWriterGone only at the timeout.
  ReadResult wait_next(std::uint64_t frame_no, std::chrono::nanoseconds timeout);
  // Re-checks the seqlock after the caller used frame.data: false means TORN.
  bool valid(const FrameView& frame) const;

  std::uint64_t cursor() const;  // frames published so far
  bool writer_alive();           // LIVE, and heartbeat fresh or flock still held
  const RingInfo& info() const;
  uid_t owner() const;  // the segment's owner
  std::string name() const;
  std::span<const std::byte> mapping() const;  // the whole read-only mapping
  // Slot table entry k as the reader sees it right now (for stat; not seqlock-checked).
  FrameView peek_slot(std::uint32_t k) const;
  // The writer's state word; a value outside the enum (a corrupt or newer segment) is passed
  // through as it is, for the caller to show as invalid.
  State state() const;
  std::uint64_t heartbeat_ns() const;

 private:
  struct Impl;
  explicit Reader(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

std::uint64_t monotonic_ns();
std::uint64_t realtime_ns();

}  // namespace framering::ring
