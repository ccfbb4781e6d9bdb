// `framering worker`: analyse frames of a ring in place (motion, people, objects, tamper,
// checksum).
#include <CLI/CLI.hpp>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <memory>

#include "argv_secrets.hpp"
#include "commands.hpp"
#include "framering/metrics/catalogue.hpp"
#include "framering/workers/analytic.hpp"
#include "framering/workers/config_error.hpp"
#include "framering/workers/runtime.hpp"

namespace framering::cli {

namespace {

std::atomic<bool> g_stop{false};

void on_worker_stop_signal(int) {
  g_stop.store(true, std::memory_order_relaxed);
}

// No SA_RESTART: a blocking wait returns early and the loop sees the flag within ~100 ms.
void install_stop_handlers() {
  struct sigaction sa {};
  sa.sa_handler = on_worker_stop_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
}

struct WorkerCli {
  workers::WorkerOptions options;
  std::string mode = "latest";
  std::string log_level = "info";
  bool check_config = false;
  bool metrics_addr_given = false;
};

int run(WorkerCli& cli) {
  workers::WorkerOptions& o = cli.options;
  // The broker URL may carry a password: `framering run` passes it in the environment (readable
  // only by the same user), never in argv.
  if (const char* url = std::getenv("FRAMERING_MQTT_URL"); o.mqtt_url.empty() && url && *url)
    o.mqtt_url = url;
  o.metrics_port_search = !cli.metrics_addr_given;
  o.mode = cli.mode == "every" ? workers::FollowMode::kEvery : workers::FollowMode::kLatest;
  if (!workers::parse_log_level(cli.log_level, o.log_level)) {
    std::fprintf(stderr, "framering worker: --log-level %s: use debug, info, warn or error\n",
                 redacted(cli.log_level).c_str());
    return 2;
  }
  if (cli.check_config) {
    try {
      workers::validate(o);
    } catch (const workers::ConfigError& e) {
      std::fprintf(stderr, "framering worker: %s\n", redacted(e.what()).c_str());
      return 2;
    }
    std::printf("framering worker: configuration ok (ring '%s', analytic '%s', worker '%s')\n",
                o.ring.c_str(), o.analytic.c_str(), o.name.c_str());
    return 0;
  }
  install_stop_handlers();
  return workers::run_worker(o, g_stop);
}

}  // namespace

void add_worker_command(CLI::App& app, int& exit_code) {
  auto cli = std::make_shared<WorkerCli>();
  auto& o = cli->options;
  o.metrics_addr = metrics::kWorkerDefaultAddr;
  auto* sub = app.add_subcommand(
      "worker",
      "analyse frames of a ring in place (motion, people, objects, tamper, checksum).\n"
      "Waits for the ring to appear and survives ingest restarts; exits 0 on SIGINT/SIGTERM.\n"
      "Example: framering worker --ring cam0 --analytic motion --param min_area=400 --events "
      "events.jsonl");
  sub->add_option("--ring", o.ring, "ring name (/dev/shm/framering.<NAME>)")->required();
  sub->add_option("--analytic", o.analytic, "what to run on each frame")
      ->required()
      ->check(CLI::IsMember(workers::analytic_names()));
  sub->add_option("--mode", cli->mode,
                  "latest: always the newest frame (live; older ones are skipped); "
                  "every: each frame in order (batch/recording; overwritten ones count as lapped)")
      ->check(CLI::IsMember({"latest", "every"}))
      ->capture_default_str();
  auto* group =
      sub->add_option("--group", o.group, "consumer group name (members split one stream)");
  auto* member =
      sub->add_option("--member", o.share.member, "this member's index, 0..N-1")->needs(group);
  auto* members = sub->add_option("--members", o.share.members,
                                  "number of members N: member I takes frames "
                                  "with frame_no % N == I")
                      ->needs(group)
                      ->check(CLI::Range(1u, 4096u));
  group->needs(member)->needs(members);
  sub->add_flag("--tiles", o.share.tiles,
                "split every frame into N horizontal bands instead; member I analyses band I")
      ->needs(group);
  sub->add_option("--events", o.events,
                  "where events go: a JSON-lines file (appended) or - for stdout")
      ->capture_default_str();
  sub->add_option("--param", o.params,
                  "analytic setting key=value (repeatable); see workers/README.md");
  sub->add_option("--name", o.name,
                  "worker id for metrics, stats and events (default <analytic>[-<member>])");
  sub->add_option("--max-frames", o.max_frames,
                  "exit 0 after analysing N frames (0 = run until stopped)");
  auto* metrics_opt =
      sub->add_option("--metrics-addr", o.metrics_addr,
                      "HOST:PORT of /metrics (\"0\" disables); by default the first free port from "
                      "127.0.0.1:9465 on, so several workers on a host need no flags")
          ->capture_default_str();
  sub->add_option("--camera", o.camera,
                  "camera name in events, MQTT topics and snapshot paths (default: the ring)");
  sub->add_option("--mqtt", o.mqtt_url,
                  "publish events to this MQTT broker: mqtt://[user:password@]host[:port] or "
                  "mqtts://... (TLS). A password here is masked in the process list, but prefer "
                  "the FRAMERING_MQTT_URL environment variable, read when --mqtt is absent");
  sub->add_option("--mqtt-topic-prefix", o.mqtt_topic_prefix,
                  "topics are <prefix>/<camera>/events, <prefix>/<camera>/<analytic>/state, "
                  "<prefix>/<camera>/<worker>/available")
      ->capture_default_str();
  sub->add_option("--mqtt-ca", o.mqtt_ca_file,
                  "CA certificate file for mqtts:// (default: the system's certificates)");
  sub->add_option("--mqtt-queue", o.mqtt_queue,
                  "events kept while the broker is unreachable; beyond it the oldest are dropped "
                  "(framering_events_dropped_total{reason=\"queue_full\"})")
      ->capture_default_str();
  sub->add_option("--snapshots", o.snapshot_dir,
                  "write a JPEG of each event's start frame (boxes and zones drawn) to "
                  "DIR/<camera>/<event-id>.jpg; the event carries its path");
  sub->add_option("--snapshot-keep", o.snapshot_keep, "newest snapshots kept per camera")
      ->capture_default_str();
  sub->add_option("--snapshot-max-age", o.snapshot_max_age_s,
                  "snapshots older than this many seconds are deleted")
      ->capture_default_str();
  sub->add_flag("--check-config", cli->check_config, "validate the arguments and exit 0 (ok) or 2");
  sub->add_option("--log-level", cli->log_level, "debug, info, warn or error")
      ->capture_default_str();
  sub->callback([cli, metrics_opt, &exit_code] {
    cli->metrics_addr_given = metrics_opt->count() > 0;
    exit_code = run(*cli);
  });
}

}  // namespace framering::cli
