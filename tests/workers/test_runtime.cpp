// The worker runtime end to end inside one process: a ring::Writer publishes vtest.avi frames,
// run_worker (on a thread) analyses them and writes JSON-lines events.
#include <gtest/gtest.h>

#include <fstream>
#include <set>

#include "framering/ringbuf/names.hpp"
#include "framering/ringbuf/reader_stats.hpp"
#include "ring_fixture.hpp"

namespace framering::workers::test {
namespace {

using namespace std::chrono_literals;

// Polls until `pred` holds (the worker runs on another thread); fails the test after 20 s.
template <class Pred>
void wait_until(Pred pred, const char* what) {
  for (int i = 0; i < 2000; ++i) {
    if (pred()) return;
    std::this_thread::sleep_for(10ms);
  }
  FAIL() << "timed out waiting for " << what;
}

std::uint64_t frames_read_by(const std::string& ring, const std::string& worker) {
  for (const auto& s : ring::read_reader_stats(ring)) {
    if (s.reader == worker) return s.frames_read;
  }
  return 0;
}

TEST(Runtime, ChecksumOfEveryFrameMatchesTheDecodedFrames) {
  const auto frames = vtest_frames(60);
  const std::string name = unique_ring_name();
  RingCleanup cleanup{name};
  WorkerOptions o = worker_options(name, "checksum", FollowMode::kEvery);
  o.max_frames = 60;
  WorkerThread worker(o);  // started before the ring exists: it waits for it
  std::this_thread::sleep_for(300ms);
  ring::Writer w = make_writer(name, frames[0].size(), 64);
  for (const cv::Mat& f : frames) publish(w, f);
  ASSERT_EQ(worker.join(), 0);

  const auto events = read_events(o.events);
  ASSERT_EQ(events.size(), 60u);
  for (std::size_t i = 0; i < events.size(); ++i) {
    const auto& e = events[i];
    EXPECT_EQ(e["kind"], "checksum");
    EXPECT_EQ(e["frame_no"], i);
    EXPECT_EQ(e["seq"], 2 * i + 2);
    EXPECT_EQ(e["ring"], name);
    EXPECT_EQ(e["worker"], "checksum");
    EXPECT_EQ(e["analytic"], "checksum");
    EXPECT_EQ(e["pts_ns"], static_cast<std::int64_t>(i) * 100'000'000);
    EXPECT_GT(e["wall_time_ns"].get<std::uint64_t>(), 0u);
    EXPECT_EQ(e["crc32"], hex8(crc32_of(frames[i]))) << "frame " << i;
  }
}

TEST(Runtime, ResumesOnANewWriterWithoutRestarting) {
  const auto frames = vtest_frames(10);
  const std::string name = unique_ring_name();
  RingCleanup cleanup{name};
  ring::Writer first = make_writer(name, frames[0].size(), 16);
  WorkerOptions o = worker_options(name, "checksum", FollowMode::kEvery);
  o.max_frames = 10;
  WorkerThread worker(o);
  for (int i = 0; i < 5; ++i) publish(first, frames[i]);
  wait_until([&] { return frames_read_by(name, "checksum") == 5; }, "5 frames of the first writer");
  const std::uint64_t epoch1 = first.info().epoch;
  first.close();
  std::this_thread::sleep_for(200ms);  // the worker notices the writer is gone
  ring::Writer second = make_writer(name, frames[0].size(), 16);
  ASSERT_NE(second.info().epoch, epoch1);
  for (int i = 5; i < 10; ++i) publish(second, frames[i]);
  ASSERT_EQ(worker.join(), 0);

  const auto events = read_events(o.events);
  ASSERT_EQ(events.size(), 10u);
  for (int i = 0; i < 10; ++i) {
    EXPECT_EQ(events[i]["frame_no"], i % 5);  // the new writer numbers its frames from 0
    EXPECT_EQ(events[i]["crc32"], hex8(crc32_of(frames[i])));
  }
}

TEST(Runtime, PublishesReaderStatsWithTheRingsEpoch) {
  const auto frames = vtest_frames(3);
  const std::string name = unique_ring_name();
  RingCleanup cleanup{name};
  ring::Writer w = make_writer(name, frames[0].size(), 8);
  WorkerOptions o = worker_options(name, "checksum", FollowMode::kEvery);
  o.name = "crc-a";
  WorkerThread worker(o);
  for (const cv::Mat& f : frames) publish(w, f);
  wait_until([&] { return frames_read_by(name, "crc-a") == 3; }, "3 frames read");
  const auto all = ring::read_reader_stats(name);
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].epoch, w.info().epoch);
  EXPECT_EQ(all[0].bytes_in_place, 3 * frames[0].total() * frames[0].elemSize());
  EXPECT_EQ(all[0].bytes_copied, 0u);
  EXPECT_EQ(all[0].position, 3u);
  EXPECT_EQ(all[0].lapped + all[0].torn + all[0].skipped, 0u);
  worker.stop();
  EXPECT_EQ(worker.join(), 0);
  EXPECT_TRUE(ring::read_reader_stats(name).empty());  // the file goes with the worker
}

