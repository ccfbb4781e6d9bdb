// `framering ingest`: decode a source into a ring, one copy per frame.
//
//   IngestOptions opt{.ring = "cam0", .source = "rtsp://cam/stream"};
//   validate_options(opt);        // ConfigError (exit 2) names the bad flag
//   return run_ingest(opt);       // 0 stopped/finished, 3 source failed, 4 ring error
#pragma once

#include <stdexcept>
#include <string>

#include "framering/ingest/options.hpp"

namespace framering::ingest {

// A bad flag or value: exit code 2. The message names the flag and says what to do.
class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Checks every option without opening the source or the ring; with `check_source`, also that a
// file source exists and an npy: pattern matches files. Throws ConfigError.
void validate_options(const IngestOptions& options, bool check_source = false);

// Runs until the source ends (files without --loop), --max-frames, SIGINT/SIGTERM, or the
// source fails for good. Returns the process exit code; logs (stderr) say why it stopped.
int run_ingest(const IngestOptions& options);

// Largest width or height accepted for a ring (libavcodec's own practical limit is 16384).
inline constexpr std::uint32_t kMaxDimension = 16384;

}  // namespace framering::ingest
