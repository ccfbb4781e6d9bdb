#include "framering/supervisor/supervisor.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <spdlog/spdlog.h>
#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <system_error>

#include "framering/ringbuf/error.hpp"
#include "framering/ringbuf/names.hpp"
#include "framering/ringbuf/reader.hpp"
#include "framering/ringbuf/reader_stats.hpp"
#include "framering/supervisor/backoff.hpp"
#include "framering/supervisor/process.hpp"
#include "framering/supervisor/stats.hpp"

namespace framering::supervisor {

namespace {

// "recorded <camera>: 3 segments in DIR (newest: PATH); 1 clip (first: PATH)" per recording camera.
std::string recording_summary(const Config& config) {
  namespace fs = std::filesystem;
  std::string out;
  auto media = [](const fs::path& dir) {
    std::vector<fs::path> files;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(dir, ec)) {
      const auto ext = e.path().extension();
      if (ext == ".mp4" || ext == ".mkv") files.push_back(e.path());
    }
    std::sort(files.begin(), files.end());
    return files;
  };
  for (const CameraConfig& cam : config.cameras) {
    if (!cam.record) continue;
    const fs::path dir = fs::path(cam.record->dir) / cam.name;
    const auto segments = media(dir);
    out += "recorded " + cam.name + ": " + std::to_string(segments.size()) + " segment(s) in " +
           dir.string();
    if (!segments.empty()) out += " (newest: " + segments.back().string() + ")";
    if (!cam.record->clips_dir.empty()) {
      const auto clips = media(fs::path(cam.record->clips_dir) / cam.name);
      out += "; " + std::to_string(clips.size()) + " event clip(s)";
      if (!clips.empty()) out += " (first: " + clips.front().string() + ")";
    }
    out += "\n";
  }
  return out;
}

}  // namespace

namespace {

constexpr std::uint64_t kSecond = 1'000'000'000ULL;
// Once every source has finished, workers get this long to drain before they are stopped.
constexpr std::uint64_t kDrainNs = kSecond;

// Each child leads its own process group: signalling the group also reaches anything it forked.
void signal_group(pid_t pid, int sig) {
  if (::kill(-pid, sig) != 0) ::kill(pid, sig);
}

std::uint64_t now_ns() {
  return ring::monotonic_ns();
}
std::uint64_t to_ns(double s) {
  return static_cast<std::uint64_t>(s * 1e9);
}

std::string seconds(std::uint64_t ns) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f s", static_cast<double>(ns) / 1e9);
  return buf;
}

enum class State { kRunning, kRestartPending, kFinished, kFailed };

struct Child {
  ChildSpec spec;
  State state = State::kRunning;
  pid_t pid = -1;
  int out_fd = -1;
  int err_fd = -1;
  std::string out_buf;
  std::string err_buf;
  std::uint64_t started_ns = 0;
  std::uint64_t restart_at_ns = 0;
  RestartBackoff backoff{0, 0, 0};
  std::uint32_t restarts = 0;
};

// The signals the supervisor handles (children get an empty mask before their exec).
sigset_t supervisor_signals() {
  sigset_t set;
  ::sigemptyset(&set);
  for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGCHLD}) ::sigaddset(&set, sig);
  return set;
}

// Blocks the signals the supervisor handles and delivers them through a descriptor the main
// loop polls, so a signal never interrupts bookkeeping halfway. Signals that arrived while they
// were blocked already (hold_stop_signals) are read from it too.
class SignalFd {
 public:
  SignalFd() {
    const sigset_t set = supervisor_signals();
    ::sigprocmask(SIG_BLOCK, &set, &old_);
    fd_ = ::signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
    if (fd_ < 0) throw std::system_error(errno, std::generic_category(), "signalfd");
  }
  ~SignalFd() {
    ::close(fd_);
    ::sigprocmask(SIG_SETMASK, &old_, nullptr);
  }
  int fd() const { return fd_; }
  // Returns the next pending signal, or 0.
  int next() {
    signalfd_siginfo info{};
    const ssize_t n = ::read(fd_, &info, sizeof info);
    return n == static_cast<ssize_t>(sizeof info) ? static_cast<int>(info.ssi_signo) : 0;
  }

 private:
  int fd_ = -1;
  sigset_t old_{};
};

