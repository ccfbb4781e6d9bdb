// Snapshots written by the event output. Torn: the seqlock re-check after a snapshot is encoded: a
// snapshot whose frame the writer overwrote is dropped (no file, no "snapshot" in the event) and
// counted in framering_snapshots_dropped_total{reason="torn"}. The overwrite is made to happen, not
// hoped for: the test's own writer laps the 2-slot ring after the encoder has read the slot and
// before the re-check (the last moment a tear can happen, and the same state for the seqlock as a
// rewrite half-way through encoding). A second event whose frame stays intact gets its snapshot,
// so the test sees both outcomes of the same path. Best: an update whose score beats the start's
// (and every update before it) gets "<id>-best.jpg", which the event then carries.
#include <gtest/gtest.h>

#include <opencv2/imgcodecs.hpp>

#include <filesystem>

#include "event_output.hpp"
#include "framering/metrics/catalogue.hpp"
#include "framering/ringbuf/reader.hpp"
#include "ring_fixture.hpp"

namespace framering::workers::test {
namespace {

namespace fs = std::filesystem;

Event start_with_box(const std::string& subject, Phase phase = Phase::kStart, double score = 1.0,
                     cv::Rect box = cv::Rect(100, 80, 60, 120)) {
  Event e;
  e.kind = "people";
  e.phase = phase;
  e.subject = subject;
  e.boxes = {box};
  e.scores = {score};
  return e;
}

double sample(const std::string& scrape, const std::string& series) {
  const std::size_t at = scrape.find(series + " ");
  return at == std::string::npos ? -1 : std::stod(scrape.substr(at + series.size() + 1));
}

TEST(SnapshotTorn, SnapshotOfAFrameOverwrittenWhileEncodedIsDroppedAndCounted) {
  constexpr std::uint32_t kSlots = 2;
  const auto frames = vtest_frames(kSlots + 2);
  const std::string name = unique_ring_name();
  RingCleanup cleanup{name};
  ring::Writer w = make_writer(name, frames[0].size(), kSlots);
  publish(w, frames[0]);
  ring::Reader reader = ring::Reader::attach(name);

  const fs::path dir = fs::temp_directory_path() / (name + "-snaps");
  const std::string events = (fs::temp_directory_path() / (name + "-events.jsonl")).string();
  metrics::Endpoint endpoint("0");  // the catalogue, scraped in-process
  Report report(name, "snap", &endpoint.worker(name, "snap"));
  EventSink sink(events, {"lobby", name, "snap", "motion"});
  Log log("test", LogLevel::kWarn);
  {
    EventOutput output(sink, "motion", log, report, nullptr,
                       std::make_unique<Snapshots>(SnapshotSettings{dir.string()}, "lobby", log));

    // Frame 0: encoded from its slot, then frames 1 and 2 are published; frame 2 reuses frame 0's
    // slot before the re-check.
    ring::ReadResult r = reader.read(0);
    ASSERT_EQ(r.status, ring::ReadStatus::kOk);
    const ring::FrameView f0 = r.frame;
    const cv::Mat slot0(frames[0].rows, frames[0].cols, CV_8UC3, const_cast<std::byte*>(f0.data));
    int lapped = 0;
    output.frame({start_with_box("a")}, FrameContext{0, f0.seq, 0, 0}, cv::Point(),
                 SourceFrame{slot0, ring::PixFmt::kBgr24, [&] {
                               publish(w, frames[1]);
                               publish(w, frames[2]);
                               ++lapped;
                               return reader.valid(f0);
                             }});
    EXPECT_EQ(lapped, 1) << "the snapshot was re-validated once, after encoding";

    // Frame 2, left alone: its snapshot is written.
    r = reader.read(2);
    ASSERT_EQ(r.status, ring::ReadStatus::kOk);
    const ring::FrameView f2 = r.frame;
    const cv::Mat slot2(frames[2].rows, frames[2].cols, CV_8UC3, const_cast<std::byte*>(f2.data));
    output.frame({start_with_box("b")}, FrameContext{2, f2.seq, 0, 0}, cv::Point(),
                 SourceFrame{slot2, ring::PixFmt::kBgr24, [&] { return reader.valid(f2); }});
  }

  const auto lines = read_events(events);
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0]["frame_no"], 0u);
  EXPECT_FALSE(lines[0].contains("snapshot")) << lines[0].dump();
  ASSERT_TRUE(lines[1].contains("snapshot")) << lines[1].dump();
  const std::string kept = lines[1]["snapshot"];
  EXPECT_TRUE(fs::is_regular_file(kept));
  // Only the intact frame's file exists: nothing of the torn one, not even a partial file.
  std::vector<std::string> files;
  for (const auto& e : fs::directory_iterator(dir / "lobby")) files.push_back(e.path().string());
  EXPECT_EQ(files, std::vector<std::string>{kept});

