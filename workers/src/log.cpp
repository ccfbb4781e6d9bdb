#include "framering/workers/log.hpp"

#include <cstdio>

namespace framering::workers {

bool parse_log_level(const std::string& text, LogLevel& out) {
  if (text == "debug")
    out = LogLevel::kDebug;
  else if (text == "info")
    out = LogLevel::kInfo;
  else if (text == "warn" || text == "warning")
    out = LogLevel::kWarn;
  else if (text == "error")
    out = LogLevel::kError;
  else
    return false;
  return true;
}

void Log::line(LogLevel level, const std::string& msg) const {
  if (level < level_) return;
  static const char* const kNames[] = {"debug", "info", "warn", "error"};
  // One fprintf per line so lines from concurrent workers sharing a terminal do not interleave.
  std::fprintf(stderr, "%s [%s] %s\n", prefix_.c_str(), kNames[static_cast<int>(level)],
               msg.c_str());
}

}  // namespace framering::workers
