// Frame geometry as NumPy sees it: typestr, shape and C-order strides, plus the pixel format tag.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "framering/ringbuf/layout.hpp"

namespace framering::ring {

struct Geometry {
  std::string typestr = "|u1";       // NumPy array-interface typestr: |u1, <u2, <f4, ...
  std::vector<std::uint64_t> shape;  // 1..kMaxDims dims; images are {height, width, channels}
  PixFmt pix_fmt = PixFmt::kRaw;
  std::uint32_t rate_num = 0;  // nominal frame rate (0/1 when unknown)
  std::uint32_t rate_den = 1;

  // An image geometry for bgr24/rgb24 ({h, w, 3}), gray8 ({h, w, 1}) or the 4:2:0 formats
  // yuv420p/nv12 ({h * 3 / 2, w}: the planes stacked, planes.hpp). 4:2:0 needs even sides
  // (image_size_problem() says so before a ring is planned; plan_layout() refuses odd ones).
  static Geometry image(std::uint32_t width, std::uint32_t height, PixFmt fmt);

  std::uint64_t item_bytes() const;            // from typestr; 0 if unsupported
  std::uint64_t frame_bytes() const;           // product(shape) * item_bytes, 0 on overflow
  std::vector<std::uint64_t> strides() const;  // C order, bytes
  // The picture's height: the first dimension, except for the 4:2:0 formats, whose H * 3 / 2
  // rows hold the chroma planes below the H rows of luma.
  std::uint32_t height() const;
  std::uint32_t width() const {
    return shape.size() < 2 ? 1 : static_cast<std::uint32_t>(shape[1]);
  }
  std::uint32_t channels() const {
    return shape.size() < 3 ? 1 : static_cast<std::uint32_t>(shape[2]);
  }
  std::string describe() const;  // "576x768x3 |u1 bgr24"
  bool operator==(const Geometry&) const = default;
};

const char* pix_fmt_name(PixFmt fmt);
// Parses "bgr24", "rgb24", "gray8" (also "gray"), "yuv420p", "nv12"; false for anything else.
bool parse_pix_fmt(const std::string& text, PixFmt& out);
// What parse_pix_fmt accepts, for messages: "bgr24, rgb24, gray8, yuv420p or nv12".
std::string pix_fmt_choices();
// True for yuv420p and nv12: planar 4:2:0, one (h * 3 / 2, w) byte array per frame.
bool is_yuv420(PixFmt fmt);
// "" when a width x height picture can be stored as fmt, else why not (4:2:0 needs even sides).
std::string image_size_problem(std::uint32_t width, std::uint32_t height, PixFmt fmt);
// Parses a picture size spelled "WIDTHxHEIGHT" (e.g. "1280x720"): decimal digits only, no sign,
// no spaces, each side 1..65535. Every flag and key that takes a size (ingest --scale, the run
// YAML's size:, the objects analytic's input=) parses it here; each caller applies its own range.
bool parse_image_size(const std::string& text, std::uint32_t& width, std::uint32_t& height);
// Whether typestr and shape are what an image of g.pix_fmt must have (always true for raw):
// |u1 and (h, w, 3) for bgr24/rgb24, (h, w, 1) or (h, w) for gray8, (h * 3 / 2, w) with even
// h and w for yuv420p/nv12.
bool image_shape_matches(const Geometry& g);
// Item size of a NumPy typestr we accept (|u1 |i1 <u2 <i2 <u4 <i4 <f4 <f8 <u8 <i8), else 0.
std::uint64_t typestr_item_bytes(const std::string& typestr);

}  // namespace framering::ring
