// One output file written by libavformat stream copy: fragmented MP4 (a fragment per keyframe,
// `empty_moov`), so a file cut short by a crash is readable up to its last complete fragment;
// Matroska for codecs MP4 cannot carry (e.g. MS-MPEG4 v3 from old AVI files). docs/recording.md
// explains the choice. Packets come straight from the packet ring; nothing is decoded or
// re-encoded.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "framering/ringbuf/packet_ring.hpp"

struct AVFormatContext;

namespace framering::recorder {

// ".mp4" when the MP4 muxer accepts the codec, else ".mkv".
std::string container_extension(const ring::PacketStreamInfo& stream);

class SegmentWriter {
 public:
  // Creates `path` (mode 0640; fails if it exists) in the container container_extension()
  // names, whatever `path` ends with. Throws std::runtime_error naming the path.
  SegmentWriter(const std::string& path, const ring::PacketStreamInfo& stream);
  SegmentWriter(const SegmentWriter&) = delete;
  SegmentWriter& operator=(const SegmentWriter&) = delete;
  ~SegmentWriter();  // abandons (closes without a trailer) if finish() was not called

  // Writes one packet, timestamps shifted so the file starts at 0. The packet's bytes go from
  // the ring mapping to the muxer without an intermediate copy. Throws on a muxer error.
  void write(const ring::PacketView& packet);
  // The stream's timestamps start afresh at the next packet (a reconnect or a looped file):
  // the file's time goes on from where it was instead of jumping back. The caller resumes
  // at a keyframe.
  void continue_after_gap() { gap_ = true; }
  // Writes the trailer and closes the file.
  void finish();

  std::uint64_t packets() const { return packets_; }
  std::uint64_t bytes() const { return bytes_; }
  // Duration covered so far in seconds (the file's last dts + last duration).
  double seconds() const;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  ring::PacketStreamInfo stream_;
  AVFormatContext* out_ = nullptr;
  bool finished_ = false;
  std::int64_t origin_ = 0;    // stream dts - origin_ = the file's dts (stream time base)
  std::int64_t last_dts_ = 0;  // the file's
  bool gap_ = false;
  std::int64_t last_duration_ = 0;
  std::uint64_t packets_ = 0;
  std::uint64_t bytes_ = 0;
  void open_muxer();
  void close_io();
};

// libav's message for an error code (av_strerror), for exceptions and logs.
std::string av_text(int err);

}  // namespace framering::recorder