  const std::string labels = "{reason=\"torn\",ring=\"" + name + "\",worker=\"snap\"}";
  EXPECT_EQ(sample(endpoint.scrape(), "framering_snapshots_dropped_total" + labels), 1.0);
  fs::remove_all(dir);
  fs::remove(events);
}

TEST(SnapshotBest, AnUpdateThatBeatsTheBestScoreSoFarGetsItsOwnSnapshot) {
  const auto frames = vtest_frames(4);
  const std::string name = unique_ring_name();
  RingCleanup cleanup{name};
  ring::Writer w = make_writer(name, frames[0].size(), 8);
  for (int i = 0; i < 4; ++i) publish(w, frames[i]);
  ring::Reader reader = ring::Reader::attach(name);

  const fs::path dir = fs::temp_directory_path() / (name + "-snaps");
  const std::string events = (fs::temp_directory_path() / (name + "-events.jsonl")).string();
  Report report(name, "best", nullptr);
  EventSink sink(events, {"lobby", name, "best", "people"});
  Log log("test", LogLevel::kWarn);
  const cv::Rect best_box(300, 200, 80, 160);
  {
    EventOutput output(sink, "people", log, report, nullptr,
                       std::make_unique<Snapshots>(SnapshotSettings{dir.string()}, "lobby", log));
    // start 0.6, update 0.5 (no picture), update 0.9 (best), update 0.7 (no picture), end.
    const std::vector<std::pair<Phase, double>> steps = {
        {Phase::kStart, 0.6}, {Phase::kUpdate, 0.5}, {Phase::kUpdate, 0.9}, {Phase::kUpdate, 0.7}};
    for (std::uint64_t n = 0; n < steps.size(); ++n) {
      const ring::ReadResult r = reader.read(n);
      ASSERT_EQ(r.status, ring::ReadStatus::kOk);
      const cv::Mat slot(frames[n].rows, frames[n].cols, CV_8UC3,
                         const_cast<std::byte*>(r.frame.data));
      const ring::FrameView f = r.frame;
      const cv::Rect box = n == 2 ? best_box : cv::Rect(100, 80, 60, 120);
      output.frame({start_with_box("p", steps[n].first, steps[n].second, box)},
                   FrameContext{n, f.seq, 0, 0}, cv::Point(),
                   SourceFrame{slot, ring::PixFmt::kBgr24, [&] { return reader.valid(f); }});
    }
    output.close_all("stopped", FrameContext{3, 0, 0, 0});
  }
  const auto lines = read_events(events);
  ASSERT_EQ(lines.size(), 5u);
  const std::string id = lines[0]["id"];
  const std::string best = (dir / "lobby" / (id + "-best.jpg")).string();
  EXPECT_FALSE(lines[0].contains("best_snapshot"));
  EXPECT_FALSE(lines[1].contains("best_snapshot"));  // 0.5 < the start's 0.6
  for (std::size_t i = 2; i < lines.size(); ++i) {   // from the 0.9 update on, to the end
    EXPECT_EQ(lines[i].value("best_snapshot", ""), best) << lines[i].dump();
    EXPECT_EQ(lines[i]["snapshot"], lines[0]["snapshot"]);  // the start's stays
  }
  // The best picture is frame 2 with its box: red on the box's left edge, frame size.
  const cv::Mat jpeg = cv::imread(best, cv::IMREAD_COLOR);
  ASSERT_FALSE(jpeg.empty()) << best;
  EXPECT_EQ(jpeg.size(), frames[2].size());
  const cv::Vec3b edge = jpeg.at<cv::Vec3b>(best_box.y + best_box.height / 2, best_box.x);
  EXPECT_GT(edge[2], 170);
  EXPECT_LT(edge[1], 100);
  EXPECT_LT(edge[0], 100);
  // Not replaced by the weaker update after it: the file's box is frame 2's, not frame 3's.
  const cv::Vec3b other = jpeg.at<cv::Vec3b>(80 + 60, 100);
  EXPECT_FALSE(other[2] > 170 && other[1] < 100 && other[0] < 100);
  fs::remove_all(dir);
  fs::remove(events);
}

}  // namespace
}  // namespace framering::workers::test
