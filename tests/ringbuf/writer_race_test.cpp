// Many writer processes started at once on one ring name: exactly one may end up live, every
// time, whether the name is free or held by a dead writer's segment. (The lock is verified
// against the inode at the name, and a new name is created with RENAME_NOREPLACE.)
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "framering/ringbuf/error.hpp"
#include "framering/ringbuf/names.hpp"
#include "framering/ringbuf/reader.hpp"
#include "framering/ringbuf/writer.hpp"
#include "test_util.hpp"

namespace framering::ring {
namespace {

using framering::testing::RingCleanup;
using framering::testing::small_geometry;
using framering::testing::unique_ring;

constexpr int kWriters = 8;
constexpr int kRounds = 50;
// 8 slots of 3 MiB, the size of a real 1024x1024 BGR ring: creating it (posix_fallocate) takes
// long enough for the contenders to overlap, as real ingests starting together would.
constexpr std::uint64_t kFrameBytes = 3u << 20;
constexpr std::uint32_t kSlots = 8;

struct Contender {
  pid_t pid = -1;
  int result_fd = -1;  // one byte: 'W' (live writer) or 'L' (refused)
};

// Forks kWriters processes that wait on `go`, then all call Writer::create(name). A winner keeps
// its ring until `hold` is closed.
std::vector<Contender> start_contenders(const std::string& name, const int go[2],
                                        const int hold[2]) {
  std::vector<Contender> out;
  for (int i = 0; i < kWriters; ++i) {
    int result[2];
    if (::pipe(result) != 0) return out;
    const pid_t pid = ::fork();
    if (pid == 0) {
      ::close(result[0]);
      ::close(go[1]);
      ::close(hold[1]);  // else the parent closing its end would never reach the winner as EOF
      const int go_fd = go[0], hold_fd = hold[0];
      char byte = 0;
      if (::read(go_fd, &byte, 1) != 1) ::_exit(1);
      try {
        Writer w = Writer::create(
            {.name = name, .geometry = small_geometry(kFrameBytes), .slots = kSlots});
        (void)!::write(result[1], "W", 1);
        while (::read(hold_fd, &byte, 1) > 0) {
        }
        ::_exit(0);
      } catch (const RingError& e) {
        (void)!::write(result[1], e.kind() == ErrorKind::kLiveWriter ? "L" : "E", 1);
        ::_exit(0);
      }
    }
    ::close(result[1]);
    out.push_back({pid, result[0]});
  }
  return out;
}

void race(const std::string& name, int round) {
  int go[2], hold[2];
  ASSERT_EQ(::pipe(go), 0);
  ASSERT_EQ(::pipe(hold), 0);
  std::vector<Contender> contenders = start_contenders(name, go, hold);
  ::close(go[0]);
  ::close(hold[0]);
  ASSERT_EQ(contenders.size(), static_cast<std::size_t>(kWriters));
  const std::string start(kWriters, 'g');
  ASSERT_EQ(::write(go[1], start.data(), start.size()), kWriters);  // all at once
  int winners = 0, errors = 0;
  pid_t winner = -1;
  for (const Contender& c : contenders) {
    char byte = 0;
    ASSERT_EQ(::read(c.result_fd, &byte, 1), 1) << "round " << round;
    ::close(c.result_fd);
    if (byte == 'W') {
      ++winners;
      winner = c.pid;
    }
    if (byte == 'E') ++errors;
  }
  EXPECT_EQ(winners, 1) << "round " << round;
  EXPECT_EQ(errors, 0) << "round " << round;
  if (winners == 1) {
    // The one that believes it won is the one at the name.
    Reader r = Reader::attach(name);
    EXPECT_EQ(r.info().writer_pid, winner) << "round " << round;
    EXPECT_TRUE(r.writer_alive());
  }
  ::close(go[1]);
  ::close(hold[1]);  // winners close (and unlink) their rings and exit
  for (const Contender& c : contenders) ::waitpid(c.pid, nullptr, 0);
}

TEST(WriterRace, ExactlyOneOfManyWritersWinsAFreeName) {
  const std::string name = unique_ring("race");
  RingCleanup cleanup{name};
  for (int round = 0; round < kRounds && !HasFailure(); ++round) race(name, round);
}

TEST(WriterRace, ExactlyOneOfManyWritersTakesOverADeadWritersRing) {
  const std::string name = unique_ring("racedead");
  RingCleanup cleanup{name};
  for (int round = 0; round < kRounds && !HasFailure(); ++round) {
    {
      Writer dead = Writer::create(
          {.name = name, .geometry = small_geometry(), .slots = 2, .keep_on_close = true});
    }  // closed and kept: a segment nobody holds
    race(name, round);
  }
}

}  // namespace
}  // namespace framering::ring
