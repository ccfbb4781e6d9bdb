// The project's one redaction (framering/ingest/redact.hpp), over every URL shape a source or a
// message can take: one table, three views of each row — what logs show (redact_urls, equal to
// redact_source for a whole URL), what /proc/<pid>/cmdline shows after mask_secrets_in_place,
// and which secrets must never survive either.
#include "framering/ingest/redact.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace framering::ingest {
namespace {

struct Shape {
  const char* what;
  std::string input;
  std::string shown;                 // redact_urls(input)
  std::string masked;                // input after mask_secrets_in_place
  std::vector<std::string> secrets;  // none of these may appear in `shown` or `masked`
};

const std::vector<Shape>& shapes() {
  static const std::vector<Shape> table = {
      {"user:password",
       "rtsp://admin:hunter2@10.0.0.5:554/Streaming/101",
       "rtsp://admin:***@10.0.0.5:554/Streaming/101",
       "rtsp://admin:*******@10.0.0.5:554/Streaming/101",
       {"hunter2"}},
      {"a bare token as userinfo",
       "rtsp://t0kenXYZ@cam/live",
       "rtsp://***@cam/live",
       "rtsp://********@cam/live",
       {"t0kenXYZ"}},
      {"unencoded '@' and ':' in the password",
       "rtsp://user:p@ss:w@host/x",
       "rtsp://user:***@host/x",
       "rtsp://user:******@host/x",
       {"p@ss:w", "ss:w"}},
      {"percent-encoded password",
       "rtsp://user:p%40ssQ@host",
       "rtsp://user:***@host",
       "rtsp://user:*******@host",
       {"p%40ssQ"}},
      {"empty password",
       "rtsp://user:@host/x",
       "rtsp://user:***@host/x",
       "rtsp://user:@host/x",
       {}},
      {"'@' in the path is not userinfo",
       "rtsp://host/path@x",
       "rtsp://host/path@x",
       "rtsp://host/path@x",
       {}},
      {"?token= and Password= query values",
       "rtsp://host/s?channel=1&token=abc9&Password=x7y#frag",
       "rtsp://host/s?channel=1&token=***&Password=***#frag",
       "rtsp://host/s?channel=1&token=****&Password=***#frag",
       {"abc9", "x7y"}},
      {"api_key, access_token, signature, session",
       "rtsps://cam:322/s?api_key=K1k1&access_token=A2a2&X-Amz-Signature=S3s3&sessionid=Q4q4",
       "rtsps://cam:322/s?api_key=***&access_token=***&X-Amz-Signature=***&sessionid=***",
       "rtsps://cam:322/s?api_key=****&access_token=****&X-Amz-Signature=****&sessionid=****",
       {"K1k1", "A2a2", "S3s3", "Q4q4"}},
      {"query without a path",
       "rtsp://cam:554?auth=Zz9",
       "rtsp://cam:554?auth=***",
       "rtsp://cam:554?auth=***",
       {"Zz9"}},
      {"IPv6 host with credentials",
       "rtsp://u:V6pass@[fe80::1]:554/x",
       "rtsp://u:***@[fe80::1]:554/x",
       "rtsp://u:******@[fe80::1]:554/x",
       {"V6pass"}},
      {"upper-case scheme, other schemes",
       "RTSP://A:Bpw1@H/x http://u:Hpw2@h/",
       "RTSP://A:***@H/x http://u:***@h/",
       "RTSP://A:****@H/x http://u:****@h/",
       {"Bpw1", "Hpw2"}},
      {"the --source= form of an argument",
       "--source=rtsp://alice:Pw-9f2k@cam/x?token=Tk55",
       "--source=rtsp://alice:***@cam/x?token=***",
       "--source=rtsp://alice:*******@cam/x?token=****",
       {"Pw-9f2k", "Tk55"}},
      {"a URL inside a message",
       "cannot open 'rtsp://tok3n@cam/x': 401 Unauthorized",
       "cannot open 'rtsp://***@cam/x': 401 Unauthorized",
       "cannot open 'rtsp://*****@cam/x': 401 Unauthorized",
       {"tok3n"}},
      {"two URLs in one text",
       "a=rtsp://u:one1@h b=rtsp://v:two2@k",
       "a=rtsp://u:***@h b=rtsp://v:***@k",
       "a=rtsp://u:****@h b=rtsp://v:****@k",
       {"one1", "two2"}},
      {"plain file path with '@' and ':'",
       "/videos/a@b:c.mp4",
       "/videos/a@b:c.mp4",
       "/videos/a@b:c.mp4",
       {}},
      {"testsrc graph",
       "testsrc:testsrc2=size=64x48",
       "testsrc:testsrc2=size=64x48",
       "testsrc:testsrc2=size=64x48",
       {}},
      {"npy glob", "npy:/d/*.npy", "npy:/d/*.npy", "npy:/d/*.npy", {}},
      {"no scheme before ://", "://u:p@h", "://u:p@h", "://u:p@h", {}},
      {"empty", "", "", "", {}},
  };
  return table;
}

TEST(Redact, EveryUrlShape) {
  for (const Shape& s : shapes()) {
    SCOPED_TRACE(s.what);
    EXPECT_EQ(redact_urls(s.input), s.shown);
    if (s.input.find(' ') == std::string::npos && s.input.rfind("--", 0) != 0 &&
        s.input.find("://") != std::string::npos && s.input.find("://") != 0) {
      EXPECT_EQ(redact_source(s.input), s.shown) << "a whole URL: redact_source agrees";
    }
    std::string arg = s.input;
    mask_secrets_in_place(arg.data());
    EXPECT_EQ(arg, s.masked);
    EXPECT_EQ(arg.size(), s.input.size()) << "argv keeps its length";
    for (const std::string& secret : s.secrets) {
      EXPECT_EQ(s.shown.find(secret), std::string::npos) << secret;
      EXPECT_EQ(arg.find(secret), std::string::npos) << secret;
      EXPECT_EQ(redact_text(s.input, secrets_in_text(s.input)).find(secret), std::string::npos)
          << secret;
    }
  }
}

TEST(Redact, SecretsScrubFreeText) {
  const auto secrets = source_secrets("rtsp://bob:pa%24%24@cam/x?token=tk");
  const std::string line = "401 for bob:pa%24%24 (pa$$) token tk";
  EXPECT_EQ(redact_text(line, secrets), "401 for bob:*** (***) token ***");
  EXPECT_TRUE(source_secrets("/plain/file.avi").empty());
  EXPECT_TRUE(secrets_in_text("no url here: a:b@c").empty());
}

}  // namespace
}  // namespace framering::ingest
