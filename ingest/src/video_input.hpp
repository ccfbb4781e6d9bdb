// One opened libav input (file, RTSP, or lavfi graph) and its video decoder. next() runs the
// demux/decode loop of FFmpeg's demux_decode example one frame at a time, telling EOF from
// read errors and counting decode errors without stopping.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include "av_util.hpp"
#include "framering/ingest/source_spec.hpp"

namespace framering::ingest {

// The source could not be opened or has no decodable video: carries libav's error text.
class SourceError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Sees every demuxed packet of the video stream before it is decoded (the packet ring).
class PacketSink {
 public:
  virtual ~PacketSink() = default;
  // `first`: the first packet since the input was opened.
  virtual void on_packet(const AVPacket& packet, bool first) = 0;
};

struct InputSettings {
  int decode_threads = 0;                        // 0: auto
  bool keyframes_only = false;                   // --decode keyframes
  int target_width = 0, target_height = 0;       // the ring's size, if fixed (--scale)
  std::chrono::milliseconds io_timeout{10'000};  // network sources: per blocking call
  std::string label;                             // redacted source, for messages
  PacketSink* packets = nullptr;                 // not owned; null: nobody wants packets
  // false (--packets-only): no decoder is opened; read packets with next_packet().
  bool decode = true;
};

class VideoInput {
 public:
  enum class Next {
    kFrame,   // `frame` holds a decoded frame
    kPacket,  // packet() holds the next packet of the video stream (next_packet())
    kEnd,     // the input ended; read_error() tells a clean EOF from a failed read
  };

  // Opens the input, finds the best video stream and opens its decoder. Throws SourceError.
  VideoInput(const SourceSpec& spec, const InputSettings& settings);
  VideoInput(const VideoInput&) = delete;
  VideoInput& operator=(const VideoInput&) = delete;
  ~VideoInput();

  Next next(AVFrame& frame);

  // Without a decoder (InputSettings::decode false): reads the next packet of the video stream
  // into packet(), valid until the next call, and hands it to nobody (the caller paces and
  // shares it). kEnd as next() says it.
  Next next_packet();
  const AVPacket& packet() const { return *packet_; }
  // True for the first packet next_packet() read since the input was opened.
  bool first_packet() const { return packets_read_ == 1; }

  // Errors seen since the last call (send/receive failures, corrupt frames); resets to 0.
  std::uint64_t take_decode_errors();
  // 0 after a clean EOF, else the libav error that ended reading (or AVERROR_EXIT on stop).
  int read_error() const { return read_error_; }
  // True when the input ended before the frame count its header announced.
  bool truncated() const;
  AVRational time_base() const;
  AVRational frame_rate() const;
  std::string describe() const;  // "h264 640x480 yuv420p 25 fps"
  int lowres() const { return decoder_ ? decoder_->lowres : 0; }
  // The video stream as demuxed (codec parameters, time base) and the container's bit rate.
  const AVStream& stream() const { return *format_->streams[stream_index_]; }
  std::int64_t container_bit_rate() const { return format_->bit_rate; }

 private:
  struct Interrupt {
    std::chrono::steady_clock::time_point deadline = std::chrono::steady_clock::time_point::max();
  };
  static int interrupt_cb(void* opaque);
  void arm_deadline();

  SourceSpec spec_;
  InputSettings settings_;
  Interrupt interrupt_;
  FormatPtr format_;
  CodecPtr decoder_;
  PacketPtr packet_;
  int stream_index_ = -1;
  bool flushing_ = false;
  int read_error_ = 0;
  std::uint64_t packets_read_ = 0;
  std::uint64_t decode_errors_ = 0;
};

}  // namespace framering::ingest
