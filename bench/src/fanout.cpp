// Fan-out driver: one writer process, N reader processes that each read every byte of every frame
// they get, over one transport. Prints one JSON object (frames/s per reader, bytes copied per
// frame, CPU seconds of every process).
//
//   bench_fanout --transport ring|ringwait|pipe|pipe1m|unix|unix4m|zmq --readers 4 --seconds 3
//   [--fps 30]
//
// Every writer "produces" each frame with one memcpy (what a decoder's output write costs): the
// ring writer straight into its slot, the others into one of 8 rotating frame buffers that they
// then send without another user-space copy (vmsplice for pipes, send() from the buffer for
// sockets, zmq_msg_init_data for ZeroMQ). Readers of the copying transports receive into one
// buffer and run the same touch_bytes() over it as ring readers run over the slot.
#include <fcntl.h>
#include <poll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zmq.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "common.hpp"
#include "framering/ringbuf/reader.hpp"
#include "framering/ringbuf/reader_gate.hpp"
#include "framering/ringbuf/reader_stats.hpp"
#include "framering/ringbuf/writer.hpp"

namespace fb = framering::bench;
namespace ring = framering::ring;

namespace {

constexpr int kMaxReaders = 16;
constexpr int kBuffers = 8;  // rotating frame buffers of the copying writers (and ring slots)

struct Options {
  std::string transport = "ring";
  int readers = 1;
  double seconds = 2;
  double fps = 0;  // 0: as fast as the writer can
  std::uint32_t width = 1920;
  std::uint32_t height = 1080;
};

struct ReaderResult {
  std::uint64_t frames = 0;        // frames fully read inside the measuring window
  std::uint64_t torn = 0;          // ring: overwritten while read (not counted in frames)
  std::uint64_t skipped = 0;       // ring: frames passed over to read the newest
  std::uint64_t bytes_in = 0;      // bytes copied into this process by recv/read
  std::uint64_t touch_cpu_ns = 0;  // CPU time spent in touch_bytes (all frames)
  std::uint64_t touched = 0;       // frames touched (all, for touch_cpu_ns)
  std::uint64_t checksum = 0;
  std::uint64_t window_cpu_ns = 0;    // this process's CPU time inside the window
  std::uint64_t window_touch_ns = 0;  // touch_bytes CPU time inside the window
  int error = 0;
};

struct WriterResult {
  std::uint64_t frames = 0;  // frames produced inside the window
  std::uint64_t produced = 0;
  std::uint64_t bytes_copied_out = 0;  // bytes the kernel copied out of the writer (send/write)
  std::uint64_t produce_cpu_ns = 0;
  std::uint64_t window_cpu_ns = 0;
  std::uint64_t window_produce_ns = 0;
  int error = 0;
};

// Lives in a MAP_SHARED anonymous mapping, shared by every forked process.
struct Shared {
  std::atomic<int> writer_ready{0};
  std::atomic<int> readers_ready{0};
  std::atomic<std::uint64_t> t_start{0};  // measuring window [t_start, t_stop)
  std::atomic<std::uint64_t> t_stop{0};
  std::atomic<int> go{0};
  WriterResult writer;
  ReaderResult reader[kMaxReaders];
};

bool copying(const std::string& t) {
  return t == "pipe" || t == "pipe1m" || t == "unix" || t == "unix4m";
}

void wait_for(const std::atomic<int>& flag, int value) {
  while (flag.load() < value) std::this_thread::sleep_for(std::chrono::microseconds(200));
}

bool in_window(const Shared& sh, std::uint64_t t) {
  return t >= sh.t_start.load() && t < sh.t_stop.load();
}

// CPU time of this process inside the measuring window: sampled on the first loop pass after
// t_start and after t_stop, so one-time costs (page faults of a new mapping, buffers, connects)
// stay out of the steady-state numbers.
struct WindowCpu {
  const Shared& sh;
  std::uint64_t& out;
  std::uint64_t start = 0;
  bool started = false, stopped = false;
  void tick() {
    const std::uint64_t t = fb::now_ns();
    if (!started && sh.go.load() && t >= sh.t_start.load()) {
      start = fb::now_ns(CLOCK_PROCESS_CPUTIME_ID);
      started = true;
    }
    if (started && !stopped && t >= sh.t_stop.load()) finish();
  }
  void finish() {
    if (started && !stopped) out = fb::now_ns(CLOCK_PROCESS_CPUTIME_ID) - start;
    stopped = true;
  }
};

// Frame pacing: the next deadline for frame k, or none when running flat out.
struct Pacer {
  double fps;
  std::uint64_t t0 = fb::now_ns();
  std::uint64_t k = 0;
  void wait() {
    if (fps <= 0) return;
    fb::sleep_until_ns(t0 + static_cast<std::uint64_t>(static_cast<double>(k++) * 1e9 / fps));
  }
};

// ---- ring ---------------------------------------------------------------------------------

std::string ring_name() {
  return "bench-fanout-" + std::to_string(::getpid());
}

bool lossless(const std::string& t) {
  return t == "ringwait";
}

void ring_writer(const Options& o, Shared& sh, const std::string& name,
                 const std::vector<std::byte>& source) {
  auto writer = ring::Writer::create(
      {.name = name,
       .geometry = ring::Geometry::image(o.width, o.height, ring::PixFmt::kBgr24),
       .slots = kBuffers});
  // First touch of every slot outside the window (page faults are a one-time cost).
  for (int i = 0; i < kBuffers; ++i) {
    auto s = writer.claim();
    std::memset(s.payload().data(), 0, s.payload().size());
    writer.publish(std::move(s));
  }
  sh.writer_ready = 1;
  wait_for(sh.go, 1);
  Pacer pacer{o.fps};
  WindowCpu window{sh, sh.writer.window_cpu_ns};
  std::uint64_t cpu = 0;
  // ringwait: ingest --wait-for-readers' back-pressure, so no reader loses a frame.
  std::optional<ring::ReaderGate> gate;
  if (lossless(o.transport)) gate.emplace(name, static_cast<std::uint32_t>(o.readers));
  const auto stop = [&sh] { return fb::now_ns() >= sh.t_stop.load(); };
  for (;;) {
    pacer.wait();
    window.tick();
    if (gate && !gate->wait_to_write(writer.cursor(), kBuffers, writer.info().epoch, stop)) break;
    const std::uint64_t t = fb::now_ns();
    if (t >= sh.t_stop.load()) break;
    auto slot = writer.claim();
    const std::uint64_t c0 = fb::thread_cpu_ns();
    std::memcpy(slot.payload().data(), source.data(), slot.payload().size());
    const std::uint64_t c = fb::thread_cpu_ns() - c0;
    cpu += c;
    writer.publish(std::move(slot));
    ++sh.writer.produced;
    if (in_window(sh, t)) {
      ++sh.writer.frames;
      sh.writer.window_produce_ns += c;
    }
  }
  window.finish();
  sh.writer.produce_cpu_ns = cpu;
  writer.close();
}

// A ring reader. Flat out: when behind the writer it jumps to the newest frame (the one still
// in cache). Lossless (ringwait): every frame in order, announcing the next frame it wants in a
// reader-stats file, as workers do, so that the writer's ReaderGate holds back for it.
void ring_reader(Shared& sh, int id, const std::string& name, bool lossless) {
  ReaderResult& res = sh.reader[id];
  auto reader = ring::Reader::attach(name);
  std::uint64_t next = reader.cursor();
  std::optional<ring::ReaderStatsPublisher> stats;
  if (lossless) {
    stats.emplace(name, "r" + std::to_string(id));
    stats->epoch().store(reader.info().epoch);
    stats->announce_position(next);
  }
  sh.readers_ready.fetch_add(1);
  WindowCpu window{sh, res.window_cpu_ns};
  for (;;) {
    window.tick();
    if (fb::now_ns() >= sh.t_stop.load() && sh.go.load()) break;
    auto r = reader.wait_next(next, std::chrono::milliseconds(100));
    if (r.status == ring::ReadStatus::kLapped) {  // lossless: cannot happen while the gate works
      res.skipped += r.missed;
      next = r.next;
      if (stats) stats->announce_position(next);
      continue;
    }
    if (r.status != ring::ReadStatus::kOk) continue;
    if (!lossless && reader.cursor() > r.frame.frame_no + 1) {
      auto newest = reader.latest();
      if (newest.status == ring::ReadStatus::kOk) {
        res.skipped += newest.frame.frame_no - r.frame.frame_no;
        r = newest;
      }
    }
    const std::uint64_t c0 = fb::thread_cpu_ns();
    res.checksum += fb::touch_bytes(r.frame.data, r.frame.bytes);
    const std::uint64_t c = fb::thread_cpu_ns() - c0;
    res.touch_cpu_ns += c;
    ++res.touched;
    const bool counted = in_window(sh, fb::now_ns());
    if (counted) res.window_touch_ns += c;
    next = r.frame.frame_no + 1;
    const bool intact = reader.valid(r.frame);
    if (stats) stats->announce_position(next);  // done with the frame
    if (!intact) {
      ++res.torn;
      continue;
    }
    if (counted) ++res.frames;
  }
  window.finish();
}

// ---- pipes and Unix sockets ---------------------------------------------------------------

struct Channel {
  int writer_fd = -1;
  int reader_fd = -1;
};

Channel make_channel(const std::string& t) {
  int fds[2];
  Channel c;
  if (t == "pipe" || t == "pipe1m") {
    if (::pipe2(fds, O_CLOEXEC) != 0)
      throw std::runtime_error("pipe2: " + std::string(strerror(errno)));
    c.reader_fd = fds[0];
    c.writer_fd = fds[1];
    if (t == "pipe1m" && ::fcntl(c.writer_fd, F_SETPIPE_SZ, 1 << 20) < 0)
      throw std::runtime_error("F_SETPIPE_SZ 1 MiB: " + std::string(strerror(errno)) +
                               " (raise /proc/sys/fs/pipe-max-size)");
  } else {
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0)
      throw std::runtime_error("socketpair: " + std::string(strerror(errno)));
    c.writer_fd = fds[0];
    c.reader_fd = fds[1];
    if (t == "unix4m") {
      const int size = 4 << 20;
      ::setsockopt(c.writer_fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
    }
  }
  return c;
}

void stream_writer(const Options& o, Shared& sh, const std::vector<Channel>& channels,
                   const std::vector<std::byte>& source) {
  const bool pipe = o.transport == "pipe" || o.transport == "pipe1m";
  const std::size_t bytes = source.size();
  std::vector<std::vector<std::byte>> buffers(kBuffers, std::vector<std::byte>(bytes));
  for (auto& b : buffers) std::memset(b.data(), 0, bytes);
  for (const auto& c : channels) ::fcntl(c.writer_fd, F_SETFL, O_NONBLOCK);
  std::vector<std::size_t> sent(channels.size());
  std::vector<bool> open(channels.size(), true);
  sh.writer_ready = 1;
  wait_for(sh.go, 1);
  Pacer pacer{o.fps};
  WindowCpu window{sh, sh.writer.window_cpu_ns};
  std::uint64_t cpu = 0;
  for (std::uint64_t k = 0;; ++k) {
    pacer.wait();
    window.tick();
    const std::uint64_t t = fb::now_ns();
    if (t >= sh.t_stop.load()) break;
    std::byte* frame = buffers[k % kBuffers].data();
    const std::uint64_t c0 = fb::thread_cpu_ns();
    std::memcpy(frame, source.data(), bytes);
    const std::uint64_t c = fb::thread_cpu_ns() - c0;
    cpu += c;
    if (in_window(sh, t)) sh.writer.window_produce_ns += c;
    // Push the frame to every reader at once: whoever can take bytes gets them.
    std::fill(sent.begin(), sent.end(), 0);
    bool stop = false;
    for (;;) {
      std::vector<pollfd> waiting;
      for (std::size_t i = 0; i < channels.size(); ++i) {
        while (open[i] && sent[i] < bytes) {
          ssize_t n;
          if (pipe) {
            iovec iov{frame + sent[i], bytes - sent[i]};
            n = ::vmsplice(channels[i].writer_fd, &iov, 1, SPLICE_F_NONBLOCK);
          } else {
            n = ::send(channels[i].writer_fd, frame + sent[i], bytes - sent[i],
                       MSG_NOSIGNAL | MSG_DONTWAIT);
            if (n > 0) sh.writer.bytes_copied_out += static_cast<std::uint64_t>(n);
          }
          if (n > 0) {
            sent[i] += static_cast<std::size_t>(n);
          } else if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
            waiting.push_back({channels[i].writer_fd, POLLOUT, 0});
            break;
          } else {
            open[i] = false;  // reader gone
          }
        }
      }
      if (waiting.empty()) break;
      if (fb::now_ns() >= sh.t_stop.load()) {
        stop = true;
        break;
      }
      ::poll(waiting.data(), waiting.size(), 100);
    }
    if (stop) break;
    ++sh.writer.produced;
    if (in_window(sh, t)) ++sh.writer.frames;
  }
  window.finish();
  sh.writer.produce_cpu_ns = cpu;
  for (const auto& c : channels) ::close(c.writer_fd);
}

