// The single writer of a ring. The producer claims a slot, writes the payload straight into it
// (sws_scale, a memcpy from a file, ...), and publishes it; the writer never waits for readers.
//
//   auto writer = Writer::create({.name = "cam0", .geometry = Geometry::image(640, 480, kBgr24)});
//   auto slot = writer.claim();
//   fill(slot.payload());
//   writer.publish(std::move(slot));
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
 public:
  // A claimed slot: move-only; the payload is writable until it is published.
  class Slot {
   public:
    Slot(Slot&&) noexcept = default;
    Slot& operator=(Slot&&) noexcept = default;
    Slot(const Slot&) = delete;
    Slot& operator=(const Slot&) = delete;

    std::span<std::byte> payload() const { return payload_; }
    std::uint64_t frame_no() const { return frame_no_; }
    std::int64_t pts_ns = 0;
    std::uint64_t capture_realtime_ns = 0;  // 0: publish() fills in the claim time
    std::uint32_t flags = 0;

   private:
    friend class Writer;
    Slot(std::span<std::byte> payload, std::uint64_t frame_no, std::uint64_t claim_ns)
        : payload_(payload), frame_no_(frame_no), claim_realtime_ns_(claim_ns) {}
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
  // slot at a time: claiming again before publish() is a logic error.
  [[nodiscard]] Slot claim();
  // Commits the slot (seq even), advances the cursor and wakes waiting readers.
  void publish(Slot&& slot);
  // Sets CLOSED, wakes readers, unlinks the segment unless keep_on_close. Idempotent.
  void close();

  const RingInfo& info() const;
  std::uint64_t cursor() const;  // frames published so far
  std::string path() const;
  std::span<const std::byte> mapping() const;

 private:
  struct Impl;
  explicit Writer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace framering::ring
