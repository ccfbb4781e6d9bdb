// Event clips: <clips>/<camera>/<event-id>.mp4 from `pre` seconds before an event's start
// (from the packet history, at the keyframe at or before that point) to `post` seconds after
// its end, by the frames' capture times; events that overlap extend one clip, up to
// `max_clip_s`. A clip always starts at a keyframe, and a reconnect or looped source inside it
// resumes at the next keyframe with the file's time going on. The clip's path is appended to
// the events file as an `update` line of the event. Reads the workers' JSON-lines events file
// as it grows, and again from the start when it is truncated or replaced (log rotation).
#pragma once

#include <cstdint>
#include <deque>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "framering/metrics/catalogue.hpp"
#include "framering/ringbuf/packet_ring.hpp"
#include "segment_writer.hpp"

namespace framering::recorder {

struct ClipOptions {
  std::string clips_dir;
  std::string events_path;
  std::string camera;
  std::string ring;
  double pre_s = 5;
  double post_s = 5;
  std::vector<std::string> kinds;  // empty: every kind
  // Also given each clip update (one JSON object, no newline), e.g. to publish it over MQTT.
  std::function<void(const std::string&)> publish_update;
  // A clip is finished at this length even while events are open: a worker killed outright
  // never writes their end. Its open events are forgotten with it.
  double max_clip_s = 300;
};

class ClipMaker {
 public:
  ClipMaker(ClipOptions options, metrics::RecorderMetrics& metrics);
  ~ClipMaker();
  ClipMaker(const ClipMaker&) = delete;
  ClipMaker& operator=(const ClipMaker&) = delete;

  // Every packet the recorder reads, in order, after it was used (still valid).
  void on_packet(ring::PacketReader& reader, const ring::PacketView& packet);
  // New lines of the events file (looked at every 100 ms at most); finishes a clip whose end
  // time has passed even if no packet arrives any more.
  void poll(ring::PacketReader& reader);
  // Packets were lost (lapped) or a new ingest started: the clip so far is finished as it is,
  // and the history index restarts.
  void discontinuity();
  void finish_clip();

 private:
  struct Indexed {
    std::uint64_t position;
    std::uint64_t capture_ns;
    bool keyframe;
  };
  struct Clip {
    std::string id;  // the first event's id: the file name
    std::string kind, analytic;
    std::uint64_t start_time_ns = 0;
    std::set<std::string> open_events;
    std::uint64_t until_ns = 0;   // capture time it ends at; 0 while an event is open
    std::uint64_t opened_ns = 0;  // wall time it was started
    bool await_keyframe = false;  // drop packets until a keyframe (start, or after a gap)
    std::filesystem::path path;
    std::unique_ptr<SegmentWriter> writer;
  };

  void read_events(ring::PacketReader& reader);
  void on_event_line(ring::PacketReader& reader, const std::string& line);
  void write_pre_roll(ring::PacketReader& reader, Clip& clip, std::uint64_t want_ns);
  void check_pre_roll_fits(const ring::PacketRingInfo& info);
  void start_clip(ring::PacketReader& reader, const std::string& id, const std::string& kind,
                  const std::string& analytic, std::uint64_t start_ns);
  void publish_clip_path(const Clip& clip);

  ClipOptions options_;
  metrics::RecorderMetrics& metrics_;
  std::deque<Indexed> index_;
  std::optional<Clip> clip_;
  // The events file as last opened: a new inode is a new file (rotated), read from its start.
  int events_fd_ = -1;
  std::uint64_t events_inode_ = 0;
  std::uint64_t events_offset_ = 0;
  std::uint64_t last_events_look_ns_ = 0;  // monotonic
  std::string partial_line_;
  std::uint64_t pre_checked_epoch_ = 0;
};

}  // namespace framering::recorder
