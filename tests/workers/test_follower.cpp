// Follow modes and consumer-group shares over a real ring fed by ring::Writer.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <set>
#include <thread>

#include "framering/ringbuf/layout.hpp"

#include "framering/ringbuf/reader.hpp"
#include "framering/workers/follower.hpp"
#include "ring_fixture.hpp"

namespace framering::workers::test {
namespace {

using namespace std::chrono_literals;

cv::Mat tiny_frame(std::uint64_t n) {
  return cv::Mat(8, 16, CV_8UC1, cv::Scalar(static_cast<double>(n % 251)));
}

void publish_n(ring::Writer& w, int count) {
  for (int i = 0; i < count; ++i) publish(w, tiny_frame(w.cursor()));
}

TEST(Share, ArithmeticMatchesBruteForce) {
  for (std::uint32_t members : {1u, 2u, 3u, 5u}) {
    for (std::uint32_t member = 0; member < members; ++member) {
      const Share s{member, members, false};
      for (std::uint64_t n = 0; n < 40; ++n) {
        std::uint64_t first = n;
        while (!s.mine(first)) ++first;
        EXPECT_EQ(s.first_at_or_after(n), first);
        std::uint64_t last = 0;
        const bool has = s.last_at_or_before(n, last);
        std::int64_t want = static_cast<std::int64_t>(n);
        while (want >= 0 && !s.mine(static_cast<std::uint64_t>(want))) --want;
        EXPECT_EQ(has, want >= 0);
        if (has) {
          EXPECT_EQ(last, static_cast<std::uint64_t>(want));
        }
        for (std::uint64_t to = n; to < 40; ++to) {
          std::uint64_t c = 0;
          for (std::uint64_t k = n; k < to; ++k) c += s.mine(k) ? 1 : 0;
          EXPECT_EQ(s.count(n, to), c);
        }
      }
    }
  }
}

TEST(Follower, GroupMembersSplitEveryFrameWithoutOverlap) {
  const std::string name = unique_ring_name();
  RingCleanup cleanup{name};
  ring::Writer w = make_writer(name, {16, 8}, 64, ring::PixFmt::kGray8);
  std::vector<ring::Reader> readers;
  std::vector<Follower> followers;
  readers.reserve(3);
  for (std::uint32_t m = 0; m < 3; ++m) readers.push_back(ring::Reader::attach(name));
  for (std::uint32_t m = 0; m < 3; ++m)
    followers.emplace_back(readers[m], FollowMode::kEvery, Share{m, 3, false});
  publish_n(w, 50);
  std::set<std::uint64_t> all;
  std::size_t total = 0;
  for (std::uint32_t m = 0; m < 3; ++m) {
    for (;;) {
      const Follower::Step s = followers[m].next(0ns);
      if (s.kind != Follower::Kind::kFrame) break;
      EXPECT_EQ(s.frame.frame_no % 3, m);
      EXPECT_EQ(static_cast<int>(*reinterpret_cast<const std::uint8_t*>(s.frame.data)),
                s.frame.frame_no % 251);
      all.insert(s.frame.frame_no);
      ++total;
    }
    EXPECT_EQ(followers[m].counts().lapped, 0u);
  }
  EXPECT_EQ(total, 50u);       // disjoint...
  EXPECT_EQ(all.size(), 50u);  // ...and complete
  EXPECT_EQ(*all.rbegin(), 49u);
}

TEST(Follower, EveryModeCountsLappedFramesAndResumesAtTheOldestIntact) {
  const std::string name = unique_ring_name();
  RingCleanup cleanup{name};
  ring::Writer w = make_writer(name, {16, 8}, 8, ring::PixFmt::kGray8);
  ring::Reader reader = ring::Reader::attach(name);
  Follower f(reader, FollowMode::kEvery, Share{});
  publish_n(w, 20);  // 8 slots: frames 0..12 are overwritten (12's slot is next to be reused)
  const Follower::Step s = f.next(0ns);
  ASSERT_EQ(s.kind, Follower::Kind::kFrame);
  EXPECT_EQ(s.frame.frame_no, 13u);
  EXPECT_EQ(f.counts().lapped, 13u);
  EXPECT_EQ(f.counts().skipped, 0u);
}

TEST(Follower, EveryModeOnAClosedRingStartsAtTheOldestHeldFrame) {
  const std::string name = unique_ring_name();
  RingCleanup cleanup{name};
  ring::WriterOptions wo;
  wo.name = name;
  wo.geometry = ring::Geometry::image(16, 8, ring::PixFmt::kGray8);
  wo.slots = 8;
  wo.keep_on_close = true;
  ring::Writer w = ring::Writer::create(wo);
  publish_n(w, 8);
  w.close();  // no writer can touch a slot any more: all 8 frames are intact
  ring::Reader reader = ring::Reader::attach(name);
  Follower f(reader, FollowMode::kEvery, Share{});
  for (std::uint64_t n = 0; n < 8; ++n) {
    const Follower::Step s = f.next(0ns);
    ASSERT_EQ(s.kind, Follower::Kind::kFrame);
    EXPECT_EQ(s.frame.frame_no, n);
  }
  EXPECT_EQ(f.counts().lapped, 0u);
}

TEST(Follower, LatestModeTakesTheNewestOfItsShareAndCountsSkipped) {
  const std::string name = unique_ring_name();
  RingCleanup cleanup{name};
  ring::Writer w = make_writer(name, {16, 8}, 8, ring::PixFmt::kGray8);
  publish_n(w, 10);
  ring::Reader reader = ring::Reader::attach(name);
  Follower f(reader, FollowMode::kLatest, Share{1, 2, false});  // odd frames
  Follower::Step s = f.next(0ns);
  ASSERT_EQ(s.kind, Follower::Kind::kFrame);
  EXPECT_EQ(s.frame.frame_no, 9u);  // frames before attaching are not "skipped"
  EXPECT_EQ(f.counts().skipped, 0u);
  EXPECT_EQ(f.next(0ns).kind, Follower::Kind::kIdle);
  publish_n(w, 6);  // 10..15: ours are 11, 13, 15
  s = f.next(0ns);
  ASSERT_EQ(s.kind, Follower::Kind::kFrame);
  EXPECT_EQ(s.frame.frame_no, 15u);
  EXPECT_EQ(f.counts().skipped, 2u);  // 11 and 13
  EXPECT_EQ(f.counts().lapped, 0u);
}

TEST(Follower, WriterGoneThenNewEpoch) {
  const std::string name = unique_ring_name();
  RingCleanup cleanup{name};
  auto w = std::make_unique<ring::Writer>(make_writer(name, {16, 8}, 8, ring::PixFmt::kGray8));
  publish_n(*w, 3);
  ring::Reader reader = ring::Reader::attach(name);
  const std::uint64_t epoch1 = reader.info().epoch;
  Follower f(reader, FollowMode::kEvery, Share{});
  for (int i = 0; i < 3; ++i) ASSERT_EQ(f.next(0ns).kind, Follower::Kind::kFrame);
  w->close();
  EXPECT_EQ(f.next(0ns).kind, Follower::Kind::kWriterGone);
  w = std::make_unique<ring::Writer>(make_writer(name, {16, 8}, 8, ring::PixFmt::kGray8));
  publish_n(*w, 2);
  EXPECT_EQ(f.next(0ns).kind, Follower::Kind::kEpochChanged);
  EXPECT_NE(reader.info().epoch, epoch1);
  const Follower::Step s = f.next(0ns);
  ASSERT_EQ(s.kind, Follower::Kind::kFrame);
  EXPECT_EQ(s.frame.frame_no, 0u);
}

TEST(Share, FirstAtOrAfterSaturatesInsteadOfWrapping) {
  for (std::uint32_t members : {2u, 3u, 7u}) {
    for (std::uint32_t member = 0; member < members; ++member) {
      const Share s{member, members, false};
      for (std::uint64_t n = UINT64_MAX - 20; n != 0; ++n) {
        const std::uint64_t first = s.first_at_or_after(n);
        EXPECT_GE(first, n) << members << "/" << member << " at " << n;
        EXPECT_TRUE(first == UINT64_MAX || s.mine(first));
      }
    }
  }
}

// A segment whose cursor is 2^64-1 while every slot still holds sequence 0 (what anyone who can
// write a ring may leave): a two-member group's every-mode follower must return from next()
// within its timeout instead of bouncing between two positions forever. It runs in a child
// process, so a spinning follower fails the test (killed at the deadline) instead of hanging it.
TEST(Follower, HostileCursorNearTwoToTheSixtyFourDoesNotSpin) {
  const std::string name = unique_ring_name();
  ring::Writer w = make_writer(name, {16, 8}, 4, ring::PixFmt::kGray8);
  {
    const int fd = ::open(w.path().c_str(), O_RDWR | O_CLOEXEC);
    ASSERT_GE(fd, 0);
    const std::uint64_t cursor = UINT64_MAX;
    ASSERT_EQ(::pwrite(fd, &cursor, sizeof cursor, ring::hdr::kCursor), 8);
    ::close(fd);
  }
  for (std::uint32_t member : {0u, 1u}) {
    const pid_t child = ::fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
      ring::Reader reader = ring::Reader::attach(name);
      Follower follower(reader, FollowMode::kEvery, Share{member, 2, false});
      for (int i = 0; i < 3; ++i) (void)follower.next(20ms);
      ::_exit(0);
    }
    int status = -1;
    const auto deadline = std::chrono::steady_clock::now() + 20s;
    while (::waitpid(child, &status, WNOHANG) == 0 && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(10ms);
    if (::waitpid(child, &status, WNOHANG) == 0) {
      ::kill(child, SIGKILL);
      ::waitpid(child, &status, 0);
      FAIL() << "member " << member << ": Follower::next spun for 20 s on a hostile cursor";
    }
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "member " << member;
  }
}

}  // namespace
}  // namespace framering::workers::test
