// The metrics endpoint under concurrency, as a real deployment loads it: several scrapers at once
// (Prometheus, a liveness probe, a person with curl) while the process creates new label sets and
// moves counters, and an endpoint torn down right after its last scrape. Built and run in every
// preset; the tsan preset runs it under ThreadSanitizer (label tsan).
#include <gtest/gtest.h>

#include <atomic>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "framering/metrics/catalogue.hpp"
#include "http_get.hpp"

namespace fm = framering::metrics;
using framering::test::http_get;

namespace {

double sample(const std::string& text, const std::string& series) {
  const auto at = text.find("\n" + series + " ");
  if (at == std::string::npos) return -1;
  return std::stod(text.substr(at + 1 + series.size() + 1));
}

TEST(MetricsConcurrency, ParallelScrapesWhileCountersMoveAndLabelsAreAdded) {
  fm::Endpoint endpoint("127.0.0.1:0");
  ASSERT_TRUE(endpoint.serving());
  endpoint.handle("/page", [](const std::string& query) {
    return fm::HttpResponse{200, "text/plain; charset=utf-8", "page " + query + "\n"};
  });
  fm::IngestMetrics& in = endpoint.ingest("cam0");
  constexpr int kIncrements = 20000;
  constexpr int kScrapers = 4;
  constexpr int kScrapesEach = 25;
  std::atomic<bool> writing{true};
  std::thread writer([&] {
    for (int i = 0; i < kIncrements; ++i) {
      in.frames_published.Increment();
      // New label sets appear while the registry is being serialised by the scrapers.
      if (i % 1000 == 0) endpoint.worker("cam0", "w" + std::to_string(i / 1000)).events("x");
    }
    writing = false;
  });
  std::atomic<int> ok{0}, pages{0};
  std::vector<std::thread> scrapers;
  for (int s = 0; s < kScrapers; ++s) {
    scrapers.emplace_back([&, s] {
      for (int i = 0; i < kScrapesEach; ++i) {
        const auto r = http_get(endpoint.port(), "/metrics");
        if (r.status == 200 && r.body.find("framering_frames_published_total") != std::string::npos)
          ++ok;
        const auto p = http_get(endpoint.port(), "/page?s=" + std::to_string(s));
        if (p.status == 200 && p.body == "page s=" + std::to_string(s) + "\n") ++pages;
      }
    });
  }
  for (auto& t : scrapers) t.join();
  writer.join();
  EXPECT_EQ(ok.load(), kScrapers * kScrapesEach);
  EXPECT_EQ(pages.load(), kScrapers * kScrapesEach);
  const auto last = http_get(endpoint.port(), "/metrics");
  EXPECT_EQ(sample(last.body, R"(framering_frames_published_total{ring="cam0"})"), kIncrements);
}

// Each endpoint lives shortly and is scraped from another thread until just before it goes, as
// a worker's does in the in-process tests: start, serve, stop, many times over.
TEST(MetricsConcurrency, EndpointsStartServeAndStopRepeatedly) {
  for (int round = 0; round < 10; ++round) {
    auto endpoint = std::make_unique<fm::Endpoint>("127.0.0.1:0");
    fm::WorkerMetrics& w = endpoint->worker("cam" + std::to_string(round), "motion");
    std::thread counting([&] {
      for (int i = 0; i < 1000; ++i) w.events("motion_start").Increment();
    });
    std::thread scraping([&] {
      for (int i = 0; i < 5; ++i) EXPECT_EQ(http_get(endpoint->port(), "/metrics").status, 200);
    });
    counting.join();
    scraping.join();
    endpoint.reset();
  }
}

// A handler may need a real stack (JPEG encoding, text serialisation, printf's slow path): it
// gets the process's default one, not what is left of a server thread's after thread-local
// storage. 256 KiB of locals would overflow civetweb's own 100 KiB worker stacks.
TEST(MetricsConcurrency, HandlersRunOnAFullSizeStack) {
  fm::Endpoint endpoint("127.0.0.1:0");
  endpoint.handle("/deep", [](const std::string&) {
    volatile char scratch[256 * 1024];
    for (std::size_t i = 0; i < sizeof scratch; i += 4096) scratch[i] = static_cast<char>(i);
    char text[64];
    std::snprintf(text, sizeof text, "%s %d\n", "deep", static_cast<int>(scratch[4096]));
    return fm::HttpResponse{200, "text/plain; charset=utf-8", text};
  });
  for (int i = 0; i < 3; ++i) {
    const auto r = http_get(endpoint.port(), "/deep");
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.body, "deep 0\n");
  }
  EXPECT_EQ(http_get(endpoint.port(), "/metrics").status, 200);
}

}  // namespace
