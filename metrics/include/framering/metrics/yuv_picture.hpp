// Pictures of 4:2:0 frames. A yuv420p or nv12 ring holds each frame as its stacked planes, one
// (H * 3 / 2, W) byte array (docs/ring-format.md §4); whatever needs colour pixels (a JPEG, a
// detector's input) converts them into a buffer of its own, and that conversion writes a whole
// picture, so its bytes count as copied. Grey analyses need no conversion: the Y plane is the
// first H rows, used in place.
#pragma once

#include <opencv2/core.hpp>

#include <cstddef>

#include "framering/ringbuf/layout.hpp"

namespace framering::metrics {

// The Y plane of a yuv420p/nv12 frame: a header over its first H rows (no copy). Any other
// format: the frame itself.
cv::Mat luma_plane(const cv::Mat& frame, ring::PixFmt fmt);

// The picture's size: W x H for a yuv420p/nv12 frame of (H * 3 / 2, W), else the Mat's size.
cv::Size picture_size(const cv::Mat& frame, ring::PixFmt fmt);

// Converts a yuv420p/nv12 frame (BT.601, limited range, as OpenCV's YUV2BGR does) into `bgr`
// (W x H, CV_8UC3, reallocated only when the size changes) and returns the bytes written.
// Frames of other formats are not touched (returns 0).
std::size_t yuv_to_bgr(const cv::Mat& frame, ring::PixFmt fmt, cv::Mat& bgr);

}  // namespace framering::metrics
