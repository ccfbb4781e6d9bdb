#include "framering/ringbuf/reader_gate.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <set>
#include <thread>

#include "framering/ringbuf/reader.hpp"
#include "framering/ringbuf/reader_stats.hpp"

namespace framering::ring {

namespace {

constexpr std::uint64_t kRescanNs = 100'000'000;    // new or departed readers: 10 per second
constexpr std::uint64_t kReportNs = 5'000'000'000;  // "still waiting for ..." every 5 s
// A holding reader wakes the writer when it announces a new position (futex on its stats file);
// the timeout bounds how late the writer notices a reader that died or a stats file that a
// reader of an older framering (plain stores, no wake-up) updated.
constexpr std::uint64_t kHolderWaitNs = 2'000'000;
constexpr auto kAttachNap = std::chrono::milliseconds(5);  // waiting for readers to attach

}  // namespace

ReaderGate::ReaderGate(std::string ring, std::uint32_t min_readers)
    : ring_(std::move(ring)), min_readers_(min_readers) {}

ReaderGate::~ReaderGate() = default;

void ReaderGate::rescan() {
  std::set<std::string> present;
  const uid_t me = ::geteuid();
  for (const std::string& path : reader_stats_files(ring_)) {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) continue;
    present.insert(path);
    left_.erase(path);  // back again (a reader restarted under the same name)
    const auto it = views_.find(path);
    // A restarted reader renames a new file over its predecessor's: map the new one.
    if (it != views_.end() && it->second->inode() == st.st_ino) continue;
    if (it != views_.end()) views_.erase(it);
    // Only our own user's files: anyone may create files in a shared /dev/shm, and a planted
    // stats file naming a live pid must not stall ingest (nor be truncated under our mapping).
    if (auto view = ReaderStatsView::open(path, ring_, me)) views_.emplace(path, std::move(view));
  }
  for (auto it = views_.begin(); it != views_.end();) {
    if (present.count(it->first)) {
      ++it;
      continue;
    }
    // The file is gone: the reader exited on purpose (a crashed one leaves its file behind).
    if (seen_live_.count(it->first)) left_.insert(it->first);
    it = views_.erase(it);
  }
  last_scan_ns_ = monotonic_ns();
}

std::size_t ReaderGate::required_readers() const {
  return min_readers_ > left_.size() ? min_readers_ - left_.size() : 0;
}

bool ReaderGate::satisfied(std::uint64_t must_want, std::uint64_t epoch) {
  if (monotonic_ns() - last_scan_ns_ > kRescanNs) rescan();
  live_ = 0;
  holders_.clear();
  wait_on_ = nullptr;
  for (const auto& [path, view] : views_) {
    // Readers of an older epoch (not re-attached yet) or dead ones (killed, their file left
    // behind, its lock dropped) hold nothing: the first start over at the new epoch, the second
    // never read again. A stopped reader still holds its lock and is waited for.
    if (view->epoch() != epoch || !view->alive()) continue;
    ++live_;
    seen_live_.insert(path);
    const std::uint64_t position = view->position();
    if (position < must_want) {
      const std::string name = path.substr(path.rfind(".reader.") + 8);
      holders_.push_back({name, view->pid(), position});
      if (!wait_on_) {
        wait_on_ = view.get();
        wait_on_seen_ = position;
      }
    }
  }
  return live_ >= required_readers() && holders_.empty();
}

bool ReaderGate::wait_to_write(
    std::uint64_t frame_no, std::uint64_t slots, std::uint64_t epoch,
    const std::function<bool()>& stop,
    const std::function<void(const std::vector<GateHolder>&, std::size_t)>& on_wait) {
  // Until the last free slot is reached nothing is overwritten and every reader that attaches
  // still starts at frame 0.
  if (slots < 2 || frame_no + 1 < slots) return true;
  // Writing frame_no overwrites frame frame_no - slots: every reader must want a later one.
  const std::uint64_t must_want = frame_no + 1 - slots;
  return wait_until([&] { return satisfied(must_want, epoch); }, stop, on_wait);
}

bool ReaderGate::wait_drained(
    std::uint64_t cursor, std::uint64_t epoch, const std::function<bool()>& stop,
    const std::function<void(const std::vector<GateHolder>&, std::size_t)>& on_wait) {
  rescan();  // readers may have come or gone since the last frame
  return wait_until([&] { return satisfied(cursor, epoch); }, stop, on_wait);
}

bool ReaderGate::wait_until(
    const std::function<bool()>& ready, const std::function<bool()>& stop,
    const std::function<void(const std::vector<GateHolder>&, std::size_t)>& on_wait) {
  std::uint64_t next_report = 0;
  while (!ready()) {
    if (stop && stop()) return false;
    const std::uint64_t now = monotonic_ns();
    if (next_report == 0) {
      next_report = now + kReportNs;
    } else if (now >= next_report) {
      if (on_wait) on_wait(holders_, live_);
      next_report = now + kReportNs;
    }
    if (live_ < required_readers()) {
      std::this_thread::sleep_for(kAttachNap);
      rescan();
    } else if (wait_on_) {
      wait_on_->wait_position_change(wait_on_seen_, kHolderWaitNs);
    }
  }
  return true;
}

}  // namespace framering::ring
