// The seqlock re-check after analysis: a frame the writer overwrites while the analytic is
// looking at it must yield no event and count as torn, and the frames after it are analysed as
// usual. The overwrite is made to happen, not hoped for: a test analytic, while analysing one
// frame, has the test's own writer lap the ring so that frame's slot is rewritten.
#include <gtest/gtest.h>

#include <zlib.h>

#include <cstdio>
#include <functional>
#include <optional>

#include "framering/ringbuf/reader_stats.hpp"
#include "framering/workers/analytic.hpp"
#include "ring_fixture.hpp"

namespace framering::workers::test {
namespace {

using namespace std::chrono_literals;

// Like `checksum` (crc32 of the frame, read in place), but runs `during` in the middle of
// analysing frame `at`, between starting to look at the frame and computing the result.
class Interrupted final : public Analytic {
 public:
  Interrupted(std::uint64_t at, std::function<void()> during)
      : at_(at), during_(std::move(during)) {}
  void configure(const StreamInfo&) override {}
  void analyse(const cv::Mat& frame, const FrameContext& ctx, std::vector<Event>& events) override {
    if (ctx.frame_no == at_ && !done_) {
      done_ = true;
      during_();
    }
    Event e;
    e.kind = "checksum";
    e.fields["crc32"] = hex8(crc32_of(frame));
    events.push_back(std::move(e));
  }

 private:
  std::uint64_t at_;
  std::function<void()> during_;
  bool done_ = false;
};

std::optional<ring::ReaderStatsSnapshot> stats_of(const std::string& ring,
                                                  const std::string& worker) {
  for (const auto& s : ring::read_reader_stats(ring))
    if (s.reader == worker) return s;
  return std::nullopt;
}

TEST(TornAfterUse, FrameOverwrittenDuringAnalysisIsDiscardedAndCounted) {
  constexpr std::uint32_t kSlots = 4;
  const auto frames = vtest_frames(kSlots + 3);
  const std::string name = unique_ring_name();
  RingCleanup cleanup{name};
  ring::Writer w = make_writer(name, frames[0].size(), kSlots);
  publish(w, frames[0]);
  publish(w, frames[1]);

  // While frame 1 is analysed, publish frames 2..6: frame 5 reuses frame 1's slot (lapping the
  // reader), frame 6 reuses frame 2's. From here on only the worker thread uses the writer.
  register_analytic("test-interrupted", [&](Params&) {
    return std::make_unique<Interrupted>(1, [&] {
      for (std::uint32_t i = 2; i <= kSlots + 2; ++i) publish(w, frames[i]);
    });
  });
  WorkerOptions o = worker_options(name, "test-interrupted", FollowMode::kEvery);
  o.name = "interrupted";
  const int port = free_port();
  o.metrics_addr = "127.0.0.1:" + std::to_string(port);
  WorkerThread worker(o);

  // Frame 0, then 1 (torn), 2 (lapped while 1 was analysed) and 3 (its slot is the one the
  // writer fills next, so a reader gives it up too), then 4..6; the worker publishes its
  // position (7, the next frame wanted) when it turns to wait for frame 7.
  const std::uint64_t analysed = 4, end = kSlots + 3;
  std::optional<ring::ReaderStatsSnapshot> s;
  for (int i = 0; i < 2000 && !(s && s->frames_read == analysed && s->position == end); ++i) {
    std::this_thread::sleep_for(10ms);  // polling the stats file, not synchronising on time
    s = stats_of(name, "interrupted");
  }
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(s->frames_read, analysed);
  EXPECT_EQ(s->torn, 1u);
  EXPECT_EQ(s->lapped, 2u);
  EXPECT_EQ(s->skipped, 0u);
  EXPECT_EQ(s->position, end);
  const std::string labels = "{reason=\"torn\",ring=\"" + name + "\",worker=\"interrupted\"}";
  EXPECT_EQ(scrape_sample(port, "framering_frames_dropped_total" + labels), 1.0);
  worker.stop();
  EXPECT_EQ(worker.join(), 0);

  // No event for frame 1: what was computed mixes frame 1's slot with frame 5's pixels.
  const auto events = read_events(o.events);
  std::vector<std::uint64_t> got;
  for (const auto& e : events) got.push_back(e["frame_no"]);
  EXPECT_EQ(got, (std::vector<std::uint64_t>{0, 4, 5, 6}));
  for (const auto& e : events) {
    const std::uint64_t n = e["frame_no"];
    EXPECT_EQ(e["crc32"], hex8(crc32_of(frames[n]))) << "frame " << n;
  }
  std::filesystem::remove(o.events);
}

}  // namespace
}  // namespace framering::workers::test
