// A cv::Mat header over a ring slot: no copy, no allocation. The Mat does not own the data; it
// is valid only while the Reader's mapping of that epoch lives and the seqlock says so.
#pragma once

#include <opencv2/core.hpp>

#include <cstdint>

#include "framering/ringbuf/geometry.hpp"
#include "framering/ringbuf/reader.hpp"

namespace framering::workers {

struct MatLayout {
  int rows = 0;
  int cols = 0;
  int type = 0;          // CV_MAKETYPE(depth, channels)
  std::size_t step = 0;  // bytes per row
};

// How a frame of this geometry is viewed as a 2-D Mat: leading dims are rows, the next is
// columns, the last is channels ({h, w, c}); 1-D and 2-D shapes get one channel.
// Throws ConfigError when the dtype has no OpenCV depth or the shape does not fit an int.
MatLayout mat_layout(const ring::Geometry& geometry);

// Header over frame.data (const_cast only because cv::Mat has no const-data constructor; the
// mapping is PROT_READ, so a write would fault rather than corrupt the ring).
cv::Mat view_frame(const ring::FrameView& frame, const MatLayout& layout);

// Rows [y0, y1) of band `index` of `count` horizontal bands of a frame `rows` high.
cv::Rect band_rect(cv::Size frame, std::uint32_t index, std::uint32_t count);

}  // namespace framering::workers
