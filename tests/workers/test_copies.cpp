// Copies of frame payload: the built-in analytics make none (a grey frame is analysed in place,
// other frames only through derived images), and a copy an analytic does make is counted in the
// reader-stats bytes_copied and in framering_bytes_copied_total.
#include <gtest/gtest.h>

#include <opencv2/imgproc.hpp>

#include <optional>

#include "analytics/analytics.hpp"
#include "framering/ringbuf/reader.hpp"
#include "framering/ringbuf/reader_stats.hpp"
#include "framering/workers/analytic.hpp"
#include "framering/workers/frame_mat.hpp"
#include "ring_fixture.hpp"

namespace framering::workers::test {
namespace {

using namespace std::chrono_literals;

// vtest.avi frames as 320x240 grey, the size a gray8 ingest with --width 320 --height 240 makes.
std::vector<cv::Mat> grey_frames(std::size_t count) {
  std::vector<cv::Mat> out;
  for (const cv::Mat& f : vtest_frames(count)) {
    cv::Mat grey, small;
    cv::cvtColor(f, grey, cv::COLOR_BGR2GRAY);
    cv::resize(grey, small, cv::Size(320, 240), 0, 0, cv::INTER_AREA);
    out.push_back(small);
  }
  return out;
}

// The reader stats of `worker` once it has read `frames` frames and published position `frames`.
std::optional<ring::ReaderStatsSnapshot> stats_after(const std::string& ring,
                                                     const std::string& worker,
                                                     std::uint64_t frames) {
  for (int i = 0; i < 2000; ++i) {
    for (const auto& s : ring::read_reader_stats(ring)) {
      if (s.reader == worker && s.frames_read == frames && s.position == frames) return s;
    }
    std::this_thread::sleep_for(10ms);  // polling the stats file, not synchronising on time
  }
  return std::nullopt;
}

std::string copied_series(const std::string& ring) {
  return "framering_bytes_copied_total{component=\"worker\",ring=\"" + ring + "\"}";
}

// small_grey on a frame that is already grey and narrow enough must hand back the slot itself.
// A yuv420p ring's grey picture is its Y plane: the first H rows of the slot, no copy at all.
TEST(Copies, SmallGreyUsesTheYPlaneOfA420FrameInPlace) {
  const cv::Mat bgr = vtest_frames(1)[0];
  cv::Mat small, planes;
  cv::resize(bgr, small, cv::Size(320, 240), 0, 0, cv::INTER_AREA);
  cv::cvtColor(small, planes, cv::COLOR_BGR2YUV_I420);  // (360, 320): Y, then U, then V
  const std::string name = unique_ring_name();
  RingCleanup cleanup{name};
  ring::Writer writer = make_writer(name, small.size(), 2, ring::PixFmt::kYuv420p);
  publish(writer, planes);
  ring::Reader reader = ring::Reader::attach(name);
  const ring::ReadResult r = reader.read(0);
  ASSERT_EQ(r.status, ring::ReadStatus::kOk);
  const cv::Mat view = view_frame(r.frame, mat_layout(reader.info().geometry));
  ASSERT_EQ(view.size(), cv::Size(320, 360));

  cv::Mat tmp, grey;
  double factor = 0.0;
  const cv::Mat y = analytics::small_grey(view, ring::PixFmt::kYuv420p, 320, tmp, grey, factor);
  EXPECT_EQ(y.data, view.data);  // the slot's first row
  EXPECT_EQ(y.size(), cv::Size(320, 240));
  EXPECT_EQ(factor, 1.0);
  EXPECT_TRUE(tmp.empty());
  EXPECT_TRUE(grey.empty());
  EXPECT_EQ(cv::norm(y, planes.rowRange(0, 240), cv::NORM_INF), 0.0);
  EXPECT_TRUE(reader.valid(r.frame));
}

TEST(Copies, SmallGreyUsesAGreyFrameInPlace) {
  const cv::Mat frame = grey_frames(1)[0];
  const std::string name = unique_ring_name();
  RingCleanup cleanup{name};
  ring::Writer writer = make_writer(name, frame.size(), 2, ring::PixFmt::kGray8);
  publish(writer, frame);
  ring::Reader reader = ring::Reader::attach(name);
  const ring::ReadResult r = reader.read(0);
  ASSERT_EQ(r.status, ring::ReadStatus::kOk);
  const cv::Mat view = view_frame(r.frame, mat_layout(reader.info().geometry));
  ASSERT_EQ(view.type(), CV_8UC1);

  cv::Mat tmp, grey;
  double factor = 0.0;
  const cv::Mat same = analytics::small_grey(view, ring::PixFmt::kGray8, 320, tmp, grey, factor);
  EXPECT_EQ(same.data, view.data);  // the read-only slot, not a private copy
  EXPECT_EQ(same.size(), view.size());
  EXPECT_EQ(factor, 1.0);
  EXPECT_TRUE(tmp.empty());
  EXPECT_TRUE(grey.empty());

  // Wider than allowed: the downscaled image is the result, with no copy of it either.
  const cv::Mat half = analytics::small_grey(view, ring::PixFmt::kGray8, 160, tmp, grey, factor);
  EXPECT_EQ(half.data, tmp.data);
  EXPECT_EQ(half.size(), cv::Size(160, 120));
  EXPECT_EQ(factor, 2.0);
  EXPECT_TRUE(grey.empty());
  EXPECT_TRUE(reader.valid(r.frame));
}

TEST(Copies, SmallGreyConvertsColourIntoTheAnalyticsBuffer) {
  const cv::Mat frame = vtest_frames(1)[0];
  cv::Mat tmp, grey;
  double factor = 0.0;
  const cv::Mat out = analytics::small_grey(frame, ring::PixFmt::kBgr24, 768, tmp, grey, factor);
  EXPECT_EQ(out.data, grey.data);
  EXPECT_EQ(out.type(), CV_8UC1);
  EXPECT_EQ(out.size(), frame.size());
  EXPECT_TRUE(tmp.empty());
}

// motion and tamper on a grey ring no wider than their processing width: the case that used to
// copy the whole slot. Every frame is read in place and no byte is copied.
TEST(Copies, MotionAndTamperReadAGreyRingWithoutCopies) {
  const auto frames = grey_frames(12);
  const std::size_t frame_bytes = 320 * 240;
  for (const std::string analytic : {"motion", "tamper"}) {
    SCOPED_TRACE(analytic);
    const std::string name = unique_ring_name();
    RingCleanup cleanup{name};
    ring::Writer w = make_writer(name, frames[0].size(), 16, ring::PixFmt::kGray8);
    for (const cv::Mat& f : frames) publish(w, f);
    WorkerOptions o = worker_options(name, analytic, FollowMode::kEvery);
    o.params = {"width=320"};
    const int port = free_port();
    o.metrics_addr = "127.0.0.1:" + std::to_string(port);
    WorkerThread worker(o);
    const auto s = stats_after(name, analytic, frames.size());
    ASSERT_TRUE(s.has_value());
    EXPECT_EQ(s->bytes_in_place, frames.size() * frame_bytes);
    EXPECT_EQ(s->bytes_copied, 0u);
    EXPECT_EQ(scrape_sample(port, copied_series(name)), 0.0);  // present, and 0
    worker.stop();
    EXPECT_EQ(worker.join(), 0);
    std::filesystem::remove(o.events);
  }
}

// An analytic that keeps a private copy of each frame, as one that needs the pixels after the
// slot is reused would have to.
class Copier final : public Analytic {
 public:
  void configure(const StreamInfo&) override {}
  void analyse(const cv::Mat& frame, const FrameContext&, std::vector<Event>&) override {
    frame.copyTo(copy_);
  }
  std::size_t bytes_copied() const override { return copy_.total() * copy_.elemSize(); }

