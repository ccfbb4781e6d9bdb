// `motion`: MOG2 background subtraction on a small grey image, restricted to optional polygon
// zones (`zone`) and blind to mask polygons (`mask`). A motion episode starts after
// `start_frames` frames with a moving blob of at least `min_area` ring pixels and ends after
// `end_frames` frames without one (or `cooldown` seconds at the stream's nominal rate). Events:
// kind "motion", start (boxes of that frame, the zones as outlines) and end (one box: the union
// of the episode). With named `zones`, both say which of them the motion lay in (`zone_names`).
#include <opencv2/imgproc.hpp>
#include <opencv2/video/background_segm.hpp>

#include <algorithm>
#include <cmath>
#include <sstream>

#include "analytics.hpp"
#include "framering/workers/config_error.hpp"
#include "objects/zones.hpp"

namespace framering::workers::analytics {

namespace {

using Polygon = std::vector<cv::Point2d>;
using objects::PlacedPolygons;

// "x,y;x,y;x,y" (fractions of width/height), several zones separated by '|'.
std::vector<Polygon> parse_zones(const std::string& text) {
  std::vector<Polygon> zones;
  if (text.empty()) return zones;
  std::stringstream all(text);
  std::string zone;
  while (std::getline(all, zone, '|')) {
    Polygon poly;
    std::stringstream pts(zone);
    std::string pt;
    while (std::getline(pts, pt, ';')) {
      double x = 0, y = 0;
      char comma = 0;
      std::stringstream ps(pt);
      if (!(ps >> x >> comma >> y) || comma != ',' || !(ps >> std::ws).eof() || x < 0 || x > 1 ||
          y < 0 || y > 1) {
        throw ConfigError(
            "--param zone=" + text + ": point '" + pt +
            "' is not x,y with fractions in [0, 1] (e.g. zone=0.1,0.1;0.9,0.1;0.9,0.9)");
      }
      poly.emplace_back(x, y);
    }
    if (poly.size() < 3) {
      throw ConfigError("--param zone=" + text +
                        ": a zone needs at least 3 points separated by ';'");
    }
    zones.push_back(std::move(poly));
  }
  return zones;
}

class Motion final : public Analytic {
 public:
  explicit Motion(Params& p)
      : width_(p.integer("width", 320, 32, 4096)),
        min_area_(p.number("min_area", 400.0, 0.0, 1e12)),
        history_(p.integer("history", 500, 1, 100000)),
        var_threshold_(p.number("var_threshold", 16.0, 1.0, 1000.0)),
        learning_rate_(p.number("learning_rate", -1.0, -1.0, 1.0)),
        start_frames_(p.integer("start_frames", 2, 1, 10000)),
        end_frames_(p.integer("end_frames", 10, 1, 100000)),
        cooldown_(p.number("cooldown", 0.0, 0.0, 86400.0)),
        warmup_(p.integer("warmup", 10, 0, 100000)),
        zones_(parse_zones(p.text("zone", ""))),
        masks_(objects::parse_polygons("mask", p.text("mask", ""), false)),
        named_zones_(objects::parse_polygons("zones", p.text("zones", ""), true)) {}

  void configure(const StreamInfo& stream) override {
    require_8bit_image(stream, "motion");
    stream_ = stream;
    end_after_ = end_frames_;
    if (cooldown_ > 0 && stream.fps > 0)
      end_after_ = std::max(1, static_cast<int>(std::ceil(cooldown_ * stream.fps)));
    outlines_.clear();
    for (const Polygon& zone : zones_) {
      std::vector<cv::Point> pts;
      for (const cv::Point2d& p : zone) {
        pts.emplace_back(
            static_cast<int>(std::lround(p.x * stream.ring_size.width)) - stream.band.x,
            static_cast<int>(std::lround(p.y * stream.ring_size.height)) - stream.band.y);
      }
      outlines_.push_back(std::move(pts));
    }
    placed_masks_ = PlacedPolygons(masks_, stream.ring_size, stream.band);
    placed_named_ = PlacedPolygons(named_zones_, stream.ring_size, stream.band);
    mog2_ = cv::createBackgroundSubtractorMOG2(history_, var_threshold_, false);
    committed_ = {};
    staged_ = {};
    mask_.release();
  }

