// The numbers behind the progress line and the final summary, gathered without asking any child:
// each camera's ring cursor (ring::Reader), each worker's reader-stats file, and the event lines
// the workers print. Totals survive restarts: a new ring epoch or a new worker pid starts a new
// run of counters that is added to the earlier ones.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "framering/supervisor/child_plan.hpp"

namespace framering::ring {
class Reader;
struct ReaderStatsSnapshot;
}  // namespace framering::ring

namespace framering::supervisor {

struct CameraStats {
  std::string camera;
  std::string ring;
  std::uint64_t published = 0;  // frames over all epochs
  double fps = 0;               // over the last sample interval
  std::uint64_t epochs = 0;     // ring epochs seen (1 + ingest restarts that made a new ring)
  std::uint32_t restarts = 0;
  // Ring tracking state.
  std::uint64_t epoch = 0;
  std::uint64_t cursor = 0;   // in the current epoch
  std::uint64_t earlier = 0;  // frames of earlier epochs
};

struct WorkerStats {
  std::string label;
  std::string camera;
  std::string ring;
  std::string worker_id;
  std::string analytic;
  std::uint64_t frames_read = 0;
  std::uint64_t lapped = 0;
  std::uint64_t torn = 0;
  std::uint64_t skipped = 0;
  double fps = 0;
  std::uint64_t events = 0;
  std::uint64_t boxes = 0;  // detections: the boxes of all its events
  std::map<std::string, std::uint64_t> kinds;
  std::uint32_t restarts = 0;
  std::uint64_t drops() const { return lapped + torn + skipped; }
  // Reader-stats tracking state: counters of the current process and sums of earlier ones.
  std::int32_t pid = 0;
  std::uint64_t cur_read = 0, cur_lapped = 0, cur_torn = 0, cur_skipped = 0;
  std::uint64_t old_read = 0, old_lapped = 0, old_torn = 0, old_skipped = 0;
};

class PipelineStats {
 public:
  explicit PipelineStats(const std::vector<ChildSpec>& plan);
  ~PipelineStats();
  PipelineStats(const PipelineStats&) = delete;
  PipelineStats& operator=(const PipelineStats&) = delete;

  // Reads every ring cursor and reader-stats file; `now_ns` is CLOCK_MONOTONIC.
  void sample(std::uint64_t now_ns);
  // One event line printed by the worker `label`; returns false if it is not a JSON object.
  bool count_event(const std::string& label, std::string_view line);
  void count_restart(const ChildSpec& child);
  // A worker process ended: folds in its final reader-stats counters.
  void worker_exited(const ChildSpec& child);

  const std::vector<CameraStats>& cameras() const { return cameras_; }
  const std::vector<WorkerStats>& workers() const { return workers_; }
  std::uint64_t total_events() const;
  std::uint64_t total_drops() const;
  std::uint32_t total_restarts() const;

  // Up to kCompactAbove cameras: "lobby 25.0 fps in: motion 25.0 people-0 6.1 | drops 3 |
  // events 41 | restarts 0". More: totals and the slowest camera and worker, so the line stays
  // one line at 16 cameras.
  std::string progress_line() const;
  // End-of-run report: a line per camera and per worker, or with more than kCompactAbove
  // cameras one line per camera (its workers inline), then the totals.
  std::string summary(double elapsed_s) const;
  static constexpr std::size_t kCompactAbove = 4;

 private:
  void sample_ring(CameraStats& cam, std::size_t index);
  std::string compact_progress() const;
  std::string compact_summary(double elapsed_s) const;
  std::string totals() const;
  static void absorb(WorkerStats& w, const std::vector<ring::ReaderStatsSnapshot>& snapshots);
  std::vector<CameraStats> cameras_;
  std::vector<WorkerStats> workers_;
  std::vector<std::unique_ptr<ring::Reader>> readers_;  // one per camera, attached lazily
  std::optional<std::uint64_t> last_sample_ns_;
};

}  // namespace framering::supervisor
