// What an analytic sees about a frame besides its pixels, and what it reports back.
#pragma once

#include <nlohmann/json.hpp>
#include <opencv2/core.hpp>

#include <cstdint>
#include <string>
#include <vector>

#include "framering/ringbuf/layout.hpp"

namespace framering::workers {

// The ring's stream as an analytic sees it; analytics (re)build their state from this at
// start-up and whenever a new writer replaces the ring (its geometry may differ).
struct StreamInfo {
  cv::Size ring_size;  // full frame, ring pixels
  cv::Rect band;       // the part this worker analyses (the whole frame unless --tiles)
  int cv_type = 0;     // CV_8UC3, CV_8UC1, ... of the frame view
  ring::PixFmt pix_fmt = ring::PixFmt::kRaw;
  double fps = 0.0;  // nominal rate, 0 when unknown
};

struct FrameContext {
  std::uint64_t frame_no = 0;
  std::uint64_t seq = 0;
  std::int64_t pts_ns = 0;
  std::uint64_t capture_realtime_ns = 0;
};

// Where an event stands in its lifecycle. An analytic reports what it knows about one subject
// (the motion episode, one tamper reason, the people in view, a track or a zone); the runtime
// gives each lifecycle its id, start time and snapshot and writes start/update/end lines.
enum class Phase {
  kStart,        // a subject appeared: opens a lifecycle (a new id) and takes a snapshot
  kUpdate,       // it changed (count, boxes): same id
  kEnd,          // it is over: same id, then the id is forgotten
  kFrame,        // a per-frame verification record (checksum): written, no lifecycle
  kMeasurement,  // a per-frame measurement: debug log only, never an event line
};

// "start", "update", "end", "frame", "measurement": the event's `type` in JSON and on MQTT.
const char* phase_name(Phase phase);

// One event. Boxes and outlines are in pixels of the analysed view (the band); the runtime moves
// them into ring pixels before writing.
struct Event {
  std::string kind;  // what happened: "motion", "tamper", "people", "checksum", ...
  Phase phase = Phase::kFrame;
  // Which lifecycle of this analytic the event belongs to: "" when the analytic has one at a
  // time (motion, people), else e.g. the tamper reason, a zone name or a track id.
  std::string subject;
  std::vector<cv::Rect> boxes;
  std::vector<double> scores;
  // Closed polygons drawn on the snapshot and reported as "zones" (e.g. motion zones).
  std::vector<std::vector<cv::Point>> outlines;
  nlohmann::json fields = nlohmann::json::object();  // analytic-specific ("crc32", "reason", ...)
  // On a start: the kind of the end the runtime writes itself when it closes this lifecycle
  // (worker stop, stream replaced), when the analytic's own end has another kind than its
  // start (objects: object_enter ... object_leave). "" means the start's kind.
  std::string end_kind;
};

}  // namespace framering::workers
