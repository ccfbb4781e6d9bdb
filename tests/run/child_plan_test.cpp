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
  // The supervisor prints with the project's one redaction (tests/ingest/redact_test.cpp has
  // every URL shape); these are the shapes its own former redaction let through.
  const auto plan =
      fs::plan_children(fs::parse_config("cameras:\n"
                                         "  c:\n    source: rtsp://u:secret1@h/s\n"
                                         "  d:\n    source: rtsp://T0KEN2@h/s\n"
                                         "  e:\n    source: rtsp://h/s?token=Tok3&pwd=Pw4\n",
                                         "r.yaml"),
                        {});
  std::string shown;
  for (const auto& child : plan) shown += fs::printable_command(child) + "\n";
  for (const char* secret : {"secret1", "T0KEN2", "Tok3", "Pw4"}) {
    EXPECT_EQ(shown.find(secret), std::string::npos) << secret << " in " << shown;
  }
  EXPECT_NE(shown.find("rtsp://u:***@h/s"), std::string::npos) << shown;
  EXPECT_NE(shown.find("rtsp://***@h/s"), std::string::npos) << shown;
  EXPECT_NE(shown.find("rtsp://h/s?token=***&pwd=***"), std::string::npos) << shown;
  // What a child prints is scrubbed of its own source's secrets, URL or not.
  EXPECT_EQ(fs::printable_output(plan[0], "auth failed for secret1 at rtsp://u:secret1@h/s"),
            "auth failed for *** at rtsp://u:***@h/s");
}

