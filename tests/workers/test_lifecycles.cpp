// The lifecycle building blocks: occupancy hysteresis, lifecycle ids, MQTT URL parsing.
#include <gtest/gtest.h>

#include <set>

#include "analytics/occupancy.hpp"
#include "framering/workers/config_error.hpp"
#include "framering/workers/mqtt_url.hpp"
#include "lifecycles.hpp"

namespace framering::workers::test {
namespace {

using analytics::Occupancy;

TEST(Occupancy, StartsAfterStartFramesUpdatesOnChangeEndsAfterCooldown) {
  Occupancy o(2, 3);
  EXPECT_EQ(o.step(1), std::nullopt);  // one frame is not enough
  EXPECT_EQ(o.step(0), std::nullopt);
  EXPECT_EQ(o.step(2), std::nullopt);
  EXPECT_EQ(o.step(2), Phase::kStart);
  EXPECT_EQ(o.count(), 2u);
  EXPECT_EQ(o.step(2), std::nullopt);  // same count: nothing to say
  EXPECT_EQ(o.step(0), std::nullopt);  // a gap shorter than the cooldown
  EXPECT_EQ(o.step(0), std::nullopt);
  EXPECT_EQ(o.step(3), Phase::kUpdate);
  EXPECT_EQ(o.max_count(), 3u);
  EXPECT_EQ(o.step(1), Phase::kUpdate);
  EXPECT_EQ(o.step(0), std::nullopt);
  EXPECT_EQ(o.step(0), std::nullopt);
  EXPECT_EQ(o.step(0), Phase::kEnd);
  EXPECT_FALSE(o.active());
  EXPECT_EQ(o.step(0), std::nullopt);
}

TEST(Lifecycles, StartGivesAnIdThatUpdateAndEndCarry) {
  Lifecycles l;
  Event start{"tamper", Phase::kStart, "covered", {}, {}, {}, nlohmann::json::object()};
  const Lifecycle* s = l.apply(start, 10, 1764758421503112000ull);
  ASSERT_TRUE(s);
  const std::string id = s->id;
  EXPECT_EQ(id.rfind("1764758421.503112-", 0), 0u) << id;
  EXPECT_EQ(id.size(), std::string("1764758421.503112-abcdef").size());
  EXPECT_EQ(l.state()["state"], "ON");

  Event other = start;
  other.subject = "moved";
  const std::string other_id = l.apply(other, 11, 1764758421603112000ull)->id;
  EXPECT_NE(other_id, id);

  Event end = start;
  end.phase = Phase::kEnd;
  const Lifecycle* e = l.apply(end, 20, 1764758422000000000ull);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->id, id);
  EXPECT_EQ(e->start_frame_no, 10u);
  EXPECT_EQ(l.apply(end, 21, 1764758422100000000ull), nullptr) << "already ended";
  EXPECT_EQ(l.state()["active"].size(), 1u);

  const std::vector<Event> closing = l.close_all("stopped");
  ASSERT_EQ(closing.size(), 1u);
  EXPECT_EQ(closing[0].subject, "moved");
  EXPECT_EQ(l.apply(closing[0], 30, 1764758423000000000ull)->id, other_id);
  EXPECT_EQ(l.state(),
            (nlohmann::ordered_json{{"state", "OFF"}, {"active", nlohmann::json::array()}}));

  Event frame{"checksum", Phase::kFrame, "", {}, {}, {}, nlohmann::json::object()};
  EXPECT_EQ(l.apply(frame, 31, 1764758423100000000ull), nullptr);
}

TEST(Lifecycles, IdsAreUniqueEvenInTheSameMicrosecond) {
  Lifecycles l;
  std::set<std::string> ids;
  Event start{"motion", Phase::kStart, "", {}, {}, {}, nlohmann::json::object()};
  for (int i = 0; i < 200; ++i) ids.insert(l.apply(start, i, 1764758421000000000ull)->id);
  EXPECT_GT(ids.size(), 195u);  // 24 random bits: a collision among 200 is ~0.1 % likely
}

TEST(MqttUrl, ParsesUserPasswordHostPortAndTls) {
  MqttUrl u = parse_mqtt_url("mqtt://cam:p%40ss:w@broker.local:1884", "--mqtt");
  EXPECT_FALSE(u.tls);
  EXPECT_EQ(u.host, "broker.local");
  EXPECT_EQ(u.port, 1884);
  EXPECT_EQ(u.user, "cam");
  EXPECT_EQ(u.password, "p@ss:w");
  u = parse_mqtt_url("mqtts://[::1]", "--mqtt");
  EXPECT_TRUE(u.tls);
  EXPECT_EQ(u.host, "::1");
  EXPECT_EQ(u.port, 8883);
  EXPECT_EQ(parse_mqtt_url("mqtt://h", "--mqtt").port, 1883);
  EXPECT_EQ(redacted_mqtt_url("mqtt://cam:hunter2@h:1883"), "mqtt://cam:***@h:1883");
}

TEST(MqttUrl, BadUrlsNameTheFlagAndNeverShowThePassword) {
  for (const char* bad : {"http://h", "mqtt://", "mqtt://u:hunter2@h:0", "mqtt://u:hunter2@h:x",
                          "mqtt://u:hunter2@h/topic", "mqtt://:hunter2@h"}) {
    try {
      parse_mqtt_url(bad, "--mqtt");
      ADD_FAILURE() << bad;
    } catch (const ConfigError& e) {
      const std::string what = e.what();
      EXPECT_EQ(what.rfind("--mqtt ", 0), 0u) << what;
      EXPECT_EQ(what.find("hunter2"), std::string::npos) << what;
    }
  }
}

}  // namespace
}  // namespace framering::workers::test
