#include "framering/workers/frame_mat.hpp"

#include <climits>

#include "framering/workers/config_error.hpp"

namespace framering::workers {

namespace {

int cv_depth(const std::string& typestr) {
  if (typestr == "|u1") return CV_8U;
  if (typestr == "|i1") return CV_8S;
  if (typestr == "<u2") return CV_16U;
  if (typestr == "<i2") return CV_16S;
  if (typestr == "<i4") return CV_32S;
  if (typestr == "<f4") return CV_32F;
  if (typestr == "<f8") return CV_64F;
  return -1;
}

}  // namespace

MatLayout mat_layout(const ring::Geometry& g) {
  const int depth = cv_depth(g.typestr);
  if (depth < 0) {
    throw ConfigError("ring geometry " + g.describe() + ": dtype " + g.typestr +
                      " has no OpenCV equivalent; workers read |u1 |i1 <u2 <i2 <i4 <f4 <f8");
  }
  const std::size_t nd = g.shape.size();
  std::uint64_t rows = 1, cols = 1, channels = 1;
  if (nd == 1) {
    cols = g.shape[0];
  } else if (nd == 2) {
    rows = g.shape[0];
    cols = g.shape[1];
  } else if (nd >= 3) {
    for (std::size_t i = 0; i + 2 < nd; ++i) rows *= g.shape[i];
    cols = g.shape[nd - 2];
    channels = g.shape[nd - 1];
    if (channels > CV_CN_MAX) {  // e.g. a volume {depth, h, w}: view it as (depth*h) x w
      rows *= cols;
      cols = channels;
      channels = 1;
    }
  }
  if (rows == 0 || cols == 0 || rows > INT_MAX || cols > INT_MAX) {
    throw ConfigError("ring geometry " + g.describe() + ": too large or empty for a cv::Mat view");
  }
  MatLayout m;
  m.rows = static_cast<int>(rows);
  m.cols = static_cast<int>(cols);
  m.type = CV_MAKETYPE(depth, static_cast<int>(channels));
  m.step = static_cast<std::size_t>(cols * channels * g.item_bytes());
  return m;
}

cv::Mat view_frame(const ring::FrameView& frame, const MatLayout& layout) {
  return cv::Mat(layout.rows, layout.cols, layout.type,
                 const_cast<std::byte*>(frame.data),  // NOLINT: read-only mapping, see header
                 layout.step);
}

cv::Rect band_rect(cv::Size frame, std::uint32_t index, std::uint32_t count) {
  const auto h = static_cast<std::int64_t>(frame.height);
  const auto y0 = static_cast<int>(h * index / count);
  const auto y1 = static_cast<int>(h * (index + 1) / count);
  return {0, y0, frame.width, y1 - y0};
}

}  // namespace framering::workers