void stream_reader(Shared& sh, int id, int fd, std::size_t bytes) {
  ReaderResult& res = sh.reader[id];
  std::vector<std::byte> frame(bytes);
  std::memset(frame.data(), 0, bytes);
  sh.readers_ready.fetch_add(1);
  WindowCpu window{sh, res.window_cpu_ns};
  for (;;) {
    window.tick();
    std::size_t got = 0;
    while (got < bytes) {
      const ssize_t n = ::read(fd, frame.data() + got, bytes - got);
      if (n > 0) {
        got += static_cast<std::size_t>(n);
        res.bytes_in += static_cast<std::uint64_t>(n);
      } else if (n < 0 && errno == EINTR) {
        continue;
      } else {
        break;
      }
    }
    if (got < bytes) break;  // writer closed: end of run
    const std::uint64_t c0 = fb::thread_cpu_ns();
    res.checksum += fb::touch_bytes(frame.data(), bytes);
    const std::uint64_t c = fb::thread_cpu_ns() - c0;
    res.touch_cpu_ns += c;
    ++res.touched;
    if (in_window(sh, fb::now_ns())) res.window_touch_ns += c;
    if (in_window(sh, fb::now_ns())) ++res.frames;
  }
  window.finish();
  ::close(fd);
}

// ---- ZeroMQ PUB/SUB over ipc:// -----------------------------------------------------------

