#include "framering/supervisor/process.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <system_error>

namespace framering::supervisor {

namespace {

void pipe_or_throw(int fds[2]) {
  if (::pipe2(fds, O_CLOEXEC) != 0)
    throw std::system_error(errno, std::generic_category(), "pipe2");
}

// Only async-signal-safe calls between fork and exec.
[[noreturn]] void exec_child(pid_t parent, const char* program, char* const argv[],
                             char* const envp[], int out_fd, int err_fd) {
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (::getppid() != parent) ::_exit(126);  // the supervisor died before prctl took effect
  ::setpgid(0, 0);
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGPIPE, SIGCHLD, SIGQUIT})
    ::sigaction(sig, &dfl, nullptr);
  sigset_t none;
  ::sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  const int null_fd = ::open("/dev/null", O_RDONLY);
  if (null_fd >= 0) ::dup2(null_fd, STDIN_FILENO);
  if (out_fd >= 0) ::dup2(out_fd, STDOUT_FILENO);
  if (err_fd >= 0) ::dup2(err_fd, STDERR_FILENO);
  ::execve(program, argv, envp);
  static const char msg[] = "framering run: exec failed for a child process\n";
  [[maybe_unused]] auto ignored = ::write(STDERR_FILENO, msg, sizeof msg - 1);
  ::_exit(127);
}

std::vector<char*> make_argv(const std::string& argv0, const std::vector<std::string>& args,
                             std::vector<std::string>& storage) {
  storage.clear();
  storage.push_back(argv0);
  storage.insert(storage.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& s : storage) argv.push_back(s.data());
  argv.push_back(nullptr);
  return argv;
}

// The inherited environment with `extra` ("NAME=value") added or replacing; built before fork
// (allocation is not async-signal-safe).
std::vector<char*> make_envp(const std::vector<std::string>& extra,
                             std::vector<std::string>& storage) {
  storage = extra;
  for (char** e = environ; *e; ++e) {
    const std::string entry(*e);
    const std::string name = entry.substr(0, entry.find('=') + 1);
    bool replaced = false;
    for (const std::string& x : extra) replaced = replaced || x.rfind(name, 0) == 0;
    if (!replaced) storage.push_back(entry);
  }
  std::vector<char*> envp;
  for (auto& s : storage) envp.push_back(s.data());
  envp.push_back(nullptr);
  return envp;
}

}  // namespace

Spawned spawn_child(const std::string& program, const std::string& argv0,
                    const std::vector<std::string>& args, const std::vector<std::string>& env) {
  std::vector<std::string> storage, env_storage;
  std::vector<char*> argv = make_argv(argv0, args, storage);
  std::vector<char*> envp = make_envp(env, env_storage);
  int out[2], err[2];
  pipe_or_throw(out);
  try {
    pipe_or_throw(err);
  } catch (...) {
    ::close(out[0]);
    ::close(out[1]);
    throw;
  }
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) {
    const int e = errno;
    for (int fd : {out[0], out[1], err[0], err[1]}) ::close(fd);
    throw std::system_error(e, std::generic_category(), "fork");
  }
  if (pid == 0) exec_child(parent, program.c_str(), argv.data(), envp.data(), out[1], err[1]);
  ::setpgid(pid, pid);  // also done by the child; whichever runs first wins the race harmlessly
  ::close(out[1]);
  ::close(err[1]);
  ::fcntl(out[0], F_SETFL, O_NONBLOCK);
  ::fcntl(err[0], F_SETFL, O_NONBLOCK);
  return {pid, out[0], err[0]};
}

std::string describe_exit(int status) {
  if (WIFEXITED(status)) return "exit code " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) {
    const int sig = WTERMSIG(status);
    const char* abbrev = ::sigabbrev_np(sig);
    const char* desc = ::sigdescr_np(sig);
    std::string out = "signal ";
    out += abbrev ? std::string("SIG") + abbrev : std::to_string(sig);
    if (desc) out += std::string(" (") + desc + ")";
    if (WCOREDUMP(status)) out += ", core dumped";
    return out;
  }
  return "status " + std::to_string(status);
}

int collect_child(Spawned& child, std::string& err_text, std::size_t max_bytes) {
  err_text.clear();
  pollfd fds[2] = {{child.stdout_fd, POLLIN, 0}, {child.stderr_fd, POLLIN, 0}};
  int open_fds = 2;
  char buf[4096];
  while (open_fds > 0) {
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    for (pollfd& p : fds) {
      if (p.fd < 0 || !(p.revents & (POLLIN | POLLHUP | POLLERR))) continue;
      const ssize_t n = ::read(p.fd, buf, sizeof buf);
      if (n > 0) {
        if (p.fd == child.stderr_fd && err_text.size() < max_bytes) {
          err_text.append(
              buf, std::min<std::size_t>(static_cast<std::size_t>(n), max_bytes - err_text.size()));
        }
      } else if (n == 0 || errno != EAGAIN) {
        ::close(p.fd);
        p.fd = -1;
        --open_fds;
      }
    }
  }
  child.stdout_fd = child.stderr_fd = -1;
  int status = 0;
  while (::waitpid(child.pid, &status, 0) < 0 && errno == EINTR) {
  }
  return status;
}

}  // namespace framering::supervisor
