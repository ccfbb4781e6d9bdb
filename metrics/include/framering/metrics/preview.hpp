// The /preview pages of the ingest metrics port: the ring's newest frame as JPEG, and an HTML
// page that refreshes it and draws the latest worker boxes from an events file (JSON lines).
// A separate target (framering_preview: ringbuf + OpenCV) so framering_metrics itself needs only
// prometheus-cpp.
//
//   metrics::Endpoint endpoint(opt.metrics_addr);
//   metrics::enable_preview(endpoint, "cam0", opt.preview_events);  // "" = no boxes
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "framering/metrics/catalogue.hpp"

namespace framering::ring {
class Reader;
}

namespace framering::metrics {

// Serves on `endpoint`'s port (no-op when it has no server):
//   /preview       HTML page; reloads the JPEG and draws boxes over it
//   /preview.jpg   newest frame of `ring` (503 while the ring has no frame yet)
//   /preview.json  {"ring","frame_no","width","height","boxes":[{worker,kind,frame_no,box}]}
// `events_path`: the events file workers append to ("" = no boxes). The ring is attached on the
// first request (and again after its writer changes), so this may be called before the ring
// exists.
void enable_preview(Endpoint& endpoint, const std::string& ring,
                    const std::string& events_path = "");

struct PreviewFrame {
  std::string jpeg;
  std::uint64_t frame_no = 0;
  std::uint32_t width = 0;
  std::uint32_t height = 0;
};

// JPEG of the newest frame, encoded straight from the slot (a cv::Mat header over the mapping,
// no copy for bgr24/gray8) and kept only if the seqlock shows the slot was not overwritten while
// encoding; retries a few times if it was. std::nullopt when the ring has no frame yet.
// Throws std::runtime_error for geometries JPEG cannot hold (not 8-bit, or 2/>4 channels).
std::optional<PreviewFrame> encode_latest_jpeg(ring::Reader& reader, int quality = 80);

struct PreviewBox {
  std::string worker;
  std::string kind;
  std::uint64_t frame_no = 0;
  int x = 0, y = 0, w = 0, h = 0;
};

// The boxes of the newest event with boxes, per worker, among the last `tail_bytes` of the
// events file of `ring` (other rings' events and malformed lines are skipped).
std::vector<PreviewBox> latest_boxes(const std::string& events_path, const std::string& ring,
                                     std::size_t tail_bytes = 256 * 1024);

}  // namespace framering::metrics
