// Ring publish cost vs a bare memcpy of the same frame (Google Benchmark).
//
// BM_Memcpy:          a hot source frame copied into 8 rotating destination buffers (the
//                     pattern a ring writer has: the slot it writes was last written 8 frames ago)
// BM_RingPublish:     claim() + the same memcpy into the slot + publish() on a real ring
// BM_RingClaimPublish: claim() + publish() alone: the ring's own per-frame cost (seqlock stores,
//                     cursor, heartbeat, clock reads, futex wake), without the payload write
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <cstring>
#include <string>
#include <vector>

#include "framering/ringbuf/writer.hpp"

namespace ring = framering::ring;

namespace {

constexpr int kSlots = 8;

std::size_t frame_bytes(const benchmark::State& state) {
  return static_cast<std::size_t>(state.range(0)) * static_cast<std::size_t>(state.range(1)) * 3;
}

std::vector<std::byte> source_frame(std::size_t bytes) {
  std::vector<std::byte> v(bytes);
  for (std::size_t i = 0; i < bytes; ++i) v[i] = static_cast<std::byte>(i * 131 >> 8);
  return v;
}

void set_counters(benchmark::State& state, std::size_t bytes) {
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) *
                          static_cast<std::int64_t>(bytes));
  state.counters["frames_per_s"] =
      benchmark::Counter(static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
}

void BM_Memcpy(benchmark::State& state) {
  const std::size_t bytes = frame_bytes(state);
  const auto src = source_frame(bytes);
  std::vector<std::vector<std::byte>> dst(kSlots, std::vector<std::byte>(bytes));
  for (auto& d : dst) std::memset(d.data(), 0, bytes);
  std::size_t k = 0;
  for (auto _ : state) {
    std::memcpy(dst[k++ % kSlots].data(), src.data(), bytes);
    benchmark::ClobberMemory();
  }
  set_counters(state, bytes);
}

ring::Writer make_ring(const benchmark::State& state, const char* what) {
  return ring::Writer::create(
      {.name = std::string("bench-micro-") + what + "-" + std::to_string(::getpid()),
       .geometry =
           ring::Geometry::image(static_cast<std::uint32_t>(state.range(0)),
                                 static_cast<std::uint32_t>(state.range(1)), ring::PixFmt::kBgr24),
       .slots = kSlots});
}

void BM_RingPublish(benchmark::State& state) {
  const std::size_t bytes = frame_bytes(state);
  const auto src = source_frame(bytes);
  auto writer = make_ring(state, "publish");
  for (int i = 0; i < kSlots; ++i) {  // first touch outside the timing
    auto s = writer.claim();
    std::memset(s.payload().data(), 0, bytes);
    writer.publish(std::move(s));
  }
  for (auto _ : state) {
    auto slot = writer.claim();
    std::memcpy(slot.payload().data(), src.data(), bytes);
    writer.publish(std::move(slot));
    benchmark::ClobberMemory();
  }
  set_counters(state, bytes);
}

void BM_RingClaimPublish(benchmark::State& state) {
  auto writer = make_ring(state, "claim");
  for (auto _ : state) {
    auto slot = writer.claim();
    benchmark::DoNotOptimize(slot.payload().data());
    writer.publish(std::move(slot));
  }
  state.counters["frames_per_s"] =
      benchmark::Counter(static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
}

void sizes(benchmark::internal::Benchmark* b) {
  b->ArgNames({"w", "h"})->Args({1920, 1080})->Args({3840, 2160})->Unit(benchmark::kMicrosecond);
}

BENCHMARK(BM_Memcpy)->Apply(sizes);
BENCHMARK(BM_RingPublish)->Apply(sizes);
BENCHMARK(BM_RingClaimPublish)->Apply(sizes);

}  // namespace

BENCHMARK_MAIN();
