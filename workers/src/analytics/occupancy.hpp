// Turns a per-frame count (people in view, objects of a class in a zone, ...) into one
// lifecycle: start once something was seen `start_frames` frames in a row, update when the
// count changes, end after `end_frames` frames in a row with nothing (the cooldown). A plain
// value: analytics keep it in their staged/committed state.
#pragma once

#include <cstddef>
#include <optional>

#include "framering/workers/event.hpp"

namespace framering::workers::analytics {

class Occupancy {
 public:
  Occupancy(int start_frames, int end_frames)
      : start_frames_(start_frames), end_frames_(end_frames) {}

  // The phase to report for this frame's `count`, if any.
  std::optional<Phase> step(std::size_t count) {
    run_on_ = count > 0 ? run_on_ + 1 : 0;
    run_off_ = count > 0 ? 0 : run_off_ + 1;
    if (!active_) {
      if (run_on_ < start_frames_) return std::nullopt;
      active_ = true;
      count_ = max_ = count;
      return Phase::kStart;
    }
    if (run_off_ >= end_frames_) {
      active_ = false;
      count_ = 0;
      return Phase::kEnd;
    }
    if (count == 0 || count == count_) return std::nullopt;  // a gap shorter than the cooldown
    count_ = count;
    if (count > max_) max_ = count;
    return Phase::kUpdate;
  }

  bool active() const { return active_; }
  std::size_t count() const { return count_; }    // last reported count
  std::size_t max_count() const { return max_; }  // largest count of this lifecycle

 private:
  int start_frames_;
  int end_frames_;
  int run_on_ = 0;
  int run_off_ = 0;
  bool active_ = false;
  std::size_t count_ = 0;
  std::size_t max_ = 0;
};

}  // namespace framering::workers::analytics
