// Test helpers: a ring with a unique name fed by ring::Writer, vtest.avi frames, and running the
// worker runtime on a thread.
#pragma once

#include <nlohmann/json.hpp>
#include <opencv2/core.hpp>

#include <atomic>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "framering/ringbuf/writer.hpp"
#include "framering/workers/runtime.hpp"

namespace framering::workers::test {

inline const char* kVtest = "/usr/share/doc/opencv-doc/examples/data/vtest.avi";

// A name no other test or process uses ("wkt<pid>_<n>").
std::string unique_ring_name();

// The first `count` frames of vtest.avi as BGR Mats (decoded once per process, cached; the
// returned headers share the cached pixels).
std::vector<cv::Mat> vtest_frames(std::size_t count);

ring::Writer make_writer(const std::string& name, cv::Size size, std::uint32_t slots,
                         ring::PixFmt fmt = ring::PixFmt::kBgr24);
// Copies `frame` (continuous, matching the ring geometry) into the next slot and publishes it.
void publish(ring::Writer& writer, const cv::Mat& frame);

std::uint32_t crc32_of(const cv::Mat& m);
// As the checksum analytic writes a crc32 into its events: 8 lower-case hex digits.
std::string hex8(std::uint32_t v);

// Runs run_worker on a thread; stop() asks it to exit; join() returns its exit code.
class WorkerThread {
 public:
  explicit WorkerThread(WorkerOptions options);
  ~WorkerThread();
  void stop() { stop_.store(true); }
  int join();

 private:
  std::atomic<bool> stop_{false};
  std::atomic<int> code_{-1};
  std::thread thread_;
};

// Options for a worker on `ring` writing events to a fresh temp file (path in `events`).
WorkerOptions worker_options(const std::string& ring, const std::string& analytic, FollowMode mode);
// Parsed JSON lines of an events file.
std::vector<nlohmann::json> read_events(const std::string& path);

// A TCP port on 127.0.0.1 that was free a moment ago (bound to port 0, then released).
int free_port();
// Value of the sample `series` (name{labels} exactly as exposed) at http://127.0.0.1:port/metrics;
// -1 when the series is absent.
double scrape_sample(int port, const std::string& series);

// Removes the segment and any reader-stats files of a ring when the test ends.
struct RingCleanup {
  std::string name;
  ~RingCleanup();
};

}  // namespace framering::workers::test
