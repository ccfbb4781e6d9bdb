// The catalogue over real HTTP: every docs/design.md metric name is served, values move, the text
// passes `promtool check metrics`, bind and address errors are clear.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <regex>
#include <string>
#include <vector>

#include "framering/metrics/catalogue.hpp"
#include "http_get.hpp"

namespace fm = framering::metrics;
using framering::test::http_get;

namespace {

// The contract's list (docs/design.md "Metrics"), spelled here independently of the catalogue.
const std::vector<std::string> kDesignMetrics = {"framering_frames_published_total",
                                                 "framering_frames_aborted_total",
                                                 "framering_bytes_published_total",
                                                 "framering_frames_read_total",
                                                 "framering_bytes_read_in_place_total",
                                                 "framering_bytes_copied_total",
                                                 "framering_frames_dropped_total",
                                                 "framering_decode_errors_total",
                                                 "framering_source_reconnects_total",
                                                 "framering_source_up",
                                                 "framering_publish_duration_seconds",
                                                 "framering_frame_latency_seconds",
                                                 "framering_reader_lag_frames",
                                                 "framering_ring_slots",
                                                 "framering_ring_slot_bytes",
                                                 "framering_events_total",
                                                 "framering_build_info",
                                                 "framering_packets_published_total",
                                                 "framering_record_bytes_total",
                                                 "framering_record_segments_total"};

bool has_line_starting(const std::string& text, const std::string& prefix) {
  return text.rfind(prefix, 0) == 0 || text.find("\n" + prefix) != std::string::npos;
}

// Value of the sample line that starts with `series` (name{labels}), or -1 when absent.
double sample(const std::string& text, const std::string& series) {
  const auto at = text.find("\n" + series + " ");
  if (at == std::string::npos) return -1;
  return std::stod(text.substr(at + 1 + series.size() + 1));
}

struct Promtool {
  int status;
  std::string output;
};

Promtool promtool_check(const std::string& text) {
  char path[] = "/tmp/framering-metrics-XXXXXX";
  const int fd = mkstemp(path);
  EXPECT_GE(fd, 0);
  close(fd);
  std::ofstream(path) << text;
  const std::string cmd = std::string("/usr/bin/promtool check metrics < ") + path + " 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  std::string out;
  char buf[512];
  while (p && std::fgets(buf, sizeof buf, p)) out += buf;
  const int status = p ? pclose(p) : -1;
  std::remove(path);
  return {status, out};
}

}  // namespace

TEST(Catalogue, ServesEveryDesignMetricOverHttp) {
  fm::Endpoint endpoint("127.0.0.1:0");
  ASSERT_TRUE(endpoint.serving());
  ASSERT_NE(endpoint.port(), 0);
  EXPECT_EQ(endpoint.address(), "127.0.0.1:" + std::to_string(endpoint.port()));
  fm::IngestMetrics& in = endpoint.ingest("cam0");
  fm::WorkerMetrics& w = endpoint.worker("cam0", "motion");
  w.events("motion_start").Increment();
  endpoint.recorder("cam0").segments.Increment();

  const auto r = http_get(endpoint.port(), "/metrics");
  ASSERT_EQ(r.status, 200);
  EXPECT_NE(r.headers.find("text/plain; version=0.0.4"), std::string::npos) << r.headers;
  for (const std::string& name : kDesignMetrics) {
    EXPECT_TRUE(has_line_starting(r.body, "# TYPE " + name + " ")) << name << " missing:\n"
                                                                   << r.body;
    EXPECT_TRUE(has_line_starting(r.body, "# HELP " + name + " ")) << name;
  }
  // Zero-copy proof series exist up front, at 0, for both sides.
  EXPECT_EQ(sample(r.body, R"(framering_bytes_copied_total{component="ingest",ring="cam0"})"), 0.0);
  EXPECT_EQ(sample(r.body, R"(framering_bytes_copied_total{component="worker",ring="cam0"})"), 0.0);
  for (const char* reason : {"lapped", "torn", "skipped", "analytic_error"}) {
    EXPECT_EQ(sample(r.body, std::string(R"(framering_frames_dropped_total{reason=")") + reason +
                                 R"(",ring="cam0",worker="motion"})"),
              0.0)
        << reason;
  }
  EXPECT_EQ(sample(r.body, R"(framering_build_info{version=")" FRAMERING_TEST_VERSION R"("})"),
            1.0);
  (void)in;
}