std::string zmq_endpoint() {
  return "ipc:///tmp/framering-bench-" + std::to_string(::getppid()) + ".ipc";
}

std::atomic<int> g_in_flight[kBuffers];
void zmq_release(void*, void* hint) {
  static_cast<std::atomic<int>*>(hint)->fetch_sub(1);
}

void zmq_writer(const Options& o, Shared& sh, const std::string& endpoint,
                const std::vector<std::byte>& source) {
  void* ctx = zmq_ctx_new();
  void* pub = zmq_socket(ctx, ZMQ_PUB);
  const int hwm = kBuffers;
  const int linger = 0;
  zmq_setsockopt(pub, ZMQ_SNDHWM, &hwm, sizeof hwm);
  zmq_setsockopt(pub, ZMQ_LINGER, &linger, sizeof linger);
  if (zmq_bind(pub, endpoint.c_str()) != 0) {
    std::fprintf(stderr, "zmq_bind %s: %s\n", endpoint.c_str(), zmq_strerror(zmq_errno()));
    sh.writer.error = 1;
    sh.writer_ready = 1;
    return;
  }
  const std::size_t bytes = source.size();
  std::vector<std::vector<std::byte>> buffers(kBuffers, std::vector<std::byte>(bytes));
  for (auto& b : buffers) std::memset(b.data(), 0, bytes);
  sh.writer_ready = 1;
  wait_for(sh.go, 1);
  Pacer pacer{o.fps};
  WindowCpu window{sh, sh.writer.window_cpu_ns};
  std::uint64_t cpu = 0;
  for (std::uint64_t k = 0;; ++k) {
    pacer.wait();
    window.tick();
    const std::uint64_t t = fb::now_ns();
    if (t >= sh.t_stop.load()) break;
    const auto b = static_cast<std::size_t>(k % kBuffers);
    // The buffer may still be queued for a subscriber: wait until ZeroMQ released it.
    while (g_in_flight[b].load() != 0 && fb::now_ns() < sh.t_stop.load())
      std::this_thread::sleep_for(std::chrono::microseconds(50));
    if (g_in_flight[b].load() != 0) break;
    const std::uint64_t c0 = fb::thread_cpu_ns();
    std::memcpy(buffers[b].data(), source.data(), bytes);
    const std::uint64_t c = fb::thread_cpu_ns() - c0;
    cpu += c;
    if (in_window(sh, t)) sh.writer.window_produce_ns += c;
    g_in_flight[b] = 1;
    zmq_msg_t msg;
    zmq_msg_init_data(&msg, buffers[b].data(), bytes, zmq_release, &g_in_flight[b]);
    if (zmq_msg_send(&msg, pub, 0) < 0) zmq_msg_close(&msg);
    ++sh.writer.produced;
    if (in_window(sh, t)) ++sh.writer.frames;
  }
  window.finish();
  sh.writer.produce_cpu_ns = cpu;
  zmq_close(pub);
  zmq_ctx_term(ctx);
}

