// Read outcomes, permissions and lifecycle of one ring, exercised with real segments in /dev/shm.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

#include "framering/ringbuf/error.hpp"
#include "framering/ringbuf/names.hpp"
#include "framering/ringbuf/reader.hpp"
#include "framering/ringbuf/reader_stats.hpp"
#include "framering/ringbuf/writer.hpp"
#include "stamp.hpp"
#include "test_util.hpp"

namespace framering::ring {
namespace {

using framering::testing::RingCleanup;
using framering::testing::small_geometry;
using framering::testing::unique_ring;
using framering::testing::verify_stamp;
using framering::testing::write_stamp;
using namespace std::chrono_literals;

void publish_stamped(Writer& w, std::int64_t pts = 0, std::uint32_t flags = 0) {
  auto slot = w.claim();
  write_stamp(slot.payload().data(), slot.payload().size(), slot.frame_no());
  slot.pts_ns = pts;
  slot.flags = flags;
  w.publish(std::move(slot));
}

struct RingTest : ::testing::Test {
  std::string name = unique_ring("r");
  RingCleanup cleanup{name};
  Writer make_writer(std::uint32_t slots = 4) {
    return Writer::create({.name = name, .geometry = small_geometry(), .slots = slots});
  }
};

TEST_F(RingTest, NotYetOnEmptyRing) {
  Writer w = make_writer();
  Reader r = Reader::attach(name);
  EXPECT_EQ(r.read(0).status, ReadStatus::kNotYet);
  EXPECT_EQ(r.latest().status, ReadStatus::kNotYet);
  EXPECT_EQ(r.cursor(), 0u);
}

TEST_F(RingTest, ReadsPublishedFrameInPlace) {
  Writer w = make_writer();
  Reader r = Reader::attach(name);
  publish_stamped(w, 1234, kFlagKeyframe);
  ReadResult res = r.read(0);
  ASSERT_EQ(res.status, ReadStatus::kOk);
  EXPECT_EQ(res.frame.frame_no, 0u);
  EXPECT_EQ(res.frame.seq, seq_committed(0));
  EXPECT_EQ(res.frame.pts_ns, 1234);
  EXPECT_EQ(res.frame.flags, kFlagKeyframe);
  EXPECT_GT(res.frame.publish_realtime_ns, 0u);
  EXPECT_TRUE(verify_stamp(res.frame.data, res.frame.bytes, 0));
  const auto map = r.mapping();
  EXPECT_GE(res.frame.data, map.data());
  EXPECT_LE(res.frame.data + res.frame.bytes, map.data() + map.size());
  EXPECT_TRUE(r.valid(res.frame));
  EXPECT_EQ(res.next, 1u);
}

TEST_F(RingTest, LappedWhenWriterOverwroteTheSlot) {
  Writer w = make_writer(4);
  Reader r = Reader::attach(name);
  for (int i = 0; i < 6; ++i) publish_stamped(w);
  ReadResult res = r.read(0);
  EXPECT_EQ(res.status, ReadStatus::kLapped);
  EXPECT_EQ(res.next, 3u);  // frames 3..5 are intact; cursor 6 - 4 slots + 1
  EXPECT_EQ(res.missed, 3u);
  EXPECT_EQ(r.read(res.next).status, ReadStatus::kOk);
}

TEST_F(RingTest, TornWhenOverwrittenDuringUse) {
  Writer w = make_writer(4);
  Reader r = Reader::attach(name);
  publish_stamped(w);
  ReadResult res = r.read(0);
  ASSERT_EQ(res.status, ReadStatus::kOk);
  for (int i = 0; i < 3; ++i) publish_stamped(w);
  EXPECT_TRUE(r.valid(res.frame));  // slot 0 untouched so far
  auto slot = w.claim();            // frame 4 starts overwriting slot 0
  EXPECT_FALSE(r.valid(res.frame));
  w.publish(std::move(slot));
  EXPECT_FALSE(r.valid(res.frame));
}

TEST_F(RingTest, LatestReturnsNewestFrame) {
  Writer w = make_writer(4);
  Reader r = Reader::attach(name);
  for (int i = 0; i < 10; ++i) publish_stamped(w);
  ReadResult res = r.latest();
  ASSERT_EQ(res.status, ReadStatus::kOk);
  EXPECT_EQ(res.frame.frame_no, 9u);
  EXPECT_TRUE(verify_stamp(res.frame.data, res.frame.bytes, 9));
}

TEST_F(RingTest, WaitNextWakesOnPublishAndTimesOut) {
  Writer w = make_writer();
  Reader r = Reader::attach(name);
  EXPECT_EQ(r.wait_next(0, 20ms).status, ReadStatus::kNotYet);
  std::thread producer([&] {
    std::this_thread::sleep_for(50ms);
    publish_stamped(w);
  });
  ReadResult res = r.wait_next(0, 5s);
  producer.join();
  EXPECT_EQ(res.status, ReadStatus::kOk);
}

TEST_F(RingTest, WriterGoneAfterCloseThenEpochChangedForSuccessor) {
  Reader* reader = nullptr;
  std::uint64_t first_epoch = 0;
  std::optional<Reader> r;
  {
    Writer w = make_writer();
    first_epoch = w.info().epoch;
    r.emplace(Reader::attach(name));
    reader = &*r;
    publish_stamped(w);
  }  // close: CLOSED + unlink
  EXPECT_FALSE(framering::testing::ring_file_exists(name));
  const ReadResult gone = reader->read(1);
  EXPECT_EQ(gone.status, ReadStatus::kWriterGone);
  EXPECT_EQ(gone.next, 1u);  // nothing consumed: the same frame is asked for again
  EXPECT_FALSE(reader->writer_alive());
  Writer w2 = make_writer();
  EXPECT_NE(w2.info().epoch, first_epoch);
  publish_stamped(w2);
  ReadResult res = reader->read(1);
  ASSERT_EQ(res.status, ReadStatus::kEpochChanged);
  EXPECT_EQ(res.next, 0u);
  EXPECT_EQ(reader->info().epoch, w2.info().epoch);
  ReadResult again = reader->read(0);
  ASSERT_EQ(again.status, ReadStatus::kOk);
  EXPECT_TRUE(verify_stamp(again.frame.data, again.frame.bytes, 0));
}

TEST_F(RingTest, SegmentIs0600ByDefaultAndModeIsConfigurable) {
  {
    Writer w = make_writer();
    struct stat st {};
    ASSERT_EQ(::stat(w.path().c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u);
  }
  const mode_t old = ::umask(0077);  // the mode is applied exactly, whatever the umask
  Writer w = Writer::create({.name = name, .geometry = small_geometry(), .slots = 4, .mode = 0640});
  ::umask(old);
  struct stat st {};
  ASSERT_EQ(::stat(w.path().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0640u);
}

TEST_F(RingTest, ReaderMapsReadOnly) {
  Writer w = make_writer();
  Reader r = Reader::attach(name);
  char addr[32];
  std::snprintf(addr, sizeof addr, "%lx-", reinterpret_cast<unsigned long>(r.mapping().data()));
  std::ifstream maps("/proc/self/maps");
  std::string line;
  bool found = false;
  while (std::getline(maps, line)) {
    if (line.rfind(addr, 0) == 0) {
      found = true;
      EXPECT_NE(line.find(" r--s "), std::string::npos) << line;
    }
  }
  EXPECT_TRUE(found);
}

TEST_F(RingTest, SecondWriterOnLiveRingIsRefused) {
  Writer w = make_writer();
  try {
    Writer second = make_writer();
    FAIL() << "second writer accepted";
  } catch (const RingError& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kLiveWriter);
    EXPECT_EQ(e.exit_code(), 4);
    EXPECT_NE(std::string(e.what()).find(std::to_string(::getpid())), std::string::npos)
        << e.what();
  }
  // The live ring is untouched.
  publish_stamped(w);
  EXPECT_EQ(Reader::attach(name).read(0).status, ReadStatus::kOk);
}

// Runs `body` in a child process that exits without any cleanup (as if killed). The child dies
// with the test process, so a failed assertion never leaves a writer running.
pid_t spawn(const std::function<void()>& body) {
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    body();
    ::_exit(0);
  }
  return pid;
}

// Kills and reaps a child when the test leaves its scope, whichever way it leaves.
struct ChildGuard {
  pid_t& pid;
  ~ChildGuard() {
    if (pid > 0 && ::kill(pid, SIGKILL) == 0) ::waitpid(pid, nullptr, 0);
  }
};

TEST_F(RingTest, DeadWritersRingIsTakenOverWithNewEpoch) {
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  const pid_t child = spawn([&] {
    Writer w = make_writer();
    publish_stamped(w);
    std::uint64_t epoch = w.info().epoch;
    (void)!::write(fds[1], &epoch, sizeof epoch);
    ::pause();
  });
  std::uint64_t old_epoch = 0;
  ASSERT_EQ(::read(fds[0], &old_epoch, sizeof old_epoch), static_cast<ssize_t>(sizeof old_epoch));
  ::kill(child, SIGKILL);
  ::waitpid(child, nullptr, 0);
  EXPECT_TRUE(framering::testing::ring_file_exists(name));  // left behind by the crash
  Writer w = make_writer();
  EXPECT_NE(w.info().epoch, old_epoch);
  EXPECT_EQ(w.cursor(), 0u);
  ::close(fds[0]);
  ::close(fds[1]);
}

TEST_F(RingTest, KilledWriterIsGoneAndSuccessorIsFollowed) {
  auto run_writer = [&] {
    return spawn([&] {
      Writer w = make_writer(4);
      for (;;) {
        publish_stamped(w);
        std::this_thread::sleep_for(1ms);
      }
    });
  };
  pid_t writer = run_writer();
  ChildGuard guard{writer};
  std::optional<Reader> r;
  for (int i = 0; i < 500 && !r; ++i) {
    try {
      r.emplace(Reader::attach(name));
    } catch (const RingError&) {
      std::this_thread::sleep_for(10ms);
    }
  }
  ASSERT_TRUE(r);
  ReadResult res = r->wait_next(r->cursor(), 5s);
  ASSERT_EQ(res.status, ReadStatus::kOk);

  // The promise: a reader that keeps asking sees WRITER_GONE within 1 s of a kill -9 of the
  // writer (a heartbeat older than stale_after, 300 ms, makes it probe the writer's flock, at most
  // every 50 ms). Measured from the kill, with the reader waiting the whole time; the loop's own
  // limit is far longer, so a slower detection fails the bound below instead of the loop.
  const auto killed_at = std::chrono::steady_clock::now();
  ::kill(writer, SIGKILL);
  ::waitpid(writer, nullptr, 0);
  writer = 0;
  ReadStatus status = ReadStatus::kOk;
  std::uint64_t next = r->cursor();
  while (status != ReadStatus::kWriterGone && std::chrono::steady_clock::now() - killed_at < 60s) {
    status = r->wait_next(next, 50ms).status;
  }
  const auto detect_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - killed_at);
  ASSERT_EQ(status, ReadStatus::kWriterGone);
  std::printf("writer death noticed after %lld ms\n", static_cast<long long>(detect_ms.count()));
  EXPECT_LT(detect_ms, 1000ms) << "WRITER_GONE came " << detect_ms.count()
                               << " ms after kill -9 of the writer (promise: within 1 s)";

