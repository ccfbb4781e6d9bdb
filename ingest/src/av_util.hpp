// Small RAII and error helpers over libav's C API, so the decode loop reads like FFmpeg's
// demux_decode example without its `goto end`.
#pragma once

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/frame.h>
#include <libavutil/version.h>
#include <libswscale/swscale.h>
}

#include <memory>
#include <string>
#include <vector>

namespace framering::ingest {

// av_strerror() as a std::string (av_err2str does not compile as C++20).
std::string av_error(int err);

struct FormatCloser {
  void operator()(AVFormatContext* ctx) const { avformat_close_input(&ctx); }
};
struct CodecFreer {
  void operator()(AVCodecContext* ctx) const { avcodec_free_context(&ctx); }
};
struct FrameFreer {
  void operator()(AVFrame* frame) const { av_frame_free(&frame); }
};
struct PacketFreer {
  void operator()(AVPacket* packet) const { av_packet_free(&packet); }
};
struct DictFreer {
  void operator()(AVDictionary* dict) const { av_dict_free(&dict); }
};
struct SwsFreer {
  void operator()(SwsContext* ctx) const { sws_freeContext(ctx); }
};

using FormatPtr = std::unique_ptr<AVFormatContext, FormatCloser>;
using CodecPtr = std::unique_ptr<AVCodecContext, CodecFreer>;
using FramePtr = std::unique_ptr<AVFrame, FrameFreer>;
using PacketPtr = std::unique_ptr<AVPacket, PacketFreer>;
using SwsPtr = std::unique_ptr<SwsContext, SwsFreer>;

// Whether the decoder marked `frame` as a keyframe. FFmpeg 6.1 (libavutil 58.29.100) moved this
// into AVFrame::flags and deprecated `key_frame`; Debian 12's FFmpeg 5.1 has only `key_frame`.
inline bool is_keyframe(const AVFrame& frame) {
#if LIBAVUTIL_VERSION_INT >= AV_VERSION_INT(58, 29, 100)
  return (frame.flags & AV_FRAME_FLAG_KEY) != 0;
#else
  return frame.key_frame != 0;
#endif
}

FramePtr make_frame();    // throws std::bad_alloc
PacketPtr make_packet();  // throws std::bad_alloc

// Routes libav's own log lines to spdlog (stderr), scrubbed of `secrets` (a URL's password can
// appear in libav messages). `verbose` lowers libav's threshold from warning to verbose.
void route_av_logs(std::vector<std::string> secrets, bool verbose);

// The newest error-level libav log message (redacted, without its "[component @ 0x...]"
// prefix), then forgets it; "" if none. libav's return codes are often vague (an invalid picture
// size comes back as EBUSY) while its log says what was wrong.
std::string take_last_av_error();
// What failed, for an error message: the last libav error message with av_error(err) after it,
// or av_error(err) alone.
std::string av_failure(int err);

}  // namespace framering::ingest
