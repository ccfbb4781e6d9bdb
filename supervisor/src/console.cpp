#include "framering/supervisor/console.hpp"

#include <sys/ioctl.h>
#include <unistd.h>

#include <mutex>

#include <spdlog/sinks/base_sink.h>
#include <spdlog/spdlog.h>

namespace framering::supervisor {

namespace {

class ConsoleSink : public spdlog::sinks::base_sink<std::mutex> {
 public:
  explicit ConsoleSink(Console& console) : console_(console) {}

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    spdlog::memory_buf_t formatted;
    formatter_->format(msg, formatted);
    console_.print(std::string(formatted.data(), formatted.size()));
  }
  void flush_() override {}

 private:
  Console& console_;
};

}  // namespace

Console::Console(std::FILE* out) : out_(out), tty_(::isatty(::fileno(out)) == 1) {}

void Console::print(const std::string& text) {
  if (shown_) std::fputs("\r\x1b[K", out_);
  std::fputs(text.c_str(), out_);
  shown_ = false;
  draw();
}

void Console::set_progress(const std::string& line) {
  progress_ = line;
  draw();
}

void Console::clear_progress() {
  if (shown_) std::fputs("\r\x1b[K", out_);
  std::fflush(out_);
  shown_ = false;
  progress_.clear();
}

void Console::draw() {
  if (!tty_ || progress_.empty()) {
    std::fflush(out_);
    return;
  }
  std::string line = progress_;
  winsize ws{};
  if (::ioctl(::fileno(out_), TIOCGWINSZ, &ws) == 0 && ws.ws_col > 1 && line.size() >= ws.ws_col) {
    line = line.substr(0, ws.ws_col - 2) + "…";
  }
  std::fputs(("\r\x1b[K" + line).c_str(), out_);
  std::fflush(out_);
  shown_ = true;
}

std::shared_ptr<spdlog::logger> make_console_logger(Console& console, const std::string& level) {
  auto logger = std::make_shared<spdlog::logger>("run", std::make_shared<ConsoleSink>(console));
  logger->set_pattern("[%Y-%m-%d %H:%M:%S.%e] [run] [%l] %v");
  logger->set_level(spdlog::level::from_str(level));
  spdlog::set_default_logger(logger);
  return logger;
}

}  // namespace framering::supervisor