void zmq_reader(Shared& sh, int id, const std::string& endpoint) {
  ReaderResult& res = sh.reader[id];
  void* ctx = zmq_ctx_new();
  void* sub = zmq_socket(ctx, ZMQ_SUB);
  const int hwm = kBuffers;
  const int linger = 0;
  zmq_setsockopt(sub, ZMQ_RCVHWM, &hwm, sizeof hwm);
  zmq_setsockopt(sub, ZMQ_LINGER, &linger, sizeof linger);
  zmq_setsockopt(sub, ZMQ_SUBSCRIBE, "", 0);
  zmq_connect(sub, endpoint.c_str());
  sh.readers_ready.fetch_add(1);
  zmq_msg_t msg;
  zmq_msg_init(&msg);
  WindowCpu window{sh, res.window_cpu_ns};
  for (;;) {
    window.tick();
    if (sh.go.load() && fb::now_ns() >= sh.t_stop.load()) break;
    zmq_pollitem_t item{sub, 0, ZMQ_POLLIN, 0};
    if (zmq_poll(&item, 1, 100) <= 0) continue;
    if (zmq_msg_recv(&msg, sub, ZMQ_DONTWAIT) < 0) continue;
    res.bytes_in += zmq_msg_size(&msg);
    const std::uint64_t c0 = fb::thread_cpu_ns();
    res.checksum +=
        fb::touch_bytes(static_cast<const std::byte*>(zmq_msg_data(&msg)), zmq_msg_size(&msg));
    const std::uint64_t c = fb::thread_cpu_ns() - c0;
    res.touch_cpu_ns += c;
    ++res.touched;
    if (in_window(sh, fb::now_ns())) res.window_touch_ns += c;
    if (in_window(sh, fb::now_ns())) ++res.frames;
  }
  window.finish();
  zmq_msg_close(&msg);
  zmq_close(sub);
  zmq_ctx_term(ctx);
}

