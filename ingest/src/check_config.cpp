// validate_options(): every flag checked before anything is opened, each error naming its flag.
#include <unistd.h>

#include <spdlog/common.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "framering/ingest/ingest.hpp"
#include "framering/ingest/input_policy.hpp"
#include "framering/ingest/redact.hpp"
#include "framering/ingest/source_spec.hpp"
#include "framering/metrics/catalogue.hpp"
#include "framering/ringbuf/error.hpp"
#include "framering/ringbuf/geometry.hpp"
#include "framering/ringbuf/header.hpp"
#include "framering/ringbuf/names.hpp"
#include "npy_files.hpp"
#include "publisher.hpp"

namespace framering::ingest {

namespace {

void check_metrics_addr(const std::string& addr) {
  if (addr.empty() || addr == "0") return;
  const std::size_t colon = addr.rfind(':');
  const std::string port = colon == std::string::npos ? "" : addr.substr(colon + 1);
  bool ok = colon != std::string::npos && colon > 0 && !port.empty() && port.size() <= 5 &&
            port.find_first_not_of("0123456789") == std::string::npos;
  if (ok) {
    const int value = std::stoi(port);
    ok = value >= 1 && value <= 65535;
  }
  if (!ok) {
    throw ConfigError("--metrics-addr '" + addr +
                      "' is not HOST:PORT (e.g. 127.0.0.1:9464); use \"0\" to disable metrics");
  }
}

// --preview-addr serves camera pictures: its own HOST:PORT, never the metrics one.
void check_preview(const IngestOptions& o) {
  if (o.preview_addr.empty()) {
    if (!o.preview_hosts.empty()) {
      throw ConfigError("--preview-host needs --preview-addr HOST:PORT (the preview is off)");
    }
    if (!o.preview_snapshots.empty()) {
      throw ConfigError("--preview-snapshots needs --preview-addr HOST:PORT (the preview is off)");
    }
    return;
  }
  const bool bare_port = o.preview_addr.find_first_not_of("0123456789") == std::string::npos;
  const std::string addr = bare_port ? "127.0.0.1:" + o.preview_addr : o.preview_addr;
  std::string host, metrics_host;
  std::uint16_t port = 0, metrics_port = 0;
  try {
    if (!metrics::parse_listen_addr("--preview-addr", addr, host, port)) {
      throw ConfigError("--preview-addr '" + o.preview_addr +
                        "': give HOST:PORT (e.g. 127.0.0.1:9463) or leave it out to serve nothing");
    }
    if (metrics::parse_metrics_addr(o.metrics_addr, metrics_host, metrics_port) && port != 0 &&
        port == metrics_port) {
      throw ConfigError("--preview-addr " + o.preview_addr + " uses the port of --metrics-addr " +
                        o.metrics_addr +
                        ": camera pictures get a port of their own, which a Prometheus scrape "
                        "never reaches; choose another port");
    }
  } catch (const metrics::MetricsError& e) {
    throw ConfigError(e.what());
  }
  for (const std::string& name : o.preview_hosts) {
    if (name.empty() || name.size() > 253 ||
        name.find_first_not_of(
            "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-") !=
            std::string::npos) {
      throw ConfigError("--preview-host '" + name +
                        "' is not a host name; give the name browsers use for this host, "
                        "e.g. nvr.lan");
    }
  }
}

void check_log_level(const std::string& level) {
  if (spdlog::level::from_str(level) == spdlog::level::off && level != "off") {
    throw ConfigError("--log-level '" + level +
                      "' is not one of trace, debug, info, warn, error, critical, off");
  }
}

// --packets-only decodes nothing and creates no frame ring: every flag about frames is a
// mistake, said as such rather than ignored.
void check_packets_only(const IngestOptions& o, const SourceSpec& spec, const std::string& label) {
  if (!o.packets_only) return;
  if (o.packet_history_s <= 0) {
    throw ConfigError(
        "--packets-only shares the stream's packets and nothing else: give --packet-history "
        "(e.g. 30s)");
  }
  if (spec.kind == SourceKind::kNpy) {
    throw ConfigError("--packets-only does not apply to " + label +
                      ": .npy arrays have no compressed packets");
  }
  const char* frame_flag = o.width                        ? "--width/--height/--scale"
                           : o.pix_fmt                    ? "--pix-fmt"
                           : o.max_fps != 0.0             ? "--fps"
                           : o.decode != DecodeMode::kAll ? "--decode"
                           : o.decode_threads             ? "--decode-threads"
                           : o.wait_for_readers           ? "--wait-for-readers"
                           : o.max_frames                 ? "--max-frames"
                           : !o.preview_addr.empty()      ? "--preview-addr"
                                                          : nullptr;
  if (frame_flag) {
    throw ConfigError(std::string(frame_flag) +
                      " is about decoded frames, and --packets-only decodes none; drop one of "
                      "the two (the frames come from another ingest of the camera)");
  }
}

}  // namespace

void validate_options(const IngestOptions& o, bool check_source) {
  try {
    ring::validate_ring_name(o.ring);
  } catch (const ring::RingError& e) {
    throw ConfigError(std::string("--ring: ") + e.what());
  }
  if (o.source.empty())
    throw ConfigError("--source is empty; give a file, rtsp://, testsrc: or npy:");
  const SourceSpec spec = parse_source(o.source);
  const std::string label = redact_source(o.source);
  if ((o.width == 0) != (o.height == 0)) {
    throw ConfigError(
        "--width and --height go together; give both (or neither, to use the first "
        "frame's size)");
  }
  if (o.width > kMaxDimension || o.height > kMaxDimension) {
    throw ConfigError("--width " + std::to_string(o.width) + " --height " +
                      std::to_string(o.height) + " exceeds " + std::to_string(kMaxDimension) +
                      " pixels per side; choose a smaller ring geometry");
  }
  try {
    // The ring owns the slot-count rule; ask it with the smallest geometry so --check-config
    // refuses exactly what creating the ring would.
    ring::plan_layout(o.ring, ring::Geometry::image(1, 1, ring::PixFmt::kGray8), o.slots);
  } catch (const ring::RingError& e) {
    throw ConfigError(e.what());
  }
  if (o.max_retries && *o.max_retries < -1) {
    throw ConfigError("--max-retries must be -1 (unlimited) or a count >= 0");
  }
  if (o.wait_for_readers > 0 && spec.live()) {
    throw ConfigError("--wait-for-readers cannot hold back " + label +
                      ": a camera does not wait; give the ring more --slots instead");
  }
  if (o.wait_for_readers > 64) {
    throw ConfigError("--wait-for-readers " + std::to_string(o.wait_for_readers) +
                      " is more than 64 readers");
  }
  if (o.decode_threads < 0 || o.decode_threads > 64) {
    throw ConfigError("--decode-threads must be 0 (auto) to 64");
  }
  if (o.max_fps != 0.0 && !(o.max_fps >= kMinMaxFps && o.max_fps <= kMaxMaxFps)) {
    throw ConfigError("--fps must be between 0.1 and 1000 frames per second (or 0: every frame)");
  }
  if (spec.kind == SourceKind::kNpy && (o.max_fps != 0.0 || o.decode != DecodeMode::kAll)) {
    throw ConfigError("--fps and --decode keyframes do not apply to " + label +
                      ": .npy arrays have neither timestamps nor keyframes");
  }
  check_packets_only(o, spec, label);
  if (!(o.io_timeout_s > 0.0) || o.io_timeout_s > 3600.0) {
    throw ConfigError("--timeout must be between 0 and 3600 seconds");
  }
  if (o.shm_mode > 0777 || (o.shm_mode & 0600) != 0600) {
    throw ConfigError(
        "--shm-mode must be an octal mode that lets the owner read and write (e.g. "
        "0600 or 0640)");
  }
  // Readers never need write access, and whoever may write the segment can truncate it under
  // every reader (SIGBUS) or forge frames: no group or other write bit.
  if (o.shm_mode & 0022) {
    char given[8];
    std::snprintf(given, sizeof given, "%04o", static_cast<unsigned>(o.shm_mode));
    throw ConfigError(std::string("--shm-mode ") + given +
                      " lets group or others write the ring: use at most 0644 (e.g. 0640, with "
                      "--shm-group for the readers' group)");
  }
  check_metrics_addr(o.metrics_addr);
  check_log_level(o.log_level);
  check_preview(o);

  switch (spec.kind) {
    case SourceKind::kNpy:
      // An array is published as it is: only bgr24/rgb24 (how to read an HxWx3 uint8) apply.
      if (o.width || o.pix_fmt == ring::PixFmt::kGray8 ||
          (o.pix_fmt && ring::is_yuv420(*o.pix_fmt))) {
        throw ConfigError(
            (o.width ? std::string("--width/--height do")
                     : std::string("--pix-fmt ") + ring::pix_fmt_name(*o.pix_fmt) + " does") +
            " not apply to " + label + ": the ring takes the arrays' own dtype and shape");
      }
      if (spec.target.empty()) throw ConfigError("--source npy: needs a directory or a glob");
      if (check_source && list_npy_files(spec.target).empty()) {
        throw ConfigError("--source " + label + " matches no .npy files");
      }
      break;
    case SourceKind::kTestsrc:
      if (spec.target.empty()) {
        throw ConfigError(
            "--source testsrc: needs a lavfi graph, e.g. "
            "testsrc:testsrc2=size=1280x720:rate=30");
      }
      if (const std::string bad = first_disallowed_filter(spec.target); !bad.empty()) {
        throw ConfigError("--source testsrc: filter '" + bad +
                          "' is not allowed in a test pattern (only generators such as testsrc2 "
                          "and in-memory filters such as scale, format, fps: nothing that opens "
                          "files, sockets or plugins)");
      }
      break;
    case SourceKind::kFile:
      if (const std::size_t scheme = spec.target.find("://");
          scheme != std::string::npos && scheme > 0 &&
          spec.target.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                        "0123456789+-.") >= scheme &&
          spec.target.compare(0, scheme, "file") != 0) {
        throw ConfigError("--source " + label +
                          ": framering reads local files, rtsp:// and rtsps:// cameras, "
                          "testsrc: and npy:, not '" +
                          spec.target.substr(0, scheme) + "://' URLs");
      }
      if (check_source && ::access(spec.target.c_str(), R_OK) != 0) {
        throw ConfigError("--source " + label + ": " + std::strerror(errno) +
                          "; give a readable video file, rtsp://, testsrc: or npy:");
      }
      break;
    case SourceKind::kRtsp:
      break;
  }
  if (o.width) {
    check_picture_size(o.width, o.height, o.pix_fmt.value_or(ring::PixFmt::kBgr24),
                       "--width/--height");
    const ring::Geometry g =
        ring::Geometry::image(o.width, o.height, o.pix_fmt.value_or(ring::PixFmt::kBgr24));
    check_ring_fits(o.ring, g, o.slots, "--width/--height");
  }
}

}  // namespace framering::ingest
