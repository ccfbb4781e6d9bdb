// ReaderGate decides from real reader-stats files (the ones workers publish) whether a writer
// may write the next frame: the slot it overwrites must be behind every live reader.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

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

  // A reader process that died without removing its stats file (as after SIGKILL).
  const pid_t child = ::fork();
  if (child == 0) {
    ReaderStatsPublisher dead(ring, "dead");
    dead.epoch().store(kEpoch);
    dead.position().store(0);
    ::_exit(0);  // skips the destructor: the file stays
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_FALSE(read_reader_stats(ring).empty());
  gate.rescan();
  EXPECT_TRUE(may_write(gate, 60));
  EXPECT_EQ(gate.live_readers(), 0u);
}

TEST(ReaderGate, StatsFilesOfAnotherUserHoldNothing) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to hand a file to another user";
  const std::string ring = framering::testing::unique_ring("gate");
  framering::testing::RingCleanup cleanup{ring};
  ReaderGate gate(ring, 0);
  // A planted file: right magic, ring, epoch and a live pid (ours), but another user's.
  ReaderStatsPublisher planted(ring, "planted");
  planted.epoch().store(kEpoch);
  planted.position().store(0);  // as the other tests show, an own user's reader here holds
  ASSERT_EQ(::chown(reader_stats_path(ring, "planted").c_str(), 65534, 65534), 0);
  gate.rescan();
  EXPECT_TRUE(may_write(gate, 50));
  EXPECT_EQ(gate.live_readers(), 0u);
}

}  // namespace
}  // namespace framering::ring
