// Where each plane of an image frame lies in its slot (docs/ring-format.md §4). Planes follow
// one another with no gap and no row padding, so a reader in any language finds them from the
// width, the height and the pixel format alone.
#pragma once

#include <cstdint>
#include <vector>

#include "framering/ringbuf/geometry.hpp"

namespace framering::ring {

struct Plane {
  std::uint64_t offset = 0;     // bytes from the start of the payload
  std::uint32_t row_bytes = 0;  // bytes per row (= the linesize: rows are not padded)
  std::uint32_t rows = 0;
  std::uint64_t bytes() const { return std::uint64_t{row_bytes} * rows; }
};

// The planes of a width x height picture in fmt: one for bgr24/rgb24/gray8; Y, U, V for
// yuv420p; Y, interleaved UV for nv12. Empty for raw or a size image_size_problem() refuses.
std::vector<Plane> image_planes(std::uint32_t width, std::uint32_t height, PixFmt fmt);

// The same for a ring's geometry (its picture size and pixel format).
std::vector<Plane> image_planes(const Geometry& geometry);

}  // namespace framering::ring
