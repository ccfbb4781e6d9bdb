#include "framering/workers/analytic.hpp"

#include <opencv2/imgproc.hpp>

#include <cmath>
#include <map>
#include <mutex>

#include "analytics/analytics.hpp"
#include "framering/metrics/yuv_picture.hpp"
#include "framering/ringbuf/geometry.hpp"
#include "framering/workers/config_error.hpp"

namespace framering::workers {

namespace {

struct Registered {
  std::mutex mutex;
  std::map<std::string, AnalyticFactory> factories;
};

Registered& registered() {
  static Registered r;
  return r;
}

AnalyticFactory registered_factory(const std::string& name) {
  Registered& r = registered();
  const std::lock_guard lock(r.mutex);
  const auto it = r.factories.find(name);
  return it == r.factories.end() ? AnalyticFactory() : it->second;
}

}  // namespace

void register_analytic(const std::string& name, AnalyticFactory factory) {
  Registered& r = registered();
  const std::lock_guard lock(r.mutex);
  r.factories[name] = std::move(factory);
}

const std::vector<std::string>& analytic_names() {
  static const std::vector<std::string> names = {"motion", "people", "objects", "tamper",
                                                 "checksum"};
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
  else if (name == "objects")
    a = analytics::make_objects(params);
  else if (name == "tamper")
    a = analytics::make_tamper(params);
  else if (const AnalyticFactory factory = registered_factory(name))
    a = factory(params);
  else
    throw ConfigError("--analytic " + name +
                      ": unknown analytic; choose motion, people, objects, tamper or checksum");
  params.reject_unknown(name);
  return a;
}

namespace analytics {

void require_8bit_image(const StreamInfo& stream, const char* analytic) {
  const int ch = CV_MAT_CN(stream.cv_type);
  if (CV_MAT_DEPTH(stream.cv_type) != CV_8U || (ch != 1 && ch != 3 && ch != 4)) {
    throw ConfigError(std::string("--analytic ") + analytic + " needs an 8-bit image ring (" +
                      ring::pix_fmt_choices() + "); this ring holds " +
                      cv::typeToString(stream.cv_type) +
                      " frames: ingest with --pix-fmt bgr24, or use --analytic checksum");
  }
}

// Not a copy of the frame in the sense of framering_bytes_copied_total: the resized and the
// converted images are derived images (other size or other pixel format) that the analysis
// needs anyway; a grey frame that needs neither is used in place.
cv::Mat small_grey(const cv::Mat& slot, ring::PixFmt fmt, int max_width, cv::Mat& tmp,
                   cv::Mat& grey, double& factor) {
  factor = 1.0;
  // yuv420p/nv12: the Y plane (the first H rows) is the grey picture, in place.
  const cv::Mat frame = metrics::luma_plane(slot, fmt);
  cv::Mat src = frame;
  if (frame.cols > max_width) {
    factor = static_cast<double>(frame.cols) / max_width;
    const int h = std::max(1, static_cast<int>(std::lround(frame.rows / factor)));
    cv::resize(frame, tmp, cv::Size(max_width, h), 0, 0, cv::INTER_AREA);
    src = tmp;
  }
  switch (src.channels()) {
    case 3:
      cv::cvtColor(src, grey,
                   fmt == ring::PixFmt::kRgb24 ? cv::COLOR_RGB2GRAY : cv::COLOR_BGR2GRAY);
      return grey;
    case 4:
      cv::cvtColor(src, grey, cv::COLOR_BGRA2GRAY);
      return grey;
    default:
      return src;  // grey already: the slot itself (read-only) or the downscaled `tmp`
  }
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
