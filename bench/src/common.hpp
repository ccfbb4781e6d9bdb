// Helpers shared by the benchmark drivers: the one reader function every transport uses, clocks,
// percentiles, process CPU time and memory from /proc.
#pragma once

#include <emmintrin.h>
#include <sys/resource.h>
#include <time.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

namespace framering::bench {

// Reads every byte of a frame once (SSE2 psadbw: sums bytes 16 at a time), so a reader pays the
// same memory traffic whatever the transport. The result is returned so the compiler keeps it.
inline std::uint64_t touch_bytes(const std::byte* data, std::size_t bytes) {
  const auto* p = reinterpret_cast<const unsigned char*>(data);
  const __m128i zero = _mm_setzero_si128();
  __m128i a0 = zero, a1 = zero, a2 = zero, a3 = zero;
  std::size_t i = 0;
  for (; i + 64 <= bytes; i += 64) {
    a0 = _mm_add_epi64(
        a0, _mm_sad_epu8(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p + i)), zero));
    a1 = _mm_add_epi64(
        a1, _mm_sad_epu8(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p + i + 16)), zero));
    a2 = _mm_add_epi64(
        a2, _mm_sad_epu8(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p + i + 32)), zero));
    a3 = _mm_add_epi64(
        a3, _mm_sad_epu8(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p + i + 48)), zero));
  }
  const __m128i s = _mm_add_epi64(_mm_add_epi64(a0, a1), _mm_add_epi64(a2, a3));
  alignas(16) std::uint64_t lanes[2];
  _mm_store_si128(reinterpret_cast<__m128i*>(lanes), s);
  std::uint64_t sum = lanes[0] + lanes[1];
  for (; i < bytes; ++i) sum += p[i];
  return sum;
}

inline std::uint64_t now_ns(clockid_t clock = CLOCK_MONOTONIC) {
  timespec ts{};
  ::clock_gettime(clock, &ts);
  return static_cast<std::uint64_t>(ts.tv_sec) * 1'000'000'000ULL +
         static_cast<std::uint64_t>(ts.tv_nsec);
}
inline std::uint64_t thread_cpu_ns() {
  return now_ns(CLOCK_THREAD_CPUTIME_ID);
}

inline void sleep_until_ns(std::uint64_t t) {
  timespec ts{};
  ts.tv_sec = static_cast<time_t>(t / 1'000'000'000ULL);
  ts.tv_nsec = static_cast<long>(t % 1'000'000'000ULL);
  while (::clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, nullptr) != 0) {
  }
}

inline double rusage_seconds(const rusage& ru) {
  return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

// Value at quantile q (0..1) of `values` (sorted in place); 0 when empty.
inline double quantile(std::vector<double>& values, double q) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  const auto i = static_cast<std::size_t>(q * static_cast<double>(values.size() - 1) + 0.5);
  return values[std::min(i, values.size() - 1)];
}

// "Key: value kB" lines of /proc/<pid>/smaps_rollup, in bytes (empty map if unreadable).
inline std::map<std::string, std::uint64_t> smaps_rollup(int pid) {
  std::map<std::string, std::uint64_t> out;
  std::ifstream in("/proc/" + std::to_string(pid) + "/smaps_rollup");
  std::string line;
  while (std::getline(in, line)) {
    const auto colon = line.find(':');
    if (colon == std::string::npos || line.find(" kB") == std::string::npos) continue;
    std::istringstream value(line.substr(colon + 1));
    std::uint64_t kb = 0;
    if (value >> kb) out[line.substr(0, colon)] = kb * 1024;
  }
  return out;
}

}  // namespace framering::bench
