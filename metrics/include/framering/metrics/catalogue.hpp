// The metric catalogue: the one place that spells framering_* metric names (docs/design.md).
// An Endpoint owns the process's prometheus-cpp Registry, creates every family at start-up and
// hands out typed handles; hot loops keep the references and never call Family::Add().
//
//   metrics::Endpoint endpoint(opt.metrics_addr);       // "127.0.0.1:9464"; "0" = no server
//   metrics::IngestMetrics& m = endpoint.ingest("cam0");
//   m.frames_published.Increment();
//
// The HTTP server (civetweb) serves /metrics and any page added with handle() on the same port.
// Camera pictures are never among them: the preview has its own server (preview.hpp).
#pragma once

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>

namespace framering::metrics {

// Default --metrics-addr of each process kind (workers of one host take 9465, 9466, ...).
inline constexpr const char* kIngestDefaultAddr = "127.0.0.1:9464";
inline constexpr const char* kWorkerDefaultAddr = "127.0.0.1:9465";

// A bad --metrics-addr, a port that cannot be bound, or a label value that must not be exported.
// The message names the address/label and says what to do.
class MetricsError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Handles for one ring written by this process (framering ingest).
struct IngestMetrics {
  prometheus::Counter& frames_published;    // framering_frames_published_total{ring}
  prometheus::Counter& frames_aborted;      // framering_frames_aborted_total{ring}
  prometheus::Counter& bytes_published;     // framering_bytes_published_total{ring}
  prometheus::Counter& bytes_copied;        // framering_bytes_copied_total{ring,component="ingest"}
  prometheus::Counter& decode_errors;       // framering_decode_errors_total{ring}
  prometheus::Counter& source_reconnects;   // framering_source_reconnects_total{ring}
  prometheus::Gauge& source_up;             // framering_source_up{ring}: 1 while decoding
  prometheus::Histogram& publish_duration;  // framering_publish_duration_seconds{ring}
  prometheus::Gauge& ring_slots;            // framering_ring_slots{ring}
  prometheus::Gauge& ring_slot_bytes;       // framering_ring_slot_bytes{ring}
  prometheus::Counter& packets_published;   // framering_packets_published_total{ring}
  prometheus::Counter& packets_too_large;  // framering_packets_dropped_total{ring,reason=too_large}
  prometheus::Counter& packets_no_ring;    // ... reason=no_ring: the packet ring could not be made
  prometheus::Gauge& packet_ring_bytes;    // framering_packet_ring_bytes{ring} (0: no packet ring)
  prometheus::Gauge& packet_ring_rate;     // framering_packet_ring_sized_bytes_per_second{ring}
};

// Handles for one reader (framering worker) of one ring.
struct WorkerMetrics {
  prometheus::Counter& frames_read;          // framering_frames_read_total{ring,worker}
  prometheus::Counter& bytes_read_in_place;  // framering_bytes_read_in_place_total{ring,worker}
  prometheus::Counter& bytes_copied;  // framering_bytes_copied_total{ring,component="worker"}
  prometheus::Counter&
      dropped_lapped;                 // framering_frames_dropped_total{ring,worker,reason="lapped"}
  prometheus::Counter& dropped_torn;  // ... reason="torn"
  prometheus::Counter& dropped_skipped;  // ... reason="skipped" (mode latest / other group member)
  prometheus::Counter& dropped_analytic_error;  // ... reason="analytic_error" (analysis threw)
  prometheus::Histogram&
      frame_latency;              // framering_frame_latency_seconds{ring,worker}: capture→done
  prometheus::Gauge& reader_lag;  // framering_reader_lag_frames{ring,worker}
  // framering_snapshots_dropped_total{ring,worker,reason="torn"}: snapshots whose frame was
  // overwritten while they were encoded (not written).
  prometheus::Counter& snapshots_torn;

  // framering_events_total{ring,worker,kind}. Kinds are few and known to the analytic
  // (motion_start, people, ...); the first call per kind creates the series, later calls are a
  // map lookup — cache the reference if an analytic emits events every frame.
  // Throws MetricsError if `kind` is not a safe label value.
  prometheus::Counter& events(const std::string& kind);
  // framering_objects_detected_total{ring,worker,class}: detections in analysed frames. Class
  // names come from a labels file, so characters a label value may not carry become '_'
  // ("traffic light" → "traffic_light"); same caching advice as events().
  prometheus::Counter& objects_detected(const std::string& class_name);

