#include "framering/ingest/redact.hpp"

#include <gtest/gtest.h>

namespace framering::ingest {
namespace {

TEST(Redact, MasksThePasswordAndKeepsTheUser) {
  EXPECT_EQ(redact_source("rtsp://admin:hunter2@10.0.0.5:554/Streaming/101"),
            "rtsp://admin:***@10.0.0.5:554/Streaming/101");
}

TEST(Redact, ALoneTokenIsTheCredential) {
  EXPECT_EQ(redact_source("rtsp://t0ken@cam/live"), "rtsp://***@cam/live");
}

TEST(Redact, PasswordWithAtAndColonIsMaskedWhole) {
  // Unencoded '@' and ':' in the password: the last '@' before the path ends the userinfo.
  EXPECT_EQ(redact_source("rtsp://user:p@ss:w@host/x"), "rtsp://user:***@host/x");
  EXPECT_EQ(redact_source("rtsp://user:p%40ss@host"), "rtsp://user:***@host");
}

TEST(Redact, AnAtInThePathIsNotUserinfo) {
  EXPECT_EQ(redact_source("rtsp://host/path@x"), "rtsp://host/path@x");
}

TEST(Redact, SecretQueryValues) {
  EXPECT_EQ(redact_source("rtsp://host/s?channel=1&token=abc&Password=x#frag"),
            "rtsp://host/s?channel=1&token=***&Password=***#frag");
  EXPECT_EQ(redact_source("rtsp://host/s?api_key=k1"), "rtsp://host/s?api_key=***");
}

TEST(Redact, NonUrlsAreUnchanged) {
  EXPECT_EQ(redact_source("/videos/a@b:c.mp4"), "/videos/a@b:c.mp4");
  EXPECT_EQ(redact_source("testsrc:testsrc2=size=64x48"), "testsrc:testsrc2=size=64x48");
  EXPECT_EQ(redact_source("npy:/d/*.npy"), "npy:/d/*.npy");
  EXPECT_EQ(redact_source(""), "");
}

TEST(Redact, SecretsScrubFreeText) {
  const auto secrets = source_secrets("rtsp://bob:pa%24%24@cam/x?token=tk");
  const std::string line = "401 for bob:pa%24%24 (pa$$) token tk";
  EXPECT_EQ(redact_text(line, secrets), "401 for bob:*** (***) token ***");
  EXPECT_TRUE(source_secrets("/plain/file.avi").empty());
}

TEST(Redact, MasksArgvInPlaceAtTheSameLength) {
  char url[] = "rtsp://bob:hunter2@cam/x?token=tk";
  mask_secrets_in_place(url);
  EXPECT_STREQ(url, "rtsp://bob:*******@cam/x?token=**");
  char path[] = "/videos/a:b@c.avi";
  mask_secrets_in_place(path);
  EXPECT_STREQ(path, "/videos/a:b@c.avi");
}

}  // namespace
}  // namespace framering::ingest
