// Everything `framering ingest` can be told on its command line (docs/design.md, "Commands").
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "framering/ingest/decode_mode.hpp"
#include "framering/ringbuf/layout.hpp"

namespace framering::ingest {

struct IngestOptions {
  std::string ring;
  std::string source;       // path | rtsp://... | testsrc:<graph> | npy:<dir|glob>
  std::uint32_t width = 0;  // 0: the first frame's size
  std::uint32_t height = 0;
  std::optional<ring::PixFmt> pix_fmt;  // video default bgr24; npy uses the array's dtype
  std::uint32_t slots = 8;
  bool realtime = false;                    // pace files at their timestamps
  bool loop = false;                        // restart files at EOF
  std::uint32_t wait_for_readers = 0;       // files/npy: never overwrite a frame these still want
  std::uint64_t max_frames = 0;             // 0: no limit
  std::optional<std::int64_t> max_retries;  // unset: unlimited for RTSP, 0 otherwise; -1 unlimited
  int decode_threads = 0;                   // 0: libavcodec picks
  DecodeMode decode = DecodeMode::kAll;
  double max_fps = 0;  // --fps: publish at most this many frames per second of source time (0: all)
  std::string metrics_addr = "127.0.0.1:9464";
  // Opt-in picture server (HOST:PORT; "": none). Never the metrics port: see preview.hpp.
  std::string preview_addr;
  std::vector<std::string> preview_hosts;  // Host names /preview answers besides IPs, localhost
  std::string preview_events;     // events file whose newest boxes /preview draws ("": none)
  std::string preview_snapshots;  // workers' --snapshots DIR served at /snapshots/ ("": none)
  mode_t shm_mode = 0600;
  std::optional<gid_t> shm_group;
  // Seconds of compressed packets to keep in /dev/shm/framering.<ring>.packets (0: no packet
  // ring). Video sources only.
  double packet_history_s = 0;
  // --packets-only: demux and share packets (needs packet_history_s), decode nothing, create no
  // frame ring: the ingest of a camera's record stream when another stream is decoded.
  bool packets_only = false;
  bool keep = false;               // leave the segment in /dev/shm at exit
  double io_timeout_s = 10.0;      // network read/open timeout before a reconnect
  std::string log_level = "info";  // trace debug info warn error critical off
};

}  // namespace framering::ingest
