// `people`: OpenCV's default HOG people detector, grouped by OpenCV and then thinned by
// non-maximum suppression. Detects on the ring view itself when it is no wider than max_width
// (no copy at all); otherwise on a private downscaled copy. A yuv420p/nv12 frame is converted to
// BGR into a buffer of its own first (counted as copied). Boxes are reported in ring pixels.
// Events are an occupancy lifecycle (occupancy.hpp): start when people are in view, update when
// their count changes, end after `end_frames` frames without anyone; each frame's detections are
// a measurement (debug log).
#include <opencv2/imgproc.hpp>
#include <opencv2/objdetect.hpp>

#include "analytics.hpp"
#include "framering/ingest/ingest.hpp"
#include "framering/metrics/yuv_picture.hpp"
#include "framering/workers/config_error.hpp"
#include "nms.hpp"
#include "occupancy.hpp"

namespace framering::workers::analytics {

namespace {

class People final : public Analytic {
 public:
  explicit People(Params& p)
      : scale_(p.number("scale", 1.05, 1.01, 2.0)),
        stride_(p.integer("stride", 8, 8, 64)),
        // No ring frame is wider than the ingest's limit, so neither is a useful max_width.
        max_width_(p.integer("max_width", 800, 64, static_cast<int>(ingest::kMaxDimension))),
        hit_threshold_(p.number("hit_threshold", 0.0, -10.0, 10.0)),
        group_threshold_(p.integer("group_threshold", 2, 0, 20)),
        nms_iou_(p.number("nms_iou", 0.45, 0.0, 1.0)),
        min_score_(p.number("min_score", 0.0, -10.0, 100.0)),
        occupancy_(p.integer("start_frames", 2, 1, 10000), p.integer("end_frames", 10, 1, 100000)) {
    // HOG's window stride must be a multiple of its 8-pixel block stride.
    if (stride_ % 8 != 0) {
      throw ConfigError("--param stride=" + std::to_string(stride_) +
                        ": must be a multiple of 8 (8, 16, 24, ...)");
    }
    hog_.setSVMDetector(cv::HOGDescriptor::getDefaultPeopleDetector());
  }

  void configure(const StreamInfo& stream) override {
    require_8bit_image(stream, "people");
    band_size_ = stream.band.size();
    pix_fmt_ = stream.pix_fmt;
    committed_ = staged_ = occupancy_;
  }

  void analyse(const cv::Mat& slot, const FrameContext&, std::vector<Event>& events) override {
    // A 4:2:0 frame becomes BGR in a buffer of our own first: HOG wants the picture's colours.
    copied_ = metrics::yuv_to_bgr(slot, pix_fmt_, bgr_);
    const cv::Mat& frame = copied_ ? bgr_ : slot;
    cv::Mat img = frame;
    double factor = 1.0;
    if (frame.cols > max_width_) {
      factor = static_cast<double>(frame.cols) / max_width_;
      cv::resize(frame, small_,
                 cv::Size(max_width_, std::max(1, static_cast<int>(frame.rows / factor))), 0, 0,
                 cv::INTER_AREA);
      img = small_;
    }
    found_.clear();
    weights_.clear();
    if (img.rows >= hog_.winSize.height && img.cols >= hog_.winSize.width) {
      hog_.detectMultiScale(img, found_, weights_, hit_threshold_, cv::Size(stride_, stride_),
                            cv::Size(), scale_, group_threshold_, false);
    }
    Event e;
    e.kind = "people";
    for (int i : nms(found_, weights_, nms_iou_)) {
      if (weights_[i] < min_score_) continue;
      const cv::Rect box = to_frame(found_[i], factor, band_size_);
      if (box.area() == 0) continue;
      e.boxes.push_back(box);
      e.scores.push_back(weights_[i]);
    }
    e.fields["count"] = e.boxes.size();
    staged_ = committed_;
    const std::optional<Phase> phase = staged_.step(e.boxes.size());
    if (phase) {
      Event life = e;
      life.phase = *phase;
      if (*phase == Phase::kEnd) life.fields["max_count"] = committed_.max_count();
      events.push_back(std::move(life));
    }
    e.phase = Phase::kMeasurement;
    events.push_back(std::move(e));
  }

  void commit() override { committed_ = staged_; }
  std::size_t bytes_copied() const override { return copied_; }

 private:
  double scale_;
  int stride_;
  int max_width_;
  double hit_threshold_;
  int group_threshold_;
  double nms_iou_;
  double min_score_;
  Occupancy occupancy_;  // the initial state
  Occupancy committed_ = occupancy_, staged_ = occupancy_;
  cv::HOGDescriptor hog_;
  cv::Size band_size_;
  ring::PixFmt pix_fmt_ = ring::PixFmt::kRaw;
  cv::Mat bgr_;  // a 4:2:0 frame converted
  std::size_t copied_ = 0;
  cv::Mat small_;
  std::vector<cv::Rect> found_;
  std::vector<double> weights_;
};

}  // namespace

std::unique_ptr<Analytic> make_people(Params& params) {
  return std::make_unique<People>(params);
}

}  // namespace framering::workers::analytics
