// Worker log lines on stderr ("framering worker <name>: ..."), filtered by --log-level.
#pragma once

#include <string>

namespace framering::workers {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3 };

// Parses debug|info|warn|warning|error; false for anything else.
bool parse_log_level(const std::string& text, LogLevel& out);

class Log {
 public:
  Log(std::string prefix, LogLevel level) : prefix_(std::move(prefix)), level_(level) {}
  void debug(const std::string& msg) const { line(LogLevel::kDebug, msg); }
  void info(const std::string& msg) const { line(LogLevel::kInfo, msg); }
  void warn(const std::string& msg) const { line(LogLevel::kWarn, msg); }
  void error(const std::string& msg) const { line(LogLevel::kError, msg); }

 private:
  void line(LogLevel level, const std::string& msg) const;
  std::string prefix_;
  LogLevel level_;
};

}  // namespace framering::workers
