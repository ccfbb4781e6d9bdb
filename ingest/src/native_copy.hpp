// --pix-fmt yuv420p|nv12: a decoded frame that already is the ring's format and size goes into the
// slot as the decoder made it, plane by plane (av_image_copy, no colour conversion, no scaling).
// That copy is the frame's one write into the slot, as sws_scale is for any other frame.
#pragma once

#include <cstddef>
#include <span>

#include "av_util.hpp"

namespace framering::ingest {

// Copies `frame`'s planes into `dst` (packed planes of dst_width x dst_height in dst_fmt) and
// returns true when the frame is exactly that format and size; returns false, touching nothing,
// when it needs a conversion (another format such as yuvj420p, or another size).
bool copy_native_planes(const AVFrame& frame, std::span<std::byte> dst, int dst_width,
                        int dst_height, AVPixelFormat dst_fmt);

}  // namespace framering::ingest
