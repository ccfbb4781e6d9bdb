#include "framering/workers/analytic.hpp"

#include <opencv2/imgproc.hpp>

#include <cmath>

#include "analytics/analytics.hpp"
#include "framering/workers/config_error.hpp"

namespace framering::workers {

const std::vector<std::string>& analytic_names() {
  static const std::vector<std::string> names = {"motion", "people", "tamper", "checksum"};
  return names;
}

std::unique_ptr<Analytic> make_analytic(const std::string& name, Params params) {
  std::unique_ptr<Analytic> a;
  if (name == "checksum")
    a = analytics::make_checksum(params);
  else if (name == "motion")
    a = analytics::make_motion(params);
  else if (name == "people")
    a = analytics::make_people(params);
  else if (name == "tamper")
    a = analytics::make_tamper(params);
  else
    throw ConfigError("--analytic " + name +
                      ": unknown analytic; choose motion, people, tamper or checksum");
  params.reject_unknown(name);
  return a;
}

namespace analytics {

void require_8bit_image(const StreamInfo& stream, const char* analytic) {
  const int ch = CV_MAT_CN(stream.cv_type);
  if (CV_MAT_DEPTH(stream.cv_type) != CV_8U || (ch != 1 && ch != 3 && ch != 4)) {
    throw ConfigError(std::string("--analytic ") + analytic +
                      " needs an 8-bit image ring (bgr24, rgb24 or gray8); this ring holds " +
                      cv::typeToString(stream.cv_type) +
                      " frames: ingest with --pix-fmt bgr24, or use --analytic checksum");
  }
}

double small_grey(const cv::Mat& frame, ring::PixFmt fmt, int max_width, cv::Mat& tmp,
                  cv::Mat& out) {
  double factor = 1.0;
  cv::Mat src = frame;
  if (frame.cols > max_width) {
    factor = static_cast<double>(frame.cols) / max_width;
    const int h = std::max(1, static_cast<int>(std::lround(frame.rows / factor)));
    cv::resize(frame, tmp, cv::Size(max_width, h), 0, 0, cv::INTER_AREA);
    src = tmp;
  }
  switch (src.channels()) {
    case 3:
      cv::cvtColor(src, out, fmt == ring::PixFmt::kRgb24 ? cv::COLOR_RGB2GRAY : cv::COLOR_BGR2GRAY);
      break;
    case 4:
      cv::cvtColor(src, out, cv::COLOR_BGRA2GRAY);
      break;
    default:
      src.copyTo(out);
      break;  // grey already: the private copy is the small image only
  }
  return factor;
}

cv::Rect to_frame(const cv::Rect& box, double factor, cv::Size bounds) {
  const cv::Rect scaled(static_cast<int>(std::floor(box.x * factor)),
                        static_cast<int>(std::floor(box.y * factor)),
                        static_cast<int>(std::ceil(box.width * factor)),
                        static_cast<int>(std::ceil(box.height * factor)));
  return scaled & cv::Rect(0, 0, bounds.width, bounds.height);
}

}  // namespace analytics

}  // namespace framering::workers