  writer = run_writer();
  const auto restarted_at = std::chrono::steady_clock::now();
  while (status != ReadStatus::kEpochChanged &&
         std::chrono::steady_clock::now() - restarted_at < 60s) {
    status = r->wait_next(next, 20ms).status;
  }
  EXPECT_EQ(status, ReadStatus::kEpochChanged);
  // The successor publishes every millisecond into 4 slots: a loaded machine can deschedule this
  // reader for longer than that, and then LAPPED (or a frame overwritten while it was checked)
  // is the right answer. The reader goes on with the newest frame, as a real one does.
  bool intact = false;
  for (int attempt = 0; attempt < 100 && !intact; ++attempt) {
    const std::uint64_t wanted = r->cursor();
    res = r->wait_next(wanted, 5s);
    if (res.status == ReadStatus::kLapped) continue;
    ASSERT_EQ(res.status, ReadStatus::kOk);
    const bool stamped = verify_stamp(res.frame.data, res.frame.bytes, wanted);
    if (!r->valid(res.frame)) continue;  // overwritten while checked: the stamp proves nothing
    EXPECT_TRUE(stamped);
    intact = true;
  }
  EXPECT_TRUE(intact) << "no intact frame of the successor in 100 attempts";
}

TEST_F(RingTest, KilledReaderDoesNotAffectWriter) {
  // The reader process is forked before this process starts any writer thread.
  pid_t reader = spawn([&] {
    for (;;) {
      try {
        Reader r = Reader::attach(name);
        for (std::uint64_t n = 0;; ++n) (void)r.wait_next(n, 100ms);
      } catch (const RingError&) {
        std::this_thread::sleep_for(5ms);
      }
    }
  });
  ChildGuard guard{reader};
  Writer w = make_writer();
  for (int i = 0; i < 20; ++i) publish_stamped(w);
  std::this_thread::sleep_for(50ms);
  ::kill(reader, SIGKILL);
  ::waitpid(reader, nullptr, 0);
  reader = 0;
  for (int i = 0; i < 20; ++i) publish_stamped(w);
  EXPECT_EQ(w.cursor(), 40u);
  Reader r = Reader::attach(name);  // frame views live as long as their reader
  ReadResult res = r.latest();
  ASSERT_EQ(res.status, ReadStatus::kOk);
  EXPECT_TRUE(verify_stamp(res.frame.data, res.frame.bytes, 39));
}

TEST_F(RingTest, CleanupStaleRemovesOnlyDeadRings) {
  const framering::testing::PrivateShmDir shm;  // before every ring of this test, gone after them
  const std::string dead = unique_ring("dead");
  RingCleanup dead_cleanup{dead};
  const pid_t child = spawn([&] {
    Writer w = Writer::create({.name = dead, .geometry = small_geometry(), .slots = 2});
    ::_exit(0);  // no close: the segment stays behind
  });
  ::waitpid(child, nullptr, 0);
  Writer live = make_writer();
  const std::string kept = unique_ring("kept");
  RingCleanup kept_cleanup{kept};
  Writer::create({.name = kept, .geometry = small_geometry(), .slots = 2, .keep_on_close = true})
      .close();
  ASSERT_TRUE(framering::testing::ring_file_exists(dead));
  EXPECT_GE(cleanup_stale(), 1);
  EXPECT_FALSE(framering::testing::ring_file_exists(dead));
  EXPECT_TRUE(framering::testing::ring_file_exists(name));
  EXPECT_TRUE(framering::testing::ring_file_exists(kept));  // closed and kept on purpose
  EXPECT_EQ(cleanup_stale(), 0);                            // idempotent
}

TEST_F(RingTest, AttachErrorsSayWhatToDo) {
  try {
    Reader::attach(name);
    FAIL();
  } catch (const RingError& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kNotFound);
    EXPECT_NE(std::string(e.what()).find("framering ingest --ring " + name), std::string::npos);
  }
  std::ofstream(segment_path(name)) << "definitely not a ring, but longer than nothing";
  try {
    Reader::attach(name);
    FAIL();
  } catch (const RingError& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kBadHeader);
    EXPECT_EQ(e.exit_code(), 4);
  }
}

TEST(RingNames, AcceptsOnlySafeNames) {
  EXPECT_NO_THROW(validate_ring_name("cam_0-front"));
  for (const char* bad : {"", "a/b", "..", "a.b", "x y", "ü"}) {
    EXPECT_THROW(validate_ring_name(bad), RingError) << bad;
  }
  EXPECT_THROW(validate_ring_name(std::string(49, 'a')), RingError);
}

TEST_F(RingTest, ReaderStatsAreVisibleToOthers) {
  Writer w = make_writer();
  {
    ReaderStatsPublisher stats(name, "motion-1");
    stats.position().store(17);
    stats.lapped().store(3);
    stats.epoch().store(w.info().epoch);
    auto all = read_reader_stats(name);
    ASSERT_EQ(all.size(), 1u);
    EXPECT_EQ(all[0].reader, "motion-1");
    EXPECT_EQ(all[0].position, 17u);
    EXPECT_EQ(all[0].lapped, 3u);
    EXPECT_EQ(all[0].pid, ::getpid());
    EXPECT_EQ(all[0].epoch, w.info().epoch);
  }
  EXPECT_TRUE(read_reader_stats(name).empty());
}

}  // namespace
}  // namespace framering::ring
