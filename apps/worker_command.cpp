// Placeholder until the worker subcommand lands; registered so --help lists the whole CLI.
#include <CLI/CLI.hpp>
#include <cstdio>

#include "commands.hpp"

namespace framering::cli {

void add_worker_command(CLI::App& app, int& exit_code) {
  auto* sub = app.add_subcommand(
      "worker", "analyse frames of a ring in place (motion, people, tamper, checksum)");
  sub->allow_extras();
  sub->callback([&exit_code] {
    std::fprintf(stderr, "framering worker: not available in this build yet\n");
    exit_code = 2;
  });
}

}  // namespace framering::cli
