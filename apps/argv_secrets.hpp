// Command-line values may hold credentials (an RTSP URL given to --source, or by mistake to any
// other flag), and error messages echo values. main() hides the secrets from /proc/<pid>/cmdline
// and remembers them; every message the CLI prints about its arguments goes through redacted().
#pragma once

#include <string>
#include <string_view>

namespace framering::cli {

// Remembers the secrets of every URL in argv[1..] (whatever form: "--source=rtsp://u:pw@h",
// "rtsp://t0k@h", "?token=...") and then overwrites them in argv itself with '*', at the same
// length, since other local users can read a process's arguments. Call once, first thing.
void take_argv_secrets(int argc, char** argv);

// `message` with every URL redacted and every remembered secret masked.
std::string redacted(std::string_view message);

}  // namespace framering::cli
