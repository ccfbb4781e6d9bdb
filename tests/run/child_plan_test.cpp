// Command lines the supervisor builds for ingest and workers (docs/design.md's flags).
#include <gtest/gtest.h>

#include <algorithm>

#include "framering/supervisor/child_plan.hpp"

namespace fs = framering::supervisor;

namespace {

bool has_pair(const std::vector<std::string>& args, const std::string& flag,
              const std::string& value) {
  for (std::size_t i = 0; i + 1 < args.size(); ++i) {
    if (args[i] == flag && args[i + 1] == value) return true;
  }
  return false;
}

bool has(const std::vector<std::string>& args, const std::string& flag) {
  return std::find(args.begin(), args.end(), flag) != args.end();
}

const char* kConfig = R"(
cameras:
  cam:
    source: "testsrc:testsrc2=size=320x240:rate=25"
    size: 320x240
    realtime: true
    workers:
      motion:
        params: {min_area: 400}
      people:
        analytic: people
        replicas: 2
        mode: every
  two:
    source: npy:/data/stack
    workers:
      checksum: {}
metrics:
  base_port: 9600
shm:
  mode: "0640"
)";

}  // namespace

TEST(ChildPlan, OneIngestPerCameraThenEachReplica) {
  const auto plan = fs::plan_children(fs::parse_config(kConfig, "p.yaml"), {});
  ASSERT_EQ(plan.size(), 6u);
  EXPECT_EQ(plan[0].label, "cam/ingest");
  EXPECT_EQ(plan[1].label, "cam/motion");
  EXPECT_EQ(plan[2].label, "cam/people-0");
  EXPECT_EQ(plan[3].label, "cam/people-1");
  EXPECT_EQ(plan[4].label, "two/ingest");
  EXPECT_EQ(plan[5].label, "two/checksum");

  const auto& ingest = plan[0].args;
  EXPECT_EQ(ingest[0], "ingest");
  EXPECT_TRUE(has_pair(ingest, "--ring", "cam"));
  EXPECT_TRUE(has_pair(ingest, "--source", "testsrc:testsrc2=size=320x240:rate=25"));
  EXPECT_TRUE(has_pair(ingest, "--width", "320"));
  EXPECT_TRUE(has_pair(ingest, "--height", "240"));
  EXPECT_TRUE(has(ingest, "--realtime"));
  EXPECT_FALSE(has(ingest, "--loop"));
  EXPECT_TRUE(has_pair(ingest, "--metrics-addr", "127.0.0.1:9600"));
  EXPECT_TRUE(has_pair(ingest, "--shm-mode", "0640"));

  const auto& motion = plan[1].args;
  EXPECT_EQ(motion[0], "worker");
  EXPECT_TRUE(has_pair(motion, "--analytic", "motion"));
  EXPECT_TRUE(has_pair(motion, "--mode", "latest"));
  EXPECT_TRUE(has_pair(motion, "--name", "motion"));
  EXPECT_TRUE(has_pair(motion, "--events", "-"));
  EXPECT_TRUE(has_pair(motion, "--param", "min_area=400"));
  EXPECT_FALSE(has(motion, "--group"));
  EXPECT_TRUE(has_pair(motion, "--metrics-addr", "127.0.0.1:9601"));

  const auto& p1 = plan[3].args;
  EXPECT_TRUE(has_pair(p1, "--group", "people"));
  EXPECT_TRUE(has_pair(p1, "--member", "1"));
  EXPECT_TRUE(has_pair(p1, "--members", "2"));
  EXPECT_TRUE(has_pair(p1, "--name", "people-1"));
  EXPECT_TRUE(has_pair(p1, "--mode", "every"));
  EXPECT_EQ(plan[3].worker_id, "people-1");
  EXPECT_TRUE(has_pair(plan[5].args, "--metrics-addr", "127.0.0.1:9605"));
}

TEST(ChildPlan, BasePortOverrideAndDisabledMetrics) {
  auto config = fs::parse_config(kConfig, "p.yaml");
  fs::PlanOptions options;
  options.metrics_base_port = 20000;
  auto plan = fs::plan_children(config, options);
  EXPECT_TRUE(has_pair(plan[0].args, "--metrics-addr", "127.0.0.1:20000"));
  EXPECT_TRUE(has_pair(plan[5].args, "--metrics-addr", "127.0.0.1:20005"));
  options.metrics_base_port = 65533;
  EXPECT_THROW(fs::plan_children(config, options), fs::ConfigError) << "ports past 65535";
  config.metrics.enabled = false;
  plan = fs::plan_children(config, options);
  for (const auto& child : plan) EXPECT_TRUE(has_pair(child.args, "--metrics-addr", "0"));
}

TEST(ChildPlan, CredentialsNeverPrinted) {
  EXPECT_EQ(fs::redact_url("rtsp://admin:hunter2@10.0.0.5:554/live"),
            "rtsp://admin:***@10.0.0.5:554/live");
  EXPECT_EQ(fs::redact_url("rtsp://10.0.0.5/live"), "rtsp://10.0.0.5/live");
  EXPECT_EQ(fs::redact_url("rtsp://user@host/a:b@c"), "rtsp://user@host/a:b@c");
  const auto plan = fs::plan_children(
      fs::parse_config("cameras:\n  c:\n    source: rtsp://u:secret@h/s\n", "r.yaml"), {});
  const std::string shown = fs::printable_command(plan[0]);
  EXPECT_EQ(shown.find("secret"), std::string::npos) << shown;
  EXPECT_NE(shown.find("rtsp://u:***@h/s"), std::string::npos) << shown;
}

TEST(ChildPlan, IngestPreviewDrawsTheEventsFile) {
  const std::string with_events = std::string(kConfig) + "events:\n  path: out/events.jsonl\n";
  const auto plan = fs::plan_children(fs::parse_config(with_events, "p.yaml"), {});
  EXPECT_TRUE(has_pair(plan[0].args, "--preview-events", "out/events.jsonl"));
  EXPECT_TRUE(has_pair(plan[4].args, "--preview-events", "out/events.jsonl"));
  EXPECT_FALSE(has(plan[1].args, "--preview-events")) << "workers have no preview";
  EXPECT_FALSE(
      has(fs::plan_children(fs::parse_config(kConfig, "p.yaml"), {})[0].args, "--preview-events"));
}

TEST(ChildPlan, WaitForWorkersCountsEveryWorkerProcess) {
  const char* yaml =
      "cameras:\n  rec:\n    source: clip.avi\n    wait_for_workers: true\n    workers:\n"
      "      motion: {}\n      people:\n        analytic: people\n        replicas: 2\n";
  auto plan = fs::plan_children(fs::parse_config(yaml, "w.yaml"), {});
  EXPECT_TRUE(has_pair(plan[0].args, "--wait-for-readers", "3"));
  plan =
      fs::plan_children(fs::parse_config("cameras:\n  rec:\n    source: clip.avi\n", "w.yaml"), {});
  EXPECT_FALSE(has(plan[0].args, "--wait-for-readers"));
  try {
    fs::parse_config("cameras:\n  cam:\n    source: rtsp://h/s\n    wait_for_workers: true\n",
                     "w.yaml");
    ADD_FAILURE() << "a camera cannot wait for its workers";
  } catch (const fs::ConfigError& e) {
    EXPECT_EQ(e.key(), "cameras.cam.wait_for_workers");
    EXPECT_EQ(e.line(), 4);
  }
}
