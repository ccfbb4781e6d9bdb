// The supervisor's terminal: log lines and children's output scroll above a single progress
// line that is redrawn in place when stderr is a TTY. Not a TTY: no progress line at all, the
// supervisor logs plain periodic lines instead.
#pragma once

#include <cstdio>
#include <memory>
#include <string>

#include <spdlog/logger.h>

namespace framering::supervisor {

class Console {
 public:
  explicit Console(std::FILE* out = stderr);
  bool is_tty() const { return tty_; }
  // Prints one or more complete lines (each ending in '\n') above the progress line.
  void print(const std::string& text);
  void set_progress(const std::string& line);
  void clear_progress();

 private:
  void draw();
  std::FILE* out_;
  bool tty_;
  std::string progress_;
  bool shown_ = false;
};

// A logger ("run") whose lines go through `console`; it becomes spdlog's default logger.
std::shared_ptr<spdlog::logger> make_console_logger(Console& console, const std::string& level);

}  // namespace framering::supervisor
