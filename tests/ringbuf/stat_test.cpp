// `framering stat` against a ring made by a test writer: every field it prints is checked.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cinttypes>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

#include "framering/ringbuf/reader_stats.hpp"
#include "framering/ringbuf/writer.hpp"
#include "test_util.hpp"

namespace framering::ring {
namespace {

struct CommandResult {
  int exit_code = -1;
  std::string output;
};

CommandResult run(const std::string& args) {
  CommandResult r;
  const std::string cmd = std::string(FRAMERING_BIN) + " " + args + " 2>&1";
  FILE* pipe = ::popen(cmd.c_str(), "r");
  char buf[4096];
  while (std::size_t n = std::fread(buf, 1, sizeof buf, pipe)) r.output.append(buf, n);
  const int status = ::pclose(pipe);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

TEST(StatCommand, JsonDescribesTheRing) {
  const std::string name = framering::testing::unique_ring("stat");
  framering::testing::RingCleanup cleanup{name};
  Writer w = Writer::create(
      {.name = name, .geometry = Geometry::image(640, 480, PixFmt::kBgr24), .slots = 6});
  for (int i = 0; i < 10; ++i) {
    auto slot = w.claim();
    w.publish(std::move(slot));
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ReaderStatsPublisher stats(name, "checksum");
  stats.position().store(7);
  stats.torn().store(2);
  stats.epoch().store(w.info().epoch);

  const CommandResult r = run("stat --json " + name);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto all = nlohmann::json::parse(r.output);
  ASSERT_EQ(all.size(), 1u);
  const auto& j = all[0];
  EXPECT_EQ(j["ring"], name);
  EXPECT_EQ(j["state"], "LIVE");
  EXPECT_EQ(j["writer_pid"], ::getpid());
  EXPECT_EQ(j["writer_alive"], true);
  char epoch[20];
  std::snprintf(epoch, sizeof epoch, "%016" PRIx64, w.info().epoch);
  EXPECT_EQ(j["epoch"], epoch);
  EXPECT_EQ(j["slots"], 6);
  EXPECT_EQ(j["slot_bytes"], w.info().slot_stride);
  EXPECT_EQ(j["frame_bytes"], 640 * 480 * 3);
  EXPECT_EQ(j["geometry"]["shape"], nlohmann::json::array({480, 640, 3}));
  EXPECT_EQ(j["geometry"]["pix_fmt"], "bgr24");
  EXPECT_EQ(j["geometry"]["typestr"], "|u1");
  EXPECT_EQ(j["cursor"], 10);
  ASSERT_EQ(j["readers"].size(), 1u);
  EXPECT_EQ(j["readers"][0]["reader"], "checksum");
  EXPECT_EQ(j["readers"][0]["lag"], 3);
  EXPECT_EQ(j["readers"][0]["dropped"]["torn"], 2);

  const CommandResult table = run("stat " + name);
  ASSERT_EQ(table.exit_code, 0);
  EXPECT_NE(table.output.find(name), std::string::npos);
  EXPECT_NE(table.output.find("480x640x3 bgr24"), std::string::npos) << table.output;

  // fps counts the frames published in the second before stat looked: keep publishing while
  // it runs (a stat process that takes over a second to start would otherwise see none).
  std::atomic<bool> publishing{true};
  std::thread publisher([&] {
    while (publishing.load()) {
      w.publish(w.claim());
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  });
  const CommandResult live = run("stat --json --window 0 " + name);
  publishing = false;
  publisher.join();
  ASSERT_EQ(live.exit_code, 0) << live.output;
  EXPECT_GT(nlohmann::json::parse(live.output)[0]["fps"].get<double>(), 0.0) << live.output;
}

TEST(StatCommand, MissingRingIsAnErrorNamingIt) {
  const CommandResult r = run("stat --json nosuchring42");
  EXPECT_EQ(r.exit_code, 4);
  EXPECT_NE(r.output.find("nosuchring42"), std::string::npos) << r.output;
}

TEST(Cli, HelpListsEverySubcommand) {
  const CommandResult r = run("--help");
  EXPECT_EQ(r.exit_code, 0);
  for (const char* sub : {"ingest", "worker", "stat", "run"}) {
    EXPECT_NE(r.output.find(sub), std::string::npos) << sub << " missing from:\n" << r.output;
  }
  EXPECT_EQ(run("stat --help").exit_code, 0);
  EXPECT_EQ(run("stat --no-such-flag").exit_code, 2);
}

}  // namespace
}  // namespace framering::ring
