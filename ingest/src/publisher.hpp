// The ring side of ingest: creates the ring once the geometry is known, hands out slots, commits
// them, and keeps the counters (and, when enabled, the Prometheus metrics) of what was published.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "framering/ingest/options.hpp"
#include "framering/metrics/catalogue.hpp"
#include "framering/ringbuf/reader_gate.hpp"
#include "framering/ringbuf/writer.hpp"

namespace framering::ingest {

struct IngestCounters {
  std::uint64_t frames = 0;
  std::uint64_t bytes = 0;
  std::uint64_t decode_errors = 0;
  std::uint64_t aborted = 0;
  std::uint64_t reconnects = 0;
};

class Publisher {
 public:
  Publisher(const IngestOptions& options, std::string source_label,
            metrics::IngestMetrics& metrics);
  Publisher(const Publisher&) = delete;
  Publisher& operator=(const Publisher&) = delete;
  ~Publisher();

  bool has_ring() const { return writer_.has_value(); }
  // Refuses geometry that cannot fit (ConfigError, before anything is allocated), then creates
  // the ring (RingError on failure).
  void open_ring(const ring::Geometry& geometry);
  const ring::Geometry& geometry() const { return writer_->info().geometry; }

  // --wait-for-readers: blocks until the next frame overwrites nothing a reader still wants;
  // false if a stop was requested meanwhile. True at once without the flag.
  bool wait_for_readers();
  [[nodiscard]] ring::Writer::Slot claim();
  void publish(ring::Writer::Slot&& slot);
  // The frame could not be produced: the slot goes back unpublished, counted in
  // framering_frames_aborted_total (as is a Slot dropped without either call).
  void abort(ring::Writer::Slot&& slot);

  void count_decode_errors(std::uint64_t n);
  void count_reconnect();
  void set_source_up(bool up);
  bool reached_max_frames() const;
  const IngestCounters& counters() const { return counters_; }
  metrics::IngestMetrics& metrics() { return metrics_; }
  // Marks the ring CLOSED (and unlinks it unless --keep).
  void close();

 private:
  IngestOptions options_;
  std::string source_label_;
  std::optional<ring::Writer> writer_;
  std::optional<ring::ReaderGate> gate_;
  // --wait-for-readers at the end of the input: the ring stays open until every reader waited
  // for has read every frame (a stop signal cuts it short).
  void drain_readers();
  ring::ReaderGate& gate();  // made on first use: only with --wait-for-readers
  void log_gate_wait(const std::string& what, const std::vector<ring::GateHolder>& holders,
                     std::size_t live);
  metrics::IngestMetrics& metrics_;
  IngestCounters counters_;
  // Brings counters_.aborted and the metric up to the writer's count, which also includes
  // Slots dropped without publish() or abort().
  void sync_aborted();
  std::uint64_t claim_ns_ = 0;
};

// Refuses (ConfigError) a width x height picture that fmt cannot hold (4:2:0 needs even sides),
// naming where the size came from (`what`: "--width/--height" or "the source's frames").
void check_picture_size(std::uint32_t width, std::uint32_t height, ring::PixFmt fmt,
                        const std::string& what);

// Throws ConfigError unless a ring of `slots` x `geometry` fits the format limits and the free
// space of the shm directory. `what` names where the geometry came from (a flag or the source).
void check_ring_fits(const std::string& ring_name, const ring::Geometry& geometry,
                     std::uint32_t slots, const std::string& what);

}  // namespace framering::ingest
