// Header validation: a reader trusts nothing in a segment until parse_header accepts it.
#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "framering/ringbuf/error.hpp"
#include "framering/ringbuf/header.hpp"
#include "framering/ringbuf/layout.hpp"

namespace framering::ring {
namespace {

std::vector<std::byte> make_segment(const RingInfo& info) {
  std::vector<std::byte> seg(info.segment_bytes);
  write_header(seg, info);
  return seg;
}

RingInfo planned() {
  RingInfo info = plan_layout("cam0", Geometry::image(64, 48, PixFmt::kBgr24), 4);
  info.epoch = 42;
  info.writer_pid = 7;
  return info;
}

template <typename T>
void poke(std::vector<std::byte>& seg, std::size_t offset, T value) {
  std::memcpy(seg.data() + offset, &value, sizeof value);
}

std::string rejection(const std::vector<std::byte>& seg) {
  try {
    parse_header(seg);
  } catch (const RingError& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kBadHeader);
    EXPECT_EQ(e.exit_code(), 4);
    return e.what();
  }
  return "accepted";
}

TEST(RingLayout, PlansPageAlignedContiguousSlots) {
  const RingInfo info = planned();
  EXPECT_EQ(info.frame_bytes, 64u * 48 * 3);
  EXPECT_EQ(info.slot_stride % kPageBytes, 0u);
  EXPECT_GE(info.slot_stride, info.frame_bytes);
  EXPECT_EQ(info.slot_table_offset, kHeaderBytes);
  EXPECT_EQ(info.payload_offset % kPageBytes, 0u);
  EXPECT_EQ(info.segment_bytes, info.payload_offset + 4 * info.slot_stride);
}

TEST(RingLayout, RejectsBadArguments) {
  EXPECT_THROW(plan_layout("bad name", Geometry::image(4, 4, PixFmt::kBgr24), 4), RingError);
  EXPECT_THROW(plan_layout("cam", Geometry::image(4, 4, PixFmt::kBgr24), 1), RingError);
  Geometry huge;
  huge.shape = {100000, 100000, 3};
  try {
    plan_layout("cam", huge, 4);
    FAIL() << "a 30 GB frame was accepted";
  } catch (const RingError& e) {
    EXPECT_EQ(e.exit_code(), 2);
  }
}

TEST(RingHeader, RoundTrips) {
  const RingInfo info = planned();
  const RingInfo parsed = parse_header(make_segment(info));
  EXPECT_EQ(parsed.name, "cam0");
  EXPECT_EQ(parsed.slots, 4u);
  EXPECT_EQ(parsed.epoch, 42u);
  EXPECT_EQ(parsed.writer_pid, 7);
  EXPECT_EQ(parsed.geometry, info.geometry);
  EXPECT_EQ(parsed.segment_bytes, info.segment_bytes);
}

TEST(RingHeader, RejectsWrongMagic) {
  auto seg = make_segment(planned());
  seg[0] = std::byte{'X'};
  EXPECT_NE(rejection(seg).find("magic"), std::string::npos);
}

TEST(RingHeader, RejectsOtherVersion) {
  auto seg = make_segment(planned());
  poke<std::uint32_t>(seg, hdr::kVersion, 99);
  EXPECT_NE(rejection(seg).find("version 99"), std::string::npos);
}

TEST(RingHeader, RejectsTruncatedSegment) {
  auto seg = make_segment(planned());
  seg.resize(seg.size() - 4096);
  EXPECT_NE(rejection(seg).find("truncated"), std::string::npos);
  seg.resize(100);
  EXPECT_NE(rejection(seg).find("smaller than"), std::string::npos);
}

TEST(RingHeader, RejectsOffsetsPastTheEnd) {
  auto seg = make_segment(planned());
  poke<std::uint64_t>(seg, hdr::kPayloadOffset, seg.size() + 4096);
  EXPECT_NE(rejection(seg).find("payload_offset"), std::string::npos);
  seg = make_segment(planned());
  poke<std::uint64_t>(seg, hdr::kSlotStride, 1ULL << 40);
  EXPECT_NE(rejection(seg).find("slot_stride"), std::string::npos);
}

TEST(RingHeader, RejectsInconsistentGeometry) {
  auto seg = make_segment(planned());
  poke<std::uint64_t>(seg, hdr::kShape, 1ULL << 62);  // overflowing height
  EXPECT_NE(rejection(seg), "accepted");
  seg = make_segment(planned());
  poke<std::uint64_t>(seg, hdr::kStrides, 1);
  EXPECT_NE(rejection(seg).find("strides"), std::string::npos);
  seg = make_segment(planned());
  poke<std::uint32_t>(seg, hdr::kNdim, 9);
  EXPECT_NE(rejection(seg).find("ndim"), std::string::npos);
  seg = make_segment(planned());
  poke<std::uint32_t>(seg, hdr::kSlotCount, 0);
  EXPECT_NE(rejection(seg).find("slot_count"), std::string::npos);
  seg = make_segment(planned());
  poke<std::uint32_t>(seg, hdr::kPixFmt, static_cast<std::uint32_t>(PixFmt::kGray8));  // 3 channels
  EXPECT_NE(rejection(seg).find("pix_fmt"), std::string::npos);
  seg = make_segment(planned());
  poke<std::uint32_t>(seg, hdr::kRateNum, 25);
  poke<std::uint32_t>(seg, hdr::kRateDen, 0);
  EXPECT_NE(rejection(seg).find("rate_den"), std::string::npos);
  seg = make_segment(planned());
  std::memcpy(seg.data() + hdr::kTypestr, "<c16\0\0\0", 8);
  EXPECT_NE(rejection(seg).find("typestr"), std::string::npos);
}

TEST(RingHeader, SurvivesRandomBytes) {
  std::uint64_t state = 1;
  for (int round = 0; round < 2000; ++round) {
    auto seg = make_segment(planned());
    for (int flips = 0; flips < 4; ++flips) {
      state = state * 6364136223846793005ULL + 1442695040888963407ULL;
      seg[(state >> 33) % 512] = static_cast<std::byte>(state >> 24);
    }
    try {
      const RingInfo info = parse_header(seg);
      EXPECT_LE(info.segment_bytes, seg.size());
      EXPECT_LE(info.payload_offset + std::uint64_t{info.slots} * info.slot_stride, seg.size());
    } catch (const RingError&) {
    }
  }
}

}  // namespace
}  // namespace framering::ring
