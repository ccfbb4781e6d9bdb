#include "framering/supervisor/child_plan.hpp"

#include <cstdio>

#include "framering/ingest/redact.hpp"

namespace framering::supervisor {

namespace {

std::string metrics_addr(const MetricsConfig& m, std::uint32_t port) {
  return m.enabled ? m.bind + ":" + std::to_string(port) : "0";
}

}  // namespace

namespace {
// "30", "2.5": a number as a flag value, without trailing zeros.
std::string number_text(double value) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", value);
  return buf;
}
// The `mqtt:` section for a child that publishes events (a worker, a recorder's clip updates):
// the URL, which may carry a password, in its environment (readable only by the same user),
// never on its command line.
void add_mqtt(const MqttConfig& mqtt, ChildSpec& child) {
  if (mqtt.url.empty()) return;
  child.env.push_back("FRAMERING_MQTT_URL=" + mqtt.url);
  auto& b = child.args;
  b.insert(b.end(), {"--mqtt-topic-prefix", mqtt.topic_prefix});
  if (!mqtt.ca_file.empty()) b.insert(b.end(), {"--mqtt-ca", mqtt.ca_file});
  if (mqtt.queue) b.insert(b.end(), {"--mqtt-queue", std::to_string(*mqtt.queue)});
}

}  // namespace

namespace {
// The ingest of a camera's record.source: its packets into framering.<ring>.packets, where the
// recorder reads them, and nothing decoded (the workers' frames come from `detect:`). Pacing
// and retries follow the camera's, so both streams of a camera behave alike.
ChildSpec packets_ingest(const CameraConfig& cam, const Config& config, std::string addr,
                         const PlanOptions& options) {
  const RecordConfig& r = *cam.record;
  ChildSpec in;
  in.kind = ChildKind::kIngest;
  in.packets_only = true;
  in.label = cam.name + "/record-ingest";
  in.camera = cam.name;
  in.ring = cam.ring;
  in.metrics_addr = std::move(addr);
  in.config_line = r.line;
  in.secrets = framering::ingest::source_secrets(r.source);
  auto& a = in.args;
  a = {"ingest", "--ring",         cam.ring,           "--source",
       r.source, "--packets-only", "--packet-history", number_text(r.history_s) + "s"};
  if (cam.realtime) a.push_back("--realtime");
  if (cam.loop) a.push_back("--loop");
  if (cam.max_retries) a.insert(a.end(), {"--max-retries", std::to_string(*cam.max_retries)});
  a.insert(a.end(), {"--metrics-addr", in.metrics_addr});
  if (config.shm.mode) a.insert(a.end(), {"--shm-mode", *config.shm.mode});
  if (config.shm.group) a.insert(a.end(), {"--shm-group", *config.shm.group});
  a.insert(a.end(), {"--log-level", options.log_level});
  return in;
}
}  // namespace

