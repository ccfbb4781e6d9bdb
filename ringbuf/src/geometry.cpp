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
  if (is_yuv420(fmt)) {
    g.shape = {std::uint64_t{height} * 3 / 2, width};
  } else {
    g.shape = {height, width, fmt == PixFmt::kGray8 ? 1u : 3u};
  }
  return g;
}

std::uint32_t Geometry::height() const {
  if (shape.empty()) return 0;
  const std::uint64_t rows = is_yuv420(pix_fmt) ? shape[0] * 2 / 3 : shape[0];
  return static_cast<std::uint32_t>(rows);
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
    case PixFmt::kYuv420p:
      return "yuv420p";
    case PixFmt::kNv12:
      return "nv12";
    case PixFmt::kRaw:
      return "raw";
  }
  return "unknown";
}

namespace {
// One side of a WIDTHxHEIGHT size: 1..5 decimal digits, value 1..65535.
bool parse_side(const std::string& text, std::uint32_t& out) {
  if (text.empty() || text.size() > 5) return false;
  std::uint32_t value = 0;
  for (const char c : text) {
    if (c < '0' || c > '9') return false;
    value = value * 10 + static_cast<std::uint32_t>(c - '0');
  }
  if (value == 0 || value > 65535) return false;
  out = value;
  return true;
}
}  // namespace

bool parse_image_size(const std::string& text, std::uint32_t& width, std::uint32_t& height) {
  const auto x = text.find('x');
  if (x == std::string::npos) return false;
  std::uint32_t w = 0, h = 0;
  if (!parse_side(text.substr(0, x), w) || !parse_side(text.substr(x + 1), h)) return false;
  width = w;
  height = h;
  return true;
}

bool parse_pix_fmt(const std::string& text, PixFmt& out) {
  if (text == "bgr24")
    out = PixFmt::kBgr24;
  else if (text == "rgb24")
    out = PixFmt::kRgb24;
  else if (text == "gray8" || text == "gray")
    out = PixFmt::kGray8;
  else if (text == "yuv420p")
    out = PixFmt::kYuv420p;
  else if (text == "nv12")
    out = PixFmt::kNv12;
  else
    return false;
  return true;
}

std::string pix_fmt_choices() {
  return "bgr24, rgb24, gray8, yuv420p or nv12";
}

bool is_yuv420(PixFmt fmt) {
  return fmt == PixFmt::kYuv420p || fmt == PixFmt::kNv12;
}

std::string image_size_problem(std::uint32_t width, std::uint32_t height, PixFmt fmt) {
  if (width == 0 || height == 0) return "a picture needs a width and a height of at least 1";
  if (is_yuv420(fmt) && (width % 2 != 0 || height % 2 != 0)) {
    return std::string(pix_fmt_name(fmt)) + " stores one chroma sample per 2x2 pixels, so it " +
           "needs an even width and height, not " + std::to_string(width) + "x" +
           std::to_string(height);
  }
  return "";
}

bool image_shape_matches(const Geometry& g) {
  if (g.pix_fmt == PixFmt::kRaw) return true;
  if (g.typestr != "|u1") return false;
  const std::size_t ndim = g.shape.size();
  if (is_yuv420(g.pix_fmt)) {
    // (h * 3 / 2, w) with h and w even: the rows are 3 * (h / 2), any multiple of 3.
    return ndim == 2 && g.shape[0] % 3 == 0 && g.shape[1] % 2 == 0;
  }
  const std::uint64_t channels = g.pix_fmt == PixFmt::kGray8 ? 1 : 3;
  return (ndim == 3 && g.shape[2] == channels) || (ndim == 2 && g.pix_fmt == PixFmt::kGray8);
}

}  // namespace framering::ring
