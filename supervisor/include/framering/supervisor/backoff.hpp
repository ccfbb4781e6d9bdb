// The restart rule of `framering run`: the project's one backoff rule (ingest::Backoff) with the
// supervisor's values, in the supervisor's units. A crashed child waits `initial` before its
// first restart, twice as long after each further crash (up to `max`), and `initial` again once
// it crashes after having stayed up `stable_run` (a crash after a long healthy run is news, not
// a crash loop to slow down). Delays are kept to the millisecond.
#pragma once

#include <chrono>
#include <cstdint>

#include "framering/ingest/backoff.hpp"

namespace framering::supervisor {

class RestartBackoff {
 public:
  RestartBackoff(double initial_s, double max_s, std::uint64_t stable_run_ns)
      : rule_(to_duration(initial_s), to_duration(max_s),
              std::chrono::duration_cast<Duration>(std::chrono::nanoseconds(stable_run_ns))) {}

  // The child died after running `ran_ns`: returns the delay (seconds) before its restart.
  double after_crash(std::uint64_t ran_ns) {
    rule_.connection_lasted(std::chrono::duration_cast<Duration>(std::chrono::nanoseconds(ran_ns)));
    return take();
  }

  // The child could not even be started (fork/exec failed): returns the delay before the next try.
  double after_failed_start() { return take(); }

 private:
  using Duration = ingest::Backoff::Duration;
  static Duration to_duration(double seconds) {
    return std::chrono::round<Duration>(std::chrono::duration<double>(seconds));
  }
  double take() { return std::chrono::duration<double>(rule_.next_delay()).count(); }

  ingest::Backoff rule_;
};

}  // namespace framering::supervisor