TEST(ChildPlan, PreviewIsOptInOnItsOwnAddress) {
  // Off by default: no camera picture is served anywhere unless the config asks.
  const std::string with_events = std::string(kConfig) + "events:\n  path: out/events.jsonl\n";
  auto plan = fs::plan_children(fs::parse_config(with_events, "p.yaml"), {});
  for (const auto& child : plan) {
    EXPECT_FALSE(has(child.args, "--preview-addr")) << child.label;
    EXPECT_FALSE(has(child.args, "--preview-events")) << child.label;
    EXPECT_TRUE(child.preview_addr.empty());
  }
  // Asked for: its own address (a bare port means loopback), the Host name, and the boxes.
  std::string asked = with_events;
  asked.replace(asked.find("    size: 320x240\n"), 0,
                "    preview: 9700\n    preview_host: nvr.lan\n");
  asked.replace(asked.find("    source: npy:/data/stack\n"), 0, "    preview: 0.0.0.0:9701\n");
  plan = fs::plan_children(fs::parse_config(asked, "p.yaml"), {});
  EXPECT_TRUE(has_pair(plan[0].args, "--preview-addr", "127.0.0.1:9700"));
  EXPECT_TRUE(has_pair(plan[0].args, "--preview-host", "nvr.lan"));
  EXPECT_TRUE(has_pair(plan[0].args, "--preview-events", "out/events.jsonl"));
  EXPECT_EQ(plan[0].preview_addr, "127.0.0.1:9700");
  EXPECT_TRUE(has_pair(plan[4].args, "--preview-addr", "0.0.0.0:9701"));
  EXPECT_FALSE(has(plan[4].args, "--preview-host"));
  EXPECT_NE(plan[0].preview_addr, plan[0].metrics_addr);
  EXPECT_FALSE(has(plan[1].args, "--preview-addr")) << "workers have no preview";
  EXPECT_FALSE(has(plan[1].args, "--preview-events"));
  // Bad values are refused with the key's name.
  for (const char* bad :
       {"    preview: 127.0.0.1\n", "    preview: x:99999\n", "    preview_host: nvr.lan\n"}) {
    std::string text = kConfig;
    text.replace(text.find("    size: 320x240\n"), 0, bad);
    try {
      fs::parse_config(text, "p.yaml");
      ADD_FAILURE() << "accepted " << bad;
    } catch (const fs::ConfigError& e) {
      EXPECT_NE(std::string(e.what()).find("cameras.cam.preview"), std::string::npos) << e.what();
    }
  }
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

TEST(ChildPlan, MqttUrlReachesWorkersInTheEnvironmentNeverInArgs) {
  const std::string yaml = std::string(kConfig) +
                           "mqtt:\n  url: mqtt://cam:s3cret@broker:1883\n  topic_prefix: site\n"
                           "  queue: 50\nsnapshots:\n  dir: /var/snaps\n  keep: 7\n";
  const auto plan = fs::plan_children(fs::parse_config(yaml, "m.yaml"), {});
  for (const auto& child : plan) {
    for (const std::string& arg : child.args) EXPECT_EQ(arg.find("s3cret"), std::string::npos);
    EXPECT_EQ(fs::printable_command(child).find("s3cret"), std::string::npos);
    if (child.kind == fs::ChildKind::kIngest) {
      EXPECT_TRUE(child.env.empty()) << "the ingest does not publish events";
      continue;
    }
    EXPECT_EQ(child.env,
              std::vector<std::string>{"FRAMERING_MQTT_URL=mqtt://cam:s3cret@broker:1883"});
    EXPECT_TRUE(has_pair(child.args, "--mqtt-topic-prefix", "site"));
    EXPECT_TRUE(has_pair(child.args, "--mqtt-queue", "50"));
    EXPECT_TRUE(has_pair(child.args, "--snapshots", "/var/snaps"));
    EXPECT_TRUE(has_pair(child.args, "--snapshot-keep", "7"));
    EXPECT_TRUE(has_pair(child.args, "--camera", child.camera));
  }
  EXPECT_TRUE(fs::plan_children(fs::parse_config(kConfig, "m.yaml"), {})[1].env.empty());
  for (const char* bad : {"mqtt:\n  url: http://broker\n", "mqtt:\n  topic_prefix: a/#\n",
                          "mqtt:\n  topic_prefix: x\n"}) {
    try {
      fs::parse_config(std::string(kConfig) + bad, "m.yaml");
      ADD_FAILURE() << bad;
    } catch (const fs::ConfigError& e) {
      EXPECT_EQ(std::string(e.key()).rfind("mqtt.", 0), 0u) << e.what();
    }
  }
}

TEST(ChildPlan, DecodeModesReachTheIngest) {
  const auto plan = fs::plan_children(
      fs::parse_config("cameras:\n  a:\n    source: x.mp4\n    decode: keyframes\n    fps: 2.5\n"
                       "    workers:\n      motion: {}\n",
                       "d.yaml"),
      {});
  ASSERT_FALSE(plan.empty());
  EXPECT_TRUE(has_pair(plan[0].args, "--decode", "keyframes"));
  const auto fps = std::find(plan[0].args.begin(), plan[0].args.end(), "--fps");
  ASSERT_NE(fps, plan[0].args.end());
  EXPECT_DOUBLE_EQ(std::stod(*(fps + 1)), 2.5);
}

TEST(ChildPlan, BadDecodeModesNameTheKey) {
  for (const char* bad : {"    decode: some\n", "    fps: 0\n", "    fps: 2000\n"}) {
    try {
      fs::parse_config(std::string("cameras:\n  a:\n    source: x.mp4\n") + bad, "d.yaml");
      ADD_FAILURE() << "accepted " << bad;
    } catch (const fs::ConfigError& e) {
      EXPECT_NE(std::string(e.what()).find(std::string("cameras.a.") +
                                           (bad[4] == 'd' ? "decode" : "fps")),
                std::string::npos)
          << e.what();
    }
  }
}

namespace {

TEST(ChildPlan, RecordAddsARecorderAndTheIngestSharesItsPackets) {
  const auto config = fs::parse_config(R"(
cameras:
  lobby:
    source: rtsp://cam/stream
    workers:
      motion: {}
    record:
      dir: /rec
      segment_seconds: 30
      retain_gb: 2.5
      history: 20
      clips: /clips
      pre: 3
      max_clip_seconds: 120
      clip_kinds: [motion, people]
events:
  path: /ev.jsonl
metrics:
  base_port: 9700
)",
                                       "t.yaml");
  const auto plan = fs::plan_children(config, {});
  ASSERT_EQ(plan.size(), 3u);
  EXPECT_TRUE(has_pair(plan[0].args, "--packet-history", "20s"));
  const fs::ChildSpec& rec = plan[2];
  EXPECT_EQ(rec.kind, fs::ChildKind::kRecorder);
  EXPECT_EQ(rec.label, "lobby/record");
  EXPECT_EQ(rec.args[0], "record");
  EXPECT_TRUE(has_pair(rec.args, "--ring", "lobby"));
  EXPECT_TRUE(has_pair(rec.args, "--dir", "/rec"));
  EXPECT_TRUE(has_pair(rec.args, "--segment-seconds", "30"));
  EXPECT_TRUE(has_pair(rec.args, "--retain-gb", "2.5"));
  EXPECT_TRUE(has_pair(rec.args, "--clips", "/clips"));
  EXPECT_TRUE(has_pair(rec.args, "--events", "/ev.jsonl"));
  EXPECT_TRUE(has_pair(rec.args, "--pre", "3"));
  EXPECT_TRUE(has_pair(rec.args, "--max-clip-seconds", "120"));
  EXPECT_TRUE(has_pair(rec.args, "--clip-kinds", "motion,people"));
  EXPECT_TRUE(has_pair(rec.args, "--metrics-addr", "127.0.0.1:9702"));
  // Without record:, no packet ring and no recorder.
  const auto plain =
      fs::plan_children(fs::parse_config("cameras:\n  c:\n    source: rtsp://x/y\n", "p.yaml"), {});
  ASSERT_EQ(plain.size(), 1u);
  EXPECT_FALSE(has(plain[0].args, "--packet-history"));
}

TEST(ChildPlan, MqttReachesARecorderWithClipsInItsEnvironment) {
  const char* cameras = R"(
cameras:
  lobby:
    source: a.mp4
    record:
      dir: /rec
      clips: /clips
  hall:
    source: b.mp4
    record:
      dir: /rec
events:
  path: /ev.jsonl
mqtt:
  url: mqtt://cam:s3cret@broker:1883
  topic_prefix: site
)";
  const auto plan = fs::plan_children(fs::parse_config(cameras, "r.yaml"), {});
  std::vector<const fs::ChildSpec*> recorders;
  for (const auto& child : plan) {
    for (const std::string& arg : child.args) EXPECT_EQ(arg.find("s3cret"), std::string::npos);
    if (child.kind == fs::ChildKind::kRecorder) recorders.push_back(&child);
  }
  ASSERT_EQ(recorders.size(), 2u);
  const fs::ChildSpec& with_clips = recorders[0]->camera == "lobby" ? *recorders[0] : *recorders[1];
  const fs::ChildSpec& segments_only =
      recorders[0]->camera == "lobby" ? *recorders[1] : *recorders[0];
  EXPECT_EQ(with_clips.env,
            std::vector<std::string>{"FRAMERING_MQTT_URL=mqtt://cam:s3cret@broker:1883"});
  EXPECT_TRUE(has_pair(with_clips.args, "--mqtt-topic-prefix", "site"));
  // Segments alone announce nothing: no broker for that recorder.
  EXPECT_TRUE(segments_only.env.empty());
  EXPECT_FALSE(has(segments_only.args, "--mqtt-topic-prefix"));
}

