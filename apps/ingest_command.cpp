// Placeholder until the ingest subcommand lands; registered so --help lists the whole CLI.
#include <CLI/CLI.hpp>
#include <cstdio>

#include "commands.hpp"

namespace framering::cli {

void add_ingest_command(CLI::App& app, int& exit_code) {
  auto* sub = app.add_subcommand("ingest", "decode a camera, file, test pattern or .npy stack into a ring");
  sub->allow_extras();
  sub->callback([&exit_code] {
    std::fprintf(stderr, "framering ingest: not available in this build yet\n");
    exit_code = 2;
  });
}

}  // namespace framering::cli