TEST(Runtime, TilesSplitEachFrameIntoBands) {
  const auto frames = vtest_frames(4);
  const std::string name = unique_ring_name();
  RingCleanup cleanup{name};
  ring::Writer w = make_writer(name, frames[0].size(), 8);
  std::vector<WorkerOptions> opts;
  std::vector<std::unique_ptr<WorkerThread>> threads;
  for (std::uint32_t m = 0; m < 2; ++m) {
    WorkerOptions o =
        worker_options(name + "b" + std::to_string(m), "checksum", FollowMode::kEvery);
    o.ring = name;
    o.share = Share{m, 2, true};
    o.max_frames = 4;
    opts.push_back(o);
    threads.push_back(std::make_unique<WorkerThread>(o));
  }
  std::this_thread::sleep_for(200ms);
  for (const cv::Mat& f : frames) publish(w, f);
  for (std::uint32_t m = 0; m < 2; ++m) {
    ASSERT_EQ(threads[m]->join(), 0);
    const auto events = read_events(opts[m].events);
    ASSERT_EQ(events.size(), 4u);
    for (std::size_t i = 0; i < 4; ++i) {
      const cv::Mat band =
          frames[i].rowRange(static_cast<int>(m) * 288, static_cast<int>(m + 1) * 288);
      EXPECT_EQ(events[i]["frame_no"], i);
      EXPECT_EQ(events[i]["worker"], "checksum-" + std::to_string(m));
      EXPECT_EQ(events[i]["rows"], (nlohmann::json{m * 288, (m + 1) * 288}));
      EXPECT_EQ(events[i]["crc32"], hex8(crc32_of(band)));
    }
  }
}

TEST(Runtime, ExitCodes) {
  const std::string name = unique_ring_name();
  RingCleanup cleanup{name};
  std::atomic<bool> stop{false};
  // A segment that is not a ring: exit 4, saying why.
  {
    std::ofstream junk(ring::segment_path(name), std::ios::binary);
    const std::string zeros(8192, '\0');
    junk << zeros;
  }
  EXPECT_EQ(run_worker(worker_options(name, "checksum", FollowMode::kLatest), stop), 4);
  std::filesystem::remove(ring::segment_path(name));

  WorkerOptions bad = worker_options(name, "motion", FollowMode::kLatest);
  bad.params = {"no_such_key=1"};
  EXPECT_EQ(run_worker(bad, stop), 2);
  bad = worker_options(name, "checksum", FollowMode::kLatest);
  bad.share = Share{3, 3, false};
  EXPECT_EQ(run_worker(bad, stop), 2);
  bad = worker_options(name, "checksum", FollowMode::kLatest);
  bad.events = "/nonexistent-dir/events.jsonl";
  EXPECT_EQ(run_worker(bad, stop), 2);

  // Waiting for a ring that never comes: a stop request ends it with 0.
  WorkerThread waiting(worker_options(name, "checksum", FollowMode::kLatest));
  std::this_thread::sleep_for(300ms);
  waiting.stop();
  EXPECT_EQ(waiting.join(), 0);
}

TEST(Runtime, AnalyticThatNeedsImagesRejectsOtherRings) {
  const std::string name = unique_ring_name();
  RingCleanup cleanup{name};
  ring::WriterOptions wo;
  wo.name = name;
  wo.geometry.typestr = "<f4";
  wo.geometry.shape = {4, 16, 16};
  ring::Writer w = ring::Writer::create(wo);
  std::atomic<bool> stop{false};
  EXPECT_EQ(run_worker(worker_options(name, "people", FollowMode::kLatest), stop), 2);
}

}  // namespace
}  // namespace framering::workers::test
