// Child processes of the supervisor: fork+exec with pipes for stdout/stderr, a parent-death
// signal so no child outlives a killed supervisor, and a readable account of how one ended.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

namespace framering::supervisor {

struct Spawned {
  pid_t pid = -1;
  int stdout_fd = -1;  // read ends, non-blocking, close-on-exec
  int stderr_fd = -1;
};

// Starts `program` with argv = {argv0, args...}, stdin from /dev/null, stdout and stderr to new
// pipes. The child gets SIGKILL when the supervisor dies (prctl PR_SET_PDEATHSIG), has its own
// process group (a terminal's Ctrl-C reaches only the supervisor, which stops children in order)
// and starts with default signal handling and an empty signal mask.
// Must be called from the main thread: the parent-death signal follows the forking thread.
// Throws std::system_error if fork or pipe fails; exec failure shows up as exit code 127.
// `env` ("NAME=value") is added to (or overrides in) the inherited environment.
Spawned spawn_child(const std::string& program, const std::string& argv0,
                    const std::vector<std::string>& args, const std::vector<std::string>& env = {});

// "exit code 3", "signal SIGKILL (Killed)"; `status` as returned by waitpid.
std::string describe_exit(int status);

// Waits for a spawned child to end, keeping the first `max_bytes` of its stderr and discarding
// its stdout; closes both pipes and returns the wait status. Used for the --check-config pass.
int collect_child(Spawned& child, std::string& err_text, std::size_t max_bytes = 8192);

}  // namespace framering::supervisor
