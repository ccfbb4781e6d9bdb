// The --decode values: one definition, shared by the ingest's flags and the run YAML's `decode:`.
#include "framering/ingest/decode_mode.hpp"

namespace framering::ingest {

bool parse_decode_mode(const std::string& text, DecodeMode& mode) {
  if (text == "all") {
    mode = DecodeMode::kAll;
  } else if (text == "keyframes") {
    mode = DecodeMode::kKeyframes;
  } else {
    return false;
  }
  return true;
}

}  // namespace framering::ingest
