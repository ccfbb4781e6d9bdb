#include "framering/ingest/backoff.hpp"

#include <algorithm>

namespace framering::ingest {

Backoff::Duration Backoff::next_delay() {
  const Duration delay = next_;
  next_ = std::min(next_ * 2, cap_);
  return delay;
}

void Backoff::connection_lasted(Duration up_for) {
  if (up_for >= healthy_) next_ = initial_;
}

}  // namespace framering::ingest
