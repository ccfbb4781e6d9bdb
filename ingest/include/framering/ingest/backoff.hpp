// The one backoff rule of framering: a delay that starts at `initial`, doubles after each failure
// up to `cap`, and starts from `initial` again once a run lasted `healthy`. The ingest reconnects
// a live source by it (0.5 s doubling to a 30 s cap, healthy after a minute); `framering run`
// restarts crashed children by it with the supervisor's configured values.
#pragma once

#include <chrono>

namespace framering::ingest {

class Backoff {
 public:
  using Duration = std::chrono::milliseconds;
  // The ingest's reconnect values.
  static constexpr Duration kInitial{500};
  static constexpr Duration kCap{30'000};
  static constexpr Duration kHealthy{60'000};

  Backoff() = default;
  Backoff(Duration initial, Duration cap, Duration healthy)
      : initial_(initial), cap_(cap), healthy_(healthy), next_(initial) {}

  // The delay before the next attempt; each call doubles the following one up to the cap.
  Duration next_delay();
  // Called when a connection (or a child process) ends: `up_for` is how long it stayed up.
  void connection_lasted(Duration up_for);
  Duration peek() const { return next_; }

 private:
  Duration initial_ = kInitial;
  Duration cap_ = kCap;
  Duration healthy_ = kHealthy;
  Duration next_ = kInitial;
};

}  // namespace framering::ingest
