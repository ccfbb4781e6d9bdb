// The `framering run` configuration: cameras, their workers, metrics, events and shm settings,
// in the style of Frigate's config.yml. parse_config() is a pure function over the YAML text (no
// filesystem access) so it can be unit-tested and fuzzed; check_sources() is the one step that
// looks at the filesystem.
#pragma once

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace framering::supervisor {

// A config problem. what() is the full message: "<origin>:<line>: <key>: <problem>; <what to do>".
class ConfigError : public std::runtime_error {
 public:
  ConfigError(const std::string& origin, int line, const std::string& key,
              const std::string& problem);
  int line() const noexcept { return line_; }  // 1-based; 0 when the error has no position
  const std::string& key() const noexcept { return key_; }

 private:
  int line_;
  std::string key_;
};

struct WorkerConfig {
  std::string name;             // key under `workers:`; the group name when replicas > 1
  std::string analytic;         // motion | people | tamper | checksum
  std::string mode = "latest";  // every | latest
  std::uint32_t replicas = 1;   // > 1: a consumer group of that many members
  bool tiles = false;
  // Analytic settings in config order, each passed as `--param key=value`. The zone polygon
  // becomes `zone=x,y;x,y;...` (fractions of width/height).
  std::vector<std::pair<std::string, std::string>> params;
  std::optional<std::uint64_t> max_frames;
  int line = 0;
};

// `record:` of a camera: `framering record` beside its workers (docs/recording.md).
struct RecordConfig {
  bool segments = true;  // `segments: false`: event clips only, no dir
  std::string dir;       // segments in <dir>/<camera>/
  double segment_seconds = 60;
  double retain_hours = 24;
  double retain_gb = 0;   // 0: no size limit
  double history_s = 30;  // the ingest's --packet-history
  // `record.source`: the stream stored (a camera's main stream) when the workers see another
  // (`detect:`); ingested on its own without decoding (ingest --packets-only). "": the
  // camera's one `source:` is both decoded and stored.
  std::string source;
  int source_line = 0;
  std::string clips_dir;  // "": no clips; else clips of events.path's events
  double pre_s = 5;
  double post_s = 5;
  double max_clip_s = 300;              // a clip is finished at this length, events open or not
  std::vector<std::string> clip_kinds;  // event kinds that get clips; empty: all
  int line = 0;
};

struct CameraConfig {
  std::string name;  // key under `cameras:`; also the ring name unless `ring:` is given
  std::string ring;
  std::string source;  // file path | rtsp://... | testsrc:<lavfi graph> | npy:<dir or glob>
  // "source" or "detect": the key `source` came from. `detect:` names the stream decoded for
  // the workers (a low-resolution sub-stream) whose packets are never stored; record.source
  // names the stored one.
  std::string source_key = "source";
  std::optional<std::uint32_t> width;
  std::optional<std::uint32_t> height;
  std::optional<std::string> pix_fmt;
  std::optional<std::uint32_t> slots;
  bool realtime = false;
  bool loop = false;
  std::optional<std::uint64_t> max_frames;
  std::optional<std::uint32_t> max_retries;
  std::optional<std::uint32_t> decode_threads;
  std::optional<std::string> decode;  // ingest --decode: all | keyframes
  std::optional<double> fps;          // ingest --fps: publish at most this many frames/s
  // Files: ingest waits for all of this camera's worker processes and never overwrites a frame
  // one of them has not read (ingest --wait-for-readers <worker processes>).
  bool wait_for_workers = false;
  // The ingest's opt-in picture server (ingest --preview-addr, --preview-host); off when unset.
  std::optional<std::string> preview;
  std::optional<std::string> preview_host;
  std::vector<WorkerConfig> workers;
  std::optional<RecordConfig> record;
  int line = 0;
  int source_line = 0;
};

struct MetricsConfig {
  bool enabled = true;
  std::string bind = "127.0.0.1";
  std::uint16_t base_port = 9464;  // ingest of the first camera; every other child takes the next
};

struct EventsConfig {
  std::string path;  // JSON-lines file the supervisor appends every worker's events to; "" = none
};

// `mqtt:` — every worker of this host publishes its events to one broker (and every recorder
// with clips its clip updates).
struct MqttConfig {
  std::string url;  // mqtt[s]://[user:password@]host[:port]; "" = no MQTT. Reaches the children
                    // in their environment (FRAMERING_MQTT_URL), never on a command line.
  std::string topic_prefix = "framering";
  std::string ca_file;
  std::optional<std::uint64_t> queue;
};

// `snapshots:` — JPEG of each event's start frame.
struct SnapshotsConfig {
  std::string dir;  // "" = none
  std::optional<std::uint64_t> keep;
  std::optional<double> max_age_s;
};

struct ShmConfig {
  std::optional<std::string> mode;  // octal, e.g. "0640" (never group/other write)
  std::optional<std::string> group;
};

struct SupervisorSettings {
  double stop_grace_s = 3.0;       // SIGTERM → SIGKILL
  double restart_backoff_s = 0.5;  // first restart delay, doubled per crash
  double restart_backoff_max_s = 30.0;
  // A child up this long before it crashes is restarted after restart_backoff again.
  double stable_run_s = 10.0;
  double progress_interval_s = 5.0;  // plain log lines when stderr is not a terminal
};

struct Config {
  std::string origin;  // file name used in messages
  std::vector<CameraConfig> cameras;
  MetricsConfig metrics;
  EventsConfig events;
  MqttConfig mqtt;
  SnapshotsConfig snapshots;
  ShmConfig shm;
  SupervisorSettings supervisor;
};

// Parses and validates a config. Throws ConfigError naming the key and line on unknown keys,
// wrong types, bad values and duplicates. Touches nothing outside its arguments.
Config parse_config(std::string_view yaml_text, const std::string& origin);

// Reads `path` and parses it. Throws ConfigError when the file cannot be read.
Config load_config_file(const std::string& path);

// Checks that file sources (and npy directories) exist. Throws ConfigError naming the camera's
// `source` key and line.
void check_sources(const Config& config);

}  // namespace framering::supervisor
