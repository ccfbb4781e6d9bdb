#include "frame_scaler.hpp"

extern "C" {
#include <libavutil/imgutils.h>
#include <libavutil/opt.h>
#include <libavutil/pixdesc.h>
}

#include <spdlog/spdlog.h>

#include <array>
#include <stdexcept>
#include <string>

namespace framering::ingest {

AVPixelFormat to_av_pix_fmt(ring::PixFmt fmt) {
  switch (fmt) {
    case ring::PixFmt::kBgr24:
      return AV_PIX_FMT_BGR24;
    case ring::PixFmt::kRgb24:
      return AV_PIX_FMT_RGB24;
    case ring::PixFmt::kGray8:
      return AV_PIX_FMT_GRAY8;
    case ring::PixFmt::kYuv420p:
      return AV_PIX_FMT_YUV420P;
    case ring::PixFmt::kNv12:
      return AV_PIX_FMT_NV12;
    case ring::PixFmt::kRaw:
      break;
  }
  return AV_PIX_FMT_NONE;
}

namespace {

// The deprecated full-range "J" formats: libswscale wants the plain format plus a range flag.
AVPixelFormat unjpeg(AVPixelFormat fmt, bool& full_range) {
  switch (fmt) {
    case AV_PIX_FMT_YUVJ420P:
      full_range = true;
      return AV_PIX_FMT_YUV420P;
    case AV_PIX_FMT_YUVJ422P:
      full_range = true;
      return AV_PIX_FMT_YUV422P;
    case AV_PIX_FMT_YUVJ444P:
      full_range = true;
      return AV_PIX_FMT_YUV444P;
    case AV_PIX_FMT_YUVJ440P:
      full_range = true;
      return AV_PIX_FMT_YUV440P;
    case AV_PIX_FMT_YUVJ411P:
      full_range = true;
      return AV_PIX_FMT_YUV411P;
    default:
      return fmt;
  }
}

bool is_rgb(AVPixelFormat fmt) {
  const AVPixFmtDescriptor* desc = av_pix_fmt_desc_get(fmt);
  return desc && (desc->flags & AV_PIX_FMT_FLAG_RGB);
}

// A context that turns full-range YUV into limited-range YUV or grey. The ranges must be set
// before sws_init_context: set afterwards, a same-size conversion keeps libswscale's plain plane
// copy and the full-range values with it, where the ffmpeg CLI's scale filter (which sets them
// first) converts them.
SwsContext* full_range_context(const AVFrame& frame, AVPixelFormat src_fmt, int dst_width,
                               int dst_height, AVPixelFormat dst_fmt) {
  SwsContext* ctx = sws_alloc_context();
  if (!ctx) return nullptr;
  const bool ok = av_opt_set_int(ctx, "srcw", frame.width, 0) >= 0 &&
                  av_opt_set_int(ctx, "srch", frame.height, 0) >= 0 &&
                  av_opt_set_int(ctx, "src_format", src_fmt, 0) >= 0 &&
                  av_opt_set_int(ctx, "dstw", dst_width, 0) >= 0 &&
                  av_opt_set_int(ctx, "dsth", dst_height, 0) >= 0 &&
                  av_opt_set_int(ctx, "dst_format", dst_fmt, 0) >= 0 &&
                  av_opt_set_int(ctx, "sws_flags", SWS_BICUBIC, 0) >= 0 &&
                  av_opt_set_int(ctx, "src_range", 1, 0) >= 0 &&
                  av_opt_set_int(ctx, "dst_range", 0, 0) >= 0 &&
                  sws_init_context(ctx, nullptr, nullptr) >= 0;
  if (!ok) sws_freeContext(ctx);
  return ok ? ctx : nullptr;
}

}  // namespace

SwsContext* FrameScaler::context_for(const AVFrame& frame, AVPixelFormat src_fmt, bool full_range,
                                     int dst_width, int dst_height, AVPixelFormat dst_fmt) {
  if (full_range && !is_rgb(dst_fmt)) {
    const std::array<int, 6> key = {frame.width, frame.height, src_fmt,
                                    dst_width,   dst_height,   dst_fmt};
    if (!range_ctx_ || key != range_key_) {
      range_ctx_.reset(full_range_context(frame, src_fmt, dst_width, dst_height, dst_fmt));
      range_key_ = key;
    }
    return range_ctx_.get();
  }
  SwsContext* ctx =
      sws_getCachedContext(ctx_.release(), frame.width, frame.height, src_fmt, dst_width,
                           dst_height, dst_fmt, SWS_BICUBIC, nullptr, nullptr, nullptr);
  ctx_.reset(ctx);
  return ctx;
}

void FrameScaler::scale(const AVFrame& frame, std::span<std::byte> dst, int dst_width,
                        int dst_height, AVPixelFormat dst_fmt) {
  bool full_range = frame.color_range == AVCOL_RANGE_JPEG;
  const AVPixelFormat src_fmt = unjpeg(static_cast<AVPixelFormat>(frame.format), full_range);
  // Bicubic, as the ffmpeg CLI's default scaler, so same-size conversions match it bit for bit.
  SwsContext* ctx = context_for(frame, src_fmt, full_range, dst_width, dst_height, dst_fmt);
  if (!ctx) {
    throw std::runtime_error(std::string("cannot convert ") +
                             (av_get_pix_fmt_name(src_fmt) ? av_get_pix_fmt_name(src_fmt) : "?") +
                             " " + std::to_string(frame.width) + "x" +
                             std::to_string(frame.height) + " to the ring's format");
  }
  // Colour matrix and range follow the frame (as ffmpeg's scale filter does with its "auto"
  // defaults); re-set only when they or the context change, since it rebuilds lookup tables.
  const int range = full_range ? 1 : 0;
  if (ctx != configured_for_ || frame.colorspace != colorspace_ || range != range_) {
    int* inv_table = nullptr;
    int* table = nullptr;
    int src_full = 0, dst_full = 0, brightness = 0, contrast = 0, saturation = 0;
    if (sws_getColorspaceDetails(ctx, &inv_table, &src_full, &table, &dst_full, &brightness,
                                 &contrast, &saturation) >= 0) {
      const bool range_known = frame.color_range != AVCOL_RANGE_UNSPECIFIED || full_range;
      // Fails (-1) only for conversions without a YUV<->RGB step, where there is nothing to set.
      if (sws_setColorspaceDetails(ctx, sws_getCoefficients(frame.colorspace),
                                   range_known ? range : src_full, table, dst_full, brightness,
                                   contrast, saturation) < 0) {
        spdlog::debug("libswscale keeps its colour details for {}",
                      av_get_pix_fmt_name(src_fmt) ? av_get_pix_fmt_name(src_fmt) : "?");
      }
    }
    configured_for_ = ctx;
    colorspace_ = frame.colorspace;
    range_ = range;
  }

  std::uint8_t* planes[4] = {};
  int linesizes[4] = {};
  const int needed =
      av_image_fill_arrays(planes, linesizes, reinterpret_cast<std::uint8_t*>(dst.data()), dst_fmt,
                           dst_width, dst_height, 1);
  if (needed < 0 || static_cast<std::size_t>(needed) > dst.size()) {
    throw std::runtime_error("ring slot of " + std::to_string(dst.size()) +
                             " B is too small for a " + std::to_string(dst_width) + "x" +
                             std::to_string(dst_height) + " frame");
  }
  const int rows = sws_scale(ctx, frame.data, frame.linesize, 0, frame.height, planes, linesizes);
  if (rows <= 0) throw std::runtime_error("sws_scale failed: " + av_error(rows));
}

}  // namespace framering::ingest