 private:
  cv::Mat copy_;
};

TEST(Copies, ACopyAnAnalyticMakesIsCountedInStatsAndMetrics) {
  const auto frames = vtest_frames(3);
  const std::size_t frame_bytes = frames[0].total() * frames[0].elemSize();
  const std::string name = unique_ring_name();
  RingCleanup cleanup{name};
  ring::Writer w = make_writer(name, frames[0].size(), 8);
  for (const cv::Mat& f : frames) publish(w, f);
  register_analytic("test-copier", [](Params&) { return std::make_unique<Copier>(); });
  WorkerOptions o = worker_options(name, "test-copier", FollowMode::kEvery);
  const int port = free_port();
  o.metrics_addr = "127.0.0.1:" + std::to_string(port);
  WorkerThread worker(o);
  const auto s = stats_after(name, "test-copier", frames.size());
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(s->bytes_copied, frames.size() * frame_bytes);
  EXPECT_EQ(s->bytes_in_place, frames.size() * frame_bytes);
  EXPECT_EQ(scrape_sample(port, copied_series(name)),
            static_cast<double>(frames.size() * frame_bytes));
  worker.stop();
  EXPECT_EQ(worker.join(), 0);
  std::filesystem::remove(o.events);
}

}  // namespace
}  // namespace framering::workers::test
