// The analytics on real video (vtest.avi: pedestrians, fixed camera) read through a ring.
#include <gtest/gtest.h>

#include <opencv2/imgproc.hpp>

#include <map>

#include "ring_fixture.hpp"

namespace framering::workers::test {
namespace {

using namespace std::chrono_literals;

// Publishes `frames` into a fresh ring and runs one worker over all of them in `every` mode.
std::vector<nlohmann::json> run_on(const std::vector<cv::Mat>& frames, const std::string& analytic,
                                   std::vector<std::string> params = {}) {
  const std::string name = unique_ring_name();
  RingCleanup cleanup{name};
  ring::Writer w =
      make_writer(name, frames[0].size(), static_cast<std::uint32_t>(frames.size() + 1));
  for (const cv::Mat& f : frames) publish(w, f);
  WorkerOptions o = worker_options(name, analytic, FollowMode::kEvery);
  o.params = std::move(params);
  o.max_frames = frames.size();
  std::atomic<bool> stop{false};
  EXPECT_EQ(run_worker(o, stop), 0);
  auto events = read_events(o.events);
  std::filesystem::remove(o.events);
  return events;
}

void expect_boxes_inside(const nlohmann::json& e, cv::Size frame) {
  for (const auto& b : e["boxes"]) {
    const int x = b[0], y = b[1], w = b[2], h = b[3];
    EXPECT_GE(x, 0);
    EXPECT_GE(y, 0);
    EXPECT_GT(w, 0);
    EXPECT_GT(h, 0);
    EXPECT_LE(x + w, frame.width);
    EXPECT_LE(y + h, frame.height);
  }
}

// vtest has pedestrians in view throughout: one occupancy lifecycle, opened on the second frame
// (start_frames=2), updated as the count changes, ended only because the worker stops.
TEST(People, OneOccupancyLifecycleWhilePedestriansAreInView) {
  const std::vector<cv::Mat> frames = vtest_frames(20);
  const auto events = run_on(frames, "people");
  ASSERT_GE(events.size(), 2u);
  EXPECT_LT(events.size(), frames.size()) << "per-frame detections are not events";
  const auto& start = events.front();
  EXPECT_EQ(start["type"], "start");
  EXPECT_LE(start["frame_no"].get<int>(), 5);
  const std::string id = start["id"];
  EXPECT_FALSE(id.empty());
  for (const auto& e : events) {
    EXPECT_EQ(e["schema_version"], 1);
    EXPECT_EQ(e["kind"], "people");
    EXPECT_EQ(e["id"], id) << "one lifecycle, one id";
    ASSERT_EQ(e["boxes"].size(), e["scores"].size());
    expect_boxes_inside(e, frames[0].size());
    for (const auto& b : e["boxes"]) EXPECT_GT(b[3].get<int>(), b[2].get<int>());  // upright people
    if (e["type"] != "end") {
      EXPECT_EQ(e["count"], e["boxes"].size());
      EXPECT_GT(e["count"].get<int>(), 0);
    }
  }
  for (std::size_t i = 1; i + 1 < events.size(); ++i) {
    EXPECT_EQ(events[i]["type"], "update");
    EXPECT_NE(events[i]["count"], events[i - 1]["count"]) << "an update means the count changed";
  }
  EXPECT_EQ(events.back()["type"], "end");
  EXPECT_EQ(events.back()["end_reason"], "stopped");
}

TEST(Motion, PedestriansStartMotionInsideTheZone) {
  const std::vector<cv::Mat> frames = vtest_frames(60);
  const auto everywhere = run_on(frames, "motion");
  std::size_t starts = 0;
  for (const auto& e : everywhere) {
    EXPECT_EQ(e["kind"], "motion");
    if (e["type"] == "start") {
      ++starts;
      EXPECT_FALSE(e["boxes"].empty());
      EXPECT_GT(e["frame_no"].get<int>(), 10);  // not during the warm-up
    }
    expect_boxes_inside(e, frames[0].size());
  }
  EXPECT_GE(starts, 1u);

  // Only the left half: every blob box stays there (up to the few pixels the dilation adds).
  const auto left = run_on(frames, "motion", {"zone=0,0;0.5,0;0.5,1;0,1", "end_frames=1"});
  std::size_t left_starts = 0;
  for (const auto& e : left) {
    if (e["type"] != "start") continue;
    ++left_starts;
    EXPECT_EQ(e["zones"].size(), 1u);
    for (const auto& b : e["boxes"]) EXPECT_LE(b[0].get<int>() + b[2].get<int>(), 384 + 16);
  }
  EXPECT_GE(left_starts, 1u);
}

// 320x240 grey frames with two white squares sliding right, one in each half: (10 + 3i, 100)
// and (180 + 3i, 60), 30 px wide, so each half of the frame always holds motion.
std::vector<cv::Mat> two_moving_squares(int count) {
  std::vector<cv::Mat> frames;
  for (int i = 0; i < count; ++i) {
    cv::Mat f(240, 320, CV_8UC3, cv::Scalar::all(100));
    cv::rectangle(f, cv::Rect(10 + 3 * i, 100, 30, 30), cv::Scalar::all(250), cv::FILLED);
    cv::rectangle(f, cv::Rect(180 + 3 * i, 60, 30, 30), cv::Scalar::all(250), cv::FILLED);
    frames.push_back(f);
  }
  return frames;
}

constexpr const char* kHalves = "zones=left:0,0;0.5,0;0.5,1;0,1|right:0.5,0;1,0;1,1;0.5,1";

TEST(Motion, NamedZonesSayWhichZonesTheMotionLayIn) {
  const auto events = run_on(two_moving_squares(30), "motion", {kHalves, "width=320"});
  ASSERT_EQ(events.size(), 2u);  // one episode: start, then end at the stop
  EXPECT_EQ(events[0]["type"], "start");
  EXPECT_EQ(events[0]["zone_names"], nlohmann::json({"left", "right"}));
  EXPECT_EQ(events[1]["zone_names"], nlohmann::json({"left", "right"}));
  // A zone no box's bottom centre lies in (the top of the left half) is not named.
  const auto right_only =
      run_on(two_moving_squares(30), "motion",
             {"zones=top_left:0,0;0.5,0;0.5,0.3;0,0.3|" + std::string("right:0.5,0;1,0;1,1;0.5,1"),
              "width=320"});
  ASSERT_FALSE(right_only.empty());
  EXPECT_EQ(right_only[0]["zone_names"], nlohmann::json({"right"}));
}

TEST(Motion, MaskPolygonsAreBlindToMotion) {
  // The right half masked (in frame pixels): only the left square moves.
  const auto masked = run_on(two_moving_squares(30), "motion",
                             {kHalves, "width=320", "mask=160,0;320,0;320,240;160,240"});
  ASSERT_FALSE(masked.empty());
  std::size_t boxes = 0;
  for (const auto& e : masked) {
    for (const auto& b : e["boxes"]) {
      ++boxes;
      EXPECT_LE(b[0].get<int>() + b[2].get<int>(), 160) << e.dump();
    }
  }
  EXPECT_GT(boxes, 0u);
  EXPECT_EQ(masked[0]["zone_names"], nlohmann::json({"left"}));
  EXPECT_EQ(masked.back()["zone_names"], nlohmann::json({"left"}));
}

TEST(Tamper, QuietOnNormalVideoThenReportsMovedCoveredDefocused) {
  const auto src = vtest_frames(100);
  std::vector<cv::Mat> frames;
  for (int i = 0; i < 30; ++i) frames.push_back(src[i]);
  for (int i = 30; i < 50; ++i) {  // the camera turned: the scene shifts 80 px
    cv::Mat moved;
    const cv::Mat m = (cv::Mat_<double>(2, 3) << 1, 0, 80, 0, 1, 30);
    cv::warpAffine(src[i], moved, m, src[i].size(), cv::INTER_LINEAR, cv::BORDER_REPLICATE);
    frames.push_back(moved);
  }
  for (int i = 50; i < 70; ++i)
    frames.push_back(cv::Mat(src[i].size(), CV_8UC3, cv::Scalar(3, 3, 3)));  // covered
  for (int i = 70; i < 100; ++i) {                                           // defocused
    cv::Mat blurred;
    cv::GaussianBlur(src[i], blurred, cv::Size(0, 0), 6.0);
    frames.push_back(blurred);
  }
  const auto events = run_on(frames, "tamper");
  std::map<std::string, std::uint64_t> first_start;
  std::map<std::string, std::string> open;  // reason -> id of its open lifecycle
  for (const auto& e : events) {
    EXPECT_EQ(e["kind"], "tamper");
    EXPECT_EQ(e["subject"], e["reason"]);
    const std::string reason = e["reason"];
    if (e["type"] == "start") {
      EXPECT_FALSE(open.count(reason)) << e.dump();
      open[reason] = e["id"];
      if (!first_start.count(reason)) first_start[reason] = e["frame_no"];
    } else {
      ASSERT_EQ(e["type"], "end") << e.dump();
      ASSERT_TRUE(open.count(reason)) << e.dump();
      EXPECT_EQ(e["id"], open[reason]) << "an end carries its start's id";
      open.erase(reason);
    }
  }
  EXPECT_TRUE(open.empty()) << "every lifecycle ends (at the latest when the worker stops)";
  ASSERT_TRUE(first_start.count("moved")) << events.size() << " events";
  ASSERT_TRUE(first_start.count("covered"));
  ASSERT_TRUE(first_start.count("defocused"));
  EXPECT_GE(first_start["moved"], 30u);
  EXPECT_LT(first_start["moved"], 50u);
  EXPECT_GE(first_start["covered"], 50u);
  EXPECT_LT(first_start["covered"], 70u);
  EXPECT_GE(first_start["defocused"], 70u);
  for (const auto& e : events)
    EXPECT_GE(e["frame_no"].get<int>(), 30) << e.dump();  // nothing on normal video
}

}  // namespace
}  // namespace framering::workers::test
