#include "framering/ingest/source_spec.hpp"

#include <gtest/gtest.h>

namespace framering::ingest {
namespace {

TEST(SourceSpec, ClassifiesByPrefix) {
  EXPECT_EQ(parse_source("rtsp://cam/x").kind, SourceKind::kRtsp);
  EXPECT_EQ(parse_source("RTSP://cam/x").kind, SourceKind::kRtsp);
  EXPECT_EQ(parse_source("rtsps://cam/x").kind, SourceKind::kRtsp);
  EXPECT_TRUE(parse_source("rtsp://cam/x").live());
  const SourceSpec t = parse_source("testsrc:testsrc2=size=64x48");
  EXPECT_EQ(t.kind, SourceKind::kTestsrc);
  EXPECT_EQ(t.target, "testsrc2=size=64x48");
  const SourceSpec n = parse_source("npy:/data/*.npy");
  EXPECT_EQ(n.kind, SourceKind::kNpy);
  EXPECT_EQ(n.target, "/data/*.npy");
  const SourceSpec f = parse_source("/videos/a.mp4");
  EXPECT_EQ(f.kind, SourceKind::kFile);
  EXPECT_FALSE(f.live());
  EXPECT_EQ(parse_source("http://host/a.mp4").kind, SourceKind::kFile);
}

}  // namespace
}  // namespace framering::ingest
