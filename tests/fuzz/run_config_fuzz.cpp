// Fuzz target: supervisor::parse_config, the `framering run` YAML loader (a pure function over
// the text). Any input must end in a Config or a ConfigError that names a line inside the
// text; yaml-cpp's own exceptions must never escape it.
#include <algorithm>
#include <string_view>

#include "framering/supervisor/config.hpp"
#include "fuzz_target.hpp"

using framering::supervisor::ConfigError;
using framering::supervisor::parse_config;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  try {
    const auto config = parse_config(text, "fuzz.yaml");
    for (const auto& cam : config.cameras) {
      FUZZ_CHECK(!cam.name.empty() && !cam.ring.empty() && !cam.source.empty());
      for (const auto& w : cam.workers) FUZZ_CHECK(w.replicas >= 1);
    }
  } catch (const ConfigError& e) {
    const auto lines = std::count(text.begin(), text.end(), '\n') + 1;
    FUZZ_CHECK(e.line() >= 0 && e.line() <= lines + 1);
    FUZZ_CHECK(std::string_view(e.what()).find("fuzz.yaml") != std::string_view::npos);
  }
  return 0;
}
