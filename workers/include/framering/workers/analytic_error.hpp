// An analytic failed on one frame (a model whose inference throws, ...). The runtime counts the
// frame as dropped with reason analytic_error, logs it, and goes on with the next frame: one bad
// frame must not stop a camera's analysis.
#pragma once

#include <stdexcept>
#include <string>

namespace framering::workers {

class AnalyticError : public std::runtime_error {
 public:
  explicit AnalyticError(const std::string& message) : std::runtime_error(message) {}
};

}  // namespace framering::workers
