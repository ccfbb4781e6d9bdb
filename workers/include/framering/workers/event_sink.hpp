// Writes events as JSON lines (one object per line, flushed per event) to a file or stdout.
#pragma once

#include <cstdio>
#include <string>

#include "framering/workers/event.hpp"

namespace framering::workers {

// The fields every event line carries besides the event's own.
struct EventSource {
  std::string ring;
  std::string worker;
  std::string analytic;
};

class EventSink {
 public:
  // "-" is stdout; anything else is a file opened for appending (a restarted worker continues
  // the same log). Throws ConfigError naming --events when it cannot be opened.
  EventSink(const std::string& path, EventSource source);
  ~EventSink();
  EventSink(const EventSink&) = delete;
  EventSink& operator=(const EventSink&) = delete;

  // `offset` moves band-relative boxes into ring pixels.
  void write(const Event& event, const FrameContext& ctx, cv::Point offset);
  // The JSON object write() would emit (for tests and for other sinks).
  nlohmann::ordered_json to_json(const Event& event, const FrameContext& ctx, cv::Point offset,
                                 std::uint64_t wall_time_ns) const;

 private:
  EventSource source_;
  std::FILE* out_ = nullptr;
  bool owned_ = false;
  std::string path_;
};

}  // namespace framering::workers
