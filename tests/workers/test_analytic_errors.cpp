// An analytic that fails on a frame (AnalyticError, e.g. a model whose inference throws) costs
// that frame only: it is counted as dropped with reason analytic_error and the worker goes on.
#include <gtest/gtest.h>

#include <filesystem>

#include "framering/workers/analytic.hpp"
#include "framering/workers/analytic_error.hpp"
#include "ring_fixture.hpp"

namespace framering::workers::test {
namespace {

using namespace std::chrono_literals;

// Fails on odd frame numbers, reports the even ones.
class FailsOnOddFrames final : public Analytic {
 public:
  void configure(const StreamInfo&) override {}
  void analyse(const cv::Mat&, const FrameContext& ctx, std::vector<Event>& events) override {
    if (ctx.frame_no % 2) throw AnalyticError("inference failed on this frame");
    events.push_back({"seen", {}, {}, {}});
  }
};

TEST(AnalyticErrors, AreCountedAndTheWorkerGoesOn) {
  const auto frames = vtest_frames(6);
  const std::string name = unique_ring_name();
  RingCleanup cleanup{name};
  ring::Writer w = make_writer(name, frames[0].size(), 8);
  for (const cv::Mat& f : frames) publish(w, f);
  register_analytic("test-fails-on-odd",
                    [](Params&) { return std::make_unique<FailsOnOddFrames>(); });
  WorkerOptions o = worker_options(name, "test-fails-on-odd", FollowMode::kEvery);
  o.name = "flaky";
  const int port = free_port();
  o.metrics_addr = "127.0.0.1:" + std::to_string(port);
  WorkerThread worker(o);
  for (int i = 0; i < 2000 && read_events(o.events).size() < 3; ++i)
    std::this_thread::sleep_for(10ms);

  std::vector<std::uint64_t> seen;
  for (const auto& e : read_events(o.events)) seen.push_back(e["frame_no"]);
  EXPECT_EQ(seen, (std::vector<std::uint64_t>{0, 2, 4}));
  const std::string labels = "{reason=\"analytic_error\",ring=\"" + name + "\",worker=\"flaky\"}";
  // Frames 1 and 3 failed before frame 4 was analysed; frame 5 may or may not have been yet.
  const double errors = scrape_sample(port, "framering_frames_dropped_total" + labels);
  EXPECT_GE(errors, 2.0);
  EXPECT_LE(errors, 3.0);
  EXPECT_EQ(
      scrape_sample(port, "framering_frames_read_total{ring=\"" + name + "\",worker=\"flaky\"}"),
      3.0);
  worker.stop();
  EXPECT_EQ(worker.join(), 0);
  std::filesystem::remove(o.events);
}

}  // namespace
}  // namespace framering::workers::test
