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

  // An image geometry for bgr24/rgb24 ({h, w, 3}) or gray8 ({h, w, 1}).
  static Geometry image(std::uint32_t width, std::uint32_t height, PixFmt fmt);

  std::uint64_t item_bytes() const;            // from typestr; 0 if unsupported
  std::uint64_t frame_bytes() const;           // product(shape) * item_bytes, 0 on overflow
  std::vector<std::uint64_t> strides() const;  // C order, bytes
  std::uint32_t height() const { return shape.empty() ? 0 : static_cast<std::uint32_t>(shape[0]); }
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
// Parses "bgr24", "rgb24", "gray8" (also "gray"); returns false for anything else.
bool parse_pix_fmt(const std::string& text, PixFmt& out);
// Item size of a NumPy typestr we accept (|u1 |i1 <u2 <i2 <u4 <i4 <f4 <f8 <u8 <i8), else 0.
std::uint64_t typestr_item_bytes(const std::string& typestr);

}  // namespace framering::ring
