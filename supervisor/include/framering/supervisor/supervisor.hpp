// `framering run`: starts one ingest per camera and its workers as child processes of this
// binary, restarts crashed children with exponential backoff, collects the workers' events into
// one file, shows progress, and on SIGINT/SIGTERM (or --duration) stops everything in order:
// SIGTERM, a grace period, SIGKILL, then removes the rings left behind.
#pragma once

#include <cstdio>
#include <optional>
#include <string>
#include <vector>

#include "framering/supervisor/child_plan.hpp"
#include "framering/supervisor/config.hpp"
#include "framering/supervisor/console.hpp"

namespace framering::supervisor {

struct RunOptions {
  std::string program = "/proc/self/exe";  // the binary the children run
  std::string argv0 = "framering";
  std::optional<double> duration_s;  // stop by itself after this long
  std::FILE* summary_out = stdout;   // where the end-of-run summary goes
};

// Blocks SIGINT, SIGTERM, SIGHUP and SIGCHLD from now on. Called first thing by `framering run`:
// a stop asked for while the config and the children's command lines are still being checked
// then stays pending for supervise(), which ends the run with exit code 0 before starting
// anything, instead of the signal's default action killing the process.
void hold_stop_signals();

// Runs each child's command line with --check-config appended. Returns 0 when all accept it,
// else 2 after logging each child's complaint with the config line it came from.
int check_children(const Config& config, const std::vector<ChildSpec>& plan,
                   const RunOptions& options);

// Supervises `plan` until stopped. Returns the process exit code: 0 after a requested stop or
// when every source finished, 2 when a child rejected its configuration.
int supervise(const Config& config, const std::vector<ChildSpec>& plan, const RunOptions& options,
              Console& console);

}  // namespace framering::supervisor
