// SIGINT/SIGTERM ask the ingest loop to stop: the handler only sets a flag; blocking libav calls
// notice it through their interrupt callback, sleeps through sleep_unless_stopped().
#pragma once

#include <chrono>

namespace framering::ingest {

void install_stop_handlers();
bool stop_requested();
int stop_signal_number();  // the signal that asked to stop, 0 if none
// Sleeps for `duration` in short steps; returns false as soon as a stop is requested.
bool sleep_unless_stopped(std::chrono::nanoseconds duration);

}  // namespace framering::ingest
