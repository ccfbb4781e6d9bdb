// Which processes a config asks for, and their exact command lines (the flags of docs/design.md's
// `framering ingest` and `framering worker`). Pure: the same config always gives the same plan.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "framering/supervisor/config.hpp"

namespace framering::supervisor {

enum class ChildKind { kIngest, kWorker, kRecorder };

struct ChildSpec {
  ChildKind kind = ChildKind::kIngest;
  std::string label;  // "lobby/ingest", "lobby/people-1": used in logs and the summary
  std::string camera;
  std::string ring;
  std::string worker_id;  // the worker's --name (reader-stats id, metrics label); empty for ingest
  std::string analytic;   // empty for ingest
  std::vector<std::string> args;  // after the program name, starting with the subcommand
  // "NAME=value" added to the child's environment: secrets (the MQTT URL) go here, never in
  // args, which other local users can read in /proc/<pid>/cmdline.
  std::vector<std::string> env;
  std::string metrics_addr;          // "HOST:PORT", or "0" when disabled
  std::string preview_addr;          // ingest's --preview-addr HOST:PORT; "" when off
  int config_line = 0;               // the camera's or worker's line, for messages
  std::vector<std::string> secrets;  // of the ingest's source (ingest::source_secrets)
  // An ingest of the camera's record.source: shares packets, publishes no frames.
  bool packets_only = false;
};

struct PlanOptions {
  std::optional<std::uint16_t> metrics_base_port;  // overrides metrics.base_port
  std::string log_level = "info";
};

// One ingest per camera followed by its workers (one child per replica) and, with `record:`, its
// recorder. The recorded packets come from the camera's one ingest (--packet-history) or, with
// record.source, from a second ingest of that stream that decodes nothing (--packets-only),
// planned just before the recorder. Metrics ports are handed out in that order from the base
// port. Throws ConfigError if the ports run past 65535.
std::vector<ChildSpec> plan_children(const Config& config, const PlanOptions& options);

// The command line for logs: quoted where needed, credentials redacted (ingest::redact_urls).
std::string printable_command(const ChildSpec& child);

// A line a child printed, or its whole stderr, as it may be logged: every URL redacted and
// every secret of the child's source masked (the child redacts its own output; this holds even
// if a crash or a library prints something raw).
std::string printable_output(const ChildSpec& child, std::string_view text);

}  // namespace framering::supervisor
