// Every framering_* family, created once per Endpoint, and the per-ring/per-worker handles.
#include <prometheus/text_serializer.h>

#include <sstream>
#include <vector>

#include "framering/metrics/catalogue.hpp"
#include "http_server.hpp"
#include "labels.hpp"
#include "process_metrics.hpp"

#ifndef FRAMERING_VERSION
#error "FRAMERING_VERSION must be defined by the build"
#endif

namespace framering::metrics {

namespace {

using prometheus::BuildCounter;
using prometheus::BuildGauge;
using prometheus::BuildHistogram;
using prometheus::Counter;
using prometheus::Family;
using prometheus::Gauge;
using prometheus::Histogram;

// 100 µs .. 1 s in 1-2.5-5 steps: a publish (one sws_scale into the slot) takes ~0.1-10 ms; a
// frame's capture→analysis-done latency ranges from under a millisecond (checksum) to ~100 ms
// (HOG people detection at ~12 fps), and anything beyond 1 s is an outage, not a latency.
const Histogram::BucketBoundaries& duration_buckets() {
  static const Histogram::BucketBoundaries b{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
                                             0.025,  0.05,    0.1,    0.25,  0.5,    1.0};
  return b;
}

}  // namespace

struct Endpoint::Impl {
  std::shared_ptr<prometheus::Registry> registry = std::make_shared<prometheus::Registry>();
  prometheus::Registry& r = *registry;

