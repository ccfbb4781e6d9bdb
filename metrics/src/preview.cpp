// PreviewServer: /preview, /preview.jpg, /preview.json on their own address (see preview.hpp).
#include "framering/metrics/preview.hpp"

#include <turbojpeg.h>
#include <nlohmann/json.hpp>

#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <sstream>
#include <stdexcept>

#include "framering/metrics/marked_jpeg.hpp"
#include "framering/ringbuf/error.hpp"
#include "framering/ringbuf/reader.hpp"
#include "http_server.hpp"
#include "snapshot_files.hpp"

namespace framering::metrics {

namespace {

constexpr int kEncodeAttempts = 4;  // a torn encode is retried on the (new) newest frame

const char* kPage = R"html(<!doctype html>
<html><head><meta charset="utf-8"><title>framering preview</title>
<style>body{font:14px sans-serif;margin:1em;background:#111;color:#ddd}
#v{position:relative;display:inline-block}#v img{display:block;max-width:100%}
#v svg{position:absolute;left:0;top:0;width:100%;height:100%}
rect{fill:none;stroke-width:3}text{font:bold 16px sans-serif}</style></head>
<body><h1 id="t">framering preview</h1>
<div id="v"><img id="img" alt="newest frame"><svg id="boxes" preserveAspectRatio="none"></svg></div>
<p id="info"></p>
<script>
const colors = ["#0f0", "#f80", "#0cf", "#f0f", "#ff0", "#f44"];
const ns = "http://www.w3.org/2000/svg";
async function tick() {
  try {
    const r = await fetch("/preview.json", {cache: "no-store"});
    const p = await r.json();
    document.getElementById("t").textContent = "ring " + p.ring;
    document.getElementById("info").textContent =
        "frame " + p.frame_no + " · " + p.width + "x" + p.height + " · " + p.boxes.length + " boxes";
    const svg = document.getElementById("boxes");
    svg.setAttribute("viewBox", "0 0 " + p.width + " " + p.height);
    svg.replaceChildren();
    const workers = [];
    for (const b of p.boxes) {
      if (!workers.includes(b.worker)) workers.push(b.worker);
      const c = colors[workers.indexOf(b.worker) % colors.length];
      // The box itself is drawn into /preview.jpg; the page adds who found it.
      const label = document.createElementNS(ns, "text");
      label.setAttribute("x", b.box[0]); label.setAttribute("y", Math.max(14, b.box[1] - 4));
      label.setAttribute("fill", c);
      label.textContent = b.worker + " " + b.kind;
      svg.append(label);
    }
  } catch (e) {
    document.getElementById("info").textContent = "waiting for the ring: " + e;
  }
  const img = document.getElementById("img");
  img.onload = img.onerror = () => setTimeout(tick, 500);
  img.src = "/preview.jpg?t=" + Date.now();
}
tick();
</script></body></html>
)html";

struct PreviewState {
  std::string ring;
  std::string events_path;
  std::function<void(std::size_t)> copied;
  std::mutex mutex;  // one request at a time uses the reader and the encoder
  std::unique_ptr<ring::Reader> reader;
  MarkedJpegEncoder encoder;

