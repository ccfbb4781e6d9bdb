// A bad worker setting (flag, --param key or value, or an analytic that cannot read this ring's
// pixel format). Maps to exit code 2; the message names the flag/key and says what to do.
#pragma once

#include <stdexcept>
#include <string>

namespace framering::workers {

class ConfigError : public std::runtime_error {
 public:
  explicit ConfigError(const std::string& message) : std::runtime_error(message) {}
};

}  // namespace framering::workers
