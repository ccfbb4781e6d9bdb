// The stress test with threads instead of processes, so ThreadSanitizer can check the seqlock's
// memory ordering (run by the tsan preset). Payload words are accessed through relaxed atomics:
// the protocol, not the payload copy, is what is under test here. What the racing reads give
// depends on the relative speed of the threads, so the outcomes the test insists on are made to
// happen: each reader now and then holds a frame until the writer has lapped it (it must then be
// reported overwritten), and reader 0 now and then pauses the writer and reads the newest frame,
// which must then be intact.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdio>
#include <thread>
#include <vector>

#include "framering/ringbuf/reader.hpp"
#include "framering/ringbuf/writer.hpp"
#include "test_util.hpp"

namespace framering::ring {
namespace {

constexpr std::size_t kWords = 512;  // 4 KiB payload
constexpr std::uint32_t kSlots = 4;
constexpr int kCheckEvery = 4096;  // reads between two held-frame / paused-writer checks
#if defined(__SANITIZE_THREAD__) || !defined(NDEBUG)
constexpr int kReadsPerThread = 20'000;
#else
constexpr int kReadsPerThread = 200'000;
#endif

std::atomic_ref<std::uint64_t> word(const std::byte* base, std::size_t i) {
  return std::atomic_ref<std::uint64_t>(
      *reinterpret_cast<std::uint64_t*>(const_cast<std::byte*>(base) + 8 * i));
}

bool all_words_are(const std::byte* data, std::uint64_t value) {
  bool same = true;
  for (std::size_t k = 0; k < kWords; ++k) {
    same &= word(data, k).load(std::memory_order_relaxed) == value;
  }
  return same;
}

TEST(RingThreadStress, ReadersNeverAcceptAMixedFrame) {
  const std::string name = framering::testing::unique_ring("tstress");
  framering::testing::RingCleanup cleanup{name};
  Writer w = Writer::create(
      {.name = name, .geometry = framering::testing::small_geometry(kWords * 8), .slots = kSlots});
  std::atomic<bool> stop{false};
  // Reader 0 sets pause_request; the writer answers between two frames with paused = true and
  // waits until the request is withdrawn.
  std::atomic<bool> pause_request{false}, paused{false};
  std::thread writer([&] {
    while (!stop.load(std::memory_order_relaxed)) {
      if (pause_request.load()) {
        paused = true;
        while (pause_request.load()) std::this_thread::yield();
        paused = false;
      }
      auto slot = w.claim();
      for (std::size_t i = 0; i < kWords; ++i) {
        word(slot.payload().data(), i).store(slot.frame_no(), std::memory_order_relaxed);
      }
      w.publish(std::move(slot));
    }
  });
  std::atomic<std::uint64_t> mixed{0}, torn{0}, lapped{0}, verified{0};
  std::atomic<std::uint64_t> held{0}, held_reported{0}, quiet{0}, quiet_intact{0};
  std::vector<std::thread> readers;
  for (int t = 0; t < 3; ++t) {
    readers.emplace_back([&, t] {
      Reader r = Reader::attach(name);
      for (int i = 0; i < kReadsPerThread; ++i) {
        if (i % kCheckEvery == kCheckEvery / 2) {
          // Hold the newest frame until the writer has published kSlots frames after it.
          ReadResult h;
          do {
            while (r.cursor() == 0) std::this_thread::yield();
            h = r.read(r.cursor() - 1);
          } while (h.status != ReadStatus::kOk);
          ++held;
          const std::uint64_t n = h.frame.frame_no;
          while (r.cursor() < n + 1 + kSlots) std::this_thread::yield();
          if (!r.valid(h.frame) && r.read(n).status == ReadStatus::kLapped) ++held_reported;
        }
        if (t == 0 && i % kCheckEvery == 0 && r.cursor() > 0) {
          // Pause the writer and read the newest frame: nobody can be writing it.
          pause_request = true;
          while (!paused.load()) std::this_thread::yield();
          ++quiet;
          const std::uint64_t newest = r.cursor() - 1;
          const ReadResult q = r.read(newest);
          if (q.status == ReadStatus::kOk && all_words_are(q.frame.data, newest) &&
              r.valid(q.frame))
            ++quiet_intact;
          pause_request = false;
          while (paused.load()) std::this_thread::yield();
        }
        const std::uint64_t cursor = r.cursor();
        if (cursor < 4) continue;
        ReadResult res = r.read(cursor - 3);
        if (res.status == ReadStatus::kLapped) {
          ++lapped;
          continue;
        }
        if (res.status != ReadStatus::kOk) continue;
        const bool same = all_words_are(res.frame.data, res.frame.frame_no);
        if (!r.valid(res.frame)) {
          ++torn;
          continue;
        }
        if (same)
          ++verified;
        else
          ++mixed;
      }
    });
  }
  for (auto& t : readers) t.join();
  stop = true;
  writer.join();
  std::printf(
      "ring thread stress: %llu verified, %llu torn, %llu lapped, %llu mixed accepted; %llu/%llu "
      "held frames reported overwritten, %llu/%llu reads with the writer paused intact\n",
      (unsigned long long)verified.load(), (unsigned long long)torn.load(),
      (unsigned long long)lapped.load(), (unsigned long long)mixed.load(),
      (unsigned long long)held_reported.load(), (unsigned long long)held.load(),
      (unsigned long long)quiet_intact.load(), (unsigned long long)quiet.load());
  EXPECT_EQ(mixed.load(), 0u);
  EXPECT_GT(held.load(), 0u);
  EXPECT_EQ(held_reported.load(), held.load()) << "a frame overwritten while held was not reported";
  EXPECT_GT(quiet.load(), 0u);
  EXPECT_EQ(quiet_intact.load(), quiet.load()) << "a read with the writer paused was not intact";
}

}  // namespace
}  // namespace framering::ring
