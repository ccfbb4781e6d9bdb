// The restart rule on its own: the delays a crashing child gets, crash after crash.
#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "framering/supervisor/backoff.hpp"

namespace fs = framering::supervisor;

namespace {

constexpr std::uint64_t kMs = 1'000'000ULL;
constexpr std::uint64_t kStable = 10'000 * kMs;

// The delays after crashes that each came `ran` after the previous start.
std::vector<double> delays(fs::RestartBackoff backoff, const std::vector<std::uint64_t>& runs) {
  std::vector<double> out;
  for (std::uint64_t ran : runs) out.push_back(backoff.after_crash(ran));
  return out;
}

}  // namespace

TEST(SupervisorBackoff, DoublesOnEveryQuickCrashUpToTheMaximum) {
  const std::vector<std::uint64_t> quick(8, 100 * kMs);
  EXPECT_EQ(delays(fs::RestartBackoff(0.5, 30, kStable), quick),
            (std::vector<double>{0.5, 1, 2, 4, 8, 16, 30, 30}));
}

TEST(SupervisorBackoff, MaximumThatIsNotAPowerOfTwoStepIsStillReached) {
  EXPECT_EQ(delays(fs::RestartBackoff(0.2, 1, kStable), {0, 0, 0, 0, 0}),
            (std::vector<double>{0.2, 0.4, 0.8, 1, 1}));
}

TEST(SupervisorBackoff, CrashAfterAStableRunStartsAfresh) {
  // Three quick crashes, one after exactly the stable time, two quick ones again.
  EXPECT_EQ(delays(fs::RestartBackoff(0.5, 30, kStable),
                   {10 * kMs, 10 * kMs, 10 * kMs, kStable, 10 * kMs, 10 * kMs}),
            (std::vector<double>{0.5, 1, 2, 0.5, 1, 2}));
}

TEST(SupervisorBackoff, RunJustShortOfStableKeepsGrowing) {
  EXPECT_EQ(delays(fs::RestartBackoff(0.5, 30, kStable), {0, kStable - 1, kStable - 1}),
            (std::vector<double>{0.5, 1, 2}));
}

TEST(SupervisorBackoff, FailedStartsGrowTheSameDelay) {
  fs::RestartBackoff backoff(0.5, 30, kStable);
  EXPECT_EQ(backoff.after_failed_start(), 0.5);
  EXPECT_EQ(backoff.after_failed_start(), 1);
  EXPECT_EQ(backoff.after_crash(0), 2) << "a start that failed counts as a quick crash";
  EXPECT_EQ(backoff.after_crash(kStable), 0.5);
}

TEST(SupervisorBackoff, InitialEqualToMaximumNeverChanges) {
  EXPECT_EQ(delays(fs::RestartBackoff(3, 3, kStable), {0, 0, kStable, 0}),
            (std::vector<double>{3, 3, 3, 3}));
}
