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
// slots - 1 is written. Readers that publish no stats file are not seen.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
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

  // Live readers of `epoch` seen at the last check.
  std::size_t live_readers() const { return live_; }

  // Looks for readers that attached or left now; otherwise that happens every 100 ms.
  void rescan();

 private:
  // True when writing frame_no is safe now; fills holders_ otherwise.
  bool open_for(std::uint64_t frame_no, std::uint64_t slots, std::uint64_t epoch);

  std::string ring_;
  std::uint32_t min_readers_;
  std::map<std::string, std::unique_ptr<ReaderStatsView>> views_;  // by file name
  std::uint64_t last_scan_ns_ = 0;
  std::size_t live_ = 0;
  std::vector<GateHolder> holders_;
  const ReaderStatsView* wait_on_ = nullptr;  // a holder, whose position change ends a wait
  std::uint64_t wait_on_seen_ = 0;
};

}  // namespace framering::ring
