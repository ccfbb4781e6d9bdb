// parse_image_size: the one spelling of a picture size every flag and YAML key accepts.
#include <gtest/gtest.h>

#include <cstdint>
#include <string>

#include "framering/ringbuf/geometry.hpp"

namespace framering::ring {
namespace {

TEST(ImageSize, WidthXHeightInDecimalDigits) {
  std::uint32_t w = 0, h = 0;
  ASSERT_TRUE(parse_image_size("1280x720", w, h));
  EXPECT_EQ(w, 1280u);
  EXPECT_EQ(h, 720u);
  ASSERT_TRUE(parse_image_size("1x65535", w, h));
  EXPECT_EQ(w, 1u);
  EXPECT_EQ(h, 65535u);
}

TEST(ImageSize, AnythingElseIsRefusedAndLeavesTheOutputsAlone) {
  // Signs and spaces are what stream extraction and %u used to let through ("-1" wrapped to
  // 4294967295); a capital X, a missing side, zero and oversized sides are refused too.
  for (const std::string bad : {"", "x", "640", "640x", "x480", "640X480", "640 x 480", " 640x480",
                                "640x480 ", "-1x480", "+640x480", "640x-480", "0x480", "640x0",
                                "65536x480", "640x480x3", "6.4x480", "0x10x480", "1000000x1"}) {
    std::uint32_t w = 7, h = 9;
    EXPECT_FALSE(parse_image_size(bad, w, h)) << "'" << bad << "'";
    EXPECT_EQ(w, 7u) << bad;
    EXPECT_EQ(h, 9u) << bad;
  }
}

}  // namespace
}  // namespace framering::ring
