// The YAML loader: good configs parse to the expected values; every kind of mistake is reported
// with the key path and the line it is on.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "framering/ingest/ingest.hpp"
#include "framering/ringbuf/error.hpp"
#include "framering/ringbuf/header.hpp"
#include "framering/supervisor/config.hpp"
#include "framering/workers/analytic.hpp"
#include "framering/workers/zone_names.hpp"

namespace fs = framering::supervisor;

namespace {

const char* kGood = R"(# a comment
cameras:
  lobby:
    source: /usr/share/doc/opencv-doc/examples/data/vtest.avi
    size: 640x480
    pix_fmt: gray8
    slots: 16
    realtime: true
    loop: yes
    workers:
      motion: {}
      people:
        analytic: people
        mode: every
        replicas: 2
        zone: [[0.1, 0.1], [0.9, 0.1], [0.9, 0.9], [0.1, 0.9]]
        params:
          min_score: 0.5
  door:
    source: "rtsp://user:pw@cam/stream"
    ring: door-ring
metrics:
  bind: 0.0.0.0
  base_port: 9500
events:
  path: /tmp/events.jsonl
shm:
  mode: "0640"
  group: video
supervisor:
  stop_grace: 2
  stable_run: 4.5
)";

// Parses `text` expecting an error; returns it.
fs::ConfigError parse_error(const std::string& text) {
  try {
    fs::parse_config(text, "test.yaml");
  } catch (const fs::ConfigError& e) {
    return e;
  }
  ADD_FAILURE() << "no error for:\n" << text;
  return fs::ConfigError("", 0, "", "");
}

}  // namespace

TEST(Config, ParsesEverySection) {
  const fs::Config c = fs::parse_config(kGood, "good.yaml");
  ASSERT_EQ(c.cameras.size(), 2u);
  const fs::CameraConfig& lobby = c.cameras[0];
  EXPECT_EQ(lobby.name, "lobby");
  EXPECT_EQ(lobby.ring, "lobby");
  EXPECT_EQ(lobby.line, 3);
  EXPECT_EQ(lobby.source_line, 4);
  EXPECT_EQ(lobby.width, 640u);
  EXPECT_EQ(lobby.height, 480u);
  EXPECT_EQ(lobby.pix_fmt, "gray8");
  EXPECT_EQ(lobby.slots, 16u);
  EXPECT_TRUE(lobby.realtime);
  EXPECT_TRUE(lobby.loop);
  ASSERT_EQ(lobby.workers.size(), 2u);
  EXPECT_EQ(lobby.workers[0].analytic, "motion") << "`motion: {}` names its analytic";
  EXPECT_EQ(lobby.workers[0].mode, "latest");
  EXPECT_EQ(lobby.workers[1].replicas, 2u);
  EXPECT_EQ(lobby.workers[1].mode, "every");
  ASSERT_EQ(lobby.workers[1].params.size(), 2u);
  EXPECT_EQ(lobby.workers[1].params[0].first, "zone");
  EXPECT_EQ(lobby.workers[1].params[0].second, "0.1,0.1;0.9,0.1;0.9,0.9;0.1,0.9");
  EXPECT_EQ(lobby.workers[1].params[1], (std::pair<std::string, std::string>{"min_score", "0.5"}));
  EXPECT_EQ(c.cameras[1].ring, "door-ring");
  EXPECT_FALSE(c.cameras[1].realtime);
  EXPECT_EQ(c.metrics.bind, "0.0.0.0");
  EXPECT_EQ(c.metrics.base_port, 9500);
  EXPECT_EQ(c.events.path, "/tmp/events.jsonl");
  EXPECT_EQ(c.shm.mode, "0640");
  EXPECT_EQ(c.shm.group, "video");
  EXPECT_DOUBLE_EQ(c.supervisor.stop_grace_s, 2.0);
  EXPECT_DOUBLE_EQ(c.supervisor.stable_run_s, 4.5);
  EXPECT_DOUBLE_EQ(c.supervisor.restart_backoff_s, 0.5) << "defaults stay";
}

