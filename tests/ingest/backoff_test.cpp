#include "framering/ingest/backoff.hpp"

#include <gtest/gtest.h>

#include <vector>

namespace framering::ingest {
namespace {

using std::chrono::milliseconds;

TEST(Backoff, DoublesFromHalfASecondUpToThirtySeconds) {
  Backoff b;
  std::vector<long> delays;
  for (int i = 0; i < 10; ++i) delays.push_back(b.next_delay().count());
  EXPECT_EQ(delays,
            (std::vector<long>{500, 1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000, 30000}));
}

TEST(Backoff, AHealthyMinuteResetsTheDelay) {
  Backoff b;
  for (int i = 0; i < 5; ++i) (void)b.next_delay();
  b.connection_lasted(milliseconds(59'999));
  EXPECT_EQ(b.peek(), milliseconds(16000)) << "a short connection keeps backing off";
  b.connection_lasted(milliseconds(60'000));
  EXPECT_EQ(b.next_delay(), milliseconds(500));
}

}  // namespace
}  // namespace framering::ingest
