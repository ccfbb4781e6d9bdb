// A small IoU tracker: an object keeps its id while its box in one analysed frame overlaps its
// box in the previous one. Greedy matching, best IoU first, only within one class. A track that
// finds no match for more than `max_missed` analysed frames ends.
//
// The tracker is a value (copyable): the analytic stages an updated copy per frame and adopts it
// only when the frame proves intact, like every other analytic state.
#pragma once

#include <opencv2/core.hpp>

#include <cstdint>
#include <vector>

namespace framering::workers::analytics::objects {

struct TrackedBox {
  int class_id = 0;
  float score = 0.0f;
  cv::Rect box;  // band pixels
};

struct Track {
  std::uint64_t id = 0;
  TrackedBox last;
  int missed = 0;                  // analysed frames in a row without a match
  std::uint64_t hits = 0;          // frames matched, the first one included
  std::vector<std::size_t> zones;  // zones its bottom centre is in (sorted), as last reported
};

class Tracker {
 public:
  Tracker(double min_iou, int max_missed) : min_iou_(min_iou), max_missed_(max_missed) {}

  struct Update {
    std::vector<std::size_t> track_of;  // per detection: index into tracks() after the update
    std::vector<Track> ended;           // tracks that ran out of misses this frame
  };
  Update update(const std::vector<TrackedBox>& detections);

  std::vector<Track>& tracks() { return tracks_; }
  const std::vector<Track>& tracks() const { return tracks_; }

 private:
  double min_iou_;
  int max_missed_;
  std::uint64_t next_id_ = 1;
  std::vector<Track> tracks_;
};

}  // namespace framering::workers::analytics::objects
