// Memory of N readers attached to one ring vs N readers that each hold their own copies of the
// same frames. Every reader reads every byte of every slot, then parks while the driver reads
// /proc/<pid>/smaps_rollup of each process.
//
//   bench_memory --mode ring|copies --readers N [--slots 8] [--width 1920 --height 1080]
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "common.hpp"
#include "framering/ringbuf/names.hpp"
#include "framering/ringbuf/reader.hpp"
#include "framering/ringbuf/writer.hpp"

namespace fb = framering::bench;
namespace ring = framering::ring;

namespace {

struct Options {
  std::string mode = "ring";
  int readers = 1;
  std::uint32_t slots = 8;
  std::uint32_t width = 1920;
  std::uint32_t height = 1080;
};

// Child processes signal "ready" with one byte and then block until the driver closes `hold`.
void ready_and_park(int ready_fd, int hold_fd) {
  char c = 1;
  if (::write(ready_fd, &c, 1) != 1) ::_exit(1);
  while (::read(hold_fd, &c, 1) > 0) {
  }
  ::_exit(0);
}

ring::Reader attach_when_ready(const std::string& name) {
  for (;;) {
    try {
      auto r = ring::Reader::attach(name);
      if (r.cursor() > 0) return r;
    } catch (const std::exception&) {
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--help" || a == "-h" || i + 1 >= argc) {
      std::fprintf(stderr,
                   "usage: bench_memory --mode ring|copies --readers N [--slots 8] [--width W "
                   "--height H]\n");
      return a == "--help" || a == "-h" ? 0 : 2;
    }
    const std::string v = argv[++i];
    if (a == "--mode")
      o.mode = v;
    else if (a == "--readers")
      o.readers = std::atoi(v.c_str());
    else if (a == "--slots")
      o.slots = static_cast<std::uint32_t>(std::atoi(v.c_str()));
    else if (a == "--width")
      o.width = static_cast<std::uint32_t>(std::atoi(v.c_str()));
    else if (a == "--height")
      o.height = static_cast<std::uint32_t>(std::atoi(v.c_str()));
    else {
      std::fprintf(stderr, "bench_memory: unknown flag %s (see --help)\n", a.c_str());
      return 2;
    }
  }
  if ((o.mode != "ring" && o.mode != "copies") || o.readers < 1 || o.slots < 1) {
    std::fprintf(stderr,
                 "bench_memory: --mode must be ring or copies, --readers and --slots >= 1\n");
    return 2;
  }
  const std::size_t frame = std::size_t{o.width} * o.height * 3;
  const std::string name = "bench-mem-" + std::to_string(::getpid());
  int ready[2], hold[2];
  if (::pipe(ready) != 0 || ::pipe(hold) != 0) return 1;
  std::vector<pid_t> pids;
  auto spawn = [&](auto&& body) {
    std::fflush(nullptr);
    const pid_t pid = ::fork();
    if (pid == 0) {
      ::close(hold[1]);
      ::close(ready[0]);
      body();
      ready_and_park(ready[1], hold[0]);
    }
    pids.push_back(pid);
  };

  std::uint64_t ring_bytes = 0;
  // The writer: a ring with every slot written, or (copies) its own frames in private memory.
  spawn([&] {
    if (o.mode == "ring") {
      static std::optional<ring::Writer> writer;  // stays alive while the process parks
      writer.emplace(ring::Writer::create(
          {.name = name,
           .geometry = ring::Geometry::image(o.width, o.height, ring::PixFmt::kBgr24),
           .slots = o.slots}));
      for (std::uint32_t k = 0; k < o.slots; ++k) {
        auto s = writer->claim();
        std::memset(s.payload().data(), static_cast<int>(k), s.payload().size());
        writer->publish(std::move(s));
      }
    } else {
      static std::vector<std::byte> frames(frame * o.slots);
      std::memset(frames.data(), 1, frames.size());
    }
  });
  for (int i = 0; i < o.readers; ++i) {
    spawn([&] {
      std::uint64_t sum = 0;
      if (o.mode == "ring") {
        static std::optional<ring::Reader> reader;
        reader.emplace(attach_when_ready(name));
        while (reader->cursor() < o.slots)
          std::this_thread::sleep_for(std::chrono::milliseconds(1));
        for (std::uint64_t n = 0; n < o.slots; ++n) {
          auto r = reader->read(n);
          if (r.status == ring::ReadStatus::kOk)
            sum += fb::touch_bytes(r.frame.data, r.frame.bytes);
        }
      } else {
        // A copying reader receives every frame into its own memory.
        static std::vector<std::byte> copies(frame * o.slots);
        std::memset(copies.data(), 1, copies.size());
        sum += fb::touch_bytes(copies.data(), copies.size());
      }
      if (sum == 1) std::fprintf(stderr, "unlikely\n");  // keeps the reads
    });
  }
  ::close(ready[1]);
  ::close(hold[0]);
  for (std::size_t i = 0; i < pids.size(); ++i) {
    char c;
    if (::read(ready[0], &c, 1) != 1) {
      std::fprintf(stderr, "bench_memory: a child failed before it was ready\n");
      return 1;
    }
  }
  if (o.mode == "ring") {
    auto r = ring::Reader::attach(name);
    ring_bytes = r.mapping().size();
  } else {
    ring_bytes = frame * o.slots;
  }
  nlohmann::json readers = nlohmann::json::array();
  std::uint64_t total_pss = 0;
  nlohmann::json writer;
  for (std::size_t i = 0; i < pids.size(); ++i) {
    auto m = fb::smaps_rollup(pids[i]);
    const std::uint64_t priv = m["Private_Clean"] + m["Private_Dirty"];
    nlohmann::json p = {{"rss", m["Rss"]}, {"pss", m["Pss"]}, {"private", priv}};
    total_pss += m["Pss"];
    if (i == 0)
      writer = p;
    else
      readers.push_back(p);
  }
  ::close(hold[1]);  // releases every child
  int failures = 0;
  for (pid_t pid : pids) {
    int status = 0;
    ::waitpid(pid, &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) ++failures;
  }
  // The writer parks and leaves with _exit (its Writer never closes): remove its segment here.
  if (o.mode == "ring") ::unlink(ring::segment_path(name).c_str());
  nlohmann::json out = {{"mode", o.mode},       {"readers", o.readers},     {"slots", o.slots},
                        {"frame_bytes", frame}, {"ring_bytes", ring_bytes}, {"writer", writer},
                        {"reader", readers},    {"total_pss", total_pss},   {"failures", failures}};
  std::printf("%s\n", out.dump().c_str());
  return failures == 0 ? 0 : 1;
}
