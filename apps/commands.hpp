// Each subcommand lives in its own file and registers itself on the root CLI11 app.
// The callback stores the process exit code in `exit_code` (docs/design.md: 0 ok, 1 runtime
// failure, 2 usage/config, 3 source failed, 4 ring error).
#pragma once

namespace CLI {
class App;
}

namespace framering::cli {

void add_ingest_command(CLI::App& app, int& exit_code);
void add_worker_command(CLI::App& app, int& exit_code);
void add_stat_command(CLI::App& app, int& exit_code);
void add_run_command(CLI::App& app, int& exit_code);
void add_record_command(CLI::App& app, int& exit_code);

}  // namespace framering::cli
