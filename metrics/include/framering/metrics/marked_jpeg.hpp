// JPEG of a frame with boxes and outlines drawn on it, encoded from the frame's memory in place
// (a ring slot mapped read-only): rows that nothing is drawn on go to the encoder straight from
// the slot (libjpeg-turbo's scanline API); only rows a mark crosses are copied into a one-row
// buffer and drawn on there. Shared by worker snapshots and the ingest's /preview.jpg.
//
//   MarkedJpegEncoder enc;
//   std::string jpeg, error;
//   std::size_t copied = 0;
//   if (enc.encode(frame, ring::PixFmt::kBgr24, marks, 85, jpeg, copied, error)) ...
#pragma once

#include <opencv2/core.hpp>

#include <cstddef>
#include <string>
#include <vector>

#include "framering/ringbuf/layout.hpp"

namespace framering::metrics {

// What is drawn, in the frame's pixels.
struct JpegMarks {
  std::vector<cv::Rect> boxes;                   // red (white on grey frames)
  std::vector<std::vector<cv::Point>> outlines;  // yellow (light grey on grey frames)
};

class MarkedJpegEncoder {
 public:
  // Encodes an 8-bit frame with 1, 3 or 4 channels (`fmt` tells RGB from BGR order), or the
  // stacked planes of a yuv420p/nv12 frame (converted to BGR first, into a buffer of its own),
  // into `jpeg`. `bytes_copied` receives the payload bytes copied (the row buffer, the BGR
  // conversion). Returns false with
  // `error` set when the frame's type cannot be encoded or the encoder fails.
  bool encode(const cv::Mat& frame, ring::PixFmt fmt, const JpegMarks& marks, int quality,
              std::string& jpeg, std::size_t& bytes_copied, std::string& error);

 private:
  cv::Mat mask_;  // which pixels are drawn on: 0 none, 1 box, 2 outline (derived, not a copy)
  cv::Mat bgr_;   // a 4:2:0 frame converted for the encoder
  std::vector<unsigned char> row_;
};

}  // namespace framering::metrics