TEST(Config, UnknownKeyNamesKeyLineAndSuggestion) {
  const auto e = parse_error("cameras:\n  a:\n    source: x\n    realtim: true\n");
  EXPECT_EQ(e.line(), 4);
  EXPECT_EQ(e.key(), "cameras.a.realtim");
  EXPECT_NE(std::string(e.what()).find("test.yaml:4:"), std::string::npos) << e.what();
  EXPECT_NE(std::string(e.what()).find("did you mean 'realtime'"), std::string::npos) << e.what();
}

TEST(Config, UnknownTopLevelAndWorkerKeys) {
  EXPECT_EQ(parse_error("cameras:\n  a:\n    source: x\nmetric:\n  base_port: 1\n").key(),
            "metric");
  const auto e = parse_error(
      "cameras:\n  a:\n    source: x\n    workers:\n      m:\n        analytic: motion\n"
      "        replica: 2\n");
  EXPECT_EQ(e.key(), "cameras.a.workers.m.replica");
  EXPECT_EQ(e.line(), 7);
}

TEST(Config, WrongTypesNameKeyAndLine) {
  auto e = parse_error("cameras:\n  a:\n    source: x\n    slots: eight\n");
  EXPECT_EQ(e.key(), "cameras.a.slots");
  EXPECT_EQ(e.line(), 4);
  e = parse_error("cameras:\n  a:\n    source: x\n    realtime: sometimes\n");
  EXPECT_EQ(e.key(), "cameras.a.realtime");
  e = parse_error("cameras:\n  a:\n    source: [x, y]\n");
  EXPECT_EQ(e.key(), "cameras.a.source");
  EXPECT_EQ(e.line(), 3);
  e = parse_error("cameras:\n  a:\n    source: x\nmetrics:\n  base_port: 70000\n");
  EXPECT_EQ(e.key(), "metrics.base_port");
  EXPECT_EQ(e.line(), 5);
  e = parse_error("cameras: [a, b]\n");
  EXPECT_EQ(e.key(), "cameras");
  e = parse_error("cameras:\n  a:\n    source: x\n    size: 640by480\n");
  EXPECT_EQ(e.key(), "cameras.a.size");
  e = parse_error("cameras:\n  a:\n    source: x\nshm:\n  mode: 0999\n");
  EXPECT_EQ(e.key(), "shm.mode");
}

TEST(Config, BadValues) {
  auto e = parse_error(
      "cameras:\n  a:\n    source: x\n    workers:\n      w:\n        analytic: faces\n");
  EXPECT_EQ(e.key(), "cameras.a.workers.w.analytic");
  EXPECT_EQ(e.line(), 6);
  e = parse_error("cameras:\n  a:\n    source: x\n    workers:\n      w: {}\n");
  EXPECT_EQ(e.key(), "cameras.a.workers.w.analytic") << "a worker not named after an analytic";
  e = parse_error(
      "cameras:\n  a:\n    source: x\n    workers:\n      motion:\n        mode: sometimes\n");
  EXPECT_EQ(e.key(), "cameras.a.workers.motion.mode");
  e = parse_error(
      "cameras:\n  a:\n    source: x\n    workers:\n      motion:\n"
      "        zone: [[0, 0], [1, 0], [2, 1]]\n");
  EXPECT_EQ(e.key(), "cameras.a.workers.motion.zone[2].x");
  e = parse_error("cameras:\n  bad/name:\n    source: x\n");
  EXPECT_EQ(e.key(), "cameras.bad/name");
  e = parse_error(
      "cameras:\n  a:\n    source: x\n    record:\n      dir: /r\n      max_clip_seconds: 0\n");
  EXPECT_EQ(e.key(), "cameras.a.record.max_clip_seconds");
  EXPECT_EQ(e.line(), 6);
}

