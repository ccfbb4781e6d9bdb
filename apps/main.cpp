// The framering binary: one CLI11 app, one file per subcommand.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <exception>
#include <sstream>
#include <string>
#include <vector>

#include "argv_secrets.hpp"
#include "commands.hpp"
#include "framering/ringbuf/error.hpp"

int main(int argc, char** argv) {
  CLI::App app{
      "framering: decode each video frame once into shared memory; analyse it in place.\n"
      "Rings live in /dev/shm/framering.<name>. See README.md and docs/."};
  app.set_version_flag("--version", FRAMERING_VERSION);
  app.require_subcommand(1);
  int exit_code = 0;
  framering::cli::add_ingest_command(app, exit_code);
  framering::cli::add_worker_command(app, exit_code);
  framering::cli::add_stat_command(app, exit_code);
  framering::cli::add_run_command(app, exit_code);
  framering::cli::add_record_command(app, exit_code);
  // Parse a copy; mask URL secrets in the real argv, which /proc/<pid>/cmdline shows to others.
  const std::vector<std::string> args(argv, argv + argc);
  std::vector<const char*> arg_ptrs;
  for (const std::string& a : args) arg_ptrs.push_back(a.c_str());
  framering::cli::take_argv_secrets(argc, argv);
  using framering::cli::redacted;
  try {
    app.parse(argc, arg_ptrs.data());
  } catch (const CLI::ParseError& e) {
    // CLI11 echoes the offending value ("--width: Value rtsp://u:pw@h could not be converted").
    std::ostringstream out, err;
    const int code = app.exit(e, out, err);
    std::fputs(redacted(out.str()).c_str(), stdout);
    std::fputs(redacted(err.str()).c_str(), stderr);
    return code == 0 ? 0 : 2;
  } catch (const framering::ring::RingError& e) {
    std::fprintf(stderr, "framering: %s\n", redacted(e.what()).c_str());
    return e.exit_code();
  } catch (const std::exception& e) {
    // Anything a subcommand did not turn into its own exit code: say what, never abort silently.
    std::fprintf(stderr, "framering: unexpected error: %s\n", redacted(e.what()).c_str());
    return 1;
  }
  return exit_code;
}
