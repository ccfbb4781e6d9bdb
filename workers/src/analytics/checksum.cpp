// `checksum`: zlib crc32 of each frame's payload bytes, read in place. Used by tests to prove
// the bytes a worker sees are exactly the bytes the decoder produced, with no copy in between.
#include <zlib.h>

#include <cinttypes>
#include <cstdio>

#include "analytics.hpp"

namespace framering::workers::analytics {

namespace {

class Checksum final : public Analytic {
 public:
  void configure(const StreamInfo& stream) override {
    band_ = stream.band;
    whole_ = stream.band.height == stream.ring_size.height;
  }

  void analyse(const cv::Mat& frame, const FrameContext&, std::vector<Event>& events) override {
    uLong crc = ::crc32_z(0L, Z_NULL, 0);
    std::size_t bytes = 0;
    const std::size_t row_bytes = frame.cols * frame.elemSize();
    if (frame.isContinuous()) {
      bytes = row_bytes * static_cast<std::size_t>(frame.rows);
      crc = ::crc32_z(crc, frame.data, bytes);
    } else {
      for (int y = 0; y < frame.rows; ++y) crc = ::crc32_z(crc, frame.ptr(y), row_bytes);
      bytes = row_bytes * static_cast<std::size_t>(frame.rows);
    }
    char hex[16];
    std::snprintf(hex, sizeof hex, "%08" PRIx32, static_cast<std::uint32_t>(crc));
    Event e;
    e.kind = "checksum";
    e.fields["crc32"] = hex;
    e.fields["bytes"] = bytes;
    if (!whole_) e.fields["rows"] = {band_.y, band_.y + band_.height};
    events.push_back(std::move(e));
  }

 private:
  cv::Rect band_;
  bool whole_ = true;
};

}  // namespace

std::unique_ptr<Analytic> make_checksum(Params&) {
  return std::make_unique<Checksum>();
}

}  // namespace framering::workers::analytics
