// `tamper`: camera covered (dark or featureless), defocused (sharpness far below its learned
// baseline) or moved (the scene shifted against a slowly learned reference), all measured on a
// small grey image. A condition must persist `persist` frames to start and to end; each start
// and end is one "tamper" event (lifecycle subject: the reason) with the measurements.
#include <opencv2/imgproc.hpp>

#include <array>
#include <cmath>

#include "analytics.hpp"

namespace framering::workers::analytics {

namespace {

enum Reason { kCovered = 0, kDefocused = 1, kMoved = 2, kReasons = 3 };
constexpr std::array<const char*, kReasons> kReasonNames = {"covered", "defocused", "moved"};

class Tamper final : public Analytic {
 public:
  explicit Tamper(Params& p)
      : width_(p.integer("width", 160, 32, 2048)),
        dark_(p.number("dark", 20.0, 0.0, 255.0)),
        uniform_(p.number("uniform", 8.0, 0.0, 128.0)),
        blur_ratio_(p.number("blur_ratio", 0.3, 0.0, 1.0)),
        shift_(p.number("shift", 0.05, 0.0, 1.0)),
        persist_(p.integer("persist", 5, 1, 100000)),
        warmup_(p.integer("warmup", 10, 1, 100000)),
        learn_(p.number("learn_rate", 0.02, 0.0, 1.0)) {}

  void configure(const StreamInfo& stream) override {
    require_8bit_image(stream, "tamper");
    stream_ = stream;
    committed_ = {};
    staged_ = {};
    reference_.release();
    staged_reference_.release();
  }

  void analyse(const cv::Mat& frame, const FrameContext&, std::vector<Event>& events) override {
    double factor = 1.0;
    const cv::Mat grey = small_grey(frame, stream_.pix_fmt, width_, tmp_, grey_, factor);
    cv::Scalar mean, stddev;
    cv::meanStdDev(grey, mean, stddev);
    cv::Laplacian(grey, lap_, CV_32F);
    cv::Scalar lap_mean, lap_sd;
    cv::meanStdDev(lap_, lap_mean, lap_sd);
    const double brightness = mean[0];
    const double sharpness = lap_sd[0] * lap_sd[0];
    grey.convertTo(grey_f_, CV_32F);  // a float image of the frame: derived, not a copy

    staged_ = committed_;
    State& s = staged_;
    ++s.seen;
    std::array<bool, kReasons> now{};
    now[kCovered] = brightness < dark_ || stddev[0] < uniform_;
    cv::Point2d shift(0, 0);
    if (!reference_.empty() && reference_.size() == grey_f_.size() && !now[kCovered]) {
      if (window_.size() != grey_f_.size())
        cv::createHanningWindow(window_, grey_f_.size(), CV_32F);
      shift = cv::phaseCorrelate(reference_, grey_f_, window_);
      now[kMoved] = std::hypot(shift.x, shift.y) > shift_ * grey_f_.cols;
    }
    const bool learned = s.seen > static_cast<std::uint64_t>(warmup_);
    now[kDefocused] = learned && !now[kCovered] && sharpness < blur_ratio_ * s.sharpness;
    if (!learned) now[kMoved] = false;

    bool rebase = false;  // a confirmed move: the new view becomes the reference
    for (int r = 0; r < kReasons; ++r) {
      s.run[r] = now[r] == s.active[r] ? 0 : s.run[r] + 1;
      if (s.run[r] < persist_) continue;
      s.active[r] = now[r];
      rebase = rebase || (r == kMoved && now[r]);
      s.run[r] = 0;
      Event e;
      e.kind = "tamper";
      e.phase = now[r] ? Phase::kStart : Phase::kEnd;
      e.subject = kReasonNames[r];
      e.fields["reason"] = kReasonNames[r];
      e.fields["brightness"] = brightness;
      e.fields["sharpness"] = sharpness;
      e.fields["baseline_sharpness"] = s.sharpness;
      e.fields["shift"] = {shift.x * factor, shift.y * factor};  // ring pixels
      events.push_back(std::move(e));
    }

    // Learn from frames that look normal: sharpness baseline (mean over the warm-up, then a slow
    // average) and the reference view the shift is measured against. A shifted frame must not
    // leak into the reference: phase correlation whitens the spectrum, so even a faint copy of
    // the shifted view in the reference would win the correlation and hide the move.
    const bool covered = now[kCovered] || s.active[kCovered];
    if (!covered && !now[kDefocused] && !s.active[kDefocused] && !now[kMoved]) {
      const double rate = learned ? learn_ : 1.0 / static_cast<double>(s.seen);
      s.sharpness += rate * (sharpness - s.sharpness);
    }
    // The reference is learned state in float, not frame payload: copying it is no frame copy.
    if (rebase || reference_.empty() || reference_.size() != grey_f_.size()) {
      grey_f_.copyTo(staged_reference_);
    } else {
      reference_.copyTo(staged_reference_);
      if (!covered && !now[kMoved])
        cv::accumulateWeighted(grey_f_, staged_reference_, learned ? learn_ : 0.5);
    }
  }

  void commit() override {
    committed_ = staged_;
    cv::swap(reference_, staged_reference_);
  }

 private:
  struct State {
    std::uint64_t seen = 0;
    double sharpness = 0.0;  // learned Laplacian variance of the normal view
    std::array<bool, kReasons> active{};
    std::array<int, kReasons> run{};  // consecutive frames disagreeing with `active`
  };

  int width_;
  double dark_;
  double uniform_;
  double blur_ratio_;
  double shift_;
  int persist_;
  int warmup_;
  double learn_;
  StreamInfo stream_;
  cv::Mat tmp_, grey_, grey_f_, lap_, window_, reference_, staged_reference_;
  State committed_, staged_;
};

}  // namespace

std::unique_ptr<Analytic> make_tamper(Params& params) {
  return std::make_unique<Tamper>(params);
}

}  // namespace framering::workers::analytics
