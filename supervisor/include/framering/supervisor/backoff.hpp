// The restart rule of `framering run`, apart from the poll loop so it can be tested on its own:
// a crashed child waits `initial` before its first restart, twice as long after each further
// crash (up to `max`), and `initial` again once it crashes after having stayed up `stable_run`
// (a crash after a long healthy run is news, not a crash loop to slow down).
#pragma once

#include <cstdint>

namespace framering::supervisor {

class RestartBackoff {
 public:
  RestartBackoff(double initial_s, double max_s, std::uint64_t stable_run_ns)
      : initial_s_(initial_s), max_s_(max_s), stable_run_ns_(stable_run_ns), next_s_(initial_s) {}

  // The child died after running `ran_ns`: returns the delay before its restart.
  double after_crash(std::uint64_t ran_ns) {
    if (ran_ns >= stable_run_ns_) next_s_ = initial_s_;
    return take();
  }

  // The child could not even be started (fork/exec failed): returns the delay before the next try.
  double after_failed_start() { return take(); }

 private:
  double take() {
    const double delay = next_s_;
    next_s_ = next_s_ * 2 < max_s_ ? next_s_ * 2 : max_s_;
    return delay;
  }

  double initial_s_;
  double max_s_;
  std::uint64_t stable_run_ns_;
  double next_s_;
};

}  // namespace framering::supervisor