// ---- driver -------------------------------------------------------------------------------

[[noreturn]] void usage(const std::string& why) {
  std::fprintf(
      stderr,
      "bench_fanout: %s\n"
      "usage: bench_fanout --transport ring|ringwait|pipe|pipe1m|unix|unix4m|zmq --readers N "
      "(1..%d) [--seconds S] [--fps F (0: flat out)] [--width W --height H]\n",
      why.c_str(), kMaxReaders);
  std::exit(2);
}

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--help" || a == "-h") usage("one writer, N readers that read every byte");
    if (i + 1 >= argc) usage("missing value for " + a);
    const std::string v = argv[++i];
    if (a == "--transport")
      o.transport = v;
    else if (a == "--readers")
      o.readers = std::atoi(v.c_str());
    else if (a == "--seconds")
      o.seconds = std::atof(v.c_str());
    else if (a == "--fps")
      o.fps = std::atof(v.c_str());
    else if (a == "--width")
      o.width = static_cast<std::uint32_t>(std::atoi(v.c_str()));
    else if (a == "--height")
      o.height = static_cast<std::uint32_t>(std::atoi(v.c_str()));
    else
      usage("unknown flag " + a);
  }
  if (o.transport != "ring" && !lossless(o.transport) && o.transport != "zmq" &&
      !copying(o.transport))
    usage("unknown --transport " + o.transport);
  if (o.readers < 1 || o.readers > kMaxReaders)
    usage("--readers must be 1.." + std::to_string(kMaxReaders));
  if (o.seconds <= 0) usage("--seconds must be > 0");
  if (o.width == 0 || o.height == 0) usage("--width and --height must be > 0");
  return o;
}

}  // namespace

