#include "native_copy.hpp"

extern "C" {
#include <libavutil/imgutils.h>
}

namespace framering::ingest {

bool copy_native_planes(const AVFrame& frame, std::span<std::byte> dst, int dst_width,
                        int dst_height, AVPixelFormat dst_fmt) {
  // Only the planar 4:2:0 formats are ever published as decoded; packed RGB always converts.
  if (dst_fmt != AV_PIX_FMT_YUV420P && dst_fmt != AV_PIX_FMT_NV12) return false;
  if (frame.format != dst_fmt || frame.width != dst_width || frame.height != dst_height) {
    return false;
  }
  std::uint8_t* planes[4] = {};
  int linesizes[4] = {};
  const int needed =
      av_image_fill_arrays(planes, linesizes, reinterpret_cast<std::uint8_t*>(dst.data()), dst_fmt,
                           dst_width, dst_height, 1);
  if (needed < 0 || static_cast<std::size_t>(needed) > dst.size()) return false;
  // The decoder's rows are padded (linesize >= width); the slot's are not.
  av_image_copy(planes, linesizes, const_cast<const std::uint8_t**>(frame.data), frame.linesize,
                dst_fmt, dst_width, dst_height);
  return true;
}

}  // namespace framering::ingest
