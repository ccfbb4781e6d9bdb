// The single writer of a ring. The producer claims a slot, writes the payload straight into it
// (sws_scale, a memcpy from a file, ...), and then either publishes or aborts it; the writer never
// waits for readers.
//
//   auto writer = Writer::create({.name = "cam0", .geometry = Geometry::image(640, 480, kBgr24)});
//   auto slot = writer.claim();
//   if (fill(slot.payload())) writer.publish(std::move(slot));
//   else writer.abort(std::move(slot));
//
// The contract is checked, not only documented: one claim at a time (a second claim while a Slot
// is outstanding throws std::logic_error), publish/abort accept only this writer's outstanding
// Slot, and a Slot destroyed unpublished aborts itself. An abort leaves the slot's seq odd and
// the cursor where it was (docs/ring-format.md §5): readers are never offered the frame number,
// a reader still holding the slot's previous frame sees TORN, and the next claim rewrites it.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>

#include "framering/ringbuf/header.hpp"

namespace framering::ring {

struct WriterOptions {
  std::string name;
  Geometry geometry;
  std::uint32_t slots = 8;
  mode_t mode = 0600;             // file mode of the segment, applied exactly (not via umask)
  std::optional<gid_t> group;     // chgrp the segment (to share with a group of readers)
  bool keep_on_close = false;     // leave the segment in /dev/shm after close (for inspection)
  int heartbeat_period_ms = 100;  // writer liveness tick readers check
};

class Writer {
  struct Impl;

 public:
  // A claimed slot: move-only; the payload is writable until the Slot is handed to publish() or
  // abort(). Dropping it unpublished aborts it (counted in frames_aborted()). A Slot must not
  // outlive its Writer; closing the Writer first detaches the Slot and counts it aborted.
  class Slot {
   public:
    Slot(Slot&& other) noexcept;
    Slot& operator=(Slot&& other) noexcept;
    Slot(const Slot&) = delete;
    Slot& operator=(const Slot&) = delete;
    ~Slot() {
      if (owner_) release();  // inline: a published Slot costs no call here
    }

    // False once published, aborted, moved from, or detached by the Writer's close().
    bool outstanding() const { return owner_ != nullptr; }
    std::span<std::byte> payload() const { return payload_; }
    std::uint64_t frame_no() const { return frame_no_; }
    std::int64_t pts_ns = 0;
    std::uint64_t capture_realtime_ns = 0;  // 0: publish() fills in the claim time
    std::uint32_t flags = 0;

   private:
    friend class Writer;
    friend struct Impl;
    Slot(Impl* owner, std::span<std::byte> payload, std::uint64_t frame_no, std::uint64_t claim_ns);
    void release();  // aborts if still outstanding
    Impl* owner_ = nullptr;
    std::span<std::byte> payload_;
    std::uint64_t frame_no_ = 0;
    std::uint64_t claim_realtime_ns_ = 0;
  };

  // Creates the ring (temp name + rename, posix_fallocate, explicit mode, exclusive flock, new
  // random epoch). A segment whose writer died is replaced; one with a live writer is refused
  // with RingError(kLiveWriter). Throws RingError with an actionable message on any failure.
  static Writer create(const WriterOptions& options);

  Writer(Writer&&) noexcept;
  Writer& operator=(Writer&&) noexcept;
  ~Writer();

  // Marks the next slot as being written (seq odd) and returns its payload. At most one claimed
  // slot at a time: claiming while a Slot is outstanding throws std::logic_error.
  [[nodiscard]] Slot claim();
  // Commits the slot (seq even), advances the cursor and wakes waiting readers. Throws
  // std::logic_error for a Slot that is not this writer's outstanding claim.
  void publish(Slot&& slot);
  // Gives the slot up unpublished (the payload could not be produced): its seq stays odd, the
  // cursor does not move, and the next claim reuses the frame number. Counted in frames_aborted().
  // Same ownership check as publish().
  void abort(Slot&& slot);
  // Claims aborted so far, explicitly or by dropping a Slot.
  std::uint64_t frames_aborted() const;
  // Sets CLOSED, wakes readers, unlinks the segment unless keep_on_close. Idempotent.
  void close();

  const RingInfo& info() const;
  std::uint64_t cursor() const;  // frames published so far
  std::string path() const;
  std::span<const std::byte> mapping() const;

 private:
  explicit Writer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace framering::ring