TEST(Config, DuplicateCamerasAndRings) {
  auto e = parse_error("cameras:\n  a:\n    source: x\n  a:\n    source: y\n");
  EXPECT_EQ(e.line(), 4);
  EXPECT_NE(std::string(e.what()).find("duplicate camera name 'a' (first on line 2)"),
            std::string::npos)
      << e.what();
  e = parse_error("cameras:\n  a:\n    source: x\n  b:\n    source: y\n    ring: a\n");
  EXPECT_EQ(e.key(), "cameras.b");
  e = parse_error(
      "cameras:\n  a:\n    source: x\n    workers:\n      p:\n        analytic: people\n"
      "        replicas: 2\n      p-1:\n        analytic: motion\n");
  EXPECT_NE(std::string(e.what()).find("worker id 'p-1'"), std::string::npos) << e.what();
}

// The run config refuses exactly what the process it starts would: each rule is asked of the
// library that owns it (slot counts and names: the ring; sources and frame sizes: the ingest;
// analytics: the workers), never re-typed.
bool config_accepts(const std::string& text) {
  try {
    fs::parse_config(text, "rules.yaml");
    return true;
  } catch (const fs::ConfigError&) {
    return false;
  }
}

std::string camera(const std::string& lines) {
  return "cameras:\n  a:\n    source: x\n" + lines;
}

TEST(ConfigRules, SlotCountsAreTheRingsRule) {
  namespace ring = framering::ring;
  for (const std::uint64_t slots : {0ull, 1ull, 2ull, 3ull, 65536ull, 65537ull, 1ull << 32}) {
    bool ring_accepts = true;
    try {
      ring::plan_layout("a", ring::Geometry::image(1, 1, ring::PixFmt::kGray8),
                        static_cast<std::uint32_t>(std::min<std::uint64_t>(slots, UINT32_MAX)));
    } catch (const ring::RingError&) {
      ring_accepts = false;
    }
    EXPECT_EQ(config_accepts(camera("    slots: " + std::to_string(slots) + "\n")), ring_accepts)
        << slots << " slots";
  }
  const auto e = parse_error(camera("    slots: 1\n"));
  EXPECT_EQ(e.key(), "cameras.a.slots");
  EXPECT_NE(std::string(e.what()).find("from 2 to 65536"), std::string::npos) << e.what();
}

TEST(ConfigRules, LiveSourcesAreTheIngestsClassification) {
  // rtsps:// and any letter case are cameras, which cannot wait for their workers.
  for (const char* source : {"rtsp://h/s", "rtsps://h/s", "RTSP://h/s", "Rtsps://h/s"}) {
    const auto e = parse_error("cameras:\n  a:\n    source: \"" + std::string(source) +
                               "\"\n    wait_for_workers: true\n");
    EXPECT_EQ(e.key(), "cameras.a.wait_for_workers") << source;
  }
  EXPECT_TRUE(config_accepts("cameras:\n  a:\n    source: /v.avi\n    wait_for_workers: true\n"));
  // A camera URL is never checked as a local file, whatever its case.
  fs::check_sources(fs::parse_config(
      "cameras:\n  a:\n    source: RTSPS://h/s\n  b:\n    source: npy:/no/such/*.npy\n", "c.yaml"));
}