TEST(ChildPlan, RecordConfigErrorsNameTheKey) {
  try {
    fs::parse_config("cameras:\n  c:\n    source: a.mp4\n    record:\n      clips: /c\n", "e.yaml");
    FAIL() << "record without dir accepted";
  } catch (const fs::ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("record.dir"), std::string::npos) << e.what();
  }
  try {
    fs::parse_config(
        "cameras:\n  c:\n    source: a.mp4\n    record:\n      dir: /r\n      clips: /c\n",
        "e.yaml");
    FAIL() << "clips without events.path accepted";
  } catch (const fs::ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("events.path"), std::string::npos) << e.what();
  }
  try {
    fs::parse_config("cameras:\n  c:\n    source: a.mp4\n    record:\n      segments: false\n",
                     "e.yaml");
    FAIL() << "record with neither segments nor clips accepted";
  } catch (const fs::ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("record.segments"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("record.clips"), std::string::npos) << e.what();
  }
  try {
    fs::parse_config(
        "cameras:\n  c:\n    source: a.mp4\n    record:\n      segments: false\n      dir: "
        "/r\n      clips: /c\nevents:\n  path: /e\n",
        "e.yaml");
    FAIL() << "segments: false with a dir accepted";
  } catch (const fs::ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("record.dir"), std::string::npos) << e.what();
  }
}

