// The ingest's side of the Writer's contract: a frame it cannot produce is aborted, and every
// abort (explicit, or a Slot dropped unpublished) reaches the summary counters and
// framering_frames_aborted_total{ring}, scraped from a real metrics endpoint.
#include "publisher.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <string>

#include "framering/metrics/catalogue.hpp"
#include "framering/ringbuf/names.hpp"
#include "framering/ringbuf/reader.hpp"

namespace framering::ingest {
namespace {

double sample(const std::string& text, const std::string& series) {
  const auto at = text.find("\n" + series + " ");
  if (at == std::string::npos) return -1;
  return std::stod(text.substr(at + 1 + series.size() + 1));
}

TEST(Publisher, AbortsAreCountedInTheSummaryAndTheMetric) {
  const std::string ring_name = "gtpub" + std::to_string(::getpid());
  metrics::Endpoint endpoint("0");
  IngestOptions options;
  options.ring = ring_name;
  options.slots = 4;
  {
    Publisher publisher(options, "test", endpoint.ingest(ring_name));
    publisher.open_ring(ring::Geometry::image(8, 4, ring::PixFmt::kGray8));
    ring::Reader reader = ring::Reader::attach(ring_name);
    EXPECT_EQ(
        sample(endpoint.scrape(), "framering_frames_aborted_total{ring=\"" + ring_name + "\"}"),
        0.0)
        << "created at 0";

    publisher.abort(publisher.claim());    // the conversion failed
    { auto dropped = publisher.claim(); }  // a path that forgot to publish or abort
    auto slot = publisher.claim();
    EXPECT_EQ(slot.frame_no(), 0u) << "aborted claims leave no hole in the frame numbers";
    publisher.publish(std::move(slot));

    EXPECT_EQ(publisher.counters().aborted, 2u);
    EXPECT_EQ(publisher.counters().frames, 1u);
    EXPECT_EQ(reader.cursor(), 1u);
    EXPECT_EQ(reader.read(0).status, ring::ReadStatus::kOk);
    const std::string text = endpoint.scrape();
    EXPECT_EQ(sample(text, "framering_frames_aborted_total{ring=\"" + ring_name + "\"}"), 2.0)
        << text;
    EXPECT_EQ(sample(text, "framering_frames_published_total{ring=\"" + ring_name + "\"}"), 1.0);
  }
  EXPECT_FALSE(std::filesystem::exists(ring::segment_path(ring_name)));
}

}  // namespace
}  // namespace framering::ingest
