// --pix-fmt yuv420p|nv12: the slot layout the ring documents (ring::image_planes) is libav's own
// unpadded layout, and a decoded frame in the ring's format and size is copied plane by plane
// into it, while any other frame is left to sws_scale.
#include <gtest/gtest.h>

extern "C" {
#include <libavutil/imgutils.h>
}

#include <cstddef>
#include <utility>
#include <vector>

#include "av_util.hpp"
#include "frame_scaler.hpp"
#include "framering/ringbuf/planes.hpp"
#include "native_copy.hpp"

namespace framering::ingest {
namespace {

TEST(NativePlanes, RingLayoutIsLibavUnpaddedLayout) {
  for (ring::PixFmt fmt : {ring::PixFmt::kYuv420p, ring::PixFmt::kNv12}) {
    const std::pair<int, int> sizes[] = {{2, 2}, {320, 240}, {322, 182}, {1920, 1080}};
    for (const auto& [w, h] : sizes) {
      const auto planes = ring::image_planes(w, h, fmt);
      std::vector<std::uint8_t> slot(ring::Geometry::image(w, h, fmt).frame_bytes());
      std::uint8_t* data[4] = {};
      int linesizes[4] = {};
      const int bytes =
          av_image_fill_arrays(data, linesizes, slot.data(), to_av_pix_fmt(fmt), w, h, 1);
      ASSERT_EQ(static_cast<std::size_t>(bytes), slot.size());
      for (std::size_t i = 0; i < planes.size(); ++i) {
        EXPECT_EQ(static_cast<std::uint64_t>(data[i] - slot.data()), planes[i].offset)
            << w << "x" << h;
        EXPECT_EQ(static_cast<std::uint32_t>(linesizes[i]), planes[i].row_bytes);
      }
      EXPECT_EQ(data[planes.size()], nullptr) << "no plane beyond the documented ones";
    }
  }
}

// A decoder-like frame: padded rows (linesize > width), every byte numbered by plane and row.
FramePtr padded_frame(AVPixelFormat fmt, int w, int h) {
  FramePtr f = make_frame();
  f->format = fmt;
  f->width = w;
  f->height = h;
  EXPECT_EQ(av_frame_get_buffer(f.get(), 64), 0);
  for (int p = 0; p < 4 && f->data[p]; ++p) {
    EXPECT_GT(f->linesize[p], w / 2);
    const int rows = p == 0 ? h : h / 2;
    for (int y = 0; y < rows; ++y) {
      for (int x = 0; x < f->linesize[p]; ++x) {
        f->data[p][y * f->linesize[p] + x] = static_cast<std::uint8_t>(p * 64 + y * 3 + x);
      }
    }
  }
  return f;
}

TEST(NativePlanes, FrameInTheRingsFormatIsCopiedPlaneByPlane) {
  const int w = 36, h = 10;
  for (ring::PixFmt fmt : {ring::PixFmt::kYuv420p, ring::PixFmt::kNv12}) {
    const AVPixelFormat av = to_av_pix_fmt(fmt);
    FramePtr frame = padded_frame(av, w, h);
    ASSERT_GT(frame->linesize[0], w) << "the test needs padded rows";
    std::vector<std::byte> slot(ring::Geometry::image(w, h, fmt).frame_bytes(), std::byte{0xEE});
    ASSERT_TRUE(copy_native_planes(*frame, slot, w, h, av));
    const auto planes = ring::image_planes(w, h, fmt);
    for (std::size_t p = 0; p < planes.size(); ++p) {
      for (std::uint32_t y = 0; y < planes[p].rows; ++y) {
        for (std::uint32_t x = 0; x < planes[p].row_bytes; ++x) {
          const auto got = slot[planes[p].offset + y * planes[p].row_bytes + x];
          ASSERT_EQ(static_cast<std::uint8_t>(got), frame->data[p][y * frame->linesize[p] + x])
              << "plane " << p << " row " << y << " col " << x;
        }
      }
    }
  }
}

TEST(NativePlanes, OtherFormatsAndSizesAreLeftToTheScaler) {
  std::vector<std::byte> slot(64 * 48 * 3, std::byte{0});
  FramePtr jpeg_range = padded_frame(AV_PIX_FMT_YUVJ420P, 32, 24);
  EXPECT_FALSE(copy_native_planes(*jpeg_range, slot, 32, 24, AV_PIX_FMT_YUV420P));
  FramePtr planar = padded_frame(AV_PIX_FMT_YUV420P, 32, 24);
  EXPECT_FALSE(copy_native_planes(*planar, slot, 32, 24, AV_PIX_FMT_NV12));
  EXPECT_FALSE(copy_native_planes(*planar, slot, 64, 48, AV_PIX_FMT_YUV420P));  // a resize
  EXPECT_FALSE(copy_native_planes(*planar, slot, 32, 24, AV_PIX_FMT_BGR24));
  std::vector<std::byte> small(10);
  EXPECT_FALSE(copy_native_planes(*planar, small, 32, 24, AV_PIX_FMT_YUV420P));
  EXPECT_TRUE(copy_native_planes(*planar, slot, 32, 24, AV_PIX_FMT_YUV420P));
}

}  // namespace
}  // namespace framering::ingest