TEST(Catalogue, HandlesMoveTheScrapedValues) {
  fm::Endpoint endpoint("127.0.0.1:0");
  fm::IngestMetrics& in = endpoint.ingest("cam1");
  EXPECT_EQ(&in, &endpoint.ingest("cam1")) << "same ring must give the same handles";
  in.frames_published.Increment(3);
  in.bytes_published.Increment(3 * 6220800.0);
  in.source_up.Set(1);
  in.ring_slots.Set(8);
  in.publish_duration.Observe(0.0003);
  fm::WorkerMetrics& w = endpoint.worker("cam1", "people");
  w.frames_read.Increment(2);
  w.dropped_lapped.Increment();
  w.reader_lag.Set(5);
  w.frame_latency.Observe(0.07);
  w.events("people").Increment(4);

  const std::string t = http_get(endpoint.port(), "/metrics").body;
  EXPECT_EQ(sample(t, R"(framering_frames_published_total{ring="cam1"})"), 3.0) << t;
  EXPECT_EQ(sample(t, R"(framering_bytes_published_total{ring="cam1"})"), 18662400.0);
  EXPECT_EQ(sample(t, R"(framering_source_up{ring="cam1"})"), 1.0);
  EXPECT_EQ(sample(t, R"(framering_ring_slots{ring="cam1"})"), 8.0);
  EXPECT_EQ(sample(t, R"(framering_publish_duration_seconds_count{ring="cam1"})"), 1.0);
  EXPECT_EQ(sample(t, R"(framering_publish_duration_seconds_bucket{ring="cam1",le="0.0001"})"),
            0.0);
  EXPECT_EQ(sample(t, R"(framering_publish_duration_seconds_bucket{ring="cam1",le="0.0005"})"),
            1.0);
  EXPECT_EQ(sample(t, R"(framering_frames_read_total{ring="cam1",worker="people"})"), 2.0);
  EXPECT_EQ(
      sample(t, R"(framering_frames_dropped_total{reason="lapped",ring="cam1",worker="people"})"),
      1.0);
  EXPECT_EQ(sample(t, R"(framering_reader_lag_frames{ring="cam1",worker="people"})"), 5.0);
  EXPECT_EQ(
      sample(t, R"(framering_frame_latency_seconds_bucket{ring="cam1",worker="people",le="0.05"})"),
      0.0);
  EXPECT_EQ(
      sample(t, R"(framering_frame_latency_seconds_bucket{ring="cam1",worker="people",le="0.1"})"),
      1.0);
  EXPECT_EQ(sample(t, R"(framering_events_total{kind="people",ring="cam1",worker="people"})"), 4.0);
}

TEST(Catalogue, PromtoolAcceptsTheExposition) {
  fm::Endpoint endpoint("127.0.0.1:0");
  endpoint.ingest("cam0").frames_published.Increment();
  fm::WorkerMetrics& w = endpoint.worker("cam0", "checksum");
  w.events("checksum").Increment();
  w.frame_latency.Observe(0.001);
  fm::MqttMetrics& m = endpoint.mqtt("checksum");
  m.connected.Set(1);
  m.queue_depth.Set(3);
  m.dropped_queue_full.Increment();
  m.publish_latency.Observe(0.004);
  const std::string text = http_get(endpoint.port(), "/metrics").body;
  EXPECT_EQ(sample(text, R"(framering_mqtt_connected{worker="checksum"})"), 1.0) << text;
  EXPECT_EQ(sample(text, R"(framering_mqtt_queue_depth{worker="checksum"})"), 3.0);
  EXPECT_EQ(
      sample(text, R"(framering_events_dropped_total{reason="queue_full",worker="checksum"})"),
      1.0);
  EXPECT_EQ(sample(text, R"(framering_mqtt_publish_latency_seconds_count{worker="checksum"})"),
            1.0);
  EXPECT_EQ(&m, &endpoint.mqtt("checksum"));
  const Promtool p = promtool_check(text);
  EXPECT_EQ(p.status, 0) << p.output;
  EXPECT_EQ(p.output, "") << "promtool lint findings:\n" << p.output;
}

