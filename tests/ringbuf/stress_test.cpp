// One writer process and 4 reader processes hammer a 4-slot ring. Every read that returned OK
// and passed valid() must carry an intact stamp. Whatever the racing reads give depends on the
// relative speed of the processes, so the outcomes the test insists on are made to happen:
// every reader now and then holds a frame until the writer has published a ring's worth of
// frames past it (it must then be reported overwritten and lapped), and reader 0 now and then
// stops the writer (SIGSTOP) and reads the newest frame, which must then be intact.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <thread>

#include "framering/ringbuf/error.hpp"
#include "framering/ringbuf/reader.hpp"
#include "framering/ringbuf/writer.hpp"
#include "stamp.hpp"
#include "test_util.hpp"

namespace framering::ring {
namespace {

using namespace std::chrono_literals;
using framering::testing::verify_stamp;

struct Counts {
  std::uint64_t reads = 0, ok = 0, verified = 0, corrupt = 0, lapped = 0, torn = 0, not_yet = 0;
  std::uint64_t held = 0, held_reported = 0;  // frames held while the writer lapped them
  std::uint64_t quiet = 0, quiet_intact = 0;  // reads while the writer was stopped
};

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__) || !defined(NDEBUG)
constexpr std::uint64_t kReadsPerReader = 60'000;  // sanitizer/debug builds are ~10x slower
#else
constexpr std::uint64_t kReadsPerReader = 260'000;  // 4 readers: > 10^6 reads in the release build
#endif
constexpr std::size_t kFrameBytes = 4096 * 4 - 64;  // 16 KB stamped payloads
constexpr int kReaders = 4;
constexpr std::uint32_t kSlots = 4;
constexpr std::uint64_t kCheckEvery = 8192;  // reads between two held-frame / quiet checks

// True once `pid` is stopped (state T in /proc/<pid>/stat): its last stores are all visible.
bool is_stopped(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::stringstream text;
  text << in.rdbuf();
  const std::string s = text.str();
  const auto close = s.rfind(')');
  return close != std::string::npos && close + 2 < s.size() && s[close + 2] == 'T';
}

// Holds the newest frame until the writer has published kSlots frames after it, so its slot was
// certainly reused: valid() must say so and reading it again must be LAPPED.
void hold_until_lapped(Reader& r, Counts& c) {
  ReadResult held;
  do {  // the writer may reuse the slot between cursor() and read(): take the newest again
    while (r.cursor() == 0) std::this_thread::yield();
    held = r.read(r.cursor() - 1);
  } while (held.status != ReadStatus::kOk);
  ++c.held;
  const std::uint64_t n = held.frame.frame_no;
  while (r.cursor() < n + 1 + kSlots) std::this_thread::yield();
  if (!r.valid(held.frame) && r.read(n).status == ReadStatus::kLapped) ++c.held_reported;
}

// Stops the writer, reads the newest frame (nobody can be writing it), lets the writer go on.
void read_with_writer_stopped(Reader& r, Counts& c) {
  const auto writer = static_cast<pid_t>(r.info().writer_pid);
  ::kill(writer, SIGSTOP);
  while (!is_stopped(writer)) std::this_thread::yield();
  const std::uint64_t cursor = r.cursor();
  if (cursor > 0) {
    ++c.quiet;
    const ReadResult res = r.read(cursor - 1);
    if (res.status == ReadStatus::kOk &&
        verify_stamp(res.frame.data, res.frame.bytes, cursor - 1) && r.valid(res.frame)) {
      ++c.quiet_intact;
    }
  }
  ::kill(writer, SIGCONT);
}

// A reader alternating between following every frame and jumping to the oldest still-intact
// frame (the one the writer overwrites next), which is where torn reads happen.
Counts reader_loop(const std::string& name, bool stops_writer) {
  Counts c;
  std::optional<Reader> r;
  while (!r) {
    try {
      r.emplace(Reader::attach(name));
    } catch (const RingError&) {
      std::this_thread::sleep_for(1ms);
    }
  }
  std::uint64_t next = 0;
  while (c.reads < kReadsPerReader) {
    if (c.reads % kCheckEvery == kCheckEvery / 2) hold_until_lapped(*r, c);
    if (stops_writer && c.reads % kCheckEvery == 0 && c.reads > 0) read_with_writer_stopped(*r, c);
    const std::uint64_t cursor = r->cursor();
    const bool chase_oldest = (c.reads & 3) == 0 && cursor > 4;
    const std::uint64_t want = chase_oldest ? cursor - 3 : next;
    ReadResult res = r->read(want);
    ++c.reads;
    switch (res.status) {
      case ReadStatus::kOk: {
        ++c.ok;
        const bool intact = verify_stamp(res.frame.data, res.frame.bytes, want);
        if (!r->valid(res.frame)) {
          ++c.torn;
        } else if (intact) {
          ++c.verified;
        } else {
          ++c.corrupt;  // an overwritten frame that the seqlock did not catch: a bug
        }
        next = res.next;
        break;
      }
      case ReadStatus::kLapped:
        ++c.lapped;
        next = res.next;
        break;
      case ReadStatus::kNotYet:
        ++c.not_yet;
        std::this_thread::yield();
        break;
      case ReadStatus::kWriterGone:
      case ReadStatus::kEpochChanged:
      case ReadStatus::kTorn:
        next = res.next;
        break;
    }
  }
  return c;
}

TEST(RingStress, FourReaderProcessesNeverSeeACorruptFrame) {
  const std::string name = framering::testing::unique_ring("stress");
  framering::testing::RingCleanup cleanup{name};
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  std::vector<pid_t> readers;
  for (int i = 0; i < kReaders; ++i) {
    const pid_t pid = ::fork();
    if (pid == 0) {
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      Counts c = reader_loop(name, i == 0);
      (void)!::write(fds[1], &c, sizeof c);
      ::_exit(0);
    }
    readers.push_back(pid);
  }
  const pid_t writer = ::fork();
  if (writer == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    ring::Geometry g;
    g.shape = {kFrameBytes};
    Writer w = Writer::create({.name = name, .geometry = g, .slots = kSlots});
    for (;;) {
      auto slot = w.claim();
      framering::testing::write_stamp(slot.payload().data(), slot.payload().size(),
                                      slot.frame_no());
      const std::uint64_t published = slot.frame_no();
      w.publish(std::move(slot));
      // Bursts at full speed (where lapped and torn reads happen) separated by short pauses
      // (where readers catch up and read intact frames), so both outcomes occur however fast
      // or slow the machine is relative to the readers.
      if (published % 64 == 63) std::this_thread::sleep_for(200us);
    }
  }
  Counts total;
  for (int i = 0; i < kReaders; ++i) {
    Counts c;
    ASSERT_EQ(::read(fds[0], &c, sizeof c), static_cast<ssize_t>(sizeof c));
    total.reads += c.reads;
    total.ok += c.ok;
    total.verified += c.verified;
    total.corrupt += c.corrupt;
    total.lapped += c.lapped;
    total.torn += c.torn;
    total.not_yet += c.not_yet;
    total.held += c.held;
    total.held_reported += c.held_reported;
    total.quiet += c.quiet;
    total.quiet_intact += c.quiet_intact;
  }
  for (pid_t pid : readers) ::waitpid(pid, nullptr, 0);
  ::kill(writer, SIGKILL);
  ::waitpid(writer, nullptr, 0);
  ::close(fds[0]);
  ::close(fds[1]);

  std::printf(
      "ring stress: %llu reads by %d reader processes: %llu OK verified, %llu LAPPED, "
      "%llu TORN detected, %llu NOT_YET, %llu corrupt undetected; %llu/%llu held frames reported "
      "overwritten, %llu/%llu reads with the writer stopped intact\n",
      static_cast<unsigned long long>(total.reads), kReaders,
      static_cast<unsigned long long>(total.verified),
      static_cast<unsigned long long>(total.lapped), static_cast<unsigned long long>(total.torn),
      static_cast<unsigned long long>(total.not_yet),
      static_cast<unsigned long long>(total.corrupt),
      static_cast<unsigned long long>(total.held_reported),
      static_cast<unsigned long long>(total.held),
      static_cast<unsigned long long>(total.quiet_intact),
      static_cast<unsigned long long>(total.quiet));
  EXPECT_EQ(total.corrupt, 0u);
  EXPECT_GT(total.held, 0u);
  EXPECT_EQ(total.held_reported, total.held) << "a frame overwritten while held was not reported";
  EXPECT_GT(total.quiet, 0u);
  EXPECT_EQ(total.quiet_intact, total.quiet) << "a frame read while the writer was stopped was "
                                                "not intact";
#if defined(NDEBUG) && !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
  EXPECT_GE(total.reads, 1'000'000u);
#endif
}

}  // namespace
}  // namespace framering::ring