TEST(ChildPlan, ClipsOnlyRecorderGetsNoSegmentsAndNoDir) {
  const auto plan = fs::plan_children(
      fs::parse_config("cameras:\n  c:\n    source: a.mp4\n    record:\n      segments: false\n"
                       "      clips: /c\nevents:\n  path: /e\n",
                       "c.yaml"),
      {});
  ASSERT_EQ(plan.size(), 2u);
  const fs::ChildSpec& rec = plan[1];
  ASSERT_EQ(rec.kind, fs::ChildKind::kRecorder);
  EXPECT_TRUE(has(rec.args, "--no-segments"));
  EXPECT_FALSE(has(rec.args, "--dir"));
  EXPECT_TRUE(has_pair(rec.args, "--clips", "/c"));
}

TEST(ChildPlan, DetectAndRecordSourcesAreEachIngestedOnce) {
  const auto config = fs::parse_config(R"(
cameras:
  door:
    detect: rtsp://user:secret@cam/sub
    size: 320x240
    realtime: true
    max_retries: 7
    workers:
      motion: {}
    record:
      source: rtsp://user:secret@cam/main
      dir: /rec
      history: 12
metrics:
  base_port: 9800
)",
                                       "s.yaml");
  const auto plan = fs::plan_children(config, {});
  ASSERT_EQ(plan.size(), 4u);  // detect ingest, worker, record ingest, recorder
  const fs::ChildSpec& detect = plan[0];
  EXPECT_EQ(detect.kind, fs::ChildKind::kIngest);
  EXPECT_FALSE(detect.packets_only);
  EXPECT_TRUE(has_pair(detect.args, "--source", "rtsp://user:secret@cam/sub"));
  EXPECT_FALSE(has(detect.args, "--packet-history"));  // its packets are not stored
  EXPECT_FALSE(has(detect.args, "--packets-only"));
  EXPECT_EQ(plan[1].kind, fs::ChildKind::kWorker);
  const fs::ChildSpec& main = plan[2];
  EXPECT_EQ(main.kind, fs::ChildKind::kIngest);
  EXPECT_TRUE(main.packets_only);
  EXPECT_EQ(main.label, "door/record-ingest");
  EXPECT_TRUE(has_pair(main.args, "--ring", "door"));  // the recorder reads door's packet ring
  EXPECT_TRUE(has_pair(main.args, "--source", "rtsp://user:secret@cam/main"));
  EXPECT_TRUE(has(main.args, "--packets-only"));
  EXPECT_TRUE(has_pair(main.args, "--packet-history", "12s"));
  EXPECT_TRUE(has(main.args, "--realtime"));
  EXPECT_TRUE(has_pair(main.args, "--max-retries", "7"));
  EXPECT_FALSE(has(main.args, "--width"));  // frame settings belong to the detect stream
  EXPECT_TRUE(has_pair(main.args, "--metrics-addr", "127.0.0.1:9802"));
  EXPECT_EQ(fs::printable_command(main).find("secret"), std::string::npos);
  EXPECT_EQ(fs::printable_output(main, "auth secret failed").find("secret"), std::string::npos);
  const fs::ChildSpec& rec = plan[3];
  EXPECT_EQ(rec.kind, fs::ChildKind::kRecorder);
  EXPECT_TRUE(has_pair(rec.args, "--ring", "door"));
  EXPECT_TRUE(has_pair(rec.args, "--metrics-addr", "127.0.0.1:9803"));

  // detect: without record: is a source whose packets nobody wants.
  const auto alone = fs::plan_children(
      fs::parse_config("cameras:\n  c:\n    detect: rtsp://x/sub\n", "a.yaml"), {});
  ASSERT_EQ(alone.size(), 1u);
  EXPECT_TRUE(has_pair(alone[0].args, "--source", "rtsp://x/sub"));
  EXPECT_FALSE(has(alone[0].args, "--packet-history"));
}

