// The supervision loop with /bin/sh children standing in for ingest and workers: crash →
// restart with backoff, events collected from stdout, stop on --duration, on SIGTERM and with
// SIGKILL after the grace period, exit code 2 when a child rejects its configuration.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "framering/supervisor/process.hpp"
#include "framering/supervisor/supervisor.hpp"

namespace fs = framering::supervisor;

namespace {

class SupervisorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("framering-run-test-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
    // Rings and reader-stats files of this test live in a private directory.
    ::setenv("FRAMERING_SHM_DIR", dir_.c_str(), 1);
    config_ = fs::parse_config(
        "cameras:\n  cam:\n    source: testsrc:testsrc2\n"
        "supervisor:\n  restart_backoff: 0.05\n  stop_grace: 0.5\n  progress_interval: 0.2\n",
        "sh.yaml");
    config_.events.path = (dir_ / "events.jsonl").string();
  }
  void TearDown() override {
    ::unsetenv("FRAMERING_SHM_DIR");
    std::filesystem::remove_all(dir_);
  }

  static fs::ChildSpec sh(fs::ChildKind kind, const std::string& label, const std::string& script) {
    fs::ChildSpec c;
    c.kind = kind;
    c.label = label;
    c.camera = "cam";
    c.ring = "cam";
    c.worker_id = kind == fs::ChildKind::kWorker ? label.substr(label.find('/') + 1) : "";
    c.analytic = kind == fs::ChildKind::kWorker ? "people" : "";
    c.args = {"-c", script};
    c.metrics_addr = "0";
    return c;
  }

  // Runs the supervisor over `plan`; returns its exit code and fills summary_.
  int run(const std::vector<fs::ChildSpec>& plan, std::optional<double> duration) {
    fs::RunOptions options;
    options.program = "/bin/sh";
    options.argv0 = "sh";
    options.duration_s = duration;
    std::FILE* out = std::tmpfile();
    options.summary_out = out;
    fs::Console console(stderr);
    const int code = fs::supervise(config_, plan, options, console);
    std::rewind(out);
    summary_.clear();
    char buf[4096];
    while (std::size_t n = std::fread(buf, 1, sizeof buf, out)) summary_.append(buf, n);
    std::fclose(out);
    return code;
  }

  std::string read_file(const std::string& name) const {
    std::ifstream in(dir_ / name);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }

  std::filesystem::path dir_;
  fs::Config config_;
  std::string summary_;
};

int count_lines(const std::string& text) {
  return static_cast<int>(std::count(text.begin(), text.end(), '\n'));
}

}  // namespace

TEST_F(SupervisorTest, CrashedChildIsRestartedAndEventsAreCollected) {
  const std::string marker = (dir_ / "starts").string();
  // The worker stops the supervisor (SIGTERM, as a user would) once the crashing ingest has been
  // started twice, however long that takes; the duration is only a safety net.
  const std::string wait_for_restart =
      "while [ \"$(cat " + marker + " 2>/dev/null | wc -l)\" -lt 2 ]; do sleep 0.05; done; ";
  const std::vector<fs::ChildSpec> plan = {
      sh(fs::ChildKind::kIngest, "cam/ingest", "echo x >> " + marker + "; sleep 0.2; exit 3"),
      sh(fs::ChildKind::kWorker, "cam/people",
         "echo '{\"kind\":\"people\",\"boxes\":[[1,2,3,4],[5,6,7,8]]}'; echo 'a log line' >&2; " +
             wait_for_restart + "kill -TERM $PPID; exec sleep 30")};
  ASSERT_EQ(run(plan, 120.0), 0) << summary_;
  const int starts = count_lines(read_file("starts"));
  EXPECT_GE(starts, 2) << "the crashing child was not restarted";
  // "  camera cam (ring cam): N frames published (F fps), R restarts"
  const std::size_t line = summary_.find("camera cam (ring cam): ");
  ASSERT_NE(line, std::string::npos) << summary_;
  const std::size_t end = summary_.find(" restarts", line);
  const std::size_t begin = summary_.rfind(' ', end - 1) + 1;
  ASSERT_NE(end, std::string::npos) << summary_;
  EXPECT_EQ(std::stoi(summary_.substr(begin, end - begin)), starts - 1) << summary_;
  EXPECT_NE(summary_.find("1 events (people 1), 2 people detected, 0 restarts"), std::string::npos)
      << summary_;
  EXPECT_EQ(read_file("events.jsonl"), "{\"kind\":\"people\",\"boxes\":[[1,2,3,4],[5,6,7,8]]}\n");
}

