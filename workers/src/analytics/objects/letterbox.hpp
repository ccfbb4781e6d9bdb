// Where a frame lands inside a detector's input image, and the way back. Written once so the
// blob, the decoders and the tests agree on the arithmetic.
//
//   letterbox (keep aspect):  scale s = min(in.w / f.w, in.h / f.h); the frame becomes a
//                             round(f.w*s) x round(f.h*s) picture centred in the input, the rest
//                             is padding (pad = floor((in - content) / 2) on each axis).
//   stretch (no letterbox):   the frame is resized to the whole input; x and y scale apart.
//
// An input point p maps back to the frame as (p - pad) * f / content on each axis, using the
// content size actually drawn (after rounding), so the inverse is exact for the pixels drawn.
#pragma once

#include <opencv2/core.hpp>

namespace framering::workers::analytics::objects {

struct Letterbox {
  cv::Size frame;
  cv::Size input;
  cv::Rect content;  // where the frame's pixels are drawn inside the input

  static Letterbox fit(cv::Size frame, cv::Size input, bool keep_aspect);

  // A box in input pixels (x1, y1, x2, y2 as a Rect2d) → frame pixels, clipped to the frame.
  cv::Rect2d to_frame(const cv::Rect2d& input_box) const;
  // The same box with each edge rounded to the nearest frame pixel (what events carry).
  cv::Rect to_frame_pixels(const cv::Rect2d& input_box) const;
};

}  // namespace framering::workers::analytics::objects
