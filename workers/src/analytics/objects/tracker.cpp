#include "tracker.hpp"

#include <algorithm>
#include <tuple>

namespace framering::workers::analytics::objects {

namespace {

double rect_iou(const cv::Rect& a, const cv::Rect& b) {
  const double inter = (a & b).area();
  const double uni = static_cast<double>(a.area()) + b.area() - inter;
  return uni > 0 ? inter / uni : 0.0;
}

}  // namespace

Tracker::Update Tracker::update(const std::vector<TrackedBox>& detections) {
  // Every candidate pair above the threshold, best overlap first.
  std::vector<std::tuple<double, std::size_t, std::size_t>> pairs;  // iou, track, detection
  for (std::size_t t = 0; t < tracks_.size(); ++t) {
    for (std::size_t d = 0; d < detections.size(); ++d) {
      if (tracks_[t].last.class_id != detections[d].class_id) continue;
      const double v = rect_iou(tracks_[t].last.box, detections[d].box);
      if (v >= min_iou_) pairs.emplace_back(v, t, d);
    }
  }
  std::stable_sort(pairs.begin(), pairs.end(),
                   [](const auto& a, const auto& b) { return std::get<0>(a) > std::get<0>(b); });

  constexpr std::size_t kNone = static_cast<std::size_t>(-1);
  std::vector<std::size_t> det_track(detections.size(), kNone);
  std::vector<bool> track_taken(tracks_.size(), false);
  for (const auto& [v, t, d] : pairs) {
    if (track_taken[t] || det_track[d] != kNone) continue;
    track_taken[t] = true;
    det_track[d] = t;
  }

  std::vector<Track> next;
  Update u;
  u.track_of.assign(detections.size(), kNone);
  std::vector<std::size_t> new_index(tracks_.size(), kNone);
  for (std::size_t t = 0; t < tracks_.size(); ++t) {
    Track tr = tracks_[t];
    if (!track_taken[t] && ++tr.missed > max_missed_) {
      u.ended.push_back(std::move(tr));
      continue;
    }
    new_index[t] = next.size();
    next.push_back(std::move(tr));
  }
  for (std::size_t d = 0; d < detections.size(); ++d) {
    if (det_track[d] != kNone) {
      Track& tr = next[new_index[det_track[d]]];
      tr.last = detections[d];
      tr.missed = 0;
      ++tr.hits;
      u.track_of[d] = new_index[det_track[d]];
    } else {
      Track tr;
      tr.id = next_id_++;
      tr.last = detections[d];
      tr.hits = 1;
      u.track_of[d] = next.size();
      next.push_back(std::move(tr));
    }
  }
  tracks_ = std::move(next);
  return u;
}

}  // namespace framering::workers::analytics::objects
