// Which decoded frames reach the ring (docs/ingest.md, "Decode modes"): the --decode and --fps
// rules, defined once for the ingest's flags and the run YAML's `decode:` and `fps:`.
#pragma once

#include <string>

namespace framering::ingest {

enum class DecodeMode {
  kAll,        // every frame
  kKeyframes,  // the decoder skips all but keyframes (libav's AVDISCARD_NONKEY)
};

// "all" | "keyframes"; false for anything else.
bool parse_decode_mode(const std::string& text, DecodeMode& mode);

// --fps: 0 (every frame) or within these bounds.
constexpr double kMinMaxFps = 0.1;
constexpr double kMaxMaxFps = 1000.0;

}  // namespace framering::ingest