  WorkerMetrics(prometheus::Counter& frames_read_, prometheus::Counter& bytes_read_in_place_,
                prometheus::Counter& bytes_copied_, prometheus::Counter& dropped_lapped_,
                prometheus::Counter& dropped_torn_, prometheus::Counter& dropped_skipped_,
                prometheus::Counter& dropped_analytic_error_, prometheus::Histogram& frame_latency_,
                prometheus::Gauge& reader_lag_, prometheus::Counter& snapshots_torn_,
                prometheus::Family<prometheus::Counter>& events_family,
                prometheus::Family<prometheus::Counter>& objects_family, std::string ring,
                std::string worker);

 private:
  prometheus::Family<prometheus::Counter>& events_family_;
  prometheus::Family<prometheus::Counter>& objects_family_;
  std::string ring_;
  std::string worker_;
  std::mutex mutex_;
  std::map<std::string, prometheus::Counter*> events_;
  std::map<std::string, prometheus::Counter*> objects_;
};

// Handles for one worker's MQTT output (framering worker --mqtt).
struct MqttMetrics {
  prometheus::Gauge& connected;    // framering_mqtt_connected{worker}: 1 while the broker acked us
  prometheus::Gauge& queue_depth;  // framering_mqtt_queue_depth{worker}: events waiting to be sent
  prometheus::Counter& dropped_queue_full;  // framering_events_dropped_total{worker,
                                            //   reason="queue_full"}: oldest event dropped
  prometheus::Histogram& publish_latency;   // framering_mqtt_publish_latency_seconds{worker}:
                                            //   queued -> acknowledged by the broker (PUBACK)
};

// What a page added with Endpoint::handle() returns.
struct HttpResponse {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
};
// Called on a server thread with the request's query string (without '?'); must be thread-safe.
using HttpHandler = std::function<HttpResponse(const std::string& query)>;

// `framering record` for one ring.
struct RecorderMetrics {
  prometheus::Counter& packets;      // framering_record_packets_total{ring}
  prometheus::Counter& bytes;        // framering_record_bytes_total{ring}
  prometheus::Counter& segments;     // framering_record_segments_total{ring}: closed
  prometheus::Gauge& segments_open;  // framering_record_segments_open{ring}
  prometheus::Counter&
      dropped_lapped;  // framering_record_packets_dropped_total{ring,reason=lapped}
  prometheus::Counter&
      lapped_restarts;                // framering_record_restarts_total{ring}: segment cut, resync
  prometheus::Gauge& lag_bytes;       // framering_record_lag_bytes{ring}: packet ring tail - us
  prometheus::Gauge& retained_bytes;  // framering_record_retained_bytes{ring}
  prometheus::Counter& clips;         // framering_record_clips_total{ring}
};

class Endpoint {
 public:
  // `addr` is "HOST:PORT" (":PORT" = all interfaces; PORT 0 = any free port, see port()).
  // "0" or "" registers the metrics but starts no server. Throws MetricsError naming the
  // address on a malformed address or when the port cannot be bound.
  explicit Endpoint(const std::string& addr);
  ~Endpoint();
  Endpoint(const Endpoint&) = delete;
  Endpoint& operator=(const Endpoint&) = delete;

  // Handles for `ring` (created on first call, same reference afterwards). Throws MetricsError
  // if a name is not a safe label value (e.g. contains "://" or '@').
  IngestMetrics& ingest(const std::string& ring);
  WorkerMetrics& worker(const std::string& ring, const std::string& worker);
  MqttMetrics& mqtt(const std::string& worker);
  RecorderMetrics& recorder(const std::string& ring);

  // Serves `handler` at exactly `path` (e.g. "/preview") on the metrics port. No-op without a
  // server. "/metrics" and "/" are taken.
  void handle(const std::string& path, HttpHandler handler);

  // The text the server returns on /metrics: the registry plus process_* metrics.
  std::string scrape() const;

  bool serving() const;
  // Bound port (the real one when PORT was 0); 0 without a server.
  std::uint16_t port() const;
  // "HOST:PORT" as bound, e.g. "127.0.0.1:9464"; "" without a server.
  std::string address() const;
  prometheus::Registry& registry();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Splits "HOST:PORT" (also "[::1]:PORT", ":PORT"). Throws MetricsError naming `addr` otherwise.
// Returns false for "0" and "" (metrics server disabled).
bool parse_metrics_addr(const std::string& addr, std::string& host, std::uint16_t& port);
// The same for another listening flag (`flag` names it in the message, e.g. --preview-addr).
bool parse_listen_addr(const std::string& flag, const std::string& addr, std::string& host,
                       std::uint16_t& port);

}  // namespace framering::metrics