  Family<Counter>& frames_published = BuildCounter()
                                          .Name("framering_frames_published_total")
                                          .Help("Frames the writer committed to the ring.")
                                          .Register(r);
  Family<Counter>& bytes_published =
      BuildCounter()
          .Name("framering_bytes_published_total")
          .Help("Payload bytes the writer committed to the ring (written once, in place).")
          .Register(r);
  Family<Counter>& frames_aborted =
      BuildCounter()
          .Name("framering_frames_aborted_total")
          .Help(
              "Slots the writer claimed and gave up unpublished (the frame could not be "
              "produced); readers never saw them as frames.")
          .Register(r);
  Family<Counter>& frames_read = BuildCounter()
                                     .Name("framering_frames_read_total")
                                     .Help("Frames a worker read and analysed.")
                                     .Register(r);
  Family<Counter>& bytes_read_in_place =
      BuildCounter()
          .Name("framering_bytes_read_in_place_total")
          .Help("Payload bytes a worker read directly from the shared ring, without copying.")
          .Register(r);
  Family<Counter>& bytes_copied = BuildCounter()
                                      .Name("framering_bytes_copied_total")
                                      .Help(
                                          "Payload bytes copied out of or into the ring outside "
                                          "the single write; 0 on the normal path.")
                                      .Register(r);
  Family<Counter>& frames_dropped =
      BuildCounter()
          .Name("framering_frames_dropped_total")
          .Help(
              "Frames a worker did not analyse, by reason: lapped (overwritten before it looked), "
              "torn (overwritten while it looked), skipped (mode latest or another group member), "
              "analytic_error (the analysis failed on it, e.g. model inference threw).")
          .Register(r);
  Family<Counter>& decode_errors = BuildCounter()
                                       .Name("framering_decode_errors_total")
                                       .Help("Packets or frames the decoder rejected.")
                                       .Register(r);
  Family<Counter>& source_reconnects =
      BuildCounter()
          .Name("framering_source_reconnects_total")
          .Help("Times the ingest reopened its source after a failure.")
          .Register(r);
  Family<Gauge>& source_up = BuildGauge()
                                 .Name("framering_source_up")
                                 .Help("1 while the source is open and delivering frames, else 0.")
                                 .Register(r);
  Family<Histogram>& publish_duration = BuildHistogram()
                                            .Name("framering_publish_duration_seconds")
                                            .Help(
                                                "Time from claiming a slot to committing the frame "
                                                "(conversion into the slot included).")
                                            .Register(r);
  Family<Histogram>& frame_latency =
      BuildHistogram()
          .Name("framering_frame_latency_seconds")
          .Help("Time from a frame's capture to the end of its analysis by a worker.")
          .Register(r);
  Family<Gauge>& reader_lag =
      BuildGauge()
          .Name("framering_reader_lag_frames")
          .Help("Frames published but not yet read by a worker (cursor minus its position).")
          .Register(r);
  Family<Gauge>& ring_slots =
      BuildGauge().Name("framering_ring_slots").Help("Number of slots in the ring.").Register(r);
  Family<Gauge>& ring_slot_bytes =
      BuildGauge()
          .Name("framering_ring_slot_bytes")
          .Help("Bytes per ring slot (frame payload rounded up to 4 KiB).")
          .Register(r);
  Family<Counter>& packets_published =
      BuildCounter()
          .Name("framering_packets_published_total")
          .Help("Compressed video packets the ingest wrote into the camera's packet ring.")
          .Register(r);
  Family<Counter>& packets_dropped =
      BuildCounter()
          .Name("framering_packets_dropped_total")
          .Help("Packets the ingest could not share in the packet ring (too_large, no_ring).")
          .Register(r);
  Family<Gauge>& packet_ring_bytes =
      BuildGauge()
          .Name("framering_packet_ring_bytes")
          .Help("Capacity of the camera's packet ring in bytes (its packet history).")
          .Register(r);
  Family<Gauge>& packet_ring_rate =
      BuildGauge()
          .Name("framering_packet_ring_sized_bytes_per_second")
          .Help(
              "The stream's byte rate the packet ring was sized from (measured over its first "
              "packets).")
          .Register(r);
  Family<Counter>& record_packets = BuildCounter()
                                        .Name("framering_record_packets_total")
                                        .Help("Packets the recorder wrote into segments.")
                                        .Register(r);
  Family<Counter>& record_bytes = BuildCounter()
                                      .Name("framering_record_bytes_total")
                                      .Help("Packet bytes the recorder wrote into segments.")
                                      .Register(r);
  Family<Counter>& record_segments = BuildCounter()
                                         .Name("framering_record_segments_total")
                                         .Help("Segments the recorder finished.")
                                         .Register(r);
  Family<Gauge>& record_segments_open = BuildGauge()
                                            .Name("framering_record_segments_open")
                                            .Help("Segments being written (0 or 1).")
                                            .Register(r);
  Family<Counter>& record_dropped =
      BuildCounter()
          .Name("framering_record_packets_dropped_total")
          .Help("Packets the recorder never saw because the ingest lapped it, by reason.")
          .Register(r);
  Family<Counter>& record_restarts =
      BuildCounter()
          .Name("framering_record_restarts_total")
          .Help(
              "Times the recorder cut its segment and resynchronised at the next keyframe "
              "(lapped, or too far behind).")
          .Register(r);
  Family<Gauge>& record_lag = BuildGauge()
                                  .Name("framering_record_lag_bytes")
                                  .Help("Packet ring bytes published but not yet recorded.")
                                  .Register(r);
  Family<Gauge>& record_retained = BuildGauge()
                                       .Name("framering_record_retained_bytes")
                                       .Help("Bytes of finished segments kept after retention.")
                                       .Register(r);
  Family<Counter>& record_clips = BuildCounter()
                                      .Name("framering_record_clips_total")
                                      .Help("Event clips the recorder finished.")
                                      .Register(r);
  Family<Counter>& events = BuildCounter()
                                .Name("framering_events_total")
                                .Help("Events a worker emitted, by kind.")
                                .Register(r);
  Family<Counter>& objects_detected =
      BuildCounter()
          .Name("framering_objects_detected_total")
          .Help("Objects an object-detection worker found in analysed frames, by class.")
          .Register(r);
  Family<Gauge>& mqtt_connected =
      BuildGauge()
          .Name("framering_mqtt_connected")
          .Help("1 while the worker's MQTT connection is up (broker acknowledged), else 0.")
          .Register(r);
  Family<Gauge>& mqtt_queue_depth =
      BuildGauge()
          .Name("framering_mqtt_queue_depth")
          .Help("Events waiting in the worker's bounded MQTT queue (not yet sent or acknowledged).")
          .Register(r);
  Family<Counter>& events_dropped =
      BuildCounter()
          .Name("framering_events_dropped_total")
          .Help(
              "Events a worker could not deliver, by reason (queue_full: MQTT queue overflow, "
              "the oldest event was dropped).")
          .Register(r);
  Family<Counter>& snapshots_dropped =
      BuildCounter()
          .Name("framering_snapshots_dropped_total")
          .Help(
              "Event snapshots a worker did not write, by reason (torn: the frame's slot was "
              "overwritten while it was encoded).")
          .Register(r);
  Family<Histogram>& mqtt_publish_latency =
      BuildHistogram()
          .Name("framering_mqtt_publish_latency_seconds")
          .Help("Time from an event entering the MQTT queue to the broker's acknowledgement.")
          .Register(r);
  Family<Gauge>& build_info =
      BuildGauge()
          .Name("framering_build_info")
          .Help("Always 1; the version label says which framering build this is.")
          .Register(r);