TEST(ChildPlan, SubStreamConfigErrorsNameTheKey) {
  const struct {
    const char* yaml;
    const char* key;
  } cases[] = {
      {"cameras:\n  c:\n    source: a.mp4\n    detect: b.mp4\n", "cameras.c.detect"},
      {"cameras:\n  c:\n    detect: a.mp4\n    source: b.mp4\n", "cameras.c.source"},
      {"cameras:\n  c:\n    detect: a.mp4\n    record:\n      dir: /r\n",
       "cameras.c.record.source"},
      {"cameras:\n  c:\n    source: a.mp4\n    record:\n      source: b.mp4\n      dir: /r\n",
       "cameras.c.record.source"},
      {"cameras:\n  c:\n    detect: a.mp4\n    record:\n      source: npy:/d\n      dir: /r\n",
       "cameras.c.record.source"},
      {"cameras:\n  c:\n    detect: a.mp4\n    record:\n      source: \"\"\n      dir: /r\n",
       "cameras.c.record.source"},
      {"cameras:\n  c:\n    record:\n      source: b.mp4\n      dir: /r\n", "cameras.c.source"},
  };
  for (const auto& c : cases) {
    try {
      fs::parse_config(c.yaml, "e.yaml");
      ADD_FAILURE() << "accepted:\n" << c.yaml;
    } catch (const fs::ConfigError& e) {
      EXPECT_EQ(e.key(), c.key) << e.what();
      EXPECT_GT(e.line(), 0) << e.what();
    }
  }
}

TEST(ChildPlan, DetectAndRecordSourceNamingOneStreamIsAnErrorNamingBothKeys) {
  try {
    fs::parse_config(
        "cameras:\n  c:\n    detect: rtsp://cam/main\n    record:\n"
        "      source: rtsp://cam/main\n      dir: /r\n",
        "same.yaml");
    FAIL() << "detect: and record.source naming one stream were accepted";
  } catch (const fs::ConfigError& e) {
    EXPECT_EQ(e.key(), "cameras.c.record.source") << e.what();
    EXPECT_EQ(e.line(), 5) << e.what();
    const std::string what = e.what();
    EXPECT_NE(what.find("cameras.c.detect"), std::string::npos) << what;
    EXPECT_NE(what.find("source:"), std::string::npos) << what;
  }
}

TEST(ChildPlan, CheckSourcesLooksAtTheRecordSourceToo) {
  const auto config = fs::parse_config(
      "cameras:\n  c:\n    detect: /dev/null\n    record:\n      source: /no/such/main.mp4\n"
      "      dir: /r\n",
      "m.yaml");
  try {
    fs::check_sources(config);
    FAIL() << "a missing record.source file was accepted";
  } catch (const fs::ConfigError& e) {
    EXPECT_EQ(e.key(), "cameras.c.record.source") << e.what();
    EXPECT_EQ(e.line(), 5) << e.what();
  }
}

}  // namespace
