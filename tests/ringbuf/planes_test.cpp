// The 4:2:0 pixel formats: how big a frame is, where its planes lie, which sizes and headers are
// refused. docs/ring-format.md §4 states the same numbers for readers in other languages.
#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "framering/ringbuf/error.hpp"
#include "framering/ringbuf/header.hpp"
#include "framering/ringbuf/planes.hpp"

namespace framering::ring {
namespace {

TEST(PixelFormats, ParseNameAndChoicesAgree) {
  for (PixFmt fmt :
       {PixFmt::kBgr24, PixFmt::kRgb24, PixFmt::kGray8, PixFmt::kYuv420p, PixFmt::kNv12}) {
    PixFmt parsed = PixFmt::kRaw;
    ASSERT_TRUE(parse_pix_fmt(pix_fmt_name(fmt), parsed)) << pix_fmt_name(fmt);
    EXPECT_EQ(parsed, fmt);
    EXPECT_NE(pix_fmt_choices().find(pix_fmt_name(fmt)), std::string::npos) << pix_fmt_name(fmt);
  }
  PixFmt out;
  EXPECT_FALSE(parse_pix_fmt("yuv422p", out));
  EXPECT_FALSE(parse_pix_fmt("yuvj420p", out));
}

TEST(PixelFormats, Yuv420FrameIsOneAndAHalfBytesPerPixel) {
  for (PixFmt fmt : {PixFmt::kYuv420p, PixFmt::kNv12}) {
    const Geometry g = Geometry::image(1920, 1080, fmt);
    EXPECT_EQ(g.shape, (std::vector<std::uint64_t>{1620, 1920}));
    EXPECT_EQ(g.frame_bytes(), 1920u * 1080 * 3 / 2);  // 3 MB, half of bgr24's 6 MB
    EXPECT_EQ(g.strides(), (std::vector<std::uint64_t>{1920, 1}));
    EXPECT_EQ(g.width(), 1920u);
    EXPECT_EQ(g.height(), 1080u);  // the picture, not the 1620 rows
    EXPECT_TRUE(image_shape_matches(g));
  }
  EXPECT_EQ(Geometry::image(1920, 1080, PixFmt::kBgr24).frame_bytes(), 1920u * 1080 * 3);
}

TEST(PixelFormats, Yuv420pPlanesAreYThenUThenV) {
  const auto p = image_planes(Geometry::image(8, 6, PixFmt::kYuv420p));
  ASSERT_EQ(p.size(), 3u);
  EXPECT_EQ(p[0].offset, 0u);
  EXPECT_EQ(p[0].row_bytes, 8u);
  EXPECT_EQ(p[0].rows, 6u);
  EXPECT_EQ(p[1].offset, 48u);
  EXPECT_EQ(p[1].row_bytes, 4u);
  EXPECT_EQ(p[1].rows, 3u);
  EXPECT_EQ(p[2].offset, 60u);
  EXPECT_EQ(p[2].row_bytes, 4u);
  EXPECT_EQ(p[2].rows, 3u);
  EXPECT_EQ(p[2].offset + p[2].bytes(), Geometry::image(8, 6, PixFmt::kYuv420p).frame_bytes());
}

TEST(PixelFormats, Nv12PlanesAreYThenInterleavedUv) {
  const auto p = image_planes(Geometry::image(8, 6, PixFmt::kNv12));
  ASSERT_EQ(p.size(), 2u);
  EXPECT_EQ(p[0].offset, 0u);
  EXPECT_EQ(p[0].bytes(), 48u);
  EXPECT_EQ(p[1].offset, 48u);
  EXPECT_EQ(p[1].row_bytes, 8u);  // U V U V ..., W/2 pairs
  EXPECT_EQ(p[1].rows, 3u);
  EXPECT_EQ(p[1].offset + p[1].bytes(), 72u);
}

TEST(PixelFormats, PackedFormatsAreOnePlane) {
  const auto bgr = image_planes(Geometry::image(8, 6, PixFmt::kBgr24));
  ASSERT_EQ(bgr.size(), 1u);
  EXPECT_EQ(bgr[0].row_bytes, 24u);
  const auto gray = image_planes(Geometry::image(8, 6, PixFmt::kGray8));
  ASSERT_EQ(gray.size(), 1u);
  EXPECT_EQ(gray[0].bytes(), 48u);
  EXPECT_TRUE(image_planes(8, 6, PixFmt::kRaw).empty());
}

TEST(PixelFormats, OddSidesAreRefusedFor420Only) {
  EXPECT_EQ(image_size_problem(320, 240, PixFmt::kYuv420p), "");
  EXPECT_NE(image_size_problem(321, 240, PixFmt::kYuv420p).find("even width and height"),
            std::string::npos);
  EXPECT_NE(image_size_problem(320, 241, PixFmt::kNv12).find("320x241"), std::string::npos);
  EXPECT_EQ(image_size_problem(321, 241, PixFmt::kBgr24), "");
  EXPECT_TRUE(image_planes(321, 240, PixFmt::kNv12).empty());
  EXPECT_THROW(plan_layout("cam0", Geometry::image(320, 241, PixFmt::kYuv420p), 4), RingError);
  EXPECT_NO_THROW(plan_layout("cam0", Geometry::image(320, 240, PixFmt::kNv12), 4));
}

TEST(PixelFormats, A420ShapeIsAMultipleOf3RowsOfAnEvenWidth) {
  auto g = [](std::uint64_t rows, std::uint64_t cols) {
    Geometry out;
    out.pix_fmt = PixFmt::kNv12;
    out.shape = {rows, cols};
    return out;
  };
  EXPECT_TRUE(image_shape_matches(g(9, 8)));  // 8x6: three 3-row thirds, H/2 = 3 is odd
  EXPECT_FALSE(image_shape_matches(g(10, 8)));
  EXPECT_FALSE(image_shape_matches(g(9, 7)));
  Geometry three_d = g(9, 8);
  three_d.shape.push_back(1);
  EXPECT_FALSE(image_shape_matches(three_d));
  Geometry wide = g(9, 8);
  wide.typestr = "<u2";
  EXPECT_FALSE(image_shape_matches(wide));
}

TEST(PixelFormats, HeaderRoundTripsAndRejectsAShapeThatIsNot420) {
  RingInfo info = plan_layout("cam0", Geometry::image(64, 48, PixFmt::kNv12), 4);
  info.epoch = 1;
  std::vector<std::byte> seg(info.segment_bytes);
  write_header(seg, info);
  const RingInfo back = parse_header(seg);
  EXPECT_EQ(back.geometry.pix_fmt, PixFmt::kNv12);
  EXPECT_EQ(back.geometry.height(), 48u);
  EXPECT_EQ(back.frame_bytes, 64u * 72);

  // A bgr24 (h, w, 3) header relabelled as yuv420p: the shape does not fit the format.
  RingInfo bgr = plan_layout("cam0", Geometry::image(64, 48, PixFmt::kBgr24), 4);
  bgr.epoch = 1;
  std::vector<std::byte> other(bgr.segment_bytes);
  write_header(other, bgr);
  const auto yuv = static_cast<std::uint32_t>(PixFmt::kYuv420p);
  std::memcpy(other.data() + hdr::kPixFmt, &yuv, sizeof yuv);
  EXPECT_THROW(parse_header(other), RingError);
  // An unknown format code past the last one.
  const std::uint32_t next = static_cast<std::uint32_t>(kLastPixFmt) + 1;
  std::memcpy(seg.data() + hdr::kPixFmt, &next, sizeof next);
  try {
    parse_header(seg);
    ADD_FAILURE() << "accepted pix_fmt " << next;
  } catch (const RingError& e) {
    EXPECT_NE(std::string(e.what()).find("unknown pix_fmt"), std::string::npos);
  }
}

}  // namespace
}  // namespace framering::ring
