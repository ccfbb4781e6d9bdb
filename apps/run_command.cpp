// Placeholder until the run subcommand lands; registered so --help lists the whole CLI.
#include <CLI/CLI.hpp>
#include <cstdio>

#include "commands.hpp"

namespace framering::cli {

void add_run_command(CLI::App& app, int& exit_code) {
  auto* sub = app.add_subcommand(
      "run", "supervise ingest and workers from a YAML config (default config/demo.yaml)");
  sub->allow_extras();
  sub->callback([&exit_code] {
    std::fprintf(stderr, "framering run: not available in this build yet\n");
    exit_code = 2;
  });
}

}  // namespace framering::cli
