// Fuzz target: a Reader attached to a segment file with fuzzed contents — the attach check,
// then every read path (read, latest, wait_next, valid, peek_slot, writer liveness) over a
// fuzzed slot table, cursor, state and heartbeat, as a reader meets a hostile or corrupt
// writer's segment; then the workers' Follower in both modes and several consumer-group
// shares, each of whose steps must return (a spinning follower is a hang here). Frames it returns
// as OK are touched end to end: an out-of-bounds view faults here instead of in a worker.
//
// The first 4096 bytes are the header. When its segment_bytes field is a plausible size
// (<= 4 MiB) the file is cut or zero-padded to that size, so inputs with a consistent header
// get past attach and exercise the read paths; otherwise the file is the input as is.
#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "framering/ringbuf/error.hpp"
#include "framering/ringbuf/layout.hpp"
#include "framering/ringbuf/reader.hpp"
#include "framering/workers/follower.hpp"
#include "fuzz_target.hpp"

using namespace framering::ring;

namespace {

constexpr const char* kRing = "fuzz";
constexpr std::uint64_t kMaxFileBytes = 4u << 20;

// A private directory for the segment, removed at exit. A plain char array, so it still exists
// when the exit handler runs (a static std::string would be destroyed first).
char g_dir[] = "/tmp/framering-fuzz-XXXXXX";

const char* shm_directory() {
  static const bool made = [] {
    FUZZ_CHECK(::mkdtemp(g_dir) != nullptr);
    ::setenv("FRAMERING_SHM_DIR", g_dir, 1);
    std::atexit([] { std::filesystem::remove_all(g_dir); });
    return true;
  }();
  (void)made;
  return g_dir;
}

void write_segment(const std::string& path, const std::vector<std::uint8_t>& bytes) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  FUZZ_CHECK(fd >= 0);
  std::size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    FUZZ_CHECK(n > 0);
    done += static_cast<std::size_t>(n);
  }
  ::close(fd);
}

std::uint8_t touch(const FrameView& f) {
  std::uint8_t sum = 0;
  for (std::size_t i = 0; i < f.bytes; i += 4096) sum ^= static_cast<std::uint8_t>(f.data[i]);
  return static_cast<std::uint8_t>(sum ^ static_cast<std::uint8_t>(f.data[f.bytes - 1]));
}

void check_result(Reader& reader, const ReadResult& r, volatile std::uint8_t& sink) {
  if (r.status != ReadStatus::kOk) return;
  const RingInfo& info = reader.info();
  const auto map = reader.mapping();
  FUZZ_CHECK(r.frame.bytes == info.frame_bytes);
  FUZZ_CHECK(r.frame.slot < info.slots);
  FUZZ_CHECK(r.frame.data >= map.data() && r.frame.data + r.frame.bytes <= map.data() + map.size());
  sink = sink ^ touch(r.frame);
  (void)reader.valid(r.frame);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string path = std::string(shm_directory()) + "/framering." + kRing;
  std::vector<std::uint8_t> file(data, data + size);
  if (size >= kHeaderBytes) {
    std::uint64_t want = 0;
    std::memcpy(&want, data + hdr::kSegmentBytes, sizeof want);
    if (want >= kHeaderBytes && want <= kMaxFileBytes) file.resize(want, 0);
  }
  write_segment(path, file);

  volatile std::uint8_t sink = 0;
  try {
    // stale_after 0: every liveness check probes the flock (nobody holds it: writer gone).
    Reader reader = Reader::attach(kRing, {.stale_after = std::chrono::milliseconds(0)});
    const RingInfo& info = reader.info();
    FUZZ_CHECK(info.segment_bytes == file.size());
    const std::uint64_t cursor = reader.cursor();
    for (std::uint64_t n :
         {std::uint64_t{0}, cursor - 1, cursor - info.slots, cursor, cursor / 2, UINT64_MAX}) {
      check_result(reader, reader.read(n), sink);
    }
    check_result(reader, reader.latest(), sink);
    check_result(reader, reader.wait_next(cursor - 1, std::chrono::nanoseconds(0)), sink);
    for (std::uint32_t k = 0; k < std::min<std::uint32_t>(info.slots, 64); ++k) {
      const FrameView f = reader.peek_slot(k);
      FUZZ_CHECK(f.slot == k && f.bytes == info.frame_bytes);
      sink = sink ^ touch(f);
    }
    (void)reader.writer_alive();
    (void)reader.state();
    (void)reader.heartbeat_ns();
    using framering::workers::Follower;
    using framering::workers::FollowMode;
    using framering::workers::Share;
    for (FollowMode mode : {FollowMode::kEvery, FollowMode::kLatest}) {
      for (Share share : {Share{0, 1, false}, Share{0, 2, false}, Share{1, 2, false},
                          Share{2, 3, false}, Share{1, 2, true}}) {
        Follower follower(reader, mode, share);
        for (int step = 0; step < 3; ++step) {
          const Follower::Step s = follower.next(std::chrono::nanoseconds(0));
          if (s.kind == Follower::Kind::kFrame) {
            const auto map = reader.mapping();
            FUZZ_CHECK(s.frame.data >= map.data() &&
                       s.frame.data + s.frame.bytes <= map.data() + map.size());
            sink = sink ^ touch(s.frame);
          }
        }
      }
    }
  } catch (const RingError& e) {
    FUZZ_CHECK(e.kind() == ErrorKind::kBadHeader);
  }
  ::unlink(path.c_str());
  return 0;
}
