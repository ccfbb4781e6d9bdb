// Everything that happens to a worker's events after analysis: lifecycle ids, the start
// snapshot, the JSON-lines sink, MQTT (events and retained state), metrics; per-frame
// measurements only reach the debug log.
#pragma once

#include <functional>
#include <memory>
#include <vector>

#include "framering/workers/event.hpp"
#include "framering/workers/event_sink.hpp"
#include "framering/workers/log.hpp"
#include "framering/workers/mqtt_publisher.hpp"
#include "lifecycles.hpp"
#include "report.hpp"
#include "snapshots.hpp"

namespace framering::workers {

// The frame the events came from, for snapshots: the whole ring frame (read-only view into the
// slot) and a check that it is still intact.
struct SourceFrame {
  cv::Mat full;
  ring::PixFmt pix_fmt = ring::PixFmt::kRaw;
  std::function<bool()> still_valid;
};

class EventOutput {
 public:
  // mqtt and snapshots may be null (off).
  EventOutput(EventSink& sink, std::string analytic, Log log, Report& report,
              std::unique_ptr<MqttPublisher> mqtt, std::unique_ptr<Snapshots> snapshots);

  // The events of one validated frame. `offset` moves band pixels into ring pixels.
  void frame(const std::vector<Event>& events, const FrameContext& ctx, cv::Point offset,
             const SourceFrame& source);
  // Ends every open lifecycle (end_reason `reason`), e.g. when the worker stops or the stream
  // is replaced; `ctx` is the last frame seen.
  void close_all(const std::string& reason, const FrameContext& ctx);

 private:
  void write(const Event& event, const FrameContext& ctx, cv::Point offset,
             const SourceFrame* source);
  void measurement(const Event& event, const FrameContext& ctx) const;
  // Writes <name>.jpg of `source` with the event's boxes and outlines; its path, or "".
  std::string snapshot(const std::string& name, const Event& event, cv::Point offset,
                       const SourceFrame& source);

  EventSink& sink_;
  std::string analytic_;
  Log log_;
  Report& report_;
  Lifecycles lifecycles_;
  std::unique_ptr<Snapshots> snapshots_;
  std::unique_ptr<MqttPublisher> mqtt_;  // last: destroyed (flushed) first
};

}  // namespace framering::workers
