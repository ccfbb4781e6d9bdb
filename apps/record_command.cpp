// `framering record`: flags -> RecorderOptions -> run_recorder() (recorder/ does the work).
#include <CLI/CLI.hpp>

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>

#include "argv_secrets.hpp"
#include "commands.hpp"
#include "framering/recorder/recorder.hpp"
#include "framering/ringbuf/error.hpp"
#include "framering/ringbuf/names.hpp"

namespace framering::cli {

namespace {

// What the recorder writes: segments (--dir), clips (--clips), or both; never nothing.
std::string output_problem(const recorder::RecorderOptions& o) {
  if (o.segments && o.dir.empty())
    return "--dir is required: where should the segments go? (or --no-segments with --clips for "
           "event clips only)";
  if (!o.segments && !o.dir.empty())
    return "--dir names a segments directory but --no-segments writes none; drop one of them";
  if (!o.segments && o.clips_dir.empty())
    return "--no-segments without --clips leaves nothing to record; give --clips and --events, "
           "or drop --no-segments";
  return {};
}

}  // namespace

void add_record_command(CLI::App& app, int& exit_code) {
  auto o = std::make_shared<recorder::RecorderOptions>();
  auto* sub = app.add_subcommand(
      "record",
      "write a camera's compressed packets (from `framering ingest --packet-history`) into\n"
      "  stream-copied MP4 segments, no re-encode: <DIR>/<camera>/<camera>-<UTC start>.mp4");
  sub->add_option("--ring", o->ring, "ring name: reads /dev/shm/framering.<NAME>.packets")
      ->required();
  sub->add_option("--dir", o->dir,
                  "directory for segments (a subdirectory per camera); required unless "
                  "--no-segments");
  auto no_segments = std::make_shared<bool>(false);
  sub->add_flag("--no-segments", *no_segments,
                "write no continuous segments, only event clips (needs --clips)");
  sub->add_option("--camera", o->camera, "camera name in paths (default: the ring name)");
  sub->add_option("--segment-seconds", o->segment_seconds,
                  "start a new segment at the first keyframe after this many seconds")
      ->capture_default_str()
      ->check(CLI::Range(1.0, 86400.0));
  sub->add_option("--retain-hours", o->retain_hours, "delete segments older than this (0: never)")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 1e6));
  sub->add_option("--retain-gb", o->retain_gb,
                  "delete the oldest segments while all exceed this many GB (0: no limit)")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 1e6));
  auto* clips = sub->add_option("--clips", o->clips_dir,
                                "write event clips to <DIR>/<camera>/<event-id>.mp4");
  auto* events = sub->add_option("--events", o->events_path,
                                 "the workers' events file (JSON lines) to make clips from");
  clips->needs(events);
  events->needs(clips);
  sub->add_option("--pre", o->pre_s, "clip seconds before an event starts")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 600.0));
  sub->add_option("--post", o->post_s, "clip seconds after an event ends")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 600.0));
  sub->add_option("--max-clip-seconds", o->max_clip_s,
                  "finish a clip at this length even if its events have not ended (a worker "
                  "killed outright never ends them)")
      ->capture_default_str()
      ->check(CLI::Range(1.0, 86400.0));
  sub->add_option("--clip-kinds", o->clip_kinds,
                  "event kinds that get clips, comma-separated (default: all), e.g. motion,people")
      ->delimiter(',');
  auto* mqtt = sub->add_option(
      "--mqtt", o->mqtt.url,
      "also publish each clip update to this MQTT broker, on <prefix>/<camera>/events (QoS 1): "
      "mqtt://[user:password@]host[:port] or mqtts://... (TLS). Prefer the FRAMERING_MQTT_URL "
      "environment variable, read when --mqtt is absent");
  mqtt->needs(clips);
  sub->add_option("--mqtt-topic-prefix", o->mqtt.topic_prefix,
                  "topics are <prefix>/<camera>/events and <prefix>/<camera>/record/available")
      ->capture_default_str();
  sub->add_option("--mqtt-ca", o->mqtt.ca_file,
                  "CA certificate file for mqtts:// (default: the system's certificates)");
  sub->add_option("--mqtt-queue", o->mqtt.queue,
                  "clip updates kept while the broker is unreachable (the oldest dropped beyond)")
      ->capture_default_str();
  sub->add_option("--metrics-addr", o->metrics_addr,
                  "serve Prometheus metrics on HOST:PORT (default: none)");
  sub->add_option("--log-level", o->log_level, "trace, debug, info, warn, error")
      ->capture_default_str();
  auto check_config = std::make_shared<bool>(false);
  sub->add_flag("--check-config", *check_config, "validate the flags, then exit 0 or 2");
  sub->callback([o, check_config, no_segments, &exit_code] {
    o->segments = !*no_segments;
    if (const std::string problem = output_problem(*o); !problem.empty()) {
      std::fprintf(stderr, "framering record: %s\n", problem.c_str());
      exit_code = 2;
      return;
    }
    // The broker URL may carry a password: `framering run` passes it in the environment (readable
    // only by the same user), never in argv. Clip updates are all the recorder sends, so without
    // --clips there is nothing to publish and the variable is not used.
    if (const char* url = std::getenv("FRAMERING_MQTT_URL");
        o->mqtt.url.empty() && !o->clips_dir.empty() && url && *url) {
      o->mqtt.url = url;
    }
    if (*check_config) {
      try {
        ring::validate_ring_name(o->ring);
        if (!o->mqtt.url.empty()) workers::check_mqtt_settings(o->mqtt);
      } catch (const std::exception& e) {
        std::fprintf(stderr, "framering record: %s\n", redacted(e.what()).c_str());
        exit_code = 2;
        return;
      }
      std::fprintf(stderr, "framering record: configuration OK\n");
      exit_code = 0;
      return;
    }
    exit_code = recorder::run_recorder(*o);
  });
}

}  // namespace framering::cli