int main(int argc, char** argv) {
  const Options o = parse(argc, argv);
  const std::size_t bytes = std::size_t{o.width} * o.height * 3;
  std::vector<std::byte> source(bytes);
  for (std::size_t i = 0; i < bytes; ++i) source[i] = static_cast<std::byte>(i * 131 >> 8);

  void* mem =
      ::mmap(nullptr, sizeof(Shared), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (mem == MAP_FAILED) {
    std::perror("mmap");
    return 1;
  }
  auto* sh = new (mem) Shared();
  std::vector<Channel> channels;
  if (copying(o.transport))
    for (int i = 0; i < o.readers; ++i) channels.push_back(make_channel(o.transport));
  const std::string name = ring_name();
  const std::string endpoint = zmq_endpoint();

  // Children leave with _exit so no parent-side destructor or atexit handler runs twice.
  std::vector<pid_t> pids;
  auto spawn = [&](auto&& body) {
    std::fflush(nullptr);
    const pid_t pid = ::fork();
    if (pid == 0) {
      int rc = 0;
      try {
        body();
      } catch (const std::exception& e) {
        std::fprintf(stderr, "bench_fanout child: %s\n", e.what());
        rc = 1;
      }
      std::fflush(nullptr);
      ::_exit(rc);
    }
    pids.push_back(pid);
  };

  spawn([&] {
    for (const auto& c : channels) ::close(c.reader_fd);
    if (o.transport == "ring" || lossless(o.transport))
      ring_writer(o, *sh, name, source);
    else if (o.transport == "zmq")
      zmq_writer(o, *sh, endpoint, source);
    else
      stream_writer(o, *sh, channels, source);
  });
  wait_for(sh->writer_ready, 1);
  for (int id = 0; id < o.readers; ++id) {
    spawn([&, id] {
      for (int j = 0; j < static_cast<int>(channels.size()); ++j) {
        ::close(channels[j].writer_fd);
        if (j != id) ::close(channels[j].reader_fd);
      }
      if (o.transport == "ring" || lossless(o.transport))
        ring_reader(*sh, id, name, lossless(o.transport));
      else if (o.transport == "zmq")
        zmq_reader(*sh, id, endpoint);
      else
        stream_reader(*sh, id, channels[id].reader_fd, bytes);
    });
  }
  for (const auto& c : channels) {
    ::close(c.writer_fd);
    ::close(c.reader_fd);
  }
  // Wait until every reader is attached/connected (with a deadline in case one failed).
  const std::uint64_t give_up = fb::now_ns() + 10'000'000'000ULL;
  while (sh->readers_ready.load() < o.readers && fb::now_ns() < give_up)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  // ZeroMQ subscriptions travel to the publisher asynchronously; 300 ms of warm-up covers that
  // and lets every transport reach its steady state before the window opens.
  const std::uint64_t t0 = fb::now_ns() + 300'000'000ULL;
  sh->t_start = t0;
  sh->t_stop = t0 + static_cast<std::uint64_t>(o.seconds * 1e9);
  sh->go = 1;

  nlohmann::json procs = nlohmann::json::array();
  double cpu_total = 0, cpu_writer = 0;
  int failures = 0;
  for (std::size_t i = 0; i < pids.size(); ++i) {
    int status = 0;
    rusage ru{};
    ::wait4(pids[i], &status, 0, &ru);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) ++failures;
    const double s = fb::rusage_seconds(ru);
    cpu_total += s;
    if (i == 0) cpu_writer = s;
  }
  if (o.transport == "zmq") ::unlink(endpoint.substr(6).c_str());

  const double window = o.seconds;
  const double frame_mb = static_cast<double>(bytes);
  nlohmann::json per_reader = nlohmann::json::array();
  std::uint64_t torn = 0, skipped = 0, bytes_in = 0, touched = 0, touch_ns = 0, delivered = 0;
  std::uint64_t window_cpu_ns = sh->writer.window_cpu_ns, window_touch_ns = 0;
  const double wf = static_cast<double>(std::max<std::uint64_t>(sh->writer.frames, 1));
  std::vector<double> fps;
  for (int i = 0; i < o.readers; ++i) {
    const ReaderResult& r = sh->reader[i];
    fps.push_back(static_cast<double>(r.frames) / window);
    per_reader.push_back(static_cast<double>(r.frames) / window);
    torn += r.torn;
    skipped += r.skipped;
    bytes_in += r.bytes_in;
    touched += r.touched;
    touch_ns += r.touch_cpu_ns;
    delivered += r.frames;
    window_cpu_ns += r.window_cpu_ns;
    window_touch_ns += r.window_touch_ns;
  }
  const WriterResult& w = sh->writer;
  const double produced = static_cast<double>(std::max<std::uint64_t>(w.produced, 1));
  // Bytes copied per produced frame: the producing write, the kernel's copies out of the writer
  // (send), and the copies into every reader (read/recv). vmsplice moves page references.
  // ZeroMQ's I/O thread does the sends, so its copies out equal what the subscribers received.
  const double out_bytes = o.transport == "zmq" ? static_cast<double>(bytes_in)
                                                : static_cast<double>(w.bytes_copied_out);
  const double copied =
      (static_cast<double>(w.produced) * frame_mb + out_bytes + static_cast<double>(bytes_in)) /
      produced;
  const double touch_s = static_cast<double>(touch_ns) / 1e9;
  const double produce_s = static_cast<double>(w.produce_cpu_ns) / 1e9;
  nlohmann::json out = {
      {"transport", o.transport},
      {"readers", o.readers},
      {"seconds", o.seconds},
      {"fps_target", o.fps},
      {"frame_bytes", bytes},
      {"writer_frames_per_s", static_cast<double>(w.frames) / window},
      {"produced", w.produced},
      {"fps_per_reader", per_reader},
      {"fps_per_reader_median", fb::quantile(fps, 0.5)},
      {"fps_per_reader_min", fps.empty() ? 0.0 : *std::min_element(fps.begin(), fps.end())},
      {"delivered", delivered},
      {"touched_total", touched},
      // Frames every reader finished per CPU second of all processes (writer included): what
      // the design delivers for the CPU it gets, which a busy shared machine disturbs less than
      // the wall-clock rate.
      {"reader_frames_per_cpu_s", cpu_total > 0 ? static_cast<double>(touched) / cpu_total : 0.0},
      {"torn", torn},
      {"skipped", skipped},
      {"bytes_copied_per_frame", copied},
      {"frames_copied_per_frame", copied / frame_mb},
      {"cpu_total_s", cpu_total},
      {"cpu_writer_s", cpu_writer},
      {"cpu_touch_s", touch_s},
      {"cpu_produce_s", produce_s},
      {"touch_ms_per_frame", touched ? touch_s * 1e3 / static_cast<double>(touched) : 0.0},
      {"cpu_ms_per_produced_frame", cpu_total * 1e3 / produced},
      // Transport cost: everything but the readers' pass over the bytes and the producing
      // write, which any design pays, per produced frame (each is delivered to every reader).
      {"transport_cpu_ms_per_frame", (cpu_total - touch_s - produce_s) * 1e3 / produced},
      // The same inside the measuring window only (steady state, one-time costs excluded).
      {"window_frames", w.frames},
      {"window_cpu_ms_per_frame", static_cast<double>(window_cpu_ns) / 1e6 / wf},
      {"window_touch_ms_per_frame", static_cast<double>(window_touch_ns) / 1e6 / wf},
      {"window_produce_ms_per_frame", static_cast<double>(w.window_produce_ns) / 1e6 / wf},
      {"window_transport_ms_per_frame",
       static_cast<double>(window_cpu_ns -
                           std::min(window_cpu_ns, window_touch_ns + w.window_produce_ns)) /
           1e6 / wf},
      {"failures", failures},
  };
  std::printf("%s\n", out.dump().c_str());
  // A reader that never got a frame means the transport did not work: fail loudly.
  for (int i = 0; i < o.readers; ++i) {
    if (sh->reader[i].touched == 0) {
      std::fprintf(stderr, "bench_fanout: reader %d received no frame over %s\n", i,
                   o.transport.c_str());
      ++failures;
    }
  }
  return failures == 0 && w.error == 0 ? 0 : 1;
}
