// Back-pressure for a writer whose source can wait (a file, an .npy stack): before frame k
// overwrites the slot of frame k - slots, wait until every live reader of the ring's epoch has
// moved past that frame, as each reader announces in its stats file (reader_stats.hpp: the
// `position` field = the next frame it wants). Readers never write to the ring; the writer
// only reads their stats files, so the ring protocol itself is unchanged.
//
//   ReaderGate gate(ring, 2);  // lossless for (at least) 2 readers
//   gate.wait_to_write(writer.cursor(), slots, epoch, stop);   // then claim() + publish()
//
// The writer also waits, before it fills the ring's last free slot, until `min_readers` readers
// are attached: a reader that attaches to a live ring starts at its oldest certainly-intact
// frame (cursor - (slots - 1)), so it can only see frame 0 if it attaches before frame
// slots - 1 is written. A reader is live while it holds the lock on its stats file
// (reader_alive()): a stopped one is waited for. A reader that crashes (its file stays, its
// lock is gone) is waited for until a replacement attaches; one that exits on purpose (it
// removes its file, e.g. after --max-frames) lowers the number to wait for. Readers that publish no
// stats file are not seen.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

namespace framering::ring {

class ReaderStatsView;

struct GateHolder {  // a reader the writer is waiting for
  std::string reader;
  std::int32_t pid = 0;
  std::uint64_t position = 0;
};

class ReaderGate {
 public:
  ReaderGate(std::string ring, std::uint32_t min_readers);
  ~ReaderGate();
  ReaderGate(const ReaderGate&) = delete;
  ReaderGate& operator=(const ReaderGate&) = delete;

  // Returns once frame `frame_no` may be written into a ring of `slots` slots (epoch `epoch`)
  // without overwriting a frame a reader still wants; false if `stop()` turned true first.
  // `on_wait` is called about every 5 s of waiting with who holds the writer (for a log line).
  bool wait_to_write(
      std::uint64_t frame_no, std::uint64_t slots, std::uint64_t epoch,
      const std::function<bool()>& stop,
      const std::function<void(const std::vector<GateHolder>&, std::size_t live)>& on_wait = {});

  // At the end of the stream: returns once the readers waited for are attached and every live
  // reader has read up to `cursor` (wants frame `cursor` or later); false on `stop()`.
  bool wait_drained(
      std::uint64_t cursor, std::uint64_t epoch, const std::function<bool()>& stop,
      const std::function<void(const std::vector<GateHolder>&, std::size_t live)>& on_wait = {});

  // Live readers of `epoch` seen at the last check.
  std::size_t live_readers() const { return live_; }
  // How many live readers the writer waits for now: min_readers minus those that left on purpose.
  std::size_t required_readers() const;

  // Looks for readers that attached or left now; otherwise that happens every 100 ms.
  void rescan();

 private:
  // True when enough readers are live and each wants `must_want` or later; fills holders_.
  bool satisfied(std::uint64_t must_want, std::uint64_t epoch);
  bool wait_until(const std::function<bool()>& ready, const std::function<bool()>& stop,
                  const std::function<void(const std::vector<GateHolder>&, std::size_t)>& on_wait);

  std::string ring_;
  std::uint32_t min_readers_;
  std::map<std::string, std::unique_ptr<ReaderStatsView>> views_;  // by path
  std::set<std::string> seen_live_;  // paths of readers that were live at some check
  std::set<std::string> left_;       // of those, the ones whose file is gone (exited on purpose)
  std::uint64_t last_scan_ns_ = 0;
  std::size_t live_ = 0;
  std::vector<GateHolder> holders_;
  const ReaderStatsView* wait_on_ = nullptr;  // a holder, whose position change ends a wait
  std::uint64_t wait_on_seen_ = 0;
};

}  // namespace framering::ring