TEST(Catalogue, ProcessMetricsComeFromProc) {
  fm::Endpoint endpoint("127.0.0.1:0");
  const std::string t = http_get(endpoint.port(), "/metrics").body;
  EXPECT_TRUE(has_line_starting(t, "# TYPE process_cpu_seconds_total counter")) << t;
  EXPECT_GT(sample(t, "process_resident_memory_bytes"), 1e6);
  const double now = static_cast<double>(std::chrono::duration_cast<std::chrono::seconds>(
                                             std::chrono::system_clock::now().time_since_epoch())
                                             .count());
  const double start = sample(t, "process_start_time_seconds");
  EXPECT_GT(start, now - 3600) << "this test process started less than an hour ago";
  EXPECT_LE(start, now + 2);
  EXPECT_GT(sample(t, "process_open_fds"), 2.0);
}

TEST(Catalogue, SecondBindOnSamePortIsAClearError) {
  fm::Endpoint first("127.0.0.1:0");
  const std::string addr = "127.0.0.1:" + std::to_string(first.port());
  try {
    fm::Endpoint second(addr);
    FAIL() << "binding " << addr << " twice succeeded";
  } catch (const fm::MetricsError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find(addr), std::string::npos) << msg;
    EXPECT_NE(msg.find("in use"), std::string::npos) << "must say why: " << msg;
    EXPECT_NE(msg.find("--metrics-addr 0"), std::string::npos) << msg;
  }
  EXPECT_EQ(http_get(first.port(), "/metrics").status, 200) << "first server must be unaffected";
}

TEST(Catalogue, AddressParsing) {
  std::string host;
  std::uint16_t port = 1;
  EXPECT_FALSE(fm::parse_metrics_addr("0", host, port));
  EXPECT_FALSE(fm::parse_metrics_addr("", host, port));
  ASSERT_TRUE(fm::parse_metrics_addr("127.0.0.1:9464", host, port));
  EXPECT_EQ(host, "127.0.0.1");
  EXPECT_EQ(port, 9464);
  ASSERT_TRUE(fm::parse_metrics_addr(":9465", host, port));
  EXPECT_EQ(host, "");
  ASSERT_TRUE(fm::parse_metrics_addr("[::1]:9466", host, port));
  EXPECT_EQ(host, "[::1]");
  for (const char* bad : {"9464", "127.0.0.1:", "127.0.0.1:99999", "host:abc", "a:b:c", "x@y:1"}) {
    EXPECT_THROW(fm::parse_metrics_addr(bad, host, port), fm::MetricsError) << bad;
    try {
      fm::parse_metrics_addr(bad, host, port);
    } catch (const fm::MetricsError& e) {
      EXPECT_NE(std::string(e.what()).find(bad), std::string::npos) << e.what();
    }
  }
}

TEST(Catalogue, DisabledEndpointStillCounts) {
  fm::Endpoint endpoint("0");
  EXPECT_FALSE(endpoint.serving());
  EXPECT_EQ(endpoint.port(), 0);
  endpoint.ingest("cam0").frames_published.Increment(7);
  EXPECT_NE(endpoint.scrape().find("framering_frames_published_total{ring=\"cam0\"} 7"),
            std::string::npos);
}

TEST(Catalogue, RefusesUnsafeLabelValues) {
  fm::Endpoint endpoint("0");
  EXPECT_THROW(endpoint.ingest("rtsp://admin:secret@10.0.0.5/stream"), fm::MetricsError);
  EXPECT_THROW(endpoint.worker("cam0", "user@host"), fm::MetricsError);
  EXPECT_THROW(endpoint.worker("cam0", "motion").events("kind with space"), fm::MetricsError);
  EXPECT_EQ(endpoint.scrape().find("secret"), std::string::npos);
}

TEST(Catalogue, ExtraPagesAndNotFound) {
  fm::Endpoint endpoint("127.0.0.1:0");
  endpoint.handle("/preview", [](const std::string& query) {
    return fm::HttpResponse{200, "text/html", "preview " + query};
  });
  const auto page = http_get(endpoint.port(), "/preview?x=1");
  EXPECT_EQ(page.status, 200);
  EXPECT_EQ(page.body, "preview x=1");
  EXPECT_EQ(http_get(endpoint.port(), "/preview.jpg").status, 404) << "paths match exactly";
  EXPECT_EQ(http_get(endpoint.port(), "/nope").status, 404);
  EXPECT_THROW(endpoint.handle("/metrics", [](const std::string&) { return fm::HttpResponse{}; }),
               fm::MetricsError);
}
