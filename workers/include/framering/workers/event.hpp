// What an analytic sees about a frame besides its pixels, and what it reports back.
#pragma once

#include <nlohmann/json.hpp>
#include <opencv2/core.hpp>

#include <cstdint>
#include <string>
#include <vector>

#include "framering/ringbuf/layout.hpp"

namespace framering::workers {

// The ring's stream as an analytic sees it; analytics (re)build their state from this at
// start-up and whenever a new writer replaces the ring (its geometry may differ).
struct StreamInfo {
  cv::Size ring_size;  // full frame, ring pixels
  cv::Rect band;       // the part this worker analyses (the whole frame unless --tiles)
  int cv_type = 0;     // CV_8UC3, CV_8UC1, ... of the frame view
  ring::PixFmt pix_fmt = ring::PixFmt::kRaw;
  double fps = 0.0;  // nominal rate, 0 when unknown
};

struct FrameContext {
  std::uint64_t frame_no = 0;
  std::uint64_t seq = 0;
  std::int64_t pts_ns = 0;
  std::uint64_t capture_realtime_ns = 0;
};

// One event. Boxes are in pixels of the analysed view (the band); the runtime moves them into
// ring pixels before writing.
struct Event {
  std::string kind;
  std::vector<cv::Rect> boxes;
  std::vector<double> scores;
  nlohmann::json fields = nlohmann::json::object();  // analytic-specific ("crc32", "reason", ...)
};

}  // namespace framering::workers
