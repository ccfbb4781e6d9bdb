// The objects analytic's pure parts: letterbox arithmetic, the three output decoders, layout
// detection and its errors, per-class NMS, zone parsing with the bottom-centre rule, and the
// tracker. (The analytic on real ONNX models runs in test_objects.py.)
#include <gtest/gtest.h>

#include "analytics/objects/decode.hpp"
#include "analytics/objects/labels.hpp"
#include "analytics/objects/letterbox.hpp"
#include "analytics/objects/tracker.hpp"
#include "analytics/objects/zones.hpp"
#include "framering/workers/config_error.hpp"

namespace framering::workers::analytics::objects {
namespace {

cv::Mat tensor(std::vector<int> shape) {
  return cv::Mat(static_cast<int>(shape.size()), shape.data(), CV_32F, cv::Scalar(0));
}

TEST(Letterbox, WideFrameIsPaddedTopAndBottom) {
  // 768x576 into 320x320: s = 320/768, content 320x240, 40 px of padding above and below.
  const Letterbox lb = Letterbox::fit({768, 576}, {320, 320}, true);
  EXPECT_EQ(lb.content, cv::Rect(0, 40, 320, 240));
  // Input box x 80..120, y 120..200 → frame x 192..288, y (120-40)*2.4=192 .. (200-40)*2.4=384.
  EXPECT_EQ(lb.to_frame_pixels(cv::Rect2d(80, 120, 40, 80)), cv::Rect(192, 192, 96, 192));
}

TEST(Letterbox, TallFrameIsPaddedLeftAndRight) {
  const Letterbox lb = Letterbox::fit({480, 640}, {640, 640}, true);
  EXPECT_EQ(lb.content, cv::Rect(80, 0, 480, 640));
  EXPECT_EQ(lb.to_frame_pixels(cv::Rect2d(80, 0, 480, 640)), cv::Rect(0, 0, 480, 640));
}

TEST(Letterbox, OddSizesInvertExactlyOnTheDrawnContent) {
  // 1920x1080 into 640x640: s = 1/3, content 640x360, pad (640-360)/2 = 140.
  const Letterbox lb = Letterbox::fit({1920, 1080}, {640, 640}, true);
  EXPECT_EQ(lb.content, cv::Rect(0, 140, 640, 360));
  EXPECT_EQ(lb.to_frame_pixels(cv::Rect2d(10, 150, 30, 60)), cv::Rect(30, 30, 90, 180));
  // 1001x333 into 416x416: content 416x138 (138.38 rounded), pad 139.
  const Letterbox odd = Letterbox::fit({1001, 333}, {416, 416}, true);
  EXPECT_EQ(odd.content, cv::Rect(0, 139, 416, 138));
  const cv::Rect2d whole = odd.to_frame(cv::Rect2d(0, 139, 416, 138));
  EXPECT_DOUBLE_EQ(whole.width, 1001.0);
  EXPECT_DOUBLE_EQ(whole.height, 333.0);
}

TEST(Letterbox, StretchScalesAxesApartAndClipsToTheFrame) {
  const Letterbox lb = Letterbox::fit({768, 576}, {320, 320}, false);
  EXPECT_EQ(lb.content, cv::Rect(0, 0, 320, 320));
  EXPECT_EQ(lb.to_frame_pixels(cv::Rect2d(80, 80, 40, 40)), cv::Rect(192, 144, 96, 72));
  // A box running off the input's edges (and into the padding) is clipped to the frame.
  EXPECT_EQ(lb.to_frame_pixels(cv::Rect2d(-20, 300, 60, 50)), cv::Rect(0, 540, 96, 36));
  const Letterbox padded = Letterbox::fit({768, 576}, {320, 320}, true);
  EXPECT_EQ(padded.to_frame_pixels(cv::Rect2d(300, 0, 40, 30)), cv::Rect(720, 0, 48, 0));
}

TEST(Decode, Yolov8ColumnsPerAnchor) {
  cv::Mat out = tensor({1, 4 + 3, 5});
  float* p = out.ptr<float>();
  auto set = [&](int row, int a, float v) { p[row * 5 + a] = v; };
  // anchor 2: cx 100, cy 50, w 20, h 40, class 1 at 0.9 (class 0 at 0.3 loses)
  set(0, 2, 100), set(1, 2, 50), set(2, 2, 20), set(3, 2, 40), set(4, 2, 0.3f), set(5, 2, 0.9f);
  // anchor 4: below the confidence threshold
  set(0, 4, 10), set(1, 4, 10), set(2, 4, 5), set(3, 4, 5), set(6, 4, 0.2f);
  EXPECT_EQ(choose_format(out, std::nullopt, 3), OutputFormat::kYolov8);
  const auto d = decode(out, OutputFormat::kYolov8, {640, 640}, 0.25f);
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[0].class_id, 1);
  EXPECT_FLOAT_EQ(d[0].score, 0.9f);
  EXPECT_EQ(d[0].box, cv::Rect2d(90, 30, 20, 40));
}

TEST(Decode, Yolov5RowsPerAnchorWithObjectness) {
  cv::Mat out = tensor({1, 4, 5 + 2});
  float* r1 = out.ptr<float>() + 1 * 7;
  r1[0] = 200, r1[1] = 100, r1[2] = 50, r1[3] = 30, r1[4] = 0.8f, r1[5] = 0.1f, r1[6] = 0.5f;
  float* r3 = out.ptr<float>() + 3 * 7;  // objectness 0.5 x class 0.4 = 0.2 < 0.25
  r3[0] = 10, r3[1] = 10, r3[2] = 4, r3[3] = 4, r3[4] = 0.5f, r3[5] = 0.4f;
  EXPECT_EQ(choose_format(out, std::nullopt, 2), OutputFormat::kYolov5);
  const auto d = decode(out, OutputFormat::kYolov5, {640, 640}, 0.25f);
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[0].class_id, 1);
  EXPECT_FLOAT_EQ(d[0].score, 0.4f);
  EXPECT_EQ(d[0].box, cv::Rect2d(175, 85, 50, 30));
}

