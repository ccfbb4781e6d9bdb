// `framering run [CONFIG.yaml]`: the supervisor (supervisor/). Validates the config, asks every
// child to validate its own command line, then runs the pipeline until stopped.
#include <spdlog/spdlog.h>
#include <CLI/CLI.hpp>

#include <cstdio>
#include <memory>
#include <optional>
#include <string>

#include "argv_secrets.hpp"
#include "commands.hpp"
#include "framering/ringbuf/error.hpp"
#include "framering/supervisor/child_plan.hpp"
#include "framering/supervisor/config.hpp"
#include "framering/supervisor/console.hpp"
#include "framering/supervisor/supervisor.hpp"

namespace framering::cli {

namespace {

struct RunCommandOptions {
  std::string config = "config/demo.yaml";
  std::optional<double> duration_s;
  bool check_config = false;
  std::optional<std::uint16_t> metrics_base_port;
  std::string log_level = "info";
};

int run_supervisor(const RunCommandOptions& opt) {
  supervisor::hold_stop_signals();
  supervisor::Console console;
  supervisor::make_console_logger(console, opt.log_level);
  try {
    supervisor::Config config = supervisor::load_config_file(opt.config);
    supervisor::check_sources(config);
    supervisor::PlanOptions plan_options;
    plan_options.metrics_base_port = opt.metrics_base_port;
    plan_options.log_level = opt.log_level;
    const auto plan = supervisor::plan_children(config, plan_options);
    supervisor::RunOptions run_options;
    run_options.duration_s = opt.duration_s;
    if (supervisor::check_children(config, plan, run_options) != 0) return 2;
    if (opt.check_config) {
      std::printf("%s: ok (%zu cameras, %zu processes)\n", opt.config.c_str(),
                  config.cameras.size(), plan.size());
      return 0;
    }
    return supervisor::supervise(config, plan, run_options, console);
  } catch (const supervisor::ConfigError& e) {
    spdlog::error("{}", redacted(e.what()));
    return 2;
  } catch (const ring::RingError& e) {
    spdlog::error("{}", redacted(e.what()));
    return e.exit_code();
  }
}

}  // namespace

void add_run_command(CLI::App& app, int& exit_code) {
  auto opt = std::make_shared<RunCommandOptions>();
  auto* sub = app.add_subcommand(
      "run",
      "supervise ingest and workers from a YAML config (default config/demo.yaml): restarts "
      "crashed children, shows progress, stops all on Ctrl-C/SIGTERM and prints a summary");
  sub->add_option("config", opt->config, "YAML config (see config/demo.yaml, config/examples/)")
      ->capture_default_str();
  sub->add_option("--duration", opt->duration_s, "stop by itself after this many seconds")
      ->check(CLI::Range(0.1, 1e9));
  sub->add_flag("--check-config", opt->check_config,
                "validate the config and every child's command line, then exit 0 (ok) or 2");
  sub->add_option("--metrics-base-port", opt->metrics_base_port,
                  "first metrics port (overrides metrics.base_port; children take the next ones)")
      ->envname("FRAMERING_METRICS_BASE_PORT")
      ->check(CLI::Range(1, 65535));
  sub->add_option("--log-level", opt->log_level, "debug|info|warn|error (children too)")
      ->check(CLI::IsMember({"debug", "info", "warn", "error"}))
      ->capture_default_str();
  sub->callback([opt, &exit_code] { exit_code = run_supervisor(*opt); });
}

}  // namespace framering::cli