class Supervisor {
 public:
  Supervisor(const Config& config, const std::vector<ChildSpec>& plan, const RunOptions& options,
             Console& console)
      : config_(config), options_(options), console_(console), stats_(plan) {
    for (const ChildSpec& spec : plan) {
      Child c;
      c.spec = spec;
      c.backoff = RestartBackoff(config.supervisor.restart_backoff_s,
                                 config.supervisor.restart_backoff_max_s,
                                 to_ns(config.supervisor.stable_run_s));
      children_.push_back(std::move(c));
    }
  }

  int run() {
    SignalFd signals;
    ::signal(SIGPIPE, SIG_IGN);
    const int removed = ring::cleanup_stale();
    if (removed > 0)
      spdlog::info("removed {} stale ring file(s) from {}", removed, ring::shm_dir());
    open_events();
    start_ns_ = now_ns();
    stats_.sample(start_ns_);
    // A stop asked for while the config was being checked ends the run before anything starts.
    while (const int sig = signals.next()) on_signal(sig);
    if (!stopping_) {
      for (Child& c : children_) start(c);
      announce();
    }
    if (options_.duration_s) stop_at_ns_ = start_ns_ + to_ns(*options_.duration_s);
    const std::uint64_t progress_every =
        console_.is_tty() ? kSecond : to_ns(config_.supervisor.progress_interval_s);
    next_progress_ns_ = start_ns_ + std::min<std::uint64_t>(progress_every, kSecond);

    for (;;) {
      const std::uint64_t now = now_ns();
      if (!stopping_ && stop_at_ns_ && now >= *stop_at_ns_) begin_stop(stop_reason_);
      if (stopping_) {
        if (live_children() == 0) break;
        if (!ingests_signalled_ && (live_workers() == 0 || now >= ingest_term_at_ns_)) {
          signal_ingests();
        }
        if (!killed_ && now >= kill_at_ns_) kill_remaining();
      } else {
        for (Child& c : children_) {
          if (c.state == State::kRestartPending && now >= c.restart_at_ns) {
            stats_.count_restart(c.spec);
            ++c.restarts;
            start(c);
          }
        }
      }
      if (now >= next_progress_ns_) {
        if (!stopping_) report_progress(now);
        next_progress_ns_ = now + progress_every;
      }
      poll_once(signals, deadline_ms(now));
    }
    console_.clear_progress();
    remove_rings();
    if (events_fd_ >= 0) ::close(events_fd_);
    const double elapsed = static_cast<double>(stop_ns_ - start_ns_) / 1e9;
    std::fputs(stats_.summary(elapsed).c_str(), options_.summary_out);
    std::fputs(recording_summary(config_).c_str(), options_.summary_out);
    std::fflush(options_.summary_out);
    spdlog::info("stopped ({}); exit code {}", stop_reason_, exit_code_);
    return exit_code_;
  }

 private:
  void open_events() {
    const std::string& path = config_.events.path;
    if (path.empty()) return;
    std::error_code ec;
    const auto parent = std::filesystem::path(path).parent_path();
    if (!parent.empty()) std::filesystem::create_directories(parent, ec);
    events_fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (events_fd_ < 0) {
      throw ConfigError(config_.origin, 0, "events.path",
                        "cannot open '" + path + "' for appending: " + std::strerror(errno) +
                            "; choose a writable path");
    }
  }

  void announce() {
    for (const Child& c : children_) {
      if (c.spec.kind != ChildKind::kIngest) continue;
      if (!c.spec.preview_addr.empty()) {
        spdlog::info("camera {}: preview http://{}/preview", c.spec.camera, c.spec.preview_addr);
      }
      if (c.spec.metrics_addr != "0") {
        spdlog::info("camera {}{}: metrics http://{}/metrics", c.spec.camera,
                     c.spec.packets_only ? " (record stream)" : "", c.spec.metrics_addr);
      }
    }
    for (const Child& c : children_) {
      if (c.spec.kind == ChildKind::kWorker && c.spec.metrics_addr != "0") {
        spdlog::info("worker {}: metrics http://{}/metrics", c.spec.label, c.spec.metrics_addr);
      }
    }
    for (const CameraConfig& cam : config_.cameras) {
      if (!cam.record) continue;
      spdlog::info("camera {}: recording to {}/{}{}", cam.name, cam.record->dir, cam.name,
                   cam.record->clips_dir.empty()
                       ? std::string()
                       : ", event clips to " + cam.record->clips_dir + "/" + cam.name);
    }
    if (events_fd_ >= 0) spdlog::info("events: {}", config_.events.path);
    if (options_.duration_s) {
      spdlog::info("{} children running; stopping after {:g} s (Ctrl-C or SIGTERM stops sooner)",
                   children_.size(), *options_.duration_s);
    } else {
      spdlog::info("{} children running; Ctrl-C or SIGTERM stops them", children_.size());
    }
  }

