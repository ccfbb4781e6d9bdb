// The ingest's opt-in preview (--preview-addr): the ring's newest frame as JPEG, and an HTML page
// that refreshes it and draws the latest worker boxes from an events file (JSON lines). Camera
// pictures get their own HTTP server and address, never the metrics port: a port opened for
// Prometheus (and liveness probes) must not show what the camera sees.
// A separate target (framering_preview: ringbuf + libjpeg-turbo) so framering_metrics itself
// needs only prometheus-cpp.
//
//   metrics::PreviewServer preview("127.0.0.1:9463", "cam0", opt.preview_events, {"nvr.lan"});
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "framering/metrics/catalogue.hpp"
#include "framering/metrics/marked_jpeg.hpp"

namespace framering::ring {
class Reader;
}

namespace framering::metrics {

class HttpServer;

// Serves on its own address:
//   /preview       HTML page; reloads the JPEG and labels the boxes in it
//   /preview.jpg   newest frame of `ring` (503 while the ring has no frame yet), with each
//                  worker's newest boxes (red) and zone outlines (yellow) drawn in
//   /preview.json  {"ring","frame_no","width","height","boxes":[{worker,kind,frame_no,box}]}
//   /snapshots/<camera>/<id>.jpg   the workers' snapshots under `snapshot_dir`, read-only
//                  (only when `snapshot_dir` is given; see snapshot_files.hpp for the checks)
// `addr`: HOST:PORT (PORT 0 = any free port; a bare PORT means 127.0.0.1:PORT).
// `events_path`: the events file workers append to ("" = no boxes). `bytes_copied` is told the
// payload bytes copied to draw (only the rows a box or outline crosses). The ring is attached on
// the first request (and again after its writer changes), so the server may start before the ring
// exists. Every request must name the server in its Host header by an IP address, "localhost"
// or one of `host_names` (--preview-host), else 403: a web page that rebinds its DNS name to
// this address cannot read the pictures. Throws MetricsError naming --preview-addr when the
// address is malformed or cannot be bound.
class PreviewServer {
 public:
  PreviewServer(const std::string& addr, const std::string& ring,
                const std::string& events_path = "", std::vector<std::string> host_names = {},
                const std::string& snapshot_dir = "",
                std::function<void(std::size_t)> bytes_copied = {});
  ~PreviewServer();
  PreviewServer(const PreviewServer&) = delete;
  PreviewServer& operator=(const PreviewServer&) = delete;

  std::uint16_t port() const;
  // "HOST:PORT" as bound, e.g. "127.0.0.1:9463".
  const std::string& address() const { return address_; }
  // Whether the address is reachable from other hosts (not a loopback address).
  bool public_address() const { return public_; }

 private:
  std::unique_ptr<HttpServer> server_;
  std::string address_;
  bool public_ = false;
};

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
// A yuv420p/nv12 ring comes out as its grey Y plane: colour needs the conversion below.
std::optional<PreviewFrame> encode_latest_jpeg(ring::Reader& reader, int quality = 80);

// The same with `marks` drawn in (MarkedJpegEncoder; a yuv420p/nv12 frame is converted to BGR
// first); `bytes_copied` receives the payload bytes copied for drawing and converting, over all
// attempts.
std::optional<PreviewFrame> encode_latest_jpeg(ring::Reader& reader, const JpegMarks& marks,
                                               MarkedJpegEncoder& encoder,
                                               std::size_t& bytes_copied, int quality = 80);

struct PreviewBox {
  std::string worker;
  std::string kind;
  std::uint64_t frame_no = 0;
  int x = 0, y = 0, w = 0, h = 0;
};

// The boxes of each worker's newest frame with events (all its events of that frame: an
// objects worker reports each track in its own event) among the last `tail_bytes` of the
// events file of `ring` (other rings' events and malformed lines are skipped).
std::vector<PreviewBox> latest_boxes(const std::string& events_path, const std::string& ring,
                                     std::size_t tail_bytes = 256 * 1024);
// The same boxes, plus the zone outlines ("zones") of those events.
JpegMarks latest_marks(const std::string& events_path, const std::string& ring,
                       std::size_t tail_bytes = 256 * 1024);

}  // namespace framering::metrics
