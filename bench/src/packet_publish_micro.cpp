// Packet ring publish cost (Google Benchmark): PacketWriter::publish of one compressed packet —
// the record header, the packet's one copy into the ring, the tail/latest/packets stores and
// the futex wake — at sizes of an H.264 camera's P-frame and keyframe. docs/recording.md.
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "framering/ringbuf/packet_ring.hpp"

namespace ring = framering::ring;

namespace {

void BM_PacketPublish(benchmark::State& state) {
  const auto bytes = static_cast<std::size_t>(state.range(0));
  ring::PacketWriterOptions o;
  o.name = "bench-packets-" + std::to_string(::getpid());
  o.stream.codec_name = "h264";
  o.stream.time_base_den = 90000;
  o.capacity = 64ULL << 20;  // 30 s of a 1080p camera at ~8 Mbit/s, doubled
  ring::PacketWriter writer = ring::PacketWriter::create(o);
  std::vector<std::byte> packet(bytes);
  for (std::size_t i = 0; i < bytes; ++i) packet[i] = static_cast<std::byte>(i * 131 >> 8);
  ring::PacketMeta meta;
  meta.capture_realtime_ns = 1;  // a fixed stamp: measure the ring, not the clock
  for (auto _ : state) {
    meta.pts += 3000;
    meta.dts = meta.pts;
    if (!writer.publish(meta, packet)) state.SkipWithError("packet too large for the ring");
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) *
                          static_cast<std::int64_t>(bytes));
  state.counters["packets_per_s"] =
      benchmark::Counter(static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
}

// 1 KB (a quiet P-frame), 20 KB (a 1080p P-frame at ~4 Mbit/s), 200 KB (a 1080p keyframe).
BENCHMARK(BM_PacketPublish)->Arg(1000)->Arg(20000)->Arg(200000);

}  // namespace

BENCHMARK_MAIN();