TEST_F(SupervisorTest, SigtermStopsEveryChild) {
  const std::string pids = (dir_ / "pids").string();
  const std::vector<fs::ChildSpec> plan = {
      sh(fs::ChildKind::kIngest, "cam/ingest", "echo $$ >> " + pids + "; exec sleep 30"),
      // Ignores SIGTERM: only the SIGKILL after the grace period ends it.
      sh(fs::ChildKind::kWorker, "cam/stubborn",
         "trap '' TERM; echo $$ >> " + pids + "; sleep 0.3; kill -TERM $PPID; exec sleep 30")};
  ASSERT_EQ(run(plan, std::nullopt), 0) << summary_;
  std::istringstream in(read_file("pids"));
  int count = 0;
  for (pid_t pid; in >> pid; ++count) {
    EXPECT_NE(::kill(pid, 0), 0) << "child " << pid << " outlived the supervisor";
  }
  EXPECT_EQ(count, 2);
  EXPECT_NE(summary_.find("framering run summary"), std::string::npos);
  // How long the real `framering run` takes to stop with its default grace period, a child
  // ignoring SIGTERM included, is measured in tests/reliability/test_promises.py.
}

TEST_F(SupervisorTest, ChildRejectingItsConfigurationStopsWithExitCode2) {
  const std::vector<fs::ChildSpec> plan = {
      sh(fs::ChildKind::kIngest, "cam/ingest", "exec sleep 30"),
      sh(fs::ChildKind::kWorker, "cam/bad", "echo 'unknown --param key' >&2; exit 2")};
  EXPECT_EQ(run(plan, 20.0), 2) << summary_;
}

TEST_F(SupervisorTest, Exit2AfterStartUpIsACrashAndIsRestarted) {
  // The ingest runs past the start-up window (stable_run) and then exits 2: not a configuration
  // error any more, so the run goes on and the ingest is restarted. The worker stops the run once
  // it has seen the second start.
  config_.supervisor.stable_run_s = 0.3;
  const std::string marker = (dir_ / "starts").string();
  const std::vector<fs::ChildSpec> plan = {
      sh(fs::ChildKind::kIngest, "cam/ingest", "echo x >> " + marker + "; sleep 0.6; exit 2"),
      sh(fs::ChildKind::kWorker, "cam/w",
         "while [ \"$(cat " + marker +
             " 2>/dev/null | wc -l)\" -lt 2 ]; do sleep 0.05; done; "
             "kill -TERM $PPID; exec sleep 30")};
  ASSERT_EQ(run(plan, 120.0), 0) << "a runtime exit 2 stopped the run: " << summary_;
  EXPECT_GE(count_lines(read_file("starts")), 2);
  const std::size_t line = summary_.find("camera cam (ring cam): ");
  ASSERT_NE(line, std::string::npos) << summary_;
  const std::size_t end = summary_.find(" restarts", line);
  ASSERT_NE(end, std::string::npos) << summary_;
  const std::size_t begin = summary_.rfind(' ', end - 1) + 1;
  EXPECT_GE(std::stoi(summary_.substr(begin, end - begin)), 1) << summary_;
}

TEST_F(SupervisorTest, Exit2OnARestartIsACrashAndIsRestarted) {
  // First run crashes (exit 3); the restart exits 2 at once, as an ingest does when its metrics
  // port is still taken. That restart is not a configuration error: a third start follows.
  const std::string marker = (dir_ / "starts").string();
  const std::vector<fs::ChildSpec> plan = {
      sh(fs::ChildKind::kIngest, "cam/ingest",
         "n=$(cat " + marker + " 2>/dev/null | wc -l); echo x >> " + marker +
             "; if [ \"$n\" -eq 0 ]; then exit 3; else exit 2; fi"),
      sh(fs::ChildKind::kWorker, "cam/w",
         "while [ \"$(cat " + marker +
             " 2>/dev/null | wc -l)\" -lt 3 ]; do sleep 0.05; done; "
             "kill -TERM $PPID; exec sleep 30")};
  ASSERT_EQ(run(plan, 120.0), 0) << "exit 2 of a restart stopped the run: " << summary_;
  EXPECT_GE(count_lines(read_file("starts")), 3);
}

TEST_F(SupervisorTest, StopsWhenEverySourceFinished) {
  const std::vector<fs::ChildSpec> plan = {
      sh(fs::ChildKind::kIngest, "cam/ingest", "sleep 0.2; exit 0"),
      sh(fs::ChildKind::kWorker, "cam/w", "exec sleep 30")};
  EXPECT_EQ(run(plan, 20.0), 0) << summary_;
  EXPECT_NE(summary_.find("0 restarts"), std::string::npos) << summary_;
}

TEST(Process, DescribeExit) {
  EXPECT_EQ(fs::describe_exit(3 << 8), "exit code 3");
  EXPECT_EQ(fs::describe_exit(SIGKILL), "signal SIGKILL (Killed)");
}
