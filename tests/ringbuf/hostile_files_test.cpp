// Files anyone can plant in /dev/shm under framering names: FIFOs, symlinks, directories, stats
// files with hostile names or that shrink while being read. Every opener must neither block nor
// fault nor fail forever on them. Each blocking case runs in a child process with a deadline, so
// a regression fails the test instead of hanging it.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cctype>
#include <chrono>
#include <cstring>
#include <functional>
#include <memory>
#include <optional>
#include <thread>

#include "framering/ringbuf/error.hpp"
#include "framering/ringbuf/names.hpp"
#include "framering/ringbuf/reader.hpp"
#include "framering/ringbuf/reader_stats.hpp"
#include "framering/ringbuf/writer.hpp"
#include "test_util.hpp"

namespace framering::ring {
namespace {

using framering::testing::PrivateShmDir;
using framering::testing::RingCleanup;
using framering::testing::small_geometry;
using framering::testing::unique_ring;
using namespace std::chrono_literals;

// Runs `body` in a child process; its exit status must be 0 within `deadline` (a blocked or
// crashed child fails the test; a blocked one is killed).
void in_child_within(const std::function<int()>& body, std::chrono::seconds deadline,
                     const std::string& what) {
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    int code = 1;
    try {
      code = body();
    } catch (...) {
      code = 3;
    }
    ::_exit(code);
  }
  int status = 0;
  const auto until = std::chrono::steady_clock::now() + deadline;
  pid_t done = 0;
  while ((done = ::waitpid(child, &status, WNOHANG)) == 0 &&
         std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(5ms);
  }
  if (done == 0) {
    ::kill(child, SIGKILL);
    ::waitpid(child, &status, 0);
    FAIL() << what << ": still blocked after " << deadline.count() << " s";
  }
  ASSERT_TRUE(WIFEXITED(status)) << what << ": killed by signal "
                                 << (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
  EXPECT_EQ(WEXITSTATUS(status), 0) << what;
}

std::optional<ErrorKind> attach_error(const std::string& name) {
  try {
    Reader::attach(name);
  } catch (const RingError& e) {
    return e.kind();
  }
  return std::nullopt;
}

TEST(HostileFiles, FifoUnderARingNameBlocksNoOpener) {
  PrivateShmDir shm;
  const std::string name = unique_ring("fifo");
  ASSERT_EQ(::mkfifo(segment_path(name).c_str(), 0666), 0);
  in_child_within([&] { return attach_error(name) == ErrorKind::kBadHeader ? 0 : 1; }, 10s,
                  "Reader::attach on a FIFO");
  in_child_within(
      [&] {
        try {
          Writer::create({.name = name, .geometry = small_geometry(), .slots = 2});
        } catch (const RingError& e) {
          return std::strstr(e.what(), "not a regular file") ? 0 : 2;
        }
        return 1;
      },
      10s, "Writer::create over a FIFO");
  in_child_within([&] { return cleanup_stale() == 0 ? 0 : 1; }, 10s, "cleanup_stale with a FIFO");
  struct stat st {};
  ASSERT_EQ(::lstat(segment_path(name).c_str(), &st), 0);
  EXPECT_TRUE(S_ISFIFO(st.st_mode)) << "what is not ours is left alone";
}

TEST(HostileFiles, FifoAndSymlinkUnderStatsNamesAreSkipped) {
  PrivateShmDir shm;
  const std::string name = unique_ring("sfifo");
  Writer w = Writer::create({.name = name, .geometry = small_geometry(), .slots = 2});
  ASSERT_EQ(::mkfifo(reader_stats_path(name, "fifo").c_str(), 0666), 0);
  ASSERT_EQ(::symlink("/etc/passwd", reader_stats_path(name, "link").c_str()), 0);
  in_child_within([&] { return read_reader_stats(name).empty() ? 0 : 1; }, 10s,
                  "read_reader_stats over a FIFO and a symlink");
  in_child_within(
      [&] {
        cleanup_stale();
        return 0;
      },
      10s, "cleanup_stale over stats FIFOs");
}

TEST(HostileFiles, SymlinkUnderARingNameIsRefusedNotFollowed) {
  const std::string target = unique_ring("tgt");
  const std::string link = unique_ring("lnk");
  RingCleanup c1{target}, c2{link};
  Writer w = Writer::create({.name = target, .geometry = small_geometry(), .slots = 2});
  ASSERT_EQ(::symlink(w.path().c_str(), segment_path(link).c_str()), 0);
  EXPECT_EQ(attach_error(link), ErrorKind::kBadHeader);
  EXPECT_THROW(Writer::create({.name = link, .geometry = small_geometry(), .slots = 2}), RingError);
}

TEST(HostileFiles, ReaderRefusesASegmentOthersMayWrite) {
  const std::string name = unique_ring("gw");
  RingCleanup cleanup{name};
  Writer w = Writer::create({.name = name, .geometry = small_geometry(), .slots = 2});
  ASSERT_EQ(::chmod(w.path().c_str(), 0666), 0);
  EXPECT_EQ(attach_error(name), ErrorKind::kPermission);
}

TEST(HostileFiles, ReaderRefusesAnUntrustedOwnerWhenAsked) {
  const std::string name = unique_ring("own");
  RingCleanup cleanup{name};
  Writer w = Writer::create({.name = name, .geometry = small_geometry(), .slots = 2});
  ASSERT_EQ(::chown(w.path().c_str(), 65534, 65534), 0);
  ReaderOptions only_me;
  only_me.owners = {::geteuid()};
  try {
    Reader::attach(name, only_me);
    FAIL() << "a segment of uid 65534 was attached";
  } catch (const RingError& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kPermission);
    EXPECT_NE(std::string(e.what()).find("uid 65534"), std::string::npos) << e.what();
  }
  EXPECT_NO_THROW(Reader::attach(name));  // without the restriction: a shared ring is fine
}

// A stats file its owner truncates while we read it: read_reader_stats copies with pread, so
// this is a skipped file at worst. (A mapping would take SIGBUS on the first touched page.)
TEST(HostileFiles, StatsFileTruncatedWhileReadIsNoSigbus) {
  const std::string name = unique_ring("trunc");
  RingCleanup cleanup{name};
  in_child_within(
      [&] {
        ReaderStatsPublisher pub(name, "victim");
        const std::string path = reader_stats_path(name, "victim");
        std::atomic<bool> stop{false};
        std::thread shrinker([&] {
          while (!stop.load()) {
            (void)!::truncate(path.c_str(), 0);
            (void)!::truncate(path.c_str(), 4096);
          }
        });
        for (int i = 0; i < 20000; ++i) (void)read_reader_stats(name);
        stop.store(true);
        shrinker.join();
        return 0;
      },
      120s, "reading a stats file that is being truncated");
}

TEST(HostileFiles, NamesInStatsFilesAreSanitised) {
  const std::string name = unique_ring("esc");
  RingCleanup cleanup{name};
  ReaderStatsPublisher pub(name, "esc");
  const int fd = ::open(pub.path().c_str(), O_RDWR | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  const char hostile[] = "\x1b]0;pwned\x07\x1b[2J\xff\xfe";
  ASSERT_EQ(::pwrite(fd, hostile, sizeof hostile, 80), static_cast<ssize_t>(sizeof hostile));
  ::close(fd);
  const auto all = read_reader_stats(name);
  ASSERT_EQ(all.size(), 1u);
  for (char c : all[0].reader) {
    EXPECT_TRUE(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '?')
        << "byte " << int(static_cast<unsigned char>(c)) << " in " << all[0].reader;
  }
  EXPECT_EQ(all[0].reader.size(), std::strlen(hostile));
}

TEST(HostileFiles, StatsOfOtherUsersAreNotTrusted) {
  const std::string name = unique_ring("uid");
  RingCleanup cleanup{name};
  ReaderStatsPublisher pub(name, "theirs");
  ASSERT_EQ(::chown(pub.path().c_str(), 65534, 65534), 0);
  EXPECT_TRUE(read_reader_stats(name).empty());
  EXPECT_EQ(read_reader_stats(name, {65534}).size(), 1u);
}

// Something this user cannot replace under a reader's stats name (here a directory: even root
// cannot rename a file over one; another user's file in the sticky /dev/shm is the same for a
// non-root worker) must not fail every start: the publisher takes "<id>.<pid>" and says so.
TEST(HostileFiles, PlantedStatsNameDoesNotFailThePublisher) {
  const std::string name = unique_ring("plant");
  RingCleanup cleanup{name};
  ASSERT_EQ(::mkdir(reader_stats_path(name, "w1").c_str(), 0755), 0);
  std::unique_ptr<ReaderStatsPublisher> pub;
  ASSERT_NO_THROW(pub = std::make_unique<ReaderStatsPublisher>(name, "w1"));
  EXPECT_EQ(pub->path(), reader_stats_path(name, "w1") + "." + std::to_string(::getpid()));
  EXPECT_NE(pub->displaced().find("publishing as"), std::string::npos) << pub->displaced();
  pub->position().store(42);
  const auto all = read_reader_stats(name);
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].reader, "w1");
  EXPECT_EQ(all[0].position, 42u);
  pub.reset();
  ::rmdir(reader_stats_path(name, "w1").c_str());
}

}  // namespace
}  // namespace framering::ring