  void start(Child& c) {
    try {
      Spawned s = spawn_child(options_.program, options_.argv0, c.spec.args, c.spec.env);
      c.pid = s.pid;
      c.out_fd = s.stdout_fd;
      c.err_fd = s.stderr_fd;
      c.state = State::kRunning;
      c.started_ns = now_ns();
      spdlog::debug("started {} (pid {}): {}", c.spec.label, c.pid, printable_command(c.spec));
      if (c.restarts == 0) {
        spdlog::info("started {} (pid {})", c.spec.label, c.pid);
      } else {
        spdlog::info("restarted {} (pid {}, restart {})", c.spec.label, c.pid, c.restarts);
      }
    } catch (const std::system_error& e) {
      const double delay = c.backoff.after_failed_start();
      spdlog::error("cannot start {}: {}; retrying in {:.2f} s", c.spec.label, e.what(), delay);
      schedule_restart(c, now_ns(), delay);
    }
  }

  void schedule_restart(Child& c, std::uint64_t now, double delay_s) {
    c.state = State::kRestartPending;
    c.restart_at_ns = now + to_ns(delay_s);
  }

  std::size_t live_children() const {
    return static_cast<std::size_t>(std::count_if(children_.begin(), children_.end(),
                                                  [](const Child& c) { return c.pid > 0; }));
  }

  int deadline_ms(std::uint64_t now) const {
    std::uint64_t next = next_progress_ns_;
    if (stop_at_ns_ && !stopping_) next = std::min(next, *stop_at_ns_);
    if (stopping_ && !killed_) next = std::min(next, kill_at_ns_);
    if (stopping_ && !ingests_signalled_) next = std::min(next, ingest_term_at_ns_);
    for (const Child& c : children_) {
      if (!stopping_ && c.state == State::kRestartPending) next = std::min(next, c.restart_at_ns);
    }
    if (next <= now) return 0;
    return static_cast<int>(std::min<std::uint64_t>((next - now) / 1'000'000 + 1, 1000));
  }

  void poll_once(SignalFd& signals, int timeout_ms) {
    std::vector<pollfd> fds{{signals.fd(), POLLIN, 0}};
    std::vector<std::pair<Child*, bool>> owners{{nullptr, false}};
    for (Child& c : children_) {
      if (c.out_fd >= 0) fds.push_back({c.out_fd, POLLIN, 0}), owners.emplace_back(&c, true);
      if (c.err_fd >= 0) fds.push_back({c.err_fd, POLLIN, 0}), owners.emplace_back(&c, false);
    }
    const int n = ::poll(fds.data(), fds.size(), timeout_ms);
    if (n < 0) {
      if (errno != EINTR) spdlog::warn("poll: {}", std::strerror(errno));
      return;
    }
    for (std::size_t i = 1; i < fds.size(); ++i) {
      if (fds[i].revents & (POLLIN | POLLHUP | POLLERR)) drain(*owners[i].first, owners[i].second);
    }
    if (fds[0].revents & POLLIN) {
      while (const int sig = signals.next()) on_signal(sig);
    }
  }

  // Reads what a child wrote; stdout lines are events, stderr lines are its log.
  void drain(Child& c, bool is_stdout) {
    int& fd = is_stdout ? c.out_fd : c.err_fd;
    std::string& buf = is_stdout ? c.out_buf : c.err_buf;
    char chunk[16384];
    for (;;) {
      const ssize_t n = ::read(fd, chunk, sizeof chunk);
      if (n > 0) {
        buf.append(chunk, static_cast<std::size_t>(n));
        std::size_t nl;
        while ((nl = buf.find('\n')) != std::string::npos) {
          on_line(c, is_stdout, std::string_view(buf).substr(0, nl));
          buf.erase(0, nl + 1);
        }
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && errno == EAGAIN) return;
      if (!buf.empty()) on_line(c, is_stdout, buf);  // EOF: the last line had no newline
      buf.clear();
      ::close(fd);
      fd = -1;
      return;
    }
  }

  void on_line(Child& c, bool is_stdout, std::string_view line) {
    if (is_stdout && stats_.count_event(c.spec.label, line)) {
      if (events_fd_ >= 0) {
        std::string out(line);
        out += '\n';
        // One write per line on an O_APPEND descriptor keeps lines whole.
        if (::write(events_fd_, out.data(), out.size()) < 0 && !events_error_logged_) {
          spdlog::error("cannot write events to '{}': {}", config_.events.path,
                        std::strerror(errno));
          events_error_logged_ = true;
        }
      }
      return;
    }
    console_.print(c.spec.label + " | " + printable_output(c.spec, line) + "\n");
  }

