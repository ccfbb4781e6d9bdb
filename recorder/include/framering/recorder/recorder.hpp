// `framering record`: reads a camera's packet ring and writes continuous stream-copied segments
// (fragmented MP4, each starting at a keyframe, named by camera and UTC start) with retention by
// age and total size. docs/recording.md.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "framering/workers/mqtt_settings.hpp"

namespace framering::recorder {

struct RecorderOptions {
  std::string ring;
  // Continuous segments (off: a clips-only recorder, `--no-segments`, and `dir` stays "").
  bool segments = true;
  std::string dir;              // segments go to <dir>/<camera>/
  std::string camera;           // "": the ring name
  double segment_seconds = 60;  // a new segment at the first keyframe after this long
  double retain_hours = 24;     // 0: no age limit
  double retain_gb = 0;         // 0: no size limit
  // Event clips (all three set, or none): <clips_dir>/<camera>/<event-id>.mp4 around each event
  // of this camera in the events file, `pre_s` before its start to `post_s` after its end.
  std::string clips_dir;
  std::string events_path;
  double pre_s = 5;
  double post_s = 5;
  // A clip is finished at this length even while its events are open: a worker killed with
  // kill -9 never writes their end.
  double max_clip_s = 300;
  std::vector<std::string> clip_kinds;  // event kinds that get clips ("motion", ...); empty: all
  // Clip updates also go to this broker, on <prefix>/<camera>/events (QoS 1), with the workers'
  // MQTT client; mqtt.url "" = the events file only.
  workers::MqttSettings mqtt;
  std::string metrics_addr;  // "": no metrics endpoint
  std::string log_level = "info";
};

// Runs until SIGINT/SIGTERM. Returns the exit code (0 ok, 1 runtime failure, 2 usage, 4 ring).
int run_recorder(const RecorderOptions& options);

}  // namespace framering::recorder
