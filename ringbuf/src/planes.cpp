#include "framering/ringbuf/planes.hpp"

namespace framering::ring {

std::vector<Plane> image_planes(std::uint32_t width, std::uint32_t height, PixFmt fmt) {
  if (fmt == PixFmt::kRaw || !image_size_problem(width, height, fmt).empty()) return {};
  const std::uint64_t luma = std::uint64_t{width} * height;
  switch (fmt) {
    case PixFmt::kBgr24:
    case PixFmt::kRgb24:
      return {{0, width * 3, height}};
    case PixFmt::kGray8:
      return {{0, width, height}};
    case PixFmt::kYuv420p: {
      const Plane u{luma, width / 2, height / 2};
      return {{0, width, height}, u, {u.offset + u.bytes(), width / 2, height / 2}};
    }
    case PixFmt::kNv12:
      return {{0, width, height}, {luma, width, height / 2}};
    case PixFmt::kRaw:
      break;
  }
  return {};
}

std::vector<Plane> image_planes(const Geometry& geometry) {
  if (!image_shape_matches(geometry)) return {};
  return image_planes(geometry.width(), geometry.height(), geometry.pix_fmt);
}

}  // namespace framering::ring
