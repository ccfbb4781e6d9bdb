// ReaderGate decides from real reader-stats files (the ones workers publish) whether a writer
// may write the next frame: the slot it overwrites must be behind every live reader.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cerrno>
#include <cstring>

#include <memory>
#include <optional>
#include <vector>

#include "framering/ringbuf/layout.hpp"
#include "framering/ringbuf/names.hpp"
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

// Writes `pid` into a stats file's pid field, as if the reader's pid now named another process.
void rename_pid(const std::string& path, std::int32_t pid) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
  ASSERT_GE(fd, 0) << path;
  ASSERT_EQ(::pwrite(fd, &pid, sizeof pid, stats::kPid), static_cast<ssize_t>(sizeof pid));
  ::close(fd);
}

std::optional<ReaderStatsSnapshot> stats_of(const std::string& ring, const std::string& id) {
  return read_reader_stats_file(reader_stats_path(ring, id), ring);
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

TEST(ReaderLiveness, AKilledReadersFileNamingAReusedPidIsDeadToGateStatsAndCleanup) {
  framering::testing::PrivateShmDir shm;  // cleanup_stale sweeps the whole directory
  const std::string ring = framering::testing::unique_ring("reuse");
  ReaderGate gate(ring, 0);
  crashed_reader(ring, "gone", 0);
  // Its pid is reused: the file now names a live process (this test), but nobody holds the lock.
  rename_pid(reader_stats_path(ring, "gone"), ::getpid());
  const auto snap = stats_of(ring, "gone");
  ASSERT_TRUE(snap);
  EXPECT_EQ(snap->pid, ::getpid());
  EXPECT_FALSE(snap->alive);
  gate.rescan();
  EXPECT_TRUE(may_write(gate, 50)) << "a dead reader naming a live pid held the writer";
  EXPECT_EQ(gate.live_readers(), 0u);
  EXPECT_EQ(cleanup_stale(), 1);
  EXPECT_FALSE(stats_of(ring, "gone"));
}

TEST(ReaderLiveness, AStoppedReaderIsAliveAndHoldsTheWriter) {
  framering::testing::PrivateShmDir shm;
  const std::string ring = framering::testing::unique_ring("stop");
  int ready[2];
  ASSERT_EQ(::pipe(ready), 0);
  const pid_t child = ::fork();
  if (child == 0) {
    ReaderStatsPublisher reader(ring, "frozen");
    reader.epoch().store(kEpoch);
    reader.position().store(5);
    char c = 'r';
    if (::write(ready[1], &c, 1) != 1) ::_exit(1);
    for (;;) ::pause();
  }
  char c = 0;
  ASSERT_EQ(::read(ready[0], &c, 1), 1);
  ::kill(child, SIGSTOP);
  ReaderGate gate(ring, 0);
  const auto snap = stats_of(ring, "frozen");
  ASSERT_TRUE(snap);
  EXPECT_TRUE(snap->alive) << "a stopped reader still holds its lock";
  EXPECT_FALSE(may_write(gate, 5 + kSlots)) << "the writer overwrote a stopped reader's frame";
  EXPECT_EQ(gate.live_readers(), 1u);
  EXPECT_EQ(cleanup_stale(), 0) << "cleanup removed a stopped reader's file";
  ::kill(child, SIGKILL);
  ::waitpid(child, nullptr, 0);
  EXPECT_FALSE(stats_of(ring, "frozen")->alive) << "the kernel drops a killed reader's lock";
  gate.rescan();
  EXPECT_TRUE(may_write(gate, 5 + kSlots));
  EXPECT_EQ(cleanup_stale(), 1);
  ::close(ready[0]);
  ::close(ready[1]);
}

TEST(ReaderStatsFile, ForeignShortAndOtherVersionFilesAreRejectedWithAReason) {
  framering::testing::PrivateShmDir shm;
  const std::string ring = framering::testing::unique_ring("bad");
  ReaderStatsPublisher good(ring, "good");
  const std::string path = reader_stats_path(ring, "good");
  EXPECT_EQ(inspect_reader_stats_file(path, ring).rejected, "");
  EXPECT_NE(inspect_reader_stats_file(path, "other").rejected.find("names ring '" + ring),
            std::string::npos);
  const auto planted = [&](const std::string& id, auto&& edit) {
    const std::string p = reader_stats_path(ring, id);
    std::vector<char> bytes(kStatsBytes, 0);
    std::memcpy(bytes.data(), kStatsMagicBytes, sizeof kStatsMagicBytes);
    const std::uint32_t version = kStatsVersion;
    std::memcpy(bytes.data() + stats::kVersion, &version, sizeof version);
    std::memcpy(bytes.data() + stats::kRing, ring.data(), ring.size());
    edit(bytes);
    const int fd = ::open(p.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    EXPECT_EQ(::write(fd, bytes.data(), bytes.size()), static_cast<ssize_t>(bytes.size()));
    ::close(fd);
    return inspect_reader_stats_file(p, ring).rejected;
  };
  EXPECT_EQ(planted("fine", [](auto&) {}), "");
  EXPECT_EQ(planted("short", [](auto& b) { b.resize(100); }), "100 bytes, not 4096");
  EXPECT_EQ(planted("foreign", [](auto& b) { b[0] = 'X'; }),
            "not a framering reader stats file (no FMRREADR magic)");
  EXPECT_NE(planted("v1",
                    [](auto& b) {
                      const std::uint32_t v1 = 1;
                      std::memcpy(b.data() + stats::kVersion, &v1, sizeof v1);
                    })
                .find("stats format version 1 (this framering reads 2"),
            std::string::npos);
  EXPECT_EQ(read_reader_stats(ring).size(), 2u) << "only the good and the fine file count";
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
