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
  EXPECT_EQ(parse_source("Rtsps://cam/x").kind, SourceKind::kRtsp) << "any case, with TLS";
}

// What `framering run` checks exists before it starts anything: files and npy directories.
TEST(SourceSpec, LocalPathOnlyForFilesAndNpyDirectories) {
  EXPECT_EQ(parse_source("/videos/a.mp4").local_path(), "/videos/a.mp4");
  EXPECT_EQ(parse_source("npy:/data/frames").local_path(), "/data/frames");
  EXPECT_EQ(parse_source("npy:/data/*.npy").local_path(), "") << "a glob is matched, not opened";
  EXPECT_EQ(parse_source("RTSPS://cam/x").local_path(), "");
  EXPECT_EQ(parse_source("testsrc:testsrc2").local_path(), "");
  EXPECT_EQ(parse_source("http://host/a.mp4").local_path(), "");
}

}  // namespace
}  // namespace framering::ingest
