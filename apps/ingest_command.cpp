// `framering ingest`: flags -> IngestOptions -> run_ingest() (ingest/ does the work).
#include <grp.h>

#include <CLI/CLI.hpp>

#include <cstdio>
#include <memory>
#include <optional>
#include <string>

#include "argv_secrets.hpp"
#include "commands.hpp"
#include "framering/ingest/ingest.hpp"
#include "framering/ringbuf/geometry.hpp"

namespace framering::cli {

namespace {

struct IngestFlags {
  ingest::IngestOptions options;
  std::string pix_fmt;
  std::string shm_mode = "0600";
  std::string shm_group;
  std::string decode = "all";
  std::string scale;
  std::int64_t max_retries = -2;  // -2: not given (per-source default)
  std::string packet_history;
  bool check_config = false;
};

// "30s", "2m", "45" (seconds) -> seconds; nullopt if it is none of those.
std::optional<double> parse_duration_seconds(const std::string& text) {
  double scale = 1;
  std::string number = text;
  if (!number.empty() && (number.back() == 's' || number.back() == 'm')) {
    scale = number.back() == 'm' ? 60 : 1;
    number.pop_back();
  }
  try {
    std::size_t used = 0;
    const double value = std::stod(number, &used);
    if (used != number.size() || !(value > 0)) return std::nullopt;
    return value * scale;
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

// Turns the string flags into options; returns an error message naming the flag, or "".
std::string finish_options(IngestFlags& f) {
  if (!f.pix_fmt.empty()) {
    ring::PixFmt fmt;
    if (!ring::parse_pix_fmt(f.pix_fmt, fmt)) {
      return "--pix-fmt '" + f.pix_fmt + "' is not one of " + ring::pix_fmt_choices();
    }
    f.options.pix_fmt = fmt;
  }
  try {
    std::size_t used = 0;
    const unsigned long mode = std::stoul(f.shm_mode, &used, 8);
    if (used != f.shm_mode.size()) throw std::invalid_argument(f.shm_mode);
    f.options.shm_mode = static_cast<mode_t>(mode);
  } catch (const std::exception&) {
    return "--shm-mode '" + f.shm_mode + "' is not an octal file mode such as 0600 or 0640";
  }
  if (!f.shm_group.empty()) {
    if (const group* g = ::getgrnam(f.shm_group.c_str())) {
      f.options.shm_group = g->gr_gid;
    } else if (f.shm_group.size() <= 9 &&
               f.shm_group.find_first_not_of("0123456789") == std::string::npos) {
      f.options.shm_group = static_cast<gid_t>(std::stoul(f.shm_group));
    } else {
      return "--shm-group '" + f.shm_group + "' is not a group name or id on this host";
    }
  }
  if (f.max_retries != -2) f.options.max_retries = f.max_retries;
  if (!f.scale.empty()) {
    std::uint32_t w = 0, h = 0;
    if (!ring::parse_image_size(f.scale, w, h)) {
      return "--scale '" + f.scale + "' is not WIDTHxHEIGHT, e.g. 640x360";
    }
    if ((f.options.width && f.options.width != w) || (f.options.height && f.options.height != h)) {
      return "--scale " + f.scale + " and --width/--height disagree; give one of them";
    }
    f.options.width = w;
    f.options.height = h;
  }
  if (!ingest::parse_decode_mode(f.decode, f.options.decode)) {
    return "--decode '" + f.decode + "' is not one of all, keyframes";
  }
  if (!f.packet_history.empty()) {
    const auto seconds = parse_duration_seconds(f.packet_history);
    if (!seconds || *seconds < 1 || *seconds > 3600) {
      return "--packet-history '" + f.packet_history +
             "' is not a duration from 1s to 3600s (e.g. 30s, 2m)";
    }
    f.options.packet_history_s = *seconds;
  }
  return "";
}

}  // namespace

void add_ingest_command(CLI::App& app, int& exit_code) {
  auto flags = std::make_shared<IngestFlags>();
  ingest::IngestOptions& o = flags->options;
  auto* sub = app.add_subcommand(
      "ingest",
      "decode a camera, file, test pattern or .npy stack into a ring (one copy per frame)\n"
      "  SRC: a video file | rtsp://[user:pass@]host/path | testsrc:<lavfi graph>, e.g.\n"
      "  testsrc:testsrc2=size=1920x1080:rate=30 | npy:<dir or glob> (one array per file)");
  sub->add_option("--ring", o.ring, "ring name: /dev/shm/framering.<NAME>")->required();
  sub->add_option("--source", o.source, "what to decode (see SRC above)")->required();
  sub->add_option("--width", o.width, "ring frame width (default: the first frame's)");
  sub->add_option("--height", o.height, "ring frame height (default: the first frame's)");
  sub->add_option("--pix-fmt", flags->pix_fmt,
                  "bgr24 (default), rgb24, gray8, or the decoder's own 4:2:0 planes yuv420p or "
                  "nv12 (no colour conversion; even --width/--height)");
  sub->add_option("--slots", o.slots, "frames the ring holds")->capture_default_str();
  sub->add_flag("--realtime", o.realtime,
                "publish files at their timestamps (default: as fast "
                "as decoding allows)");
  sub->add_flag("--loop", o.loop, "restart files (and npy stacks) at their end");
  sub->add_option("--wait-for-readers", o.wait_for_readers,
                  "files, npy, testsrc: lose no frame: wait until N workers are attached (again, "
                  "if one exits) and never overwrite a frame an attached worker has not read "
                  "(0: off)");
  sub->add_option("--max-frames", o.max_frames, "stop after publishing N frames (0: no limit)");
  sub->add_option("--max-retries", flags->max_retries,
                  "reconnect attempts in a row before exit 3 (-1: unlimited; default unlimited "
                  "for rtsp://, 0 otherwise)");
  sub->add_option("--timeout", o.io_timeout_s,
                  "seconds without data before a network source counts as down")
      ->capture_default_str();
  sub->add_option("--decode-threads", o.decode_threads, "decoder threads (0: auto)")
      ->capture_default_str();
  sub->add_option("--decode", flags->decode,
                  "all: every frame; keyframes: decode and publish keyframes only (typically "
                  "one every 1-2 s; frame numbers stay dense, pts_ns tells the time)")
      ->capture_default_str();
  sub->add_option("--scale", flags->scale,
                  "WxH: publish frames at this detection size (the same as --width W --height H); "
                  "decoders that can (MJPEG, MPEG-4 and H.263 kin) decode at 1/2, 1/4 or 1/8 size "
                  "directly");
  sub->add_option("--fps", o.max_fps,
                  "publish at most N frames per second of source time; the others are decoded "
                  "(the codec needs them) but neither converted nor written (0: every frame)")
      ->capture_default_str();
  sub->add_option("--metrics-addr", o.metrics_addr,
                  "HOST:PORT serving /metrics (Prometheus text only, never pictures); \"0\" "
                  "disables the server")
      ->capture_default_str();
  sub->add_option("--preview-addr", o.preview_addr,
                  "HOST:PORT (or PORT, meaning 127.0.0.1:PORT) serving the newest frame as "
                  "/preview; off by default. Camera pictures: keep it on 127.0.0.1. Never the "
                  "metrics port");
  sub->add_option("--preview-host", o.preview_hosts,
                  "a host name /preview answers to besides IP addresses and localhost "
                  "(repeatable); other Host headers get 403 (DNS rebinding)");
  sub->add_option("--preview-events", o.preview_events,
                  "workers' events file (JSON lines) whose newest boxes the /preview page draws");
  sub->add_option("--preview-snapshots", o.preview_snapshots,
                  "the workers' --snapshots DIR, served read-only on the preview address as "
                  "/snapshots/<camera>/<event-id>.jpg");
  sub->add_option("--shm-mode", flags->shm_mode, "octal mode of the ring segment")
      ->capture_default_str();
  sub->add_option("--shm-group", flags->shm_group, "group that owns the ring segment");
  sub->add_option("--packet-history", flags->packet_history,
                  "also share the compressed video packets, before decoding, in "
                  "/dev/shm/framering.<NAME>.packets for `framering record`: this much history, "
                  "e.g. 30s (off by default)");
  sub->add_flag("--packets-only", o.packets_only,
                "with --packet-history: share the packets and decode nothing (no frame ring), "
                "e.g. a camera's main stream recorded while its sub-stream is analysed");
  sub->add_flag("--keep", o.keep, "leave the ring in /dev/shm at exit (for inspection)");
  sub->add_flag("--check-config", flags->check_config,
                "validate the flags (and that a file source exists), then exit 0 or 2");
  sub->add_option("--log-level", o.log_level, "trace, debug, info, warn, error")
      ->capture_default_str();
  sub->callback([flags, &exit_code] {
    const std::string error = finish_options(*flags);
    if (!error.empty()) {
      std::fprintf(stderr, "framering ingest: %s\n", redacted(error).c_str());
      exit_code = 2;
      return;
    }
    if (flags->check_config) {
      try {
        ingest::validate_options(flags->options, /*check_source=*/true);
      } catch (const ingest::ConfigError& e) {
        std::fprintf(stderr, "framering ingest: %s\n", redacted(e.what()).c_str());
        exit_code = 2;
        return;
      }
      std::fprintf(stderr, "framering ingest: configuration OK\n");
      exit_code = 0;
      return;
    }
    exit_code = ingest::run_ingest(flags->options);
  });
}

}  // namespace framering::cli
