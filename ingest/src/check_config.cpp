// validate_options(): every flag checked before anything is opened, each error naming its flag.
#include <unistd.h>

#include <spdlog/common.h>

#include <cerrno>
#include <cstring>

#include "framering/ingest/ingest.hpp"
#include "framering/ingest/redact.hpp"
#include "framering/ingest/source_spec.hpp"
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

void check_log_level(const std::string& level) {
  if (spdlog::level::from_str(level) == spdlog::level::off && level != "off") {
    throw ConfigError("--log-level '" + level +
                      "' is not one of trace, debug, info, warn, error, critical, off");
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
  if (!(o.io_timeout_s > 0.0) || o.io_timeout_s > 3600.0) {
    throw ConfigError("--timeout must be between 0 and 3600 seconds");
  }
  if (o.shm_mode > 0777 || (o.shm_mode & 0600) != 0600) {
    throw ConfigError(
        "--shm-mode must be an octal mode that lets the owner read and write (e.g. "
        "0600 or 0640)");
  }
  check_metrics_addr(o.metrics_addr);
  check_log_level(o.log_level);

  switch (spec.kind) {
    case SourceKind::kNpy:
      if (o.width || o.pix_fmt == ring::PixFmt::kGray8) {
        throw ConfigError("--width/--height/--pix-fmt gray8 do not apply to " + label +
                          ": the ring takes the arrays' own dtype and shape");
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
      break;
    case SourceKind::kFile:
      if (check_source && ::access(spec.target.c_str(), R_OK) != 0) {
        throw ConfigError("--source " + label + ": " + std::strerror(errno) +
                          "; give a readable video file, rtsp://, testsrc: or npy:");
      }
      break;
    case SourceKind::kRtsp:
      break;
  }
  if (o.width) {
    const ring::Geometry g =
        ring::Geometry::image(o.width, o.height, o.pix_fmt.value_or(ring::PixFmt::kBgr24));
    check_ring_fits(g, o.slots, "--width/--height");
  }
}

}  // namespace framering::ingest
