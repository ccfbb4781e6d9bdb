// Converts a decoded frame straight into a ring slot: one sws_scale pass whose destination
// planes are the slot's payload (av_image_fill_arrays over the slot pointer). No staging buffer.
#pragma once

#include <array>
#include <cstddef>
#include <span>

#include "av_util.hpp"
#include "framering/ringbuf/layout.hpp"

namespace framering::ingest {

AVPixelFormat to_av_pix_fmt(ring::PixFmt fmt);

class FrameScaler {
 public:
  FrameScaler() = default;
  FrameScaler(const FrameScaler&) = delete;
  FrameScaler& operator=(const FrameScaler&) = delete;

  // Scales/converts `frame` into `dst`, an unpadded (linesize = width * pixel bytes) image of
  // dst_width x dst_height in dst_fmt, its planes one after the other. Throws std::runtime_error if
  // libswscale refuses.
  void scale(const AVFrame& frame, std::span<std::byte> dst, int dst_width, int dst_height,
             AVPixelFormat dst_fmt);

 private:
  // The context for this conversion (bicubic), cached while the sizes and formats stay.
  SwsContext* context_for(const AVFrame& frame, AVPixelFormat src_fmt, bool full_range,
                          int dst_width, int dst_height, AVPixelFormat dst_fmt);

  SwsPtr ctx_;
  SwsPtr range_ctx_;                      // full-range YUV into limited-range YUV or grey...
  std::array<int, 6> range_key_{};        // ...for these source and destination sizes and formats
  SwsContext* configured_for_ = nullptr;  // colour details were set on this context...
  int colorspace_ = -1;                   // ...for this source colour matrix and range
  int range_ = -1;
};

}  // namespace framering::ingest