  ProcessMetrics process;
  std::mutex mutex;
  std::map<std::string, std::unique_ptr<IngestMetrics>> ingest;
  std::map<std::pair<std::string, std::string>, std::unique_ptr<WorkerMetrics>> workers;
  std::map<std::string, std::unique_ptr<MqttMetrics>> mqtt;
  std::map<std::string, std::unique_ptr<RecorderMetrics>> recorders;
  std::string address;
  std::unique_ptr<HttpServer> server;  // last member: stopped first, before what it serves
};

WorkerMetrics::WorkerMetrics(Counter& frames_read_, Counter& bytes_read_in_place_,
                             Counter& bytes_copied_, Counter& dropped_lapped_,
                             Counter& dropped_torn_, Counter& dropped_skipped_,
                             Counter& dropped_analytic_error_, Histogram& frame_latency_,
                             Gauge& reader_lag_, Counter& snapshots_torn_,
                             Family<Counter>& events_family, Family<Counter>& objects_family,
                             std::string ring, std::string worker)
    : frames_read(frames_read_),
      bytes_read_in_place(bytes_read_in_place_),
      bytes_copied(bytes_copied_),
      dropped_lapped(dropped_lapped_),
      dropped_torn(dropped_torn_),
      dropped_skipped(dropped_skipped_),
      dropped_analytic_error(dropped_analytic_error_),
      frame_latency(frame_latency_),
      reader_lag(reader_lag_),
      snapshots_torn(snapshots_torn_),
      events_family_(events_family),
      objects_family_(objects_family),
      ring_(std::move(ring)),
      worker_(std::move(worker)) {}

Counter& WorkerMetrics::events(const std::string& kind) {
  std::lock_guard lock(mutex_);
  auto it = events_.find(kind);
  if (it != events_.end()) return *it->second;
  check_label_value("event kind", kind);
  Counter& c = events_family_.Add({{"ring", ring_}, {"worker", worker_}, {"kind", kind}});
  events_.emplace(kind, &c);
  return c;
}

Counter& WorkerMetrics::objects_detected(const std::string& class_name) {
  std::string value = class_name.substr(0, 64);
  for (char& ch : value) {
    const bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                    (ch >= '0' && ch <= '9') || ch == '_' || ch == '.' || ch == '-';
    if (!ok) ch = '_';
  }
  if (value.empty()) value = "_";
  std::lock_guard lock(mutex_);
  auto it = objects_.find(value);
  if (it != objects_.end()) return *it->second;
  Counter& c = objects_family_.Add({{"ring", ring_}, {"worker", worker_}, {"class", value}});
  objects_.emplace(value, &c);
  return c;
}

Endpoint::Endpoint(const std::string& addr) : impl_(std::make_unique<Impl>()) {
  impl_->build_info.Add({{"version", FRAMERING_VERSION}}).Set(1);
  std::string host;
  std::uint16_t port = 0;
  if (!parse_metrics_addr(addr, host, port)) return;
  impl_->server = std::make_unique<HttpServer>(host, port, addr);
  impl_->address =
      (host.empty() ? std::string("0.0.0.0") : host) + ":" + std::to_string(impl_->server->port());
  impl_->server->route("/metrics", [this](const std::string&) {
    return HttpResponse{200, "text/plain; version=0.0.4; charset=utf-8", scrape()};
  });
  impl_->server->route("/", [](const std::string&) {
    return HttpResponse{200, "text/html; charset=utf-8",
                        "<!doctype html><title>framering</title><h1>framering</h1>"
                        "<p><a href=\"/metrics\">/metrics</a></p>\n"};
  });
}

Endpoint::~Endpoint() = default;

IngestMetrics& Endpoint::ingest(const std::string& ring) {
  check_label_value("ring", ring);
  Impl& m = *impl_;
  std::lock_guard lock(m.mutex);
  auto& slot = m.ingest[ring];
  if (!slot) {
    const prometheus::Labels l{{"ring", ring}};
    slot.reset(new IngestMetrics{
        m.frames_published.Add(l), m.frames_aborted.Add(l), m.bytes_published.Add(l),
        // Created now, at 0, so "no copy happened" is a visible series and not a missing one.
        m.bytes_copied.Add({{"ring", ring}, {"component", "ingest"}}), m.decode_errors.Add(l),
        m.source_reconnects.Add(l), m.source_up.Add(l),
        m.publish_duration.Add(l, duration_buckets()), m.ring_slots.Add(l),
        m.ring_slot_bytes.Add(l), m.packets_published.Add(l),
        m.packets_dropped.Add({{"ring", ring}, {"reason", "too_large"}}),
        m.packets_dropped.Add({{"ring", ring}, {"reason", "no_ring"}}), m.packet_ring_bytes.Add(l),
        m.packet_ring_rate.Add(l)});
  }
  return *slot;
}

RecorderMetrics& Endpoint::recorder(const std::string& ring) {
  check_label_value("ring", ring);
  Impl& m = *impl_;
  std::lock_guard lock(m.mutex);
  auto& slot = m.recorders[ring];
  if (!slot) {
    const prometheus::Labels l{{"ring", ring}};
    slot.reset(new RecorderMetrics{m.record_packets.Add(l), m.record_bytes.Add(l),
                                   m.record_segments.Add(l), m.record_segments_open.Add(l),
                                   m.record_dropped.Add({{"ring", ring}, {"reason", "lapped"}}),
                                   m.record_restarts.Add(l), m.record_lag.Add(l),
                                   m.record_retained.Add(l), m.record_clips.Add(l)});
  }
  return *slot;
}

WorkerMetrics& Endpoint::worker(const std::string& ring, const std::string& worker) {
  check_label_value("ring", ring);
  check_label_value("worker", worker);
  Impl& m = *impl_;
  std::lock_guard lock(m.mutex);
  auto& slot = m.workers[{ring, worker}];
  if (!slot) {
    const prometheus::Labels l{{"ring", ring}, {"worker", worker}};
    auto dropped = [&](const char* reason) -> Counter& {
      return m.frames_dropped.Add({{"ring", ring}, {"worker", worker}, {"reason", reason}});
    };
    slot = std::make_unique<WorkerMetrics>(
        m.frames_read.Add(l), m.bytes_read_in_place.Add(l),
        m.bytes_copied.Add({{"ring", ring}, {"component", "worker"}}), dropped("lapped"),
        dropped("torn"), dropped("skipped"), dropped("analytic_error"),
        m.frame_latency.Add(l, duration_buckets()), m.reader_lag.Add(l),
        m.snapshots_dropped.Add({{"ring", ring}, {"worker", worker}, {"reason", "torn"}}), m.events,
        m.objects_detected, ring, worker);
  }
  return *slot;
}

MqttMetrics& Endpoint::mqtt(const std::string& worker) {
  check_label_value("worker", worker);
  Impl& m = *impl_;
  std::lock_guard lock(m.mutex);
  auto& slot = m.mqtt[worker];
  if (!slot) {
    const prometheus::Labels l{{"worker", worker}};
    // A broker round trip is milliseconds to seconds (queued while disconnected).
    static const Histogram::BucketBoundaries latency{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                                     0.25,  0.5,    1,     2.5,  5,     10,   30};
    slot.reset(new MqttMetrics{m.mqtt_connected.Add(l), m.mqtt_queue_depth.Add(l),
                               m.events_dropped.Add({{"worker", worker}, {"reason", "queue_full"}}),
                               m.mqtt_publish_latency.Add(l, latency)});
  }
  return *slot;
}

void Endpoint::handle(const std::string& path, HttpHandler handler) {
  if (path == "/metrics" || path == "/") {
    throw MetricsError("metrics: path '" + path +
                       "' is reserved; serve the page under another path");
  }
  if (impl_->server) impl_->server->route(path, std::move(handler));
}

std::string Endpoint::scrape() const {
  std::ostringstream out;
  std::vector<prometheus::MetricFamily> families = impl_->registry->Collect();
  for (auto& f : impl_->process.Collect()) families.push_back(std::move(f));
  prometheus::TextSerializer().Serialize(out, families);
  return out.str();
}

bool Endpoint::serving() const {
  return impl_->server != nullptr;
}
std::uint16_t Endpoint::port() const {
  return impl_->server ? impl_->server->port() : 0;
}
std::string Endpoint::address() const {
  return impl_->address;
}
prometheus::Registry& Endpoint::registry() {
  return *impl_->registry;
}

}  // namespace framering::metrics
