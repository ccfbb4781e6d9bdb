#include "report.hpp"

#include "framering/ringbuf/reader.hpp"

namespace framering::workers {

namespace {
constexpr auto kRelaxed = std::memory_order_relaxed;

void advance(prometheus::Counter& counter, std::uint64_t& last, std::uint64_t now) {
  if (now > last) counter.Increment(static_cast<double>(now - last));
  last = now;
}
}  // namespace

Report::Report(const std::string& ring, const std::string& worker, metrics::WorkerMetrics* metrics)
    : stats_(ring, worker), metrics_(metrics) {}

void Report::epoch(std::uint64_t epoch) {
  stats_.epoch().store(epoch, kRelaxed);
}

void Report::position(std::uint64_t next_wanted, std::uint64_t cursor) {
  stats_.heartbeat_ns().store(ring::monotonic_ns(), kRelaxed);
  stats_.announce_position(next_wanted);  // wakes an ingest run with --wait-for-readers
  if (metrics_)
    metrics_->reader_lag.Set(cursor > next_wanted ? static_cast<double>(cursor - next_wanted)
                                                  : 0.0);
}

void Report::drops(const FollowCounts& follow, std::uint64_t torn_after_use) {
  const std::uint64_t torn = follow.torn + torn_after_use;
  stats_.lapped().store(follow.lapped, kRelaxed);
  stats_.skipped().store(follow.skipped, kRelaxed);
  stats_.torn().store(torn, kRelaxed);
  if (!metrics_) return;
  advance(metrics_->dropped_lapped, lapped_, follow.lapped);
  advance(metrics_->dropped_skipped, skipped_, follow.skipped);
  advance(metrics_->dropped_torn, torn_, torn);
}

void Report::copied(std::size_t bytes) {
  if (bytes == 0) return;
  stats_.bytes_copied().fetch_add(bytes, kRelaxed);
  if (metrics_) metrics_->bytes_copied.Increment(static_cast<double>(bytes));
}

void Report::snapshot_torn() {
  if (metrics_) metrics_->snapshots_torn.Increment();
}

void Report::frame(std::size_t bytes_in_place, std::uint64_t capture_realtime_ns) {
  stats_.frames_read().fetch_add(1, kRelaxed);
  stats_.bytes_in_place().fetch_add(bytes_in_place, kRelaxed);
  if (!metrics_) return;
  metrics_->frames_read.Increment();
  metrics_->bytes_read_in_place.Increment(static_cast<double>(bytes_in_place));
  const std::uint64_t now = ring::realtime_ns();
  if (capture_realtime_ns && now >= capture_realtime_ns) {
    metrics_->frame_latency.Observe(static_cast<double>(now - capture_realtime_ns) / 1e9);
  }
}

void Report::event(const Event& e) {
  if (!metrics_ || e.phase == Phase::kMeasurement) return;
  const std::string label = e.phase == Phase::kFrame ? e.kind : e.kind + "_" + phase_name(e.phase);
  auto it = events_.find(label);
  if (it == events_.end()) it = events_.emplace(label, &metrics_->events(label)).first;
  it->second->Increment();
}

void Report::detected(const std::vector<std::string>& classes) {
  if (!metrics_) return;
  for (const std::string& c : classes) {
    auto it = objects_.find(c);
    if (it == objects_.end()) it = objects_.emplace(c, &metrics_->objects_detected(c)).first;
    it->second->Increment();
  }
}

std::uint64_t Report::analytic_error() {
  if (metrics_) metrics_->dropped_analytic_error.Increment();
  return ++analytic_errors_;
}

}  // namespace framering::workers
