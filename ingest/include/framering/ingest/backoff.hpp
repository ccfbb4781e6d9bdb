// Reconnect delays for live sources: 0.5 s doubling to a 30 s cap; a connection that stayed
// healthy for a minute starts the next outage from 0.5 s again.
#pragma once

#include <chrono>

namespace framering::ingest {

class Backoff {
 public:
  using Duration = std::chrono::milliseconds;
  static constexpr Duration kInitial{500};
  static constexpr Duration kCap{30'000};
  static constexpr Duration kHealthy{60'000};

  // The delay before the next attempt; each call doubles the following one up to the cap.
  Duration next_delay();
  // Called when a connection comes up and when it goes down: `up_for` is how long it stayed up.
  void connection_lasted(Duration up_for);
  Duration peek() const { return next_; }

 private:
  Duration next_ = kInitial;
};

}  // namespace framering::ingest
