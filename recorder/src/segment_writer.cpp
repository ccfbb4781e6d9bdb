#include "segment_writer.hpp"

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/mathematics.h>
}

#include <fcntl.h>
#include <unistd.h>

#include <cstring>
#include <stdexcept>

namespace framering::recorder {

std::string av_text(int err) {
  char buf[AV_ERROR_MAX_STRING_SIZE] = {};
  av_strerror(err, buf, sizeof buf);
  return buf;
}

namespace {

[[noreturn]] void fail(const std::string& path, const std::string& what, int err) {
  throw std::runtime_error(path + ": " + what + ": " + av_text(err));
}

}  // namespace

std::string container_extension(const ring::PacketStreamInfo& stream) {
  const AVCodecDescriptor* desc = avcodec_descriptor_get_by_name(stream.codec_name.c_str());
  const AVOutputFormat* mp4 = av_guess_format("mp4", nullptr, nullptr);
  if (desc && mp4 && avformat_query_codec(mp4, desc->id, FF_COMPLIANCE_NORMAL) == 1) return ".mp4";
  return ".mkv";
}

SegmentWriter::SegmentWriter(const std::string& path, const ring::PacketStreamInfo& stream)
    : path_(path), stream_(stream) {
  const AVCodecDescriptor* desc = avcodec_descriptor_get_by_name(stream.codec_name.c_str());
  if (!desc) throw std::runtime_error(path + ": unknown codec '" + stream.codec_name + "'");
  // Created exclusively first: never write into a file that is already there.
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0640);
  if (fd < 0) throw std::runtime_error(path + ": cannot create: " + std::strerror(errno));
  ::close(fd);
  try {
    open_muxer();
  } catch (...) {
    close_io();  // a constructor that throws runs no destructor
    throw;
  }
}

void SegmentWriter::open_muxer() {
  const std::string& path = path_;
  const ring::PacketStreamInfo& stream = stream_;
  const AVCodecDescriptor* desc = avcodec_descriptor_get_by_name(stream.codec_name.c_str());
  const bool mp4 = container_extension(stream) == ".mp4";
  int ret = avformat_alloc_output_context2(&out_, nullptr, mp4 ? "mp4" : "matroska", path.c_str());
  if (ret < 0) fail(path, "muxer", ret);
  AVStream* st = avformat_new_stream(out_, nullptr);
  if (!st) fail(path, "new stream", AVERROR(ENOMEM));
  AVCodecParameters* par = st->codecpar;
  par->codec_type = AVMEDIA_TYPE_VIDEO;
  par->codec_id = desc->id;
  par->width = static_cast<int>(stream.width);
  par->height = static_cast<int>(stream.height);
  if (!stream.extradata.empty()) {
    par->extradata = static_cast<std::uint8_t*>(
        av_mallocz(stream.extradata.size() + AV_INPUT_BUFFER_PADDING_SIZE));
    if (!par->extradata) fail(path, "extradata", AVERROR(ENOMEM));
    std::memcpy(par->extradata, stream.extradata.data(), stream.extradata.size());
    par->extradata_size = static_cast<int>(stream.extradata.size());
  }
  st->time_base = {static_cast<int>(stream.time_base_num), static_cast<int>(stream.time_base_den)};
  if (stream.rate_num > 0) {
    st->avg_frame_rate = {static_cast<int>(stream.rate_num), static_cast<int>(stream.rate_den)};
  }
  ret = avio_open(&out_->pb, path.c_str(), AVIO_FLAG_WRITE);
  if (ret < 0) fail(path, "open", ret);
  AVDictionary* opts = nullptr;
  // A fragment per keyframe, no index to write at the end: what is on disk stays playable.
  // (Matroska is readable when cut short as it is.)
  if (mp4) av_dict_set(&opts, "movflags", "frag_keyframe+empty_moov+default_base_moof", 0);
  ret = avformat_write_header(out_, &opts);
  av_dict_free(&opts);
  if (ret < 0) {
    fail(path, "cannot write a " + stream.codec_name + " stream into " + (mp4 ? "MP4" : "Matroska"),
         ret);
  }
}

SegmentWriter::~SegmentWriter() {
  if (!finished_) close_io();
}

void SegmentWriter::close_io() {
  if (!out_) return;
  if (out_->pb) avio_closep(&out_->pb);
  avformat_free_context(out_);
  out_ = nullptr;
}

void SegmentWriter::write(const ring::PacketView& packet) {
  AVPacket* pkt = av_packet_alloc();
  if (!pkt) fail(path_, "packet", AVERROR(ENOMEM));
  // Not reference-counted: av_write_frame hands these bytes (in the ring mapping) to the muxer
  // as they are; av_interleaved_write_frame would copy them first.
  pkt->data = const_cast<std::uint8_t*>(reinterpret_cast<const std::uint8_t*>(packet.data.data()));
  pkt->size = static_cast<int>(packet.data.size());
  // Timestamps in the file: the stream's, less origin_ (the first packet's dts; after a gap,
  // chosen so the file's time goes on one packet duration after the last packet before it).
  const std::int64_t step = std::max<std::int64_t>(1, last_duration_);
  std::int64_t dts = packet.dts != ring::pkt::kNoTimestamp ? packet.dts : packet.pts;
  std::int64_t pts = packet.pts != ring::pkt::kNoTimestamp ? packet.pts : dts;
  if (dts == ring::pkt::kNoTimestamp) {
    dts = pts = packets_ ? last_dts_ + step : 0;
  } else {
    if (packets_ == 0)
      origin_ = dts;
    else if (gap_)
      origin_ = dts - (last_dts_ + step);
    dts -= origin_;
    pts -= origin_;
  }
  gap_ = false;
  if (packets_ > 0 && dts <= last_dts_) dts = last_dts_ + 1;  // the muxer needs rising dts
  if (pts < dts) pts = dts;
  last_dts_ = dts;
  last_duration_ = packet.duration;
  pkt->dts = dts;
  pkt->pts = pts;
  pkt->duration = packet.duration;
  pkt->flags = packet.keyframe() ? AV_PKT_FLAG_KEY : 0;
  pkt->stream_index = 0;
  const AVRational in_tb = {static_cast<int>(stream_.time_base_num),
                            static_cast<int>(stream_.time_base_den)};
  av_packet_rescale_ts(pkt, in_tb, out_->streams[0]->time_base);
  const int ret = av_write_frame(out_, pkt);
  pkt->data = nullptr;
  pkt->size = 0;
  av_packet_free(&pkt);
  if (ret < 0) fail(path_, "write", ret);
  // A keyframe made the muxer emit the previous fragment: push it to the file now, so a crash
  // loses at most the fragment being built.
  if (packet.keyframe()) avio_flush(out_->pb);
  ++packets_;
  bytes_ += packet.data.size();
}

double SegmentWriter::seconds() const {
  if (packets_ == 0) return 0;
  const double tb = static_cast<double>(stream_.time_base_num) / stream_.time_base_den;
  return static_cast<double>(last_dts_ + last_duration_) * tb;
}

void SegmentWriter::finish() {
  if (finished_) return;
  finished_ = true;
  const int ret = av_write_trailer(out_);
  close_io();
  if (ret < 0) fail(path_, "trailer", ret);
}

}  // namespace framering::recorder