TEST(Decode, SsdRowsAreFractionsOfTheInput) {
  cv::Mat out = tensor({1, 1, 3, 7});
  float* p = out.ptr<float>();
  const float rows[3][7] = {{0, 15, 0.95f, 0.25f, 0.5f, 0.5f, 1.0f},
                            {-1, 0, 0, 0, 0, 0, 0},  // Caffe's padding row
                            {0, 7, 0.1f, 0, 0, 1, 1}};
  std::copy(&rows[0][0], &rows[0][0] + 21, p);
  EXPECT_EQ(choose_format(out, std::nullopt, 21), OutputFormat::kSsd);
  const auto d = decode(out, OutputFormat::kSsd, {300, 200}, 0.25f);
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[0].class_id, 15);
  EXPECT_EQ(d[0].box, cv::Rect2d(75, 100, 75, 100));
}

TEST(Decode, UnknownShapesAndLabelMismatchesAreConfigErrorsNamingTheShape) {
  auto message = [](const cv::Mat& out, std::optional<OutputFormat> f, std::size_t labels) {
    try {
      choose_format(out, f, labels);
    } catch (const ConfigError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  const std::string unknown = message(tensor({1, 10}), std::nullopt, 80);
  EXPECT_NE(unknown.find("[1, 10]"), std::string::npos) << unknown;
  EXPECT_NE(unknown.find("yolov8"), std::string::npos) << unknown;
  EXPECT_NE(unknown.find("[1, 1, N, 7]"), std::string::npos) << unknown;
  const std::string mismatch = message(tensor({1, 84, 100}), std::nullopt, 20);
  EXPECT_NE(mismatch.find("80 classes"), std::string::npos) << mismatch;
  EXPECT_NE(mismatch.find("20 names"), std::string::npos) << mismatch;
  EXPECT_NE(message(tensor({1, 1, 5, 7}), OutputFormat::kYolov8, 80).find("format=yolov8"),
            std::string::npos);
  // 84 = 4 + 80 and 85 = 5 + 80: both layouts fit; only format= can tell.
  EXPECT_NE(message(tensor({1, 84, 85}), std::nullopt, 80).find("format="), std::string::npos);
  EXPECT_EQ(choose_format(tensor({1, 84, 85}), OutputFormat::kYolov5, 80), OutputFormat::kYolov5);
}

TEST(Decode, NmsIsPerClass) {
  std::vector<Detection> d = {{0, 0.9f, {0, 0, 100, 100}},
                              {0, 0.8f, {5, 5, 100, 100}},     // same class, IoU ~0.82: dropped
                              {2, 0.7f, {5, 5, 100, 100}},     // another class: kept
                              {0, 0.6f, {300, 300, 50, 50}}};  // no overlap: kept
  const auto kept = nms_per_class(d, 0.45);
  ASSERT_EQ(kept.size(), 3u);
  EXPECT_FLOAT_EQ(kept[0].score, 0.9f);
  EXPECT_EQ(kept[1].class_id, 2);
  EXPECT_FLOAT_EQ(kept[2].score, 0.6f);
}

TEST(Labels, Coco80IsCompiledIn) {
  ASSERT_EQ(coco80().size(), 80u);
  EXPECT_EQ(coco80()[0], "person");
  EXPECT_EQ(coco80()[2], "car");
  EXPECT_EQ(coco80()[79], "toothbrush");
}

TEST(Zones, FractionsOrPixelsAndTheBottomCentreRule) {
  const auto polys = parse_polygons(
      "zones", "left:0,0.5;0.5,0.5;0.5,1;0,1|gate:600,0;768,0;768,576;600,576", true);
  ASSERT_EQ(polys.size(), 2u);
  const PlacedPolygons placed(polys, {768, 576}, {0, 0, 768, 576});
  // Box 100..200 x 100..300: bottom centre (150, 300) → in "left" (y ≥ 288).
  EXPECT_EQ(placed.containing({100, 100, 100, 200}), std::vector<std::size_t>{0});
  // The same box ending higher (bottom at 250) is not in "left" although it overlaps it.
  EXPECT_TRUE(placed.containing({100, 100, 100, 150}).empty());
  EXPECT_EQ(placed.containing({620, 10, 40, 40}), std::vector<std::size_t>{1});
  // In a tile (band y 288..576) the same zones are moved into band pixels.
  const PlacedPolygons band(polys, {768, 576}, {0, 288, 768, 288});
  EXPECT_EQ(band.containing({100, 0, 100, 12}), std::vector<std::size_t>{0});

  EXPECT_THROW(parse_polygons("zones", "0,0;1,0;1,1", true), ConfigError);  // no name
  EXPECT_THROW(parse_polygons("zones", "a:0,0;1,0", true), ConfigError);    // 2 points
  EXPECT_THROW(parse_polygons("zones", "a:0,0;1,0;1,1|a:0,0;1,0;0,1", true), ConfigError);
  EXPECT_THROW(parse_polygons("mask", "0,0;x,0;1,1", false), ConfigError);
}

TEST(Tracker, KeepsIdsAcrossFramesAndEndsTracksAfterMisses) {
  Tracker t(0.3, 1);
  auto u = t.update({{0, 0.9f, {100, 100, 50, 100}}, {2, 0.8f, {400, 100, 80, 60}}});
  ASSERT_EQ(t.tracks().size(), 2u);
  const auto person = t.tracks()[u.track_of[0]].id, car = t.tracks()[u.track_of[1]].id;
  EXPECT_NE(person, car);
  // Both moved a little; a new person appears far away.
  u = t.update({{0, 0.9f, {110, 100, 50, 100}},
                {2, 0.8f, {410, 105, 80, 60}},
                {0, 0.7f, {600, 300, 40, 90}}});
  EXPECT_EQ(t.tracks()[u.track_of[0]].id, person);
  EXPECT_EQ(t.tracks()[u.track_of[1]].id, car);
  const auto newcomer = t.tracks()[u.track_of[2]].id;
  EXPECT_NE(newcomer, person);
  // A class change at the same place is another object.
  u = t.update({{2, 0.9f, {110, 100, 50, 100}}});
  EXPECT_NE(t.tracks()[u.track_of[0]].id, person);
  // Missed once (max_missed 1): the person track survives; missed twice: it ends.
  u = t.update({});
  std::vector<std::uint64_t> ended;
  for (const Track& tr : u.ended) ended.push_back(tr.id);
  EXPECT_EQ(ended, (std::vector<std::uint64_t>{person, car, newcomer}));
}

}  // namespace
}  // namespace framering::workers::analytics::objects