  void on_signal(int sig) {
    if (sig == SIGCHLD) {
      reap();
      return;
    }
    if (stopping_) {
      if (!killed_) {
        spdlog::warn("SIG{} again: killing the remaining children now", sigabbrev(sig));
        kill_remaining();
      }
      return;
    }
    begin_stop(std::string("received SIG") + sigabbrev(sig));
  }

  static const char* sigabbrev(int sig) {
    const char* a = ::sigabbrev_np(sig);
    return a ? a : "?";
  }

  void reap() {
    int status = 0;
    pid_t pid;
    while ((pid = ::waitpid(-1, &status, WNOHANG)) > 0) {
      for (Child& c : children_) {
        if (c.pid == pid) on_exit(c, status);
      }
    }
  }

  void on_exit(Child& c, int status) {
    if (c.out_fd >= 0) drain(c, true);
    if (c.err_fd >= 0) drain(c, false);
    if (c.spec.kind == ChildKind::kWorker) stats_.worker_exited(c.spec);
    c.pid = -1;
    const std::uint64_t now = now_ns();
    const std::uint64_t ran = now - c.started_ns;
    const std::string how = describe_exit(status);
    const bool clean = WIFEXITED(status) && WEXITSTATUS(status) == 0;
    if (stopping_) {
      c.state = State::kFinished;
      const bool by_us = clean || (WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM);
      if (by_us) {
        spdlog::debug("{} stopped ({})", c.spec.label, how);
      } else {
        spdlog::warn("{} stopped with {}", c.spec.label, how);
      }
      return;
    }
    if (clean) {
      c.state = State::kFinished;
      spdlog::info("{} finished ({}) after {}", c.spec.label, how, seconds(ran));
      const bool sources_done =
          std::none_of(children_.begin(), children_.end(), [](const Child& o) {
            return o.spec.kind == ChildKind::kIngest && o.state != State::kFinished;
          });
      if (c.spec.kind == ChildKind::kIngest && sources_done) {
        stop_reason_ = "every source finished";
        stop_at_ns_ = std::min(stop_at_ns_.value_or(UINT64_MAX), now + kDrainNs);
      }
      return;
    }
    // Exit 2 is a child rejecting its configuration only while it starts: on its first run and
    // before it has been up supervisor.stable_run seconds. Later (after running a while, or on a
    // restart, e.g. its port still taken) it is a crash like any other and restarts with backoff:
    // one child must not stop every camera of the host.
    const bool at_start_up = c.restarts == 0 && ran < to_ns(config_.supervisor.stable_run_s);
    if (WIFEXITED(status) && WEXITSTATUS(status) == 2 && at_start_up) {
      c.state = State::kFailed;
      spdlog::error("{} rejected its configuration ({}); see its message above and fix {}:{}",
                    c.spec.label, how, config_.origin, c.spec.config_line);
      exit_code_ = 2;
      begin_stop(c.spec.label + " failed");
      return;
    }
    const double delay = c.backoff.after_crash(ran);
    spdlog::warn("{} died ({}) after {}; restarting in {:.2f} s", c.spec.label, how, seconds(ran),
                 delay);
    schedule_restart(c, now, delay);
  }

  void begin_stop(const std::string& reason) {
    if (stopping_) return;
    stopping_ = true;
    stop_reason_ = reason;
    stop_ns_ = now_ns();
    // The last numbers are taken while every worker's stats file still exists.
    stats_.sample(stop_ns_);
    console_.clear_progress();
    spdlog::info("stopping: {}; sending SIGTERM to {} children", reason, live_children());
    // Workers first, so none of them sees its ring vanish and says so; the ingests follow once
    // the workers are gone (or half the grace period passed).
    for (Child& c : children_) {
      // Recorders with the workers: each closes its segment and clip while the ring is there.
      if (c.pid > 0 && c.spec.kind != ChildKind::kIngest) signal_group(c.pid, SIGTERM);
      if (c.state == State::kRestartPending) c.state = State::kFinished;
    }
    kill_at_ns_ = stop_ns_ + to_ns(config_.supervisor.stop_grace_s);
    ingest_term_at_ns_ = stop_ns_ + to_ns(config_.supervisor.stop_grace_s / 2);
  }

