#include "labels.hpp"

#include "framering/metrics/catalogue.hpp"

namespace framering::metrics {

void check_label_value(const std::string& what, const std::string& value) {
  auto bad = [&](const std::string& why) {
    throw MetricsError("metrics: " + what + " '" + value + "' cannot be a label value (" + why +
                       "); use a short name of letters, digits, '_', '-', '.'");
  };
  if (value.empty()) bad("empty");
  if (value.size() > 64) bad("longer than 64 characters");
  if (value.find("://") != std::string::npos) bad("looks like a URL");
  for (const char c : value) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '_' || c == '-' || c == '.' || c == ':';
    if (!ok) bad(std::string("character '") + c + "' not allowed");
  }
}

}  // namespace framering::metrics