std::vector<ChildSpec> plan_children(const Config& config, const PlanOptions& options) {
  std::vector<ChildSpec> plan;
  const std::uint32_t base = options.metrics_base_port.value_or(config.metrics.base_port);
  std::uint32_t port = base;
  for (const CameraConfig& cam : config.cameras) {
    ChildSpec ingest;
    ingest.kind = ChildKind::kIngest;
    ingest.label = cam.name + "/ingest";
    ingest.camera = cam.name;
    ingest.ring = cam.ring;
    ingest.metrics_addr = metrics_addr(config.metrics, port++);
    ingest.config_line = cam.line;
    ingest.secrets = framering::ingest::source_secrets(cam.source);
    auto& a = ingest.args;
    a = {"ingest", "--ring", cam.ring, "--source", cam.source};
    if (cam.width) a.insert(a.end(), {"--width", std::to_string(*cam.width)});
    if (cam.height) a.insert(a.end(), {"--height", std::to_string(*cam.height)});
    if (cam.pix_fmt) a.insert(a.end(), {"--pix-fmt", *cam.pix_fmt});
    if (cam.slots) a.insert(a.end(), {"--slots", std::to_string(*cam.slots)});
    if (cam.realtime) a.push_back("--realtime");
    if (cam.loop) a.push_back("--loop");
    if (cam.max_frames) a.insert(a.end(), {"--max-frames", std::to_string(*cam.max_frames)});
    if (cam.max_retries) a.insert(a.end(), {"--max-retries", std::to_string(*cam.max_retries)});
    if (cam.decode_threads) {
      a.insert(a.end(), {"--decode-threads", std::to_string(*cam.decode_threads)});
    }
    if (cam.decode) a.insert(a.end(), {"--decode", *cam.decode});
    if (cam.fps) a.insert(a.end(), {"--fps", std::to_string(*cam.fps)});
    if (cam.wait_for_workers) {
      std::uint32_t processes = 0;
      for (const WorkerConfig& w : cam.workers) processes += w.replicas;
      if (processes) a.insert(a.end(), {"--wait-for-readers", std::to_string(processes)});
    }
    a.insert(a.end(), {"--metrics-addr", ingest.metrics_addr});
    if (cam.preview) {
      ingest.preview_addr =
          cam.preview->find(':') == std::string::npos ? "127.0.0.1:" + *cam.preview : *cam.preview;
      a.insert(a.end(), {"--preview-addr", ingest.preview_addr});
      if (cam.preview_host) a.insert(a.end(), {"--preview-host", *cam.preview_host});
      // The /preview page draws the newest worker boxes from the file the supervisor appends
      // every worker's events to.
      if (!config.events.path.empty()) {
        a.insert(a.end(), {"--preview-events", config.events.path});
      }
      // and serves the workers' snapshots next to it.
      if (!config.snapshots.dir.empty()) {
        a.insert(a.end(), {"--preview-snapshots", config.snapshots.dir});
      }
    }
    if (config.shm.mode) a.insert(a.end(), {"--shm-mode", *config.shm.mode});
    if (config.shm.group) a.insert(a.end(), {"--shm-group", *config.shm.group});
    if (cam.record && cam.record->source.empty())
      a.insert(a.end(), {"--packet-history", number_text(cam.record->history_s) + "s"});
    a.insert(a.end(), {"--log-level", options.log_level});
    plan.push_back(std::move(ingest));

    for (const WorkerConfig& w : cam.workers) {
      for (std::uint32_t member = 0; member < w.replicas; ++member) {
        ChildSpec worker;
        worker.kind = ChildKind::kWorker;
        worker.camera = cam.name;
        worker.ring = cam.ring;
        worker.analytic = w.analytic;
        worker.worker_id = w.replicas > 1 ? w.name + "-" + std::to_string(member) : w.name;
        worker.label = cam.name + "/" + worker.worker_id;
        worker.metrics_addr = metrics_addr(config.metrics, port++);
        worker.config_line = w.line;
        auto& b = worker.args;
        b = {"worker", "--ring", cam.ring, "--analytic", w.analytic, "--mode", w.mode};
        if (w.replicas > 1) {
          b.insert(b.end(), {"--group", w.name, "--member", std::to_string(member), "--members",
                             std::to_string(w.replicas)});
        }
        if (w.tiles) b.push_back("--tiles");
        // Events come back on stdout: the supervisor counts them and appends them to one file.
        b.insert(b.end(), {"--events", "-", "--name", worker.worker_id, "--camera", cam.name});
        add_mqtt(config.mqtt, worker);
        if (!config.snapshots.dir.empty()) {
          b.insert(b.end(), {"--snapshots", config.snapshots.dir});
          if (config.snapshots.keep)
            b.insert(b.end(), {"--snapshot-keep", std::to_string(*config.snapshots.keep)});
          if (config.snapshots.max_age_s) {
            b.insert(b.end(), {"--snapshot-max-age", std::to_string(*config.snapshots.max_age_s)});
          }
        }
        for (const auto& [key, value] : w.params) b.insert(b.end(), {"--param", key + "=" + value});
        if (w.max_frames) b.insert(b.end(), {"--max-frames", std::to_string(*w.max_frames)});
        b.insert(b.end(),
                 {"--metrics-addr", worker.metrics_addr, "--log-level", options.log_level});
        plan.push_back(std::move(worker));
      }
    }
    if (cam.record && !cam.record->source.empty()) {
      plan.push_back(packets_ingest(cam, config, metrics_addr(config.metrics, port++), options));
    }
    if (cam.record) {
      const RecordConfig& r = *cam.record;
      ChildSpec rec;
      rec.kind = ChildKind::kRecorder;
      rec.camera = cam.name;
      rec.ring = cam.ring;
      rec.label = cam.name + "/record";
      rec.metrics_addr = metrics_addr(config.metrics, port++);
      rec.config_line = r.line;
      rec.args = {"record",
                  "--ring",
                  cam.ring,
                  "--camera",
                  cam.name,
                  "--segment-seconds",
                  number_text(r.segment_seconds),
                  "--retain-hours",
                  number_text(r.retain_hours),
                  "--retain-gb",
                  number_text(r.retain_gb)};
      if (r.segments) {
        rec.args.insert(rec.args.end(), {"--dir", r.dir});
      } else {
        rec.args.push_back("--no-segments");
      }
      if (!r.clips_dir.empty()) {
        rec.args.insert(
            rec.args.end(),
            {"--clips", r.clips_dir, "--events", config.events.path, "--pre", number_text(r.pre_s),
             "--post", number_text(r.post_s), "--max-clip-seconds", number_text(r.max_clip_s)});
        if (!r.clip_kinds.empty()) {
          std::string kinds;
          for (const std::string& k : r.clip_kinds) kinds += (kinds.empty() ? "" : ",") + k;
          rec.args.insert(rec.args.end(), {"--clip-kinds", kinds});
        }
        add_mqtt(config.mqtt, rec);  // clip updates go where the events go
      }
      rec.args.insert(rec.args.end(),
                      {"--metrics-addr", rec.metrics_addr, "--log-level", options.log_level});
      plan.push_back(std::move(rec));
    }
  }
  if (config.metrics.enabled && port - 1 > 65535) {
    throw ConfigError(config.origin, 0, "metrics.base_port",
                      "ports " + std::to_string(base) + ".." + std::to_string(port - 1) +
                          " run past 65535; choose a lower base port");
  }
  return plan;
}

std::string printable_command(const ChildSpec& child) {
  std::string out = "framering";
  for (const std::string& arg : child.args) {
    const std::string shown = framering::ingest::redact_urls(arg);
    const bool plain =
        !shown.empty() && shown.find_first_of(" \t'\"$;&|<>*?()") == std::string::npos;
    out += " " + (plain ? shown : "'" + shown + "'");
  }
  return out;
}

std::string printable_output(const ChildSpec& child, std::string_view text) {
  return framering::ingest::redact_text(framering::ingest::redact_urls(text), child.secrets);
}

}  // namespace framering::supervisor
