// Which frame a worker analyses next: follow mode (latest/every) x consumer-group share, over
// a ring::Reader. Counts what it had to let go (skipped by choice, lapped by the writer).
#pragma once

#include <chrono>
#include <cstdint>

#include "framering/ringbuf/reader.hpp"

namespace framering::workers {

enum class FollowMode {
  kLatest,  // always the newest frame of our share; older unread ones count as skipped
  kEvery,   // every frame of our share in order; frames the writer overwrote count as lapped
};

// Member `member` of `members` takes frame n iff n % members == member. With `tiles` every
// member takes every frame (and analyses its own band instead).
struct Share {
  std::uint32_t member = 0;
  std::uint32_t members = 1;
  bool tiles = false;

  bool mine(std::uint64_t n) const { return tiles || n % members == member; }
  std::uint64_t first_at_or_after(std::uint64_t n) const;
  // Largest frame of ours <= n; false when there is none.
  bool last_at_or_before(std::uint64_t n, std::uint64_t& out) const;
  // How many frames of ours lie in [from, to).
  std::uint64_t count(std::uint64_t from, std::uint64_t to) const;
};

struct FollowCounts {
  std::uint64_t skipped = 0;
  std::uint64_t lapped = 0;
  std::uint64_t torn =
      0;  // slot held an unexpected sequence when read (the runtime adds torn-after-use)
};

class Follower {
 public:
  enum class Kind {
    kFrame,         // `frame` is ready: analyse, then reader.valid(frame)
    kIdle,          // nothing new within the timeout
    kWriterGone,    // writer closed or died; keep calling next() to notice a new one
    kEpochChanged,  // a new writer replaced the ring; geometry may differ, old views are invalid
  };
  struct Step {
    Kind kind = Kind::kIdle;
    ring::FrameView frame;
  };

  Follower(ring::Reader& reader, FollowMode mode, Share share);

  Step next(std::chrono::nanoseconds timeout);
  // The next frame number this follower wants (reader position for stats and lag).
  std::uint64_t position() const { return pos_; }
  const FollowCounts& counts() const { return counts_; }

 private:
  void start_stream();
  Step latest(std::chrono::nanoseconds timeout);
  Step every(std::chrono::nanoseconds timeout);
  ring::Reader& reader_;
  FollowMode mode_;
  Share share_;
  std::uint64_t pos_ = 0;
  FollowCounts counts_;
};

}  // namespace framering::workers
