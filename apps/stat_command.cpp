// `framering stat`: what every ring in /dev/shm is doing, as a table or JSON.
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdio>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include "commands.hpp"
#include "framering/ringbuf/error.hpp"
#include "framering/ringbuf/names.hpp"
#include "framering/ringbuf/reader.hpp"
#include "framering/ringbuf/reader_stats.hpp"
#include "ring_status.hpp"

namespace framering::cli {

namespace {

struct StatOptions {
  std::vector<std::string> rings;
  bool json = false;
  bool watch = false;
  double interval_s = 1.0;
};

int run_stat(const StatOptions& opt) {
  for (;;) {
    std::vector<std::string> names = opt.rings.empty() ? ring::list_rings() : opt.rings;
    nlohmann::json all = nlohmann::json::array();
    int missing = 0;
    for (const std::string& name : names) {
      try {
        all.push_back(ring_status(name));
      } catch (const ring::RingError& e) {
        if (!opt.rings.empty()) {
          std::fprintf(stderr, "framering stat: %s\n", e.what());
          ++missing;
        }
      }
    }
    if (opt.watch && !opt.json) std::fputs("\x1b[H\x1b[2J", stdout);
    if (opt.json) {
      std::cout << all.dump(opt.watch ? -1 : 2) << std::endl;
    } else {
      print_status_table(all, std::cout);
      if (names.empty()) std::cout << "(no rings in " << ring::shm_dir() << ")\n";
      std::cout.flush();
    }
    if (!opt.watch) return missing ? 4 : 0;
    std::this_thread::sleep_for(std::chrono::duration<double>(opt.interval_s));
  }
}

}  // namespace

void add_stat_command(CLI::App& app, int& exit_code) {
  auto opt = std::make_shared<StatOptions>();
  auto* sub = app.add_subcommand("stat", "show rings, writer state, fps, readers, lag and drops");
  sub->add_option("rings", opt->rings, "ring names (default: every ring in /dev/shm)");
  sub->add_flag("--json", opt->json, "print JSON instead of a table");
  sub->add_flag("--watch", opt->watch, "refresh until interrupted (like top)");
  sub->add_option("--interval", opt->interval_s, "seconds between --watch refreshes")
      ->check(CLI::Range(0.05, 3600.0));
  sub->callback([opt, &exit_code] { exit_code = run_stat(*opt); });
}

}  // namespace framering::cli
