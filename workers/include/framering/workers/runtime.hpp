// The worker process body: attach read-only (waiting for the ring to appear), follow frames in
// the chosen mode and share, analyse each in place, validate the seqlock, write events, publish
// reader stats; survive writer restarts. Returns the process exit code.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "framering/workers/follower.hpp"
#include "framering/workers/log.hpp"

namespace framering::workers {

struct WorkerOptions {
  std::string ring;
  std::string analytic;
  FollowMode mode = FollowMode::kLatest;
  std::string group;  // consumer group name (informational; the share is member/members)
  Share share;
  std::string events = "-";
  std::string camera;  // names the camera in events, MQTT topics and snapshot paths; "" = ring
  std::vector<std::string> params;
  std::string name;              // worker id; empty = <analytic> or <analytic>-<member>
  std::uint64_t max_frames = 0;  // 0 = unlimited
  // /metrics endpoint "HOST:PORT"; "0" or "" = none. With metrics_port_search, a busy port is
  // not an error: the next ones (up to 64) are tried, so several workers can share the default.
  std::string metrics_addr = "0";
  bool metrics_port_search = false;
  LogLevel log_level = LogLevel::kInfo;
  // MQTT output (off when mqtt_url is empty). The URL may carry user:password; it is only ever
  // printed redacted.
  std::string mqtt_url;
  std::string mqtt_topic_prefix = "framering";
  std::string mqtt_ca_file;
  std::size_t mqtt_queue = 1000;
  // JPEG snapshots at each event start (off when snapshot_dir is empty).
  std::string snapshot_dir;
  int snapshot_keep = 200;
  double snapshot_max_age_s = 7 * 86400.0;
};

// Fills in defaults (name) and checks everything that can be checked without the ring: the
// analytic and its --param keys, the share. Throws ConfigError.
void validate(WorkerOptions& options);

// Runs until `stop` is set (exit 0), max_frames analysed frames (0), a config error (2) or a
// segment that is not a valid ring (4).
int run_worker(WorkerOptions options, const std::atomic<bool>& stop);

}  // namespace framering::workers
