// The stress test with threads instead of processes, so ThreadSanitizer can check the seqlock's
// memory ordering (run by the tsan preset). Payload words are accessed through relaxed atomics:
// the protocol, not the payload copy, is what is under test here.
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
#if defined(__SANITIZE_THREAD__) || !defined(NDEBUG)
constexpr int kReadsPerThread = 20'000;
#else
constexpr int kReadsPerThread = 200'000;
#endif

std::atomic_ref<std::uint64_t> word(const std::byte* base, std::size_t i) {
  return std::atomic_ref<std::uint64_t>(
      *reinterpret_cast<std::uint64_t*>(const_cast<std::byte*>(base) + 8 * i));
}

TEST(RingThreadStress, ReadersNeverAcceptAMixedFrame) {
  const std::string name = framering::testing::unique_ring("tstress");
  framering::testing::RingCleanup cleanup{name};
  Writer w = Writer::create(
      {.name = name, .geometry = framering::testing::small_geometry(kWords * 8), .slots = 4});
  std::atomic<bool> stop{false};
  std::thread writer([&] {
    while (!stop.load(std::memory_order_relaxed)) {
      auto slot = w.claim();
      for (std::size_t i = 0; i < kWords; ++i) {
        word(slot.payload().data(), i).store(slot.frame_no(), std::memory_order_relaxed);
      }
      w.publish(std::move(slot));
    }
  });
  std::atomic<std::uint64_t> mixed{0}, torn{0}, lapped{0}, verified{0};
  std::vector<std::thread> readers;
  for (int t = 0; t < 3; ++t) {
    readers.emplace_back([&] {
      Reader r = Reader::attach(name);
      for (int i = 0; i < kReadsPerThread; ++i) {
        const std::uint64_t cursor = r.cursor();
        if (cursor < 4) continue;
        ReadResult res = r.read(cursor - 3);
        if (res.status == ReadStatus::kLapped) {
          ++lapped;
          continue;
        }
        if (res.status != ReadStatus::kOk) continue;
        bool same = true;
        for (std::size_t k = 0; k < kWords; ++k) {
          same &= word(res.frame.data, k).load(std::memory_order_relaxed) == res.frame.frame_no;
        }
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
  std::printf("ring thread stress: %llu verified, %llu torn, %llu lapped, %llu mixed accepted\n",
              (unsigned long long)verified.load(), (unsigned long long)torn.load(),
              (unsigned long long)lapped.load(), (unsigned long long)mixed.load());
  EXPECT_EQ(mixed.load(), 0u);
  EXPECT_GT(verified.load(), 0u);
}

}  // namespace
}  // namespace framering::ring
