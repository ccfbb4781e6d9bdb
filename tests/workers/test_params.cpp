// --param parsing and validation: unknown keys and bad values are config errors naming the key.
#include <gtest/gtest.h>

#include "framering/workers/analytic.hpp"
#include "framering/workers/config_error.hpp"

namespace framering::workers {
namespace {

std::string config_error_of(const std::string& analytic, const std::vector<std::string>& params) {
  try {
    (void)make_analytic(analytic, Params::parse(params));
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

TEST(Params, KnownKeysAreAccepted) {
  EXPECT_EQ(config_error_of("motion", {"min_area=400", "zone=0.1,0.1;0.9,0.1;0.9,0.9"}), "");
  EXPECT_EQ(config_error_of("people", {"scale=1.05", "stride=8"}), "");
  EXPECT_EQ(config_error_of("tamper", {"dark=30"}), "");
  EXPECT_EQ(config_error_of("checksum", {}), "");
}

TEST(Params, UnknownKeyIsNamedWithTheKnownOnes) {
  const std::string msg = config_error_of("motion", {"min_aera=400"});
  EXPECT_NE(msg.find("min_aera"), std::string::npos) << msg;
  EXPECT_NE(msg.find("min_area"), std::string::npos) << msg;
  EXPECT_NE(config_error_of("checksum", {"x=1"}).find("--param x"), std::string::npos);
}

TEST(Params, BadValuesNameKeyAndRange) {
  EXPECT_NE(config_error_of("people", {"scale=abc"}).find("scale=abc"), std::string::npos);
  EXPECT_NE(config_error_of("people", {"stride=12"}).find("multiple of 8"), std::string::npos);
  EXPECT_NE(config_error_of("motion", {"zone=0.1,0.1;0.5,0.5"}).find("at least 3 points"),
            std::string::npos);
  EXPECT_NE(config_error_of("motion", {"zone=0.1,0.1;2,0.5;0.3,0.3"}).find("'2,0.5'"),
            std::string::npos);
  EXPECT_NE(config_error_of("motion", {"min_area"}).find("key=value"), std::string::npos);
  EXPECT_NE(config_error_of("motion", {"warmup=1", "warmup=2"}).find("twice"), std::string::npos);
  EXPECT_NE(config_error_of("magic", {}).find("--analytic magic"), std::string::npos);
}

}  // namespace
}  // namespace framering::workers
