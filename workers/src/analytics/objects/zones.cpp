#include "zones.hpp"

#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <sstream>

#include "framering/workers/config_error.hpp"
#include "framering/workers/zone_names.hpp"

namespace framering::workers {

bool valid_zone_name(const std::string& s) {
  return !s.empty() && s.size() <= 64 && std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-';
  });
}

}  // namespace framering::workers

namespace framering::workers::analytics::objects {

namespace {

double coordinate(const std::string& key, const std::string& part, const std::string& s) {
  char* end = nullptr;
  const double v = std::strtod(s.c_str(), &end);
  if (s.empty() || *end != '\0' || !std::isfinite(v) || v < 0 || v > 1e6) {
    throw ConfigError("--param " + key + ": point '" + part +
                      "' is not x,y with non-negative numbers (fractions 0..1 or pixels)");
  }
  return v;
}

}  // namespace

std::vector<Polygon> parse_polygons(const std::string& key, const std::string& text, bool named) {
  std::vector<Polygon> out;
  if (text.empty()) return out;
  std::stringstream all(text);
  std::string item;
  while (std::getline(all, item, '|')) {
    Polygon poly;
    std::string points = item;
    if (named) {
      const auto colon = item.find(':');
      if (colon == std::string::npos || !valid_zone_name(item.substr(0, colon))) {
        throw ConfigError("--param " + key + ": '" + item +
                          "' must start with a zone name of A-Z a-z 0-9 _ - and a colon "
                          "(e.g. driveway:0.1,0.6;0.9,0.6;0.9,1;0.1,1)");
      }
      poly.name = item.substr(0, colon);
      points = item.substr(colon + 1);
      for (const Polygon& p : out) {
        if (p.name == poly.name) {
          throw ConfigError("--param " + key + ": zone '" + poly.name + "' given twice");
        }
      }
    }
    std::stringstream pts(points);
    std::string pt;
    while (std::getline(pts, pt, ';')) {
      const auto comma = pt.find(',');
      if (comma == std::string::npos) {
        throw ConfigError("--param " + key + ": point '" + pt + "' is not x,y");
      }
      poly.points.emplace_back(coordinate(key, pt, pt.substr(0, comma)),
                               coordinate(key, pt, pt.substr(comma + 1)));
    }
    if (poly.points.size() < 3) {
      throw ConfigError("--param " + key + ": '" + item +
                        "' needs at least 3 points x,y separated by ';'");
    }
    out.push_back(std::move(poly));
  }
  return out;
}

PlacedPolygons::PlacedPolygons(const std::vector<Polygon>& polygons, cv::Size ring_size,
                               cv::Rect band) {
  for (const Polygon& p : polygons) {
    const bool fractions = std::all_of(p.points.begin(), p.points.end(),
                                       [](cv::Point2d q) { return q.x <= 1.0 && q.y <= 1.0; });
    std::vector<cv::Point2f> contour;
    for (const cv::Point2d& q : p.points) {
      const double x = fractions ? q.x * ring_size.width : q.x;
      const double y = fractions ? q.y * ring_size.height : q.y;
      contour.emplace_back(static_cast<float>(x - band.x), static_cast<float>(y - band.y));
    }
    names_.push_back(p.name);
    contours_.push_back(std::move(contour));
  }
}

cv::Point2f bottom_centre(const cv::Rect& box) {
  return {static_cast<float>(box.x + box.width / 2.0), static_cast<float>(box.y + box.height)};
}

std::vector<std::size_t> PlacedPolygons::containing(const cv::Rect& box) const {
  std::vector<std::size_t> in;
  const cv::Point2f p = bottom_centre(box);
  for (std::size_t i = 0; i < contours_.size(); ++i) {
    if (cv::pointPolygonTest(contours_[i], p, false) >= 0) in.push_back(i);
  }
  return in;
}

bool PlacedPolygons::any_contains(const cv::Rect& box) const {
  return !containing(box).empty();
}

std::vector<cv::Point> PlacedPolygons::outline(std::size_t i) const {
  std::vector<cv::Point> points;
  for (const cv::Point2f& q : contours_[i]) points.emplace_back(cvRound(q.x), cvRound(q.y));
  return points;
}

}  // namespace framering::workers::analytics::objects
