#include "publisher.hpp"

#include <sys/statvfs.h>

#include <spdlog/spdlog.h>

#include "framering/ingest/ingest.hpp"
#include "framering/ringbuf/error.hpp"
#include "framering/ringbuf/header.hpp"
#include "framering/ringbuf/names.hpp"
#include "framering/ringbuf/reader.hpp"
#include "stop_signal.hpp"

namespace framering::ingest {

using ring::mib_text;

void check_picture_size(std::uint32_t width, std::uint32_t height, ring::PixFmt fmt,
                        const std::string& what) {
  const std::string problem = ring::image_size_problem(width, height, fmt);
  if (problem.empty()) return;
  throw ConfigError("--pix-fmt " + std::string(ring::pix_fmt_name(fmt)) + ": " + problem + " (" +
                    what + "); give an even --width/--height (or --scale)" +
                    (what == "--width/--height" ? "" : " to scale the frames to"));
}

void check_ring_fits(const std::string& ring_name, const ring::Geometry& geometry,
                     std::uint32_t slots, const std::string& what) {
  const std::uint64_t frame_bytes = geometry.frame_bytes();
  // npy: arrays keep their own shape (--width/--height do not apply); video can be scaled down.
  const bool npy = what.rfind("npy:", 0) == 0;
  if (frame_bytes == 0 || frame_bytes > ring::kMaxFrameBytes) {
    throw ConfigError("frame geometry " + geometry.describe() + " from " + what +
                      " is not supported (at most " + mib_text(ring::kMaxFrameBytes) +
                      " per frame); " +
                      (npy ? "save smaller arrays" : "choose a smaller --width/--height"));
  }
  if (geometry.shape.size() >= 2 &&
      (geometry.height() > kMaxDimension || geometry.width() > kMaxDimension)) {
    throw ConfigError("frame size " + std::to_string(geometry.width()) + "x" +
                      std::to_string(geometry.height()) + " from " + what + " exceeds " +
                      std::to_string(kMaxDimension) + " pixels per side; " +
                      (npy ? "save smaller arrays" : "use --width/--height"));
  }
  // The ring's own layout (header, slot table, padded slots): the size creating it will allocate.
  ring::RingInfo layout;
  try {
    layout = ring::plan_layout(ring_name, geometry, slots);
  } catch (const ring::RingError& e) {
    throw ConfigError(e.what());
  }
  const std::uint64_t needed = layout.segment_bytes;
  struct statvfs fs = {};
  const std::string dir = ring::shm_dir();
  if (statvfs(dir.c_str(), &fs) == 0) {
    const std::uint64_t free_bytes = std::uint64_t{fs.f_bavail} * fs.f_frsize;
    if (needed > free_bytes) {
      throw ConfigError("a ring of " + std::to_string(slots) + " slots x " +
                        mib_text(layout.slot_stride) + " (" + geometry.describe() + " from " +
                        what + ") needs " + mib_text(needed) + " (" + std::to_string(needed) +
                        " bytes) but " + dir + " has " + mib_text(free_bytes) +
                        " free; use fewer --slots, a smaller --width/--height, or free space");
    }
  }
}

Publisher::Publisher(const IngestOptions& options, std::string source_label,
                     metrics::IngestMetrics& metrics)
    : options_(options), source_label_(std::move(source_label)), metrics_(metrics) {}

Publisher::~Publisher() {
  close();
}

void Publisher::open_ring(const ring::Geometry& geometry) {
  check_ring_fits(options_.ring, geometry, options_.slots, source_label_);
  ring::WriterOptions wo;
  wo.name = options_.ring;
  wo.geometry = geometry;
  wo.slots = options_.slots;
  wo.mode = options_.shm_mode;
  wo.group = options_.shm_group;
  wo.keep_on_close = options_.keep;
  writer_.emplace(ring::Writer::create(wo));
  metrics_.ring_slots.Set(static_cast<double>(writer_->info().slots));
  metrics_.ring_slot_bytes.Set(static_cast<double>(writer_->info().slot_stride));
  spdlog::info("ring '{}' created: {} slots of {} ({} B/frame) at {}", options_.ring,
               options_.slots, geometry.describe(), writer_->info().frame_bytes, writer_->path());
}

ring::ReaderGate& Publisher::gate() {
  if (!gate_) gate_.emplace(options_.ring, options_.wait_for_readers);
  return *gate_;
}

// Called by the gate about every 5 s of waiting: who the frame `what` waits for.
void Publisher::log_gate_wait(const std::string& what, const std::vector<ring::GateHolder>& holders,
                              std::size_t live) {
  if (live < gate().required_readers()) {
    spdlog::info("--wait-for-readers {}: {} reader(s) attached to ring '{}'; waiting",
                 options_.wait_for_readers, live, options_.ring);
  }
  for (const ring::GateHolder& h : holders) {
    spdlog::info("{} waits for reader '{}' (pid {}), still at frame {}", what, h.reader, h.pid,
                 h.position);
  }
}

bool Publisher::wait_for_readers() {
  if (options_.wait_for_readers == 0) return true;
  const ring::RingInfo& info = writer_->info();
  const std::uint64_t next = writer_->cursor();
  return gate().wait_to_write(
      next, info.slots, info.epoch, [] { return stop_requested(); },
      [this, next](const std::vector<ring::GateHolder>& holders, std::size_t live) {
        log_gate_wait("frame " + std::to_string(next), holders, live);
      });
}

void Publisher::drain_readers() {
  const std::uint64_t cursor = writer_->cursor();
  spdlog::info("--wait-for-readers {}: waiting until the workers have read all {} frames",
               options_.wait_for_readers, cursor);
  gate().wait_drained(
      cursor, writer_->info().epoch, [] { return stop_requested(); },
      [this, cursor](const std::vector<ring::GateHolder>& holders, std::size_t live) {
        log_gate_wait("the last of " + std::to_string(cursor) + " frames", holders, live);
      });
}

ring::Writer::Slot Publisher::claim() {
  claim_ns_ = ring::monotonic_ns();
  return writer_->claim();
}

void Publisher::sync_aborted() {
  const std::uint64_t now = writer_->frames_aborted();
  if (now == counters_.aborted) return;
  metrics_.frames_aborted.Increment(static_cast<double>(now - counters_.aborted));
  counters_.aborted = now;
}

void Publisher::abort(ring::Writer::Slot&& slot) {
  writer_->abort(std::move(slot));
  sync_aborted();
}

void Publisher::publish(ring::Writer::Slot&& slot) {
  const std::uint64_t bytes = slot.payload().size();
  sync_aborted();  // a Slot dropped since the last call
  writer_->publish(std::move(slot));
  ++counters_.frames;
  counters_.bytes += bytes;
  metrics_.frames_published.Increment();
  metrics_.bytes_published.Increment(static_cast<double>(bytes));
  // Claim to commit: the one write of the payload (scale or read) plus the seqlock publish.
  metrics_.publish_duration.Observe(static_cast<double>(ring::monotonic_ns() - claim_ns_) * 1e-9);
}

void Publisher::count_decode_errors(std::uint64_t n) {
  if (n == 0) return;
  counters_.decode_errors += n;
  metrics_.decode_errors.Increment(static_cast<double>(n));
}

void Publisher::count_reconnect() {
  ++counters_.reconnects;
  metrics_.source_reconnects.Increment();
}

void Publisher::set_source_up(bool up) {
  metrics_.source_up.Set(up ? 1.0 : 0.0);
}

bool Publisher::reached_max_frames() const {
  return options_.max_frames != 0 && counters_.frames >= options_.max_frames;
}

void Publisher::close() {
  if (writer_ && options_.wait_for_readers > 0 && !stop_requested()) drain_readers();
  if (writer_) {
    writer_->close();
    sync_aborted();
  }
}

}  // namespace framering::ingest