  void analyse(const cv::Mat& frame, const FrameContext& ctx, std::vector<Event>& events) override {
    double factor = 1.0;
    const cv::Mat grey = small_grey(frame, stream_.pix_fmt, width_, tmp_, grey_, factor);
    if ((!zones_.empty() || !masks_.empty()) && mask_.size() != grey.size())
      build_mask(grey.size(), factor);
    mog2_->apply(grey, fg_, learning_rate_);
    cv::threshold(fg_, fg_, 127, 255, cv::THRESH_BINARY);
    if (!mask_.empty()) cv::bitwise_and(fg_, mask_, fg_);
    cv::morphologyEx(fg_, fg_, cv::MORPH_OPEN, cv::Mat());
    cv::dilate(fg_, fg_, cv::Mat(), cv::Point(-1, -1), 2);
    contours_.clear();
    cv::findContours(fg_, contours_, cv::RETR_EXTERNAL, cv::CHAIN_APPROX_SIMPLE);

    std::vector<cv::Rect> boxes;
    std::vector<double> areas;
    for (const auto& c : contours_) {
      const double area = cv::contourArea(c) * factor * factor;
      if (area < min_area_) continue;
      boxes.push_back(to_frame(cv::boundingRect(c), factor, stream_.band.size()));
      areas.push_back(area);
    }

    staged_ = committed_;
    State& s = staged_;
    ++s.seen;
    const bool moving = !boxes.empty() && s.seen > static_cast<std::uint64_t>(warmup_);
    s.run_on = moving ? s.run_on + 1 : 0;
    s.run_off = moving ? 0 : s.run_off + 1;
    if (!s.active && s.run_on >= start_frames_) {
      s.active = true;
      s.start_frame = ctx.frame_no;
      s.frames = 0;
      s.extent = cv::Rect();
      Event e;
      e.kind = "motion";
      e.phase = Phase::kStart;
      e.boxes = boxes;
      e.outlines = outlines_;
      e.scores = areas;  // blob area in ring pixels
      s.zones_moved.clear();
      if (!named_zones_.empty()) e.fields["zone_names"] = zone_names(boxes, s.zones_moved);
      events.push_back(std::move(e));
    }
    if (s.active && moving) {
      ++s.frames;
      for (const cv::Rect& b : boxes) s.extent = s.extent.area() ? (s.extent | b) : b;
      zone_names(boxes, s.zones_moved);
    }
    if (s.active && s.run_off >= end_after_) {
      s.active = false;
      Event e;
      e.kind = "motion";
      e.phase = Phase::kEnd;
      if (s.extent.area()) e.boxes.push_back(s.extent);
      e.fields["start_frame_no"] = s.start_frame;
      e.fields["moving_frames"] = s.frames;
      if (!named_zones_.empty()) e.fields["zone_names"] = names_of(s.zones_moved);
      events.push_back(std::move(e));
    }
  }

  void commit() override { committed_ = staged_; }

 private:
  struct State {
    std::uint64_t seen = 0;
    int run_on = 0;
    int run_off = 0;
    bool active = false;
    std::uint64_t start_frame = 0;
    std::uint64_t frames = 0;
    cv::Rect extent;                // union of motion boxes in this episode, band pixels
    std::vector<bool> zones_moved;  // named zones any box of this episode lay in
  };

  // The named zones the boxes lie in (a box lies in a zone when its bottom centre does, as for
  // objects: where a walking person or a driving car touches the ground), in the order the zones
  // were given; also marks them in `moved`.
  std::vector<std::string> zone_names(const std::vector<cv::Rect>& boxes,
                                      std::vector<bool>& moved) const {
    moved.resize(placed_named_.size(), false);
    std::vector<bool> now(placed_named_.size(), false);
    for (const cv::Rect& b : boxes) {
      for (std::size_t z : placed_named_.containing(b)) now[z] = moved[z] = true;
    }
    return names_of(now);
  }

  std::vector<std::string> names_of(const std::vector<bool>& which) const {
    std::vector<std::string> names;
    for (std::size_t z = 0; z < which.size(); ++z) {
      if (which[z]) names.push_back(placed_named_.name(z));
    }
    return names;
  }

  // Zones are fractions of the whole frame; a tile sees the part of each zone inside its band.
  // Without zones the whole view counts; mask polygons are then cut out of it.
  void build_mask(cv::Size size, double factor) {
    mask_ =
        zones_.empty() ? cv::Mat(size, CV_8UC1, cv::Scalar(255)) : cv::Mat::zeros(size, CV_8UC1);
    for (const Polygon& zone : zones_) {
      std::vector<cv::Point> pts;
      for (const cv::Point2d& p : zone) {
        const double x = p.x * stream_.ring_size.width - stream_.band.x;
        const double y = p.y * stream_.ring_size.height - stream_.band.y;
        pts.emplace_back(static_cast<int>(std::lround(x / factor)),
                         static_cast<int>(std::lround(y / factor)));
      }
      cv::fillPoly(mask_, std::vector<std::vector<cv::Point>>{pts}, cv::Scalar(255));
    }
    for (std::size_t i = 0; i < placed_masks_.size(); ++i) {
      std::vector<cv::Point> pts;
      for (const cv::Point& q : placed_masks_.outline(i)) {
        pts.emplace_back(static_cast<int>(std::lround(q.x / factor)),
                         static_cast<int>(std::lround(q.y / factor)));
      }
      cv::fillPoly(mask_, std::vector<std::vector<cv::Point>>{pts}, cv::Scalar(0));
    }
  }

  int width_;
  double min_area_;
  int history_;
  double var_threshold_;
  double learning_rate_;
  int start_frames_;
  int end_frames_;
  double cooldown_;  // seconds; 0 = end after end_frames
  int end_after_ = 0;
  int warmup_;
  std::vector<Polygon> zones_;
  std::vector<objects::Polygon> masks_;        // never moving (`mask`)
  std::vector<objects::Polygon> named_zones_;  // reported by name (`zones`)
  PlacedPolygons placed_masks_, placed_named_;
  StreamInfo stream_;
  std::vector<std::vector<cv::Point>> outlines_;  // zones in band pixels
  cv::Ptr<cv::BackgroundSubtractorMOG2> mog2_;
  cv::Mat tmp_, grey_, fg_, mask_;
  std::vector<std::vector<cv::Point>> contours_;
  State committed_, staged_;
};

}  // namespace

std::unique_ptr<Analytic> make_motion(Params& params) {
  return std::make_unique<Motion>(params);
}

}  // namespace framering::workers::analytics
