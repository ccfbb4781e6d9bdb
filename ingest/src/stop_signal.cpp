#include "stop_signal.hpp"

#include <csignal>
#include <thread>

namespace framering::ingest {

namespace {
volatile std::sig_atomic_t g_stop_signal = 0;

// Internal linkage (no extern "C"): the binary links other subcommands with handlers of their own.
void on_ingest_stop_signal(int signo) {
  g_stop_signal = signo;
}
}  // namespace

void install_stop_handlers() {
  struct sigaction action = {};
  action.sa_handler = on_ingest_stop_signal;
  sigemptyset(&action.sa_mask);
  action.sa_flags = 0;  // no SA_RESTART: a blocking read returns EINTR and the loop checks the flag
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);
}

bool stop_requested() {
  return g_stop_signal != 0;
}
int stop_signal_number() {
  return g_stop_signal;
}

bool sleep_unless_stopped(std::chrono::nanoseconds duration) {
  constexpr std::chrono::milliseconds kStep{20};
  const auto deadline = std::chrono::steady_clock::now() + duration;
  while (!stop_requested()) {
    const auto now = std::chrono::steady_clock::now();
    if (now >= deadline) return true;
    std::this_thread::sleep_for(std::min<std::chrono::nanoseconds>(deadline - now, kStep));
  }
  return false;
}

}  // namespace framering::ingest
