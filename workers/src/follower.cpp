#include "framering/workers/follower.hpp"

namespace framering::workers {

using ring::ReadStatus;

namespace {
constexpr int kMaxSkipsPerStep = 64;
}  // namespace

std::uint64_t Share::first_at_or_after(std::uint64_t n) const {
  if (tiles || members <= 1) return n;
  const std::uint64_t r = n % members;
  const std::uint64_t ahead = r <= member ? member - r : std::uint64_t{members} - r + member;
  // Saturate: near 2^64 (only a hostile or corrupt cursor gets there) there may be no frame of
  // ours left, and wrapping to a small number would send the follower back to frame 0 forever.
  return ahead > UINT64_MAX - n ? UINT64_MAX : n + ahead;
}

bool Share::last_at_or_before(std::uint64_t n, std::uint64_t& out) const {
  if (tiles || members <= 1) {
    out = n;
    return true;
  }
  const std::uint64_t r = n % members;
  const std::uint64_t back = r >= member ? r - member : r + members - member;
  if (back > n) return false;
  out = n - back;
  return true;
}

std::uint64_t Share::count(std::uint64_t from, std::uint64_t to) const {
  if (to <= from) return 0;
  if (tiles || members <= 1) return to - from;
  // Frames of ours in [0, x): one per full round of `members`, plus one if the partial round
  // reaches past our remainder.
  auto upto = [this](std::uint64_t x) { return x / members + (x % members > member ? 1 : 0); };
  return upto(to) - upto(from);
}

Follower::Follower(ring::Reader& reader, FollowMode mode, Share share)
    : reader_(reader), mode_(mode), share_(share) {
  start_stream();
}

void Follower::start_stream() {
  const std::uint64_t cursor = reader_.cursor();
  if (mode_ == FollowMode::kEvery) {
    // Start at the oldest frame that is certainly intact: a live writer may be overwriting the
    // slot of frame cursor - slots right now; a closed or dead one left every slot as it was.
    const std::uint64_t slots = reader_.info().slots;
    const std::uint64_t held = reader_.writer_alive() ? slots - 1 : slots;
    pos_ = share_.first_at_or_after(cursor > held ? cursor - held : 0);
    return;
  }
  std::uint64_t newest = 0;
  pos_ = cursor > 0 && share_.last_at_or_before(cursor - 1, newest) ? newest
                                                                    : share_.first_at_or_after(0);
}

Follower::Step Follower::next(std::chrono::nanoseconds timeout) {
  return mode_ == FollowMode::kEvery ? every(timeout) : latest(timeout);
}

Follower::Step Follower::every(std::chrono::nanoseconds timeout) {
  // Bounded, so a segment whose slots never match its cursor (hostile or corrupt) cannot keep
  // the caller from its stop check: after this many skips it reports idle and is called again.
  for (int attempt = 0; attempt < kMaxSkipsPerStep; ++attempt) {
    const ring::ReadResult r = reader_.wait_next(pos_, timeout);
    switch (r.status) {
      case ReadStatus::kOk:
        pos_ = share_.first_at_or_after(r.next);
        return {Kind::kFrame, r.frame};
      case ReadStatus::kNotYet:
        return {Kind::kIdle, {}};
      case ReadStatus::kLapped:
      case ReadStatus::kTorn:
        (r.status == ReadStatus::kLapped ? counts_.lapped : counts_.torn) +=
            share_.count(pos_, r.next);
        pos_ = share_.first_at_or_after(r.next);
        continue;  // the frames from r.next on are already published
      case ReadStatus::kWriterGone:
        return {Kind::kWriterGone, {}};
      case ReadStatus::kEpochChanged:
        start_stream();
        return {Kind::kEpochChanged, {}};
    }
  }
  return {Kind::kIdle, {}};
}

Follower::Step Follower::latest(std::chrono::nanoseconds timeout) {
  for (int attempt = 0; attempt < 16; ++attempt) {
    const ring::ReadResult r =
        reader_.wait_next(pos_, attempt == 0 ? timeout : std::chrono::nanoseconds{0});
    switch (r.status) {
      case ReadStatus::kNotYet:
        return {Kind::kIdle, {}};
      case ReadStatus::kWriterGone:
        return {Kind::kWriterGone, {}};
      case ReadStatus::kEpochChanged:
        start_stream();
        return {Kind::kEpochChanged, {}};
      case ReadStatus::kOk:
      case ReadStatus::kLapped:
      case ReadStatus::kTorn:
        break;  // pos_ or a newer frame of ours exists: take the newest
    }
    const std::uint64_t cursor = reader_.cursor();
    std::uint64_t newest = pos_;
    if (cursor == 0 || !share_.last_at_or_before(cursor - 1, newest) || newest < pos_)
      newest = pos_;
    ring::ReadResult pick = r;
    if (r.status != ReadStatus::kOk || newest != pos_) pick = reader_.read(newest);
    if (pick.status != ReadStatus::kOk) continue;  // overwritten between cursor and read: retry
    counts_.skipped += share_.count(pos_, newest);
    pos_ = share_.first_at_or_after(newest + 1);
    return {Kind::kFrame, pick.frame};
  }
  return {Kind::kIdle, {}};
}

}  // namespace framering::workers
