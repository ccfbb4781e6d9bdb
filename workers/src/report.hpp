// Where a worker's progress goes: the per-reader stats file (`framering stat`) and, when the
// process has a metrics endpoint, the framering_* worker metrics. Both get the same numbers.
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "framering/metrics/catalogue.hpp"
#include "framering/ringbuf/reader_stats.hpp"
#include "framering/workers/event.hpp"
#include "framering/workers/follower.hpp"

namespace framering::workers {

class Report {
 public:
  // `metrics` may be null (no endpoint); it must outlive the Report.
  Report(const std::string& ring, const std::string& worker, metrics::WorkerMetrics* metrics);

  void epoch(std::uint64_t epoch);
  // Heartbeat, read position and lag (frames published that this reader has not reached).
  void position(std::uint64_t next_wanted, std::uint64_t cursor);
  // Drop totals so far; metrics counters advance by the difference since the last call.
  void drops(const FollowCounts& follow, std::uint64_t torn_after_use);
  // Payload bytes an analytic copied out of a frame (nothing happens for 0).
  void copied(std::size_t bytes);
  // A snapshot dropped because its frame was overwritten while it was encoded.
  void snapshot_torn();
  // One analysed, validated frame: bytes read in place, capture-to-done latency.
  void frame(std::size_t bytes_in_place, std::uint64_t capture_realtime_ns);
  // One written event: framering_events_total{kind="<kind>_<type>"} (motion_start, people_end,
  // ...), or {kind="<kind>"} for a per-frame record (checksum).
  void event(const Event& event);
  // Objects detected in that frame, by class name (framering_objects_detected_total).
  void detected(const std::vector<std::string>& classes);
  // One frame the analytic failed on; returns the total so far.
  std::uint64_t analytic_error();
  std::uint64_t analytic_errors() const { return analytic_errors_; }
  // Empty, or why the stats file is not at its usual name (another user's file holds it).
  const std::string& stats_displaced() const { return stats_.displaced(); }

 private:
  ring::ReaderStatsPublisher stats_;
  metrics::WorkerMetrics* metrics_;
  std::uint64_t lapped_ = 0, torn_ = 0, skipped_ = 0;
  std::uint64_t analytic_errors_ = 0;
  std::unordered_map<std::string, prometheus::Counter*> events_;
  std::unordered_map<std::string, prometheus::Counter*> objects_;
};

}  // namespace framering::workers
