// ReaderGate decides from real reader-stats files (the ones workers publish) whether a writer
// may write the next frame: the slot it overwrites must be behind every live reader.
#include <gtest/gtest.h>

#include <sys/wait.h>
#include <unistd.h>
#include <cerrno>
#include <cstring>

#include <memory>

#include "framering/ringbuf/reader_gate.hpp"
#include "framering/ringbuf/reader_stats.hpp"
#include "test_util.hpp"

namespace framering::ring {
namespace {

constexpr std::uint64_t kSlots = 4;
constexpr std::uint64_t kEpoch = 0x1234;

bool may_write(ReaderGate& gate, std::uint64_t frame_no) {
  int polls = 0;
  // stop() is asked between polls: give up after a few, so "closed" returns false quickly.
  return gate.wait_to_write(frame_no, kSlots, kEpoch, [&] { return ++polls > 3; });
}

// A reader process that dies without removing its stats file (as after SIGKILL).
void crashed_reader(const std::string& ring, const std::string& id, std::uint64_t position) {
  const pid_t child = ::fork();
  if (child == 0) {
    ReaderStatsPublisher dead(ring, id);
    dead.epoch().store(kEpoch);
    dead.position().store(position);
    ::_exit(0);  // skips the destructor: the file stays
  }
  ::waitpid(child, nullptr, 0);
}

TEST(ReaderGate, FreeSlotsNeedNoReaderTheLastOneNeedsTheMinimum) {
  const std::string ring = framering::testing::unique_ring("gate");
  framering::testing::RingCleanup cleanup{ring};
  ReaderGate gate(ring, 1);
  EXPECT_TRUE(may_write(gate, 0));
  EXPECT_TRUE(may_write(gate, kSlots - 2));
  EXPECT_FALSE(may_write(gate, kSlots - 1)) << "the last free slot must wait for a reader";
  ReaderStatsPublisher reader(ring, "a");
  reader.epoch().store(kEpoch);
  reader.position().store(0);
  gate.rescan();
  EXPECT_TRUE(may_write(gate, kSlots - 1));
  EXPECT_EQ(gate.live_readers(), 1u);
}

TEST(ReaderGate, OverwritingWaitsUntilEveryReaderMovedPast) {
  const std::string ring = framering::testing::unique_ring("gate");
  framering::testing::RingCleanup cleanup{ring};
  ReaderGate gate(ring, 1);
  ReaderStatsPublisher fast(ring, "fast"), slow(ring, "slow");
  for (auto* r : {&fast, &slow}) r->epoch().store(kEpoch);
  fast.position().store(100);
  slow.position().store(10);
  gate.rescan();
  // Frame 13 overwrites frame 9 (slot 1): the slow reader wants 10, so 13 may go, 14 may not.
  EXPECT_TRUE(may_write(gate, 13));
  EXPECT_FALSE(may_write(gate, 14));
  slow.position().store(11);
  EXPECT_TRUE(may_write(gate, 14));
}

TEST(ReaderGate, ReadersOfAnotherEpochOrDeadOnesHoldNothing) {
  const std::string ring = framering::testing::unique_ring("gate");
  framering::testing::RingCleanup cleanup{ring};
  ReaderGate gate(ring, 0);
  ReaderStatsPublisher old_epoch(ring, "old");
  old_epoch.epoch().store(kEpoch + 1);
  old_epoch.position().store(0);
  gate.rescan();
  EXPECT_TRUE(may_write(gate, 50));
  EXPECT_EQ(gate.live_readers(), 0u);

  crashed_reader(ring, "dead", 0);
  ASSERT_FALSE(read_reader_stats(ring).empty());
  gate.rescan();
  EXPECT_TRUE(may_write(gate, 60));
  EXPECT_EQ(gate.live_readers(), 0u);
}

TEST(ReaderGate, StatsFilesOfAnotherUserHoldNothing) {
  const std::string ring = framering::testing::unique_ring("gate");
  framering::testing::RingCleanup cleanup{ring};
  ReaderGate gate(ring, 0);
  // A planted file: right magic, ring, epoch and a live pid (ours), but another user's.
  ReaderStatsPublisher planted(ring, "planted");
  planted.epoch().store(kEpoch);
  planted.position().store(0);  // as the other tests show, an own user's reader here holds
  // A probe, not a uid check: handing a file to another user needs CAP_CHOWN.
  if (::chown(reader_stats_path(ring, "planted").c_str(), 65534, 65534) != 0)
    GTEST_SKIP() << "cannot hand a file to another user here (chown: " << std::strerror(errno)
                 << "); needs CAP_CHOWN";
  gate.rescan();
  EXPECT_TRUE(may_write(gate, 50));
  EXPECT_EQ(gate.live_readers(), 0u);
}

TEST(ReaderGate, ACrashedReaderIsWaitedForUntilItsReplacementUnderTheSameName) {
  const std::string ring = framering::testing::unique_ring("gate");
  framering::testing::RingCleanup cleanup{ring};
  ReaderGate gate(ring, 1);
  {
    ReaderStatsPublisher first(ring, "w");
    first.epoch().store(kEpoch);
    first.position().store(20);
    gate.rescan();
    EXPECT_TRUE(may_write(gate, 20));
  }
  crashed_reader(ring, "w", 20);  // a crash leaves the file behind, with a dead pid
  gate.rescan();
  EXPECT_FALSE(may_write(gate, 20)) << "one reader is waited for; the crashed one is not live";
  // The restarted reader renames its new file over the old one: the gate must map the new file.
  ReaderStatsPublisher restarted(ring, "w");
  restarted.epoch().store(kEpoch);
  restarted.position().store(20);
  gate.rescan();
  EXPECT_TRUE(may_write(gate, 20));
  EXPECT_EQ(gate.live_readers(), 1u);
}

TEST(ReaderGate, AReaderThatLeavesOnPurposeIsNotWaitedFor) {
  const std::string ring = framering::testing::unique_ring("gate");
  framering::testing::RingCleanup cleanup{ring};
  ReaderGate gate(ring, 2);
  auto done = std::make_unique<ReaderStatsPublisher>(ring, "done");
  ReaderStatsPublisher stays(ring, "tmpw");  // an id may start with "tmp"
  for (auto* r : {done.get(), &stays}) {
    r->epoch().store(kEpoch);
    r->position().store(30);
  }
  gate.rescan();
  EXPECT_TRUE(may_write(gate, 30));
  EXPECT_EQ(gate.live_readers(), 2u);
  done.reset();  // e.g. --max-frames reached: it removes its file
  gate.rescan();
  EXPECT_EQ(gate.required_readers(), 1u);
  EXPECT_TRUE(may_write(gate, 30)) << "the writer would wait forever for a reader that finished";
}

TEST(ReaderGate, DrainedWhenEveryReaderReadTheLastFrame) {
  const std::string ring = framering::testing::unique_ring("gate");
  framering::testing::RingCleanup cleanup{ring};
  ReaderGate gate(ring, 1);
  int polls = 0;
  const auto give_up = [&] { return ++polls > 3; };
  EXPECT_FALSE(gate.wait_drained(3, kEpoch, give_up)) << "no reader attached yet";
  ReaderStatsPublisher reader(ring, "r");
  reader.epoch().store(kEpoch);
  reader.position().store(2);
  polls = 0;
  EXPECT_FALSE(gate.wait_drained(3, kEpoch, give_up)) << "frame 2 is not read yet";
  reader.announce_position(3);
  polls = 0;
  EXPECT_TRUE(gate.wait_drained(3, kEpoch, give_up));
}

}  // namespace
}  // namespace framering::ring
