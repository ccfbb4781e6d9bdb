#include "framering/metrics/yuv_picture.hpp"

#include <opencv2/imgproc.hpp>

#include "framering/ringbuf/geometry.hpp"

namespace framering::metrics {

cv::Mat luma_plane(const cv::Mat& frame, ring::PixFmt fmt) {
  if (!ring::is_yuv420(fmt)) return frame;
  return frame.rowRange(0, frame.rows * 2 / 3);
}

cv::Size picture_size(const cv::Mat& frame, ring::PixFmt fmt) {
  if (!ring::is_yuv420(fmt)) return frame.size();
  return {frame.cols, frame.rows * 2 / 3};
}

std::size_t yuv_to_bgr(const cv::Mat& frame, ring::PixFmt fmt, cv::Mat& bgr) {
  if (!ring::is_yuv420(fmt)) return 0;
  cv::cvtColor(frame, bgr,
               fmt == ring::PixFmt::kNv12 ? cv::COLOR_YUV2BGR_NV12 : cv::COLOR_YUV2BGR_I420);
  return bgr.total() * bgr.elemSize();
}

}  // namespace framering::metrics
