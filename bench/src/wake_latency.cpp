// Wake-up latency publish -> reader: a ring reader sleeping in Reader::wait_next (futex on the
// cursor) vs a reader blocked in read() on a pipe. The writer publishes a small frame at a
// jittered ~1 ms period so the reader is asleep each time; latency = reader's clock after it
// woke - the writer's clock just before publish/write (CLOCK_MONOTONIC, same machine).
//
//   bench_wake --transport ring|pipe [--samples N]
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "common.hpp"
#include "framering/ringbuf/reader.hpp"
#include "framering/ringbuf/writer.hpp"

namespace fb = framering::bench;
namespace ring = framering::ring;

namespace {

void period_sleep(std::mt19937& rng) {
  std::uniform_int_distribution<int> us(700, 1300);
  std::this_thread::sleep_for(std::chrono::microseconds(us(rng)));
}

// The reader's samples travel back through a pipe as one block of doubles (microseconds).
std::vector<double> collect(int fd, int samples) {
  std::vector<double> v(static_cast<std::size_t>(samples));
  auto* p = reinterpret_cast<char*>(v.data());
  std::size_t want = v.size() * sizeof(double), got = 0;
  while (got < want) {
    const ssize_t n = ::read(fd, p + got, want - got);
    if (n <= 0) break;
    got += static_cast<std::size_t>(n);
  }
  v.resize(got / sizeof(double));
  return v;
}

void send_all(int fd, const std::vector<double>& v) {
  const auto* p = reinterpret_cast<const char*>(v.data());
  std::size_t left = v.size() * sizeof(double);
  while (left > 0) {
    const ssize_t n = ::write(fd, p, left);
    if (n <= 0) return;
    p += n;
    left -= static_cast<std::size_t>(n);
  }
}

std::vector<double> run_ring(int samples) {
  const std::string name = "bench-wake-" + std::to_string(::getpid());
  int results[2];
  if (::pipe(results) != 0) return {};
  int ready[2];
  if (::pipe(ready) != 0) return {};
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::close(results[0]);
    std::vector<double> lat;
    // Forked before the writer exists (no threads in the parent yet): attach once it appears.
    std::optional<ring::Reader> attached;
    while (!attached) {
      try {
        attached.emplace(ring::Reader::attach(name));
      } catch (const std::exception&) {
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
      }
    }
    ring::Reader& reader = *attached;
    std::uint64_t next = reader.cursor();
    char c = 1;
    if (::write(ready[1], &c, 1) != 1) ::_exit(1);
    while (static_cast<int>(lat.size()) < samples) {
      auto r = reader.wait_next(next, std::chrono::seconds(2));
      const std::uint64_t woke = fb::now_ns();
      if (r.status == ring::ReadStatus::kLapped) {
        next = r.next;
        continue;
      }
      if (r.status != ring::ReadStatus::kOk) break;
      lat.push_back(static_cast<double>(woke - r.frame.publish_monotonic_ns) / 1e3);
      next = r.frame.frame_no + 1;
    }
    send_all(results[1], lat);
    ::_exit(0);
  }
  ::close(results[1]);
  auto writer = ring::Writer::create(
      {.name = name, .geometry = ring::Geometry::image(64, 64, ring::PixFmt::kGray8), .slots = 8});
  char c;
  if (::read(ready[0], &c, 1) != 1) return {};
  std::mt19937 rng(1);
  for (int i = 0; i < samples + 8; ++i) {
    period_sleep(rng);
    auto slot = writer.claim();
    writer.publish(std::move(slot));  // publish_monotonic_ns is taken inside publish
  }
  auto lat = collect(results[0], samples);
  ::waitpid(pid, nullptr, 0);
  return lat;
}

std::vector<double> run_pipe(int samples) {
  int wake[2], results[2];
  if (::pipe(wake) != 0 || ::pipe(results) != 0) return {};
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::close(wake[1]);
    ::close(results[0]);
    std::vector<double> lat;
    std::uint64_t t = 0;
    while (static_cast<int>(lat.size()) < samples && ::read(wake[0], &t, sizeof t) == sizeof t)
      lat.push_back(static_cast<double>(fb::now_ns() - t) / 1e3);
    send_all(results[1], lat);
    ::_exit(0);
  }
  ::close(wake[0]);
  ::close(results[1]);
  std::mt19937 rng(1);
  for (int i = 0; i < samples; ++i) {
    period_sleep(rng);
    const std::uint64_t t = fb::now_ns();
    if (::write(wake[1], &t, sizeof t) != sizeof t) break;
  }
  ::close(wake[1]);
  auto lat = collect(results[0], samples);
  ::waitpid(pid, nullptr, 0);
  return lat;
}

}  // namespace

int main(int argc, char** argv) {
  std::string transport = "ring";
  int samples = 2000;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--help" || a == "-h" || i + 1 >= argc) {
      std::fprintf(stderr, "usage: bench_wake --transport ring|pipe [--samples N]\n");
      return a == "--help" || a == "-h" ? 0 : 2;
    }
    const std::string v = argv[++i];
    if (a == "--transport")
      transport = v;
    else if (a == "--samples")
      samples = std::atoi(v.c_str());
    else {
      std::fprintf(stderr, "bench_wake: unknown flag %s (see --help)\n", a.c_str());
      return 2;
    }
  }
  if ((transport != "ring" && transport != "pipe") || samples < 1) {
    std::fprintf(stderr, "bench_wake: --transport must be ring or pipe, --samples >= 1\n");
    return 2;
  }
  auto lat = transport == "ring" ? run_ring(samples) : run_pipe(samples);
  const auto n = lat.size();
  nlohmann::json out = {{"transport", transport},
                        {"samples", n},
                        {"p50_us", fb::quantile(lat, 0.5)},
                        {"p99_us", fb::quantile(lat, 0.99)},
                        {"p999_us", fb::quantile(lat, 0.999)},
                        {"max_us", lat.empty() ? 0.0 : lat.back()}};
  std::printf("%s\n", out.dump().c_str());
  return static_cast<int>(n) == samples ? 0 : 1;
}
