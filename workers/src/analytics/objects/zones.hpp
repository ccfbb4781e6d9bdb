// Zones (named polygons an object can enter and leave) and masks (polygons whose detections are
// ignored). An object is inside a polygon when the bottom centre of its box is: the point where
// a person or a car touches the ground, so a zone drawn on the ground works from any camera
// angle.
//
// Text form (worker --param, also what `framering run` passes on):
//   zones=driveway:0.1,0.6;0.9,0.6;0.9,1;0.1,1|gate:600,300;760,300;760,570;600,570
//   mask=0,0;1,0;1,0.1;0,0.1
// Coordinates are fractions of the frame when every coordinate of the polygon lies in [0, 1],
// frame pixels otherwise (a polygon no bigger than one pixel is not a useful zone).
#pragma once

#include <opencv2/core.hpp>

#include <string>
#include <vector>

namespace framering::workers::analytics::objects {

struct Polygon {
  std::string name;  // empty for masks
  std::vector<cv::Point2d> points;
};

// Parses `text` given as --param `key`. Named polygons ("name:pts") when `named`. Throws
// ConfigError naming the key and the bad part.
std::vector<Polygon> parse_polygons(const std::string& key, const std::string& text, bool named);

// Polygons placed on one stream: band pixels, ready for point tests.
class PlacedPolygons {
 public:
  PlacedPolygons() = default;
  PlacedPolygons(const std::vector<Polygon>& polygons, cv::Size ring_size, cv::Rect band);

  std::size_t size() const { return contours_.size(); }
  const std::string& name(std::size_t i) const { return names_[i]; }
  // Indices of polygons containing the bottom centre of `box` (band pixels), edges included.
  std::vector<std::size_t> containing(const cv::Rect& box) const;
  bool any_contains(const cv::Rect& box) const;
  // Polygon i in band pixels, rounded: the zone outline events carry and snapshots draw.
  std::vector<cv::Point> outline(std::size_t i) const;

 private:
  std::vector<std::string> names_;
  std::vector<std::vector<cv::Point2f>> contours_;
};

cv::Point2f bottom_centre(const cv::Rect& box);

}  // namespace framering::workers::analytics::objects
