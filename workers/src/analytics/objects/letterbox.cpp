#include "letterbox.hpp"

#include <algorithm>
#include <cmath>

namespace framering::workers::analytics::objects {

Letterbox Letterbox::fit(cv::Size frame, cv::Size input, bool keep_aspect) {
  Letterbox lb{frame, input, cv::Rect(cv::Point(0, 0), input)};
  if (!keep_aspect || frame.width <= 0 || frame.height <= 0) return lb;
  const double s = std::min(static_cast<double>(input.width) / frame.width,
                            static_cast<double>(input.height) / frame.height);
  const int w = std::clamp(static_cast<int>(std::lround(frame.width * s)), 1, input.width);
  const int h = std::clamp(static_cast<int>(std::lround(frame.height * s)), 1, input.height);
  lb.content = cv::Rect((input.width - w) / 2, (input.height - h) / 2, w, h);
  return lb;
}

cv::Rect2d Letterbox::to_frame(const cv::Rect2d& b) const {
  const double sx = static_cast<double>(frame.width) / content.width;
  const double sy = static_cast<double>(frame.height) / content.height;
  auto fx = [&](double x) { return std::clamp((x - content.x) * sx, 0.0, 1.0 * frame.width); };
  auto fy = [&](double y) { return std::clamp((y - content.y) * sy, 0.0, 1.0 * frame.height); };
  const double x1 = fx(b.x), y1 = fy(b.y), x2 = fx(b.x + b.width), y2 = fy(b.y + b.height);
  return {x1, y1, x2 - x1, y2 - y1};
}

cv::Rect Letterbox::to_frame_pixels(const cv::Rect2d& input_box) const {
  const cv::Rect2d f = to_frame(input_box);
  const int x1 = static_cast<int>(std::lround(f.x));
  const int y1 = static_cast<int>(std::lround(f.y));
  const int x2 = static_cast<int>(std::lround(f.x + f.width));
  const int y2 = static_cast<int>(std::lround(f.y + f.height));
  return {x1, y1, x2 - x1, y2 - y1};
}

}  // namespace framering::workers::analytics::objects
