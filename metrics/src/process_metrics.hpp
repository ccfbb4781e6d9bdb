// process_* metrics as Prometheus' own clients export them (read from /proc/self at scrape time),
// so dashboards written for any Prometheus-instrumented process work for framering too.
#pragma once

#include <prometheus/collectable.h>
#include <prometheus/metric_family.h>

#include <vector>

namespace framering::metrics {

class ProcessMetrics : public prometheus::Collectable {
 public:
  // process_cpu_seconds_total, process_resident_memory_bytes, process_virtual_memory_bytes,
  // process_start_time_seconds, process_open_fds, process_max_fds. A metric whose /proc source
  // cannot be read is left out rather than reported as 0.
  std::vector<prometheus::MetricFamily> Collect() const override;
};

}  // namespace framering::metrics