  // The attached reader, or nullptr (with `why`) while the ring does not exist.
  ring::Reader* attach(std::string& why) {
    if (!reader) {
      try {
        reader = std::make_unique<ring::Reader>(ring::Reader::attach(ring));
      } catch (const ring::RingError& e) {
        why = e.what();
        return nullptr;
      }
    }
    return reader.get();
  }
};

// libjpeg-turbo's pixel format for the ring's channel order. JPEG stores YCbCr, so an rgb24
// ring is encoded as it lies (no private BGR copy as OpenCV's imencode would need).
int turbojpeg_pixel_format(const ring::Geometry& g, int channels) {
  if (channels == 1) return TJPF_GRAY;
  if (channels == 4) return TJPF_BGRX;
  return g.pix_fmt == ring::PixFmt::kRgb24 ? TJPF_RGB : TJPF_BGR;
}

// Encodes the slot in place: libjpeg-turbo reads the read-only mapping directly.
std::string encode_jpeg(const std::byte* pixels, const ring::Geometry& g, int quality,
                        const std::string& ring_name) {
  const int channels = static_cast<int>(g.channels());
  std::unique_ptr<void, int (*)(tjhandle)> handle(tjInitCompress(), &tjDestroy);
  if (!handle) throw std::runtime_error("libjpeg-turbo could not start a JPEG encoder");
  unsigned char* out = nullptr;
  unsigned long out_bytes = 0;
  const int rc = tjCompress2(handle.get(), reinterpret_cast<const unsigned char*>(pixels),
                             static_cast<int>(g.width()), 0, static_cast<int>(g.height()),
                             turbojpeg_pixel_format(g, channels), &out, &out_bytes,
                             channels == 1 ? TJSAMP_GRAY : TJSAMP_420, quality, TJFLAG_FASTDCT);
  std::unique_ptr<unsigned char, void (*)(unsigned char*)> owned(out, &tjFree);
  if (rc != 0) {
    throw std::runtime_error("ring '" + ring_name +
                             "': JPEG encoding failed: " + tjGetErrorStr2(handle.get()));
  }
  return std::string(reinterpret_cast<const char*>(out), out_bytes);
}

HttpResponse unavailable(const std::string& why) {
  return {503, "text/plain; charset=utf-8", "preview: " + why + "\n"};
}

// The ring's geometry if it holds pictures a JPEG can show; throws naming the ring otherwise.
const ring::Geometry& image_geometry(const ring::Reader& reader) {
  const ring::Geometry& g = reader.info().geometry;
  const auto channels = g.channels();
  if (g.typestr != "|u1" || g.shape.size() < 2 || g.shape.size() > 3 ||
      (channels != 1 && channels != 3 && channels != 4)) {
    throw std::runtime_error("ring '" + reader.name() + "' holds " + g.describe() +
                             " frames; the JPEG preview needs 8-bit images with 1, 3 or 4 "
                             "channels");
  }
  return g;
}

}  // namespace

std::optional<PreviewFrame> encode_latest_jpeg(ring::Reader& reader, int quality) {
  for (int attempt = 0; attempt < kEncodeAttempts; ++attempt) {
    const ring::ReadResult r = reader.latest();
    if (r.status == ring::ReadStatus::kNotYet || r.status == ring::ReadStatus::kWriterGone) {
      return std::nullopt;
    }
    if (r.status != ring::ReadStatus::kOk) continue;  // lapped/torn/new epoch: ask again
    const ring::Geometry& g = image_geometry(reader);
    const std::string jpeg = encode_jpeg(r.frame.data, g, quality, reader.name());
    // Seqlock re-check after use: the slot may have been rewritten while it was encoded.
    if (!reader.valid(r.frame)) continue;
    return PreviewFrame{jpeg, r.frame.frame_no, g.width(), g.height()};
  }
  return std::nullopt;
}

std::optional<PreviewFrame> encode_latest_jpeg(ring::Reader& reader, const JpegMarks& marks,
                                               MarkedJpegEncoder& encoder,
                                               std::size_t& bytes_copied, int quality) {
  bytes_copied = 0;
  for (int attempt = 0; attempt < kEncodeAttempts; ++attempt) {
    const ring::ReadResult r = reader.latest();
    if (r.status == ring::ReadStatus::kNotYet || r.status == ring::ReadStatus::kWriterGone) {
      return std::nullopt;
    }
    if (r.status != ring::ReadStatus::kOk) continue;  // lapped/torn/new epoch: ask again
    const ring::Geometry& g = image_geometry(reader);
    const int channels = static_cast<int>(g.channels());
    // A header over the read-only mapping; the encoder only reads through it. Its rows are the
    // array's (for yuv420p/nv12 the stacked planes, H * 3 / 2 rows).
    const cv::Mat frame(static_cast<int>(g.shape[0]), static_cast<int>(g.width()), CV_8UC(channels),
                        const_cast<std::byte*>(r.frame.data));
    std::string jpeg, error;
    std::size_t copied = 0;
    const bool ok = encoder.encode(frame, g.pix_fmt, marks, quality, jpeg, copied, error);
    bytes_copied += copied;
    if (!ok) throw std::runtime_error("ring '" + reader.name() + "': " + error);
    if (!reader.valid(r.frame)) continue;  // rewritten while encoded: a torn picture
    return PreviewFrame{std::move(jpeg), r.frame.frame_no, g.width(), g.height()};
  }
  return std::nullopt;
}

namespace {

// The boxes and zone outlines of each worker's newest frame with events on `ring`, in the last
// `tail_bytes` of the file.
struct TailMarks {
  std::vector<PreviewBox> boxes;
  std::vector<std::vector<cv::Point>> zones;
};

std::vector<std::vector<cv::Point>> parse_zones(const nlohmann::json& zones) {
  std::vector<std::vector<cv::Point>> out;
  for (const auto& poly : zones) {
    if (!poly.is_array()) continue;
    std::vector<cv::Point> points;
    for (const auto& p : poly) {
      if (p.is_array() && p.size() == 2 && p[0].is_number() && p[1].is_number())
        points.emplace_back(p[0].get<int>(), p[1].get<int>());
    }
    if (points.size() >= 2) out.push_back(std::move(points));
  }
  return out;
}

TailMarks tail_marks(const std::string& events_path, const std::string& ring,
                     std::size_t tail_bytes) {
  std::ifstream in(events_path, std::ios::binary | std::ios::ate);
  if (!in) return {};
  const std::streamoff size = in.tellg();
  const std::streamoff start = size > static_cast<std::streamoff>(tail_bytes)
                                   ? size - static_cast<std::streamoff>(tail_bytes)
                                   : 0;
  in.seekg(start);
  std::string line;
  if (start > 0) std::getline(in, line);  // partial line
  // Per worker, the events of the newest frame it reported on: an objects worker reports each
  // track and zone in its own event, and the picture shows all of them.
  struct Newest {
    std::uint64_t frame_no = 0;
    std::vector<PreviewBox> boxes;
    std::vector<std::vector<cv::Point>> zones;
  };
  std::map<std::string, Newest> by_worker;
  while (std::getline(in, line)) {
    const nlohmann::json e = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (!e.is_object() || e.value("ring", "") != ring || !e.contains("boxes") ||
        !e["boxes"].is_array()) {
      continue;
    }
    const std::string worker = e.value("worker", "");
    const std::uint64_t frame_no = e.value("frame_no", std::uint64_t{0});
    Newest& newest = by_worker[worker];
    if (frame_no != newest.frame_no) newest = Newest{frame_no, {}, {}};  // a newer frame
    for (const auto& b : e["boxes"]) {
      if (!b.is_array() || b.size() != 4 || !b[0].is_number() || !b[1].is_number() ||
          !b[2].is_number() || !b[3].is_number()) {
        continue;
      }
      newest.boxes.push_back({worker, e.value("kind", ""), frame_no, b[0].get<int>(),
                              b[1].get<int>(), b[2].get<int>(), b[3].get<int>()});
    }
    if (e.contains("zones") && e["zones"].is_array()) {
      for (auto& zone : parse_zones(e["zones"])) {
        if (std::find(newest.zones.begin(), newest.zones.end(), zone) == newest.zones.end())
          newest.zones.push_back(std::move(zone));
      }
    }
  }
  TailMarks out;
  for (auto& [worker, newest] : by_worker) {
    out.boxes.insert(out.boxes.end(), newest.boxes.begin(), newest.boxes.end());
    out.zones.insert(out.zones.end(), newest.zones.begin(), newest.zones.end());
  }
  return out;
}

}  // namespace

std::vector<PreviewBox> latest_boxes(const std::string& events_path, const std::string& ring,
                                     std::size_t tail_bytes) {
  return tail_marks(events_path, ring, tail_bytes).boxes;
}

JpegMarks latest_marks(const std::string& events_path, const std::string& ring,
                       std::size_t tail_bytes) {
  TailMarks tail = tail_marks(events_path, ring, tail_bytes);
  JpegMarks marks;
  for (const PreviewBox& b : tail.boxes) marks.boxes.emplace_back(b.x, b.y, b.w, b.h);
  marks.outlines = std::move(tail.zones);
  return marks;
}

PreviewServer::PreviewServer(const std::string& addr, const std::string& ring,
                             const std::string& events_path, std::vector<std::string> host_names,
                             const std::string& snapshot_dir,
                             std::function<void(std::size_t)> bytes_copied) {
  const bool bare_port = !addr.empty() && addr.find_first_not_of("0123456789") == std::string::npos;
  const std::string full = bare_port ? "127.0.0.1:" + addr : addr;
  std::string host;
  std::uint16_t port = 0;
  if (!parse_listen_addr("--preview-addr", full, host, port)) {
    throw MetricsError("--preview-addr '" + addr +
                       "': give HOST:PORT (e.g. 127.0.0.1:9463) or leave it out to serve nothing");
  }
  server_ = std::make_unique<HttpServer>(host, port, addr, "--preview-addr");
  server_->require_host(std::move(host_names));
  const std::string shown_host = host.empty() ? std::string("0.0.0.0") : host;
  address_ = shown_host + ":" + std::to_string(server_->port());
  public_ =
      !(shown_host == "localhost" || shown_host.rfind("127.", 0) == 0 || shown_host == "[::1]");
  HttpServer& endpoint = *server_;
  auto state = std::make_shared<PreviewState>();
  state->ring = ring;
  state->events_path = events_path;
  state->copied = std::move(bytes_copied);
  for (const char* page : {"/", "/preview"}) {
    endpoint.route(page, [](const std::string&) {
      return HttpResponse{200, "text/html; charset=utf-8", kPage};
    });
  }
  endpoint.route("/preview.jpg", [state](const std::string&) {
    std::lock_guard lock(state->mutex);
    std::string why;
    ring::Reader* reader = state->attach(why);
    if (!reader) return unavailable(why);
    std::optional<PreviewFrame> frame;
    if (state->events_path.empty() && !ring::is_yuv420(reader->info().geometry.pix_fmt)) {
      frame = encode_latest_jpeg(*reader);
    } else {  // the workers' newest boxes and zones drawn in; 4:2:0 frames converted to BGR
      std::size_t copied = 0;
      const JpegMarks marks =
          state->events_path.empty() ? JpegMarks{} : latest_marks(state->events_path, state->ring);
      frame = encode_latest_jpeg(*reader, marks, state->encoder, copied);
      if (copied > 0 && state->copied) state->copied(copied);
    }
    if (!frame) return unavailable("ring '" + state->ring + "' has no frame yet");
    return HttpResponse{200, "image/jpeg", std::move(frame->jpeg)};
  });
  endpoint.route("/preview.json", [state](const std::string&) {
    nlohmann::json j;
    j["ring"] = state->ring;
    {
      std::lock_guard lock(state->mutex);
      std::string why;
      ring::Reader* reader = state->attach(why);
      if (!reader) return unavailable(why);
      const std::uint64_t cursor = reader->cursor();
      j["frame_no"] = cursor > 0 ? cursor - 1 : 0;
      j["width"] = reader->info().geometry.width();
      j["height"] = reader->info().geometry.height();
    }
    j["boxes"] = nlohmann::json::array();
    if (!state->events_path.empty()) {
      for (const PreviewBox& b : latest_boxes(state->events_path, state->ring)) {
        j["boxes"].push_back({{"worker", b.worker},
                              {"kind", b.kind},
                              {"frame_no", b.frame_no},
                              {"box", {b.x, b.y, b.w, b.h}}});
      }
    }
    return HttpResponse{200, "application/json", j.dump()};
  });
  if (!snapshot_dir.empty()) {
    endpoint.route_prefix("/snapshots/", [snapshot_dir](const std::string& rest) {
      return serve_snapshot(snapshot_dir, rest);
    });
  }
}

PreviewServer::~PreviewServer() = default;

std::uint16_t PreviewServer::port() const {
  return server_->port();
}

}  // namespace framering::metrics
