// Writes events as JSON lines (one object per line, flushed per event) to a file or stdout, in
// the schema of docs/events.md (schema_version kEventSchemaVersion).
#pragma once

#include <cstdio>
#include <string>

#include "framering/workers/event.hpp"

namespace framering::workers {

inline constexpr int kEventSchemaVersion = 1;

struct Lifecycle;

// The fields every event line carries besides the event's own.
struct EventSource {
  std::string camera;
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

  // The event's JSON object (also what MQTT publishes). `life` is its lifecycle (id, start,
  // snapshot), nullptr for a frame record or an update/end whose start this worker never saw.
  // `offset` moves band-relative boxes and outlines into ring pixels.
  nlohmann::ordered_json to_json(const Event& event, const Lifecycle* life, const FrameContext& ctx,
                                 cv::Point offset, std::uint64_t wall_time_ns) const;
  // One line, flushed.
  void write(const nlohmann::ordered_json& event);

 private:
  EventSource source_;
  std::FILE* out_ = nullptr;
  bool owned_ = false;
  std::string path_;
};

}  // namespace framering::workers
