#include "framering/ringbuf/geometry.hpp"

#include <array>
#include <utility>

namespace framering::ring {

namespace {
constexpr std::array<std::pair<const char*, std::uint64_t>, 10> kTypestrs = {{
    {"|u1", 1},
    {"|i1", 1},
    {"<u2", 2},
    {"<i2", 2},
    {"<u4", 4},
    {"<i4", 4},
    {"<f4", 4},
    {"<f8", 8},
    {"<u8", 8},
    {"<i8", 8},
}};
}  // namespace

std::uint64_t typestr_item_bytes(const std::string& typestr) {
  for (const auto& [name, bytes] : kTypestrs) {
    if (typestr == name) return bytes;
  }
  return 0;
}

Geometry Geometry::image(std::uint32_t width, std::uint32_t height, PixFmt fmt) {
  Geometry g;
  g.typestr = "|u1";
  g.pix_fmt = fmt;
  g.shape = {height, width, fmt == PixFmt::kGray8 ? 1u : 3u};
  return g;
}

std::uint64_t Geometry::item_bytes() const {
  return typestr_item_bytes(typestr);
}

std::uint64_t Geometry::frame_bytes() const {
  if (shape.empty() || shape.size() > kMaxDims) return 0;
  std::uint64_t bytes = item_bytes();
  for (std::uint64_t dim : shape) {
    if (dim == 0 || __builtin_mul_overflow(bytes, dim, &bytes)) return 0;
  }
  return bytes;
}

std::vector<std::uint64_t> Geometry::strides() const {
  std::vector<std::uint64_t> out(shape.size());
  std::uint64_t step = item_bytes();
  for (std::size_t i = shape.size(); i-- > 0;) {
    out[i] = step;
    step *= shape[i];
  }
  return out;
}

std::string Geometry::describe() const {
  std::string text;
  for (std::size_t i = 0; i < shape.size(); ++i) {
    if (i) text += 'x';
    text += std::to_string(shape[i]);
  }
  text += ' ';
  text += typestr;
  text += ' ';
  text += pix_fmt_name(pix_fmt);
  return text;
}

const char* pix_fmt_name(PixFmt fmt) {
  switch (fmt) {
    case PixFmt::kBgr24:
      return "bgr24";
    case PixFmt::kRgb24:
      return "rgb24";
    case PixFmt::kGray8:
      return "gray8";
    case PixFmt::kRaw:
      return "raw";
  }
  return "unknown";
}

bool parse_pix_fmt(const std::string& text, PixFmt& out) {
  if (text == "bgr24")
    out = PixFmt::kBgr24;
  else if (text == "rgb24")
    out = PixFmt::kRgb24;
  else if (text == "gray8" || text == "gray")
    out = PixFmt::kGray8;
  else
    return false;
  return true;
}

}  // namespace framering::ring