  void signal_ingests() {
    ingests_signalled_ = true;
    for (Child& c : children_) {
      if (c.pid > 0 && c.spec.kind == ChildKind::kIngest) signal_group(c.pid, SIGTERM);
    }
  }

  std::size_t live_workers() const {
    return static_cast<std::size_t>(std::count_if(
        children_.begin(), children_.end(),
        [](const Child& c) { return c.pid > 0 && c.spec.kind == ChildKind::kWorker; }));
  }

  void kill_remaining() {
    killed_ = true;
    for (Child& c : children_) {
      if (c.pid <= 0) continue;
      spdlog::warn("{} (pid {}) still running after SIGTERM; sending SIGKILL", c.spec.label, c.pid);
      signal_group(c.pid, SIGKILL);
    }
  }

  void report_progress(std::uint64_t now) {
    stats_.sample(now);
    const std::uint64_t secs = (now - start_ns_) / kSecond;
    char clock[32];
    std::snprintf(clock, sizeof clock, "[%02llu:%02llu] ",
                  static_cast<unsigned long long>(secs / 60),
                  static_cast<unsigned long long>(secs % 60));
    if (console_.is_tty()) {
      console_.set_progress(clock + stats_.progress_line());
    } else {
      spdlog::info("{}", stats_.progress_line());
    }
  }

  // Every child is gone: whatever ring or reader-stats file is left without a live owner is ours
  // (or an earlier crash's) to remove.
  void remove_rings() {
    int removed = ring::cleanup_stale();
    for (const Child& c : children_) {
      // Our ingest's ring, even a closed one: removed only while we hold its lock on the inode
      // we checked, so a ring some other writer has taken over meanwhile stays.
      if (c.spec.kind == ChildKind::kIngest && ring::remove_stale_ring(c.spec.ring)) ++removed;
    }
    for (const Child& c : children_) {
      if (c.spec.kind != ChildKind::kWorker) continue;
      // Only a file of our own user (as root we could remove anyone's from the sticky /dev/shm).
      const std::string path = ring::reader_stats_path(c.spec.ring, c.spec.worker_id);
      struct stat st {};
      if (::lstat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) && st.st_uid == ::geteuid() &&
          ::unlink(path.c_str()) == 0) {
        ++removed;
      }
    }
    if (removed > 0) spdlog::info("removed {} ring file(s) left in {}", removed, ring::shm_dir());
  }

  const Config& config_;
  const RunOptions& options_;
  Console& console_;
  PipelineStats stats_;
  std::vector<Child> children_;
  int events_fd_ = -1;
  bool events_error_logged_ = false;
  bool stopping_ = false;
  bool killed_ = false;
  int exit_code_ = 0;
  std::string stop_reason_ = "--duration reached";
  std::uint64_t start_ns_ = 0;
  std::uint64_t stop_ns_ = 0;
  std::uint64_t kill_at_ns_ = 0;
  std::uint64_t ingest_term_at_ns_ = 0;
  bool ingests_signalled_ = false;
  std::uint64_t next_progress_ns_ = 0;
  std::optional<std::uint64_t> stop_at_ns_;
};

}  // namespace

void hold_stop_signals() {
  const sigset_t set = supervisor_signals();
  ::sigprocmask(SIG_BLOCK, &set, nullptr);
}

int check_children(const Config& config, const std::vector<ChildSpec>& plan,
                   const RunOptions& options) {
  // All children check at once: each start of the binary costs a library load, and a config
  // with many workers should not take seconds to validate.
  std::vector<Spawned> running;
  for (const ChildSpec& child : plan) {
    std::vector<std::string> args = child.args;
    args.push_back("--check-config");
    running.push_back(spawn_child(options.program, options.argv0, args, child.env));
  }
  int result = 0;
  for (std::size_t i = 0; i < plan.size(); ++i) {
    std::string err;
    const int status = collect_child(running[i], err);
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) continue;
    while (!err.empty() && (err.back() == '\n' || err.back() == ' ')) err.pop_back();
    spdlog::error("{}:{}: {} rejects its settings ({}): {}", config.origin, plan[i].config_line,
                  plan[i].label, describe_exit(status),
                  err.empty() ? "(no message)" : printable_output(plan[i], err));
    spdlog::error("  command: {}", printable_command(plan[i]));
    result = 2;
  }
  return result;
}

int supervise(const Config& config, const std::vector<ChildSpec>& plan, const RunOptions& options,
              Console& console) {
  Supervisor supervisor(config, plan, options, console);
  return supervisor.run();
}

}  // namespace framering::supervisor
