// `framering stat`: what every ring in /dev/shm is doing, as a table or JSON; `--watch` refreshes
// it like top, with per-second rates between refreshes.
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <ctime>
#include <iostream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "argv_secrets.hpp"
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
  double window_s = 0.5;
};

std::atomic<bool> g_stop{false};
void on_stat_stop_signal(int) {
  g_stop.store(true);
}

// Sleeps up to `seconds`, returning early (false) once SIGINT/SIGTERM arrived.
bool sleep_unless_stopped(double seconds) {
  using Clock = std::chrono::steady_clock;
  const Clock::time_point until = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                                     std::chrono::duration<double>(seconds));
  while (!g_stop.load()) {
    const Clock::duration left = until - Clock::now();
    if (left <= Clock::duration::zero()) return true;
    std::this_thread::sleep_for(std::min<Clock::duration>(left, std::chrono::milliseconds(50)));
  }
  return false;
}

// Statuses of the named rings (or all). Missing named rings are reported once per call.
nlohmann::json sample(const StatOptions& opt, int& missing, bool report) {
  const std::vector<std::string> names = opt.rings.empty() ? ring::list_rings() : opt.rings;
  nlohmann::json all = nlohmann::json::array();
  missing = 0;
  // Listing everything: only rings of this user or root. Anyone can create files in /dev/shm,
  // and another user's segment could be truncated under our mapping; ask by name to see one.
  const std::vector<uid_t> owners =
      opt.rings.empty() ? std::vector<uid_t>{::geteuid(), 0} : std::vector<uid_t>{};
  for (const std::string& name : names) {
    try {
      all.push_back(ring_status(name, owners));
    } catch (const ring::RingError& e) {
      if (!opt.rings.empty()) {
        if (report) std::fprintf(stderr, "framering stat: %s\n", redacted(e.what()).c_str());
        ++missing;
      }
    }
  }
  return all;
}

// Copies the rate fields add_rates() set on `from` onto the same rings/readers of `to`.
void copy_rates(const nlohmann::json& from, nlohmann::json& to) {
  for (auto& r : to) {
    for (const auto& f : from) {
      if (f["ring"] != r["ring"] || f["epoch"] != r["epoch"]) continue;
      r["mb_per_s"] = f["mb_per_s"];
      for (auto& rd : r["readers"]) {
        for (const auto& fd : f["readers"]) {
          if (fd["reader"] != rd["reader"] || fd["pid"] != rd["pid"]) continue;
          for (const char* key : {"fps", "mb_per_s_in_place", "drops_per_s"}) rd[key] = fd[key];
        }
      }
    }
  }
}

std::string title(const nlohmann::json& rings, const StatOptions& opt) {
  char clock[16];
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  ::localtime_r(&t, &tm);
  std::strftime(clock, sizeof clock, "%H:%M:%S", &tm);
  std::ostringstream out;
  out << "framering stat  " << clock << "  " << rings.size() << " ring(s) in " << ring::shm_dir()
      << "  (every " << opt.interval_s << " s; Ctrl-C quits)\n\n";
  return out.str();
}

int run_once(const StatOptions& opt) {
  int missing = 0;
  nlohmann::json all = sample(opt, missing, true);
  // Rates need two samples: take a second one a moment later and attach its rates to the first
  // (the answer describes the rings as they were when asked; the rates cover the window after).
  if (opt.window_s > 0 && !all.empty() && sleep_unless_stopped(opt.window_s)) {
    int ignored = 0;
    nlohmann::json later = sample(opt, ignored, false);
    add_rates(later, all);
    copy_rates(later, all);
  }
  if (opt.json) {
    std::cout << all.dump(2) << std::endl;
  } else {
    print_status_table(all, std::cout);
    if (all.empty() && opt.rings.empty()) std::cout << "(no rings in " << ring::shm_dir() << ")\n";
  }
  return missing ? 4 : 0;
}

int run_watch(const StatOptions& opt) {
  std::signal(SIGINT, on_stat_stop_signal);
  std::signal(SIGTERM, on_stat_stop_signal);
  nlohmann::json before = nlohmann::json::array();
  bool first = true;
  while (!g_stop.load()) {
    int missing = 0;
    nlohmann::json all = sample(opt, missing, first);
    add_rates(all, before);
    if (opt.json) {
      std::cout << all.dump() << std::endl;  // one JSON document per line per refresh
    } else {
      std::ostringstream screen;
      screen << "\x1b[H\x1b[2J" << title(all, opt);
      print_status_table(all, screen);
      if (all.empty())
        screen << "(no rings" << (opt.rings.empty() ? "" : " of those names") << " yet)\n";
      std::cout << screen.str() << std::flush;
    }
    before = std::move(all);
    first = false;
    if (!sleep_unless_stopped(opt.interval_s)) break;
  }
  if (!opt.json) std::cout << std::endl;
  return 0;
}

}  // namespace

void add_stat_command(CLI::App& app, int& exit_code) {
  auto opt = std::make_shared<StatOptions>();
  auto* sub = app.add_subcommand("stat", "show rings, writer state, fps, readers, lag and drops");
  sub->add_option("rings", opt->rings,
                  "ring names (default: every ring in /dev/shm of this user or root; name "
                  "another user's ring to see it)");
  sub->add_flag("--json", opt->json,
                "print JSON instead of a table (with --watch: one line per refresh)");
  sub->add_flag("--watch", opt->watch,
                "refresh until interrupted (like top), with rates between refreshes");
  sub->add_option("--interval", opt->interval_s, "seconds between --watch refreshes")
      ->check(CLI::Range(0.05, 3600.0));
  sub->add_option(
         "--window", opt->window_s,
         "without --watch: seconds between the two samples rates are computed from (0: no rates)")
      ->check(CLI::Range(0.0, 60.0));
  sub->callback([opt, &exit_code] { exit_code = opt->watch ? run_watch(*opt) : run_once(*opt); });
}

}  // namespace framering::cli