TEST(ConfigRules, SizesPixelFormatsNamesAndAnalyticsComeFromTheirOwners) {
  const auto max = std::to_string(framering::ingest::kMaxDimension);
  EXPECT_TRUE(config_accepts(camera("    size: " + max + "x" + max + "\n")));
  EXPECT_FALSE(config_accepts(camera("    size: " + max + "x" +
                                     std::to_string(framering::ingest::kMaxDimension + 1) + "\n")));
  // The ring parses pixel formats, "gray" included, as `ingest --pix-fmt` does.
  for (const char* fmt : {"bgr24", "rgb24", "gray8", "gray", "yuv420p", "nv12"}) {
    EXPECT_TRUE(config_accepts(camera("    pix_fmt: " + std::string(fmt) + "\n"))) << fmt;
  }
  EXPECT_FALSE(config_accepts(camera("    pix_fmt: yuv422p\n")));
  // 4:2:0 needs an even size: the ring's rule, checked against the camera's size.
  EXPECT_TRUE(config_accepts(camera("    pix_fmt: nv12\n    size: 320x240\n")));
  EXPECT_FALSE(config_accepts(camera("    pix_fmt: yuv420p\n    size: 321x240\n")));
  EXPECT_TRUE(config_accepts(camera("    pix_fmt: bgr24\n    size: 321x241\n")));
  for (const std::string& analytic : framering::workers::analytic_names()) {
    EXPECT_TRUE(config_accepts(camera("    workers:\n      " + analytic + ": {}\n"))) << analytic;
  }
  // Zone names: the objects analytic's rule.
  const std::string zone = "    workers:\n      objects:\n        zones:\n          ";
  const std::string square = ": [[0, 0], [1, 0], [1, 1]]\n";
  EXPECT_TRUE(config_accepts(camera(zone + std::string(64, 'z') + square)));
  EXPECT_FALSE(config_accepts(camera(zone + std::string(65, 'z') + square)));
  EXPECT_TRUE(framering::workers::valid_zone_name(std::string(64, 'z')));
  EXPECT_FALSE(framering::workers::valid_zone_name(std::string(65, 'z')));
  // Camera and ring names: the ring's name rule (48 characters).
  EXPECT_TRUE(config_accepts("cameras:\n  " + std::string(48, 'c') + ":\n    source: x\n"));
  EXPECT_FALSE(config_accepts("cameras:\n  " + std::string(49, 'c') + ":\n    source: x\n"));
  EXPECT_FALSE(config_accepts(camera("    ring: " + std::string(49, 'r') + "\n")));
  // Worker ids name reader-stats files: the same rule, on the id replicas actually get.
  const std::string w45(45, 'w');
  EXPECT_TRUE(config_accepts(camera("    workers:\n      " + w45 +
                                    ":\n        analytic: motion\n        replicas: 10\n")));
  const std::string w47(47, 'w');
  const auto e = parse_error(
      camera("    workers:\n      " + w47 + ":\n        analytic: motion\n        replicas: 2\n"));
  EXPECT_NE(std::string(e.what()).find("worker id '" + w47 + "-0'"), std::string::npos) << e.what();
}

TEST(Config, MissingPiecesAndSyntaxErrors) {
  EXPECT_EQ(parse_error("").key(), "cameras");
  EXPECT_EQ(parse_error("metrics:\n  base_port: 9000\n").key(), "cameras");
  EXPECT_EQ(parse_error("cameras:\n  a:\n    loop: true\n").key(), "cameras.a.source");
  const auto e = parse_error("cameras:\n  a:\n    source: [x\n");
  EXPECT_GT(e.line(), 0) << e.what();
}

TEST(Config, CheckSourcesNamesMissingFile) {
  const fs::Config c = fs::parse_config(
      "cameras:\n  ok:\n    source: testsrc:testsrc2\n  gone:\n    source: /no/such/clip.avi\n",
      "s.yaml");
  try {
    fs::check_sources(c);
    FAIL() << "missing file accepted";
  } catch (const fs::ConfigError& e) {
    EXPECT_EQ(e.key(), "cameras.gone.source");
    EXPECT_EQ(e.line(), 5);
    EXPECT_NE(std::string(e.what()).find("/no/such/clip.avi"), std::string::npos);
  }
  fs::check_sources(fs::parse_config("cameras:\n  r:\n    source: rtsp://h/s\n", "r.yaml"));
}

TEST(Config, ShippedConfigsParse) {
  std::vector<std::filesystem::path> files;
  const std::filesystem::path config_dir = std::filesystem::path(FRAMERING_SOURCE_DIR) / "config";
  for (const auto& dir : {config_dir, config_dir / "examples"}) {
    for (const auto& entry : std::filesystem::directory_iterator(dir)) {
      if (entry.path().extension() == ".yaml") files.push_back(entry.path());
    }
  }
  EXPECT_GE(files.size(), 5u);  // demo.yaml, cameras-16.yaml and the examples
  for (const auto& file : files) {
    SCOPED_TRACE(file.string());
    const fs::Config config = fs::load_config_file(file.string());
    EXPECT_FALSE(config.cameras.empty());
  }
}
