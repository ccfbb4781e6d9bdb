#include "video_input.hpp"

extern "C" {
#include <libavdevice/version.h>
#include <libavutil/pixdesc.h>
}

#include <dlfcn.h>
#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <mutex>
#include <vector>

#include "framering/ingest/input_policy.hpp"
#include "stop_signal.hpp"

namespace framering::ingest {

namespace {

struct DictGuard {
  AVDictionary* dict = nullptr;
  ~DictGuard() { av_dict_free(&dict); }
  void set(const char* key, const std::string& value) {
    if (av_dict_set(&dict, key, value.c_str(), 0) < 0) throw std::bad_alloc();
  }
};

void init_network_once() {
  static std::once_flag once;
  std::call_once(once, [] {
    const int ret = avformat_network_init();
    if (ret < 0) spdlog::warn("libavformat network init failed: {}", av_error(ret));
  });
}

// libavdevice (needed only for the lavfi input behind `testsrc:`) pulls ~80 more shared
// libraries (SDL, X11, PulseAudio, ...) into the process, which doubled the start-up time of
// every framering command. It is loaded here, the first time a test pattern is opened.
const AVInputFormat* lavfi_input_format() {
  static std::once_flag once;
  static std::string failure;
  std::call_once(once, [] {
    const std::string soname = "libavdevice.so." + std::to_string(LIBAVDEVICE_VERSION_MAJOR);
    void* lib = ::dlopen(soname.c_str(), RTLD_NOW | RTLD_GLOBAL);  // kept for the process
    if (!lib) {
      const char* why = ::dlerror();
      failure = "testsrc: needs FFmpeg's " + soname + " (Debian package libavdevice" +
                std::to_string(LIBAVDEVICE_VERSION_MAJOR) +
                "), which could not be loaded: " + (why ? why : "unknown error");
      return;
    }
    using RegisterAll = void (*)();
    auto register_all = reinterpret_cast<RegisterAll>(::dlsym(lib, "avdevice_register_all"));
    if (!register_all) {
      failure = soname + " has no avdevice_register_all";
      return;
    }
    register_all();
  });
  if (!failure.empty()) throw SourceError(failure);
  const AVInputFormat* format = av_find_input_format("lavfi");
  if (!format) throw SourceError("the lavfi input device is missing from this libavdevice build");
  return format;
}

// libavformat's format_whitelist for file sources: every demuxer of this libavformat except
// those that open other resources (input_policy.hpp). Built once; libavformat checks it on
// every open, nested opens included.
const std::string& self_contained_demuxers() {
  static const std::string list = [] {
    std::string out;
    void* it = nullptr;
    while (const AVInputFormat* f = av_demuxer_iterate(&it)) {
      if (opens_other_resources(f->name)) continue;
      if (!out.empty()) out += ',';
      out += f->name;
    }
    return out;
  }();
  return list;
}

// The demuxer libavformat would pick for a regular file (for the message when a file is
// refused); "" for FIFOs and anything that cannot be read without consuming it.
std::string probe_demuxer_name(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) return "";
  struct stat st {};
  std::string name;
  if (::fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
    std::vector<unsigned char> buf(4096 + AVPROBE_PADDING_SIZE, 0);
    const ssize_t n = ::read(fd, buf.data(), 4096);
    if (n >= 0) {
      AVProbeData probe{};
      probe.filename = path.c_str();
      probe.buf = buf.data();
      probe.buf_size = static_cast<int>(n);
      if (const AVInputFormat* f = av_probe_input_format(&probe, 1)) name = f->name;
    }
  }
  ::close(fd);
  return name;
}

}  // namespace

int VideoInput::interrupt_cb(void* opaque) {
  const auto* interrupt = static_cast<const Interrupt*>(opaque);
  return stop_requested() || std::chrono::steady_clock::now() > interrupt->deadline ? 1 : 0;
}

// Every source, not only cameras: a file can sit on a network mount or be a FIFO whose writer
// stalls. (A read blocked inside the kernel returns first; libav checks the deadline between
// reads.)
void VideoInput::arm_deadline() {
  interrupt_.deadline = std::chrono::steady_clock::now() + settings_.io_timeout;
}

VideoInput::VideoInput(const SourceSpec& spec, const InputSettings& settings)
    : spec_(spec), settings_(settings), packet_(make_packet()) {
  init_network_once();
  take_last_av_error();  // a message from an earlier attempt must not explain this one
  const AVInputFormat* input_format =
      spec.kind == SourceKind::kTestsrc ? lavfi_input_format() : nullptr;
  AVFormatContext* raw = avformat_alloc_context();
  if (!raw) throw std::bad_alloc();
  raw->interrupt_callback.callback = &VideoInput::interrupt_cb;
  raw->interrupt_callback.opaque = &interrupt_;

  DictGuard options;
  std::string url = spec.target;
  // What libav may open (input_policy.hpp); both lists are inherited by nested opens.
  options.set("protocol_whitelist", protocol_whitelist(spec.kind));
  if (spec.kind == SourceKind::kRtsp) {
    options.set("format_whitelist", "rtsp");
    options.set("rtsp_transport", "tcp");
    // libavformat's socket timeout in microseconds; the interrupt deadline backs it up.
    options.set("timeout", std::to_string(std::chrono::microseconds(settings.io_timeout).count()));
  } else if (spec.kind == SourceKind::kTestsrc) {
    options.set("format_whitelist", "lavfi");
  } else {
    options.set("format_whitelist", self_contained_demuxers());
  }
  arm_deadline();
  // On failure avformat_open_input frees the context and nulls `raw`.
  int ret = avformat_open_input(&raw, url.c_str(), input_format, &options.dict);
  if (ret < 0) {
    const std::string why = av_failure(ret);
    if (spec.kind == SourceKind::kFile &&
        why.find("Format not on whitelist") != std::string::npos) {
      const std::string demuxer = probe_demuxer_name(url);
      throw SourceError(
          "cannot open " + settings.label + ": it is " +
          (demuxer.empty() ? std::string("a playlist or list") : "a '" + demuxer + "' file") +
          ", which makes libav open other files or URLs (HLS/DASH playlists, concat lists, "
          "SDP); framering reads only self-contained video files: give the media file itself, "
          "or the camera's rtsp:// URL");
    }
    throw SourceError("cannot open " + settings.label + ": " + why);
  }
  format_.reset(raw);

  arm_deadline();
  take_last_av_error();  // only what this call logs may explain its failure
  ret = avformat_find_stream_info(format_.get(), nullptr);
  if (ret < 0) {
    throw SourceError("cannot read stream info of " + settings.label + ": " + av_failure(ret));
  }
  const AVCodec* codec = nullptr;
  ret = av_find_best_stream(format_.get(), AVMEDIA_TYPE_VIDEO, -1, -1, &codec, 0);
  if (ret < 0) {
    throw SourceError("no decodable video stream in " + settings.label + ": " + av_error(ret));
  }
  stream_index_ = ret;
  AVStream* stream = format_->streams[stream_index_];
  // Text-mode art demuxers accept any bytes whose file name ends in .bin/.ans/...: a file that
  // matched one by its name alone is not video.
  const AVCodecID id = stream->codecpar->codec_id;
  if (format_->probe_score <= AVPROBE_SCORE_EXTENSION &&
      (id == AV_CODEC_ID_BINTEXT || id == AV_CODEC_ID_XBIN || id == AV_CODEC_ID_IDF ||
       id == AV_CODEC_ID_ANSI)) {
    throw SourceError("cannot open " + settings.label + ": its content is not a known video " +
                      "format (only its file name extension matched '" + format_->iformat->name +
                      "' text art)");
  }
  // Only the video stream is demuxed into packets we look at; skip the rest early.
  for (unsigned i = 0; i < format_->nb_streams; ++i) {
    if (static_cast<int>(i) != stream_index_) format_->streams[i]->discard = AVDISCARD_ALL;
  }

  if (!settings.decode) return;  // packets only: the stream is never decoded here
  decoder_.reset(avcodec_alloc_context3(codec));
  if (!decoder_) throw std::bad_alloc();
  ret = avcodec_parameters_to_context(decoder_.get(), stream->codecpar);
  if (ret < 0)
    throw SourceError("decoder parameters for " + settings.label + ": " + av_failure(ret));
  decoder_->thread_count = settings.decode_threads;
  // Frame threading adds a frame of latency per thread; a live camera wants slices only.
  decoder_->thread_type = spec.live() ? FF_THREAD_SLICE : FF_THREAD_FRAME | FF_THREAD_SLICE;
  decoder_->pkt_timebase = stream->time_base;
  // --decode keyframes: the decoder itself drops every other frame (what `ffprobe -skip_frame
  // nokey` counts), so the skipped frames cost a packet parse, not a decode.
  if (settings.keyframes_only) decoder_->skip_frame = AVDISCARD_NONKEY;
  // A ring smaller than the source by a power of two: decoders that support it (MJPEG, the
  // MPEG-4/H.263 family; not H.264) skip the fine detail instead of decoding it to scale it away.
  if (settings.target_width > 0 && settings.target_height > 0) {
    int lowres = 0;
    while (lowres < codec->max_lowres &&
           (decoder_->width >> (lowres + 1)) >= settings.target_width &&
           (decoder_->height >> (lowres + 1)) >= settings.target_height) {
      ++lowres;
    }
    decoder_->lowres = lowres;
  }
  ret = avcodec_open2(decoder_.get(), codec, nullptr);
  if (ret < 0) {
    throw SourceError("cannot open the " + std::string(codec->name) + " decoder for " +
                      settings.label + ": " + av_error(ret));
  }
}

VideoInput::~VideoInput() = default;

VideoInput::Next VideoInput::next(AVFrame& frame) {
  for (;;) {
    int ret = avcodec_receive_frame(decoder_.get(), &frame);
    if (ret == 0) {
      if (frame.decode_error_flags != 0 || (frame.flags & AV_FRAME_FLAG_CORRUPT) != 0) {
        ++decode_errors_;
      }
      return Next::kFrame;
    }
    if (ret == AVERROR_EOF) return Next::kEnd;
    if (ret != AVERROR(EAGAIN)) {
      ++decode_errors_;  // a broken frame: counted, and decoding carries on with the next packet
      if (flushing_) continue;
    }
    if (flushing_) return Next::kEnd;  // EAGAIN while draining: nothing more will come

    arm_deadline();
    ret = av_read_frame(format_.get(), packet_.get());
    if (ret < 0) {
      // EOF is the normal end; anything else (I/O error, timeout, stop) ends reading too, and
      // the decoder is drained so frames already inside it are not lost.
      read_error_ = ret == AVERROR_EOF ? 0 : ret;
      flushing_ = true;
      ret = avcodec_send_packet(decoder_.get(), nullptr);
      if (ret < 0 && ret != AVERROR_EOF) return Next::kEnd;
      continue;
    }
    if (packet_->stream_index != stream_index_) {
      av_packet_unref(packet_.get());
      continue;
    }
    if (settings_.packets) settings_.packets->on_packet(*packet_, packets_read_ == 0);
    ++packets_read_;
    ret = avcodec_send_packet(decoder_.get(), packet_.get());
    av_packet_unref(packet_.get());
    if (ret < 0 && ret != AVERROR(EAGAIN)) ++decode_errors_;
  }
}

VideoInput::Next VideoInput::next_packet() {
  av_packet_unref(packet_.get());
  for (;;) {
    arm_deadline();
    const int ret = av_read_frame(format_.get(), packet_.get());
    if (ret < 0) {
      read_error_ = ret == AVERROR_EOF ? 0 : ret;
      return Next::kEnd;
    }
    if (packet_->stream_index == stream_index_) {
      ++packets_read_;
      return Next::kPacket;
    }
    av_packet_unref(packet_.get());
  }
}

std::uint64_t VideoInput::take_decode_errors() {
  const std::uint64_t n = decode_errors_;
  decode_errors_ = 0;
  return n;
}

bool VideoInput::truncated() const {
  const AVStream* stream = format_->streams[stream_index_];
  return read_error_ == 0 && stream->nb_frames > 0 &&
         packets_read_ < static_cast<std::uint64_t>(stream->nb_frames);
}

AVRational VideoInput::time_base() const {
  return format_->streams[stream_index_]->time_base;
}

AVRational VideoInput::frame_rate() const {
  return av_guess_frame_rate(format_.get(), format_->streams[stream_index_], nullptr);
}

std::string VideoInput::describe() const {
  const AVRational rate = frame_rate();
  std::string text;
  if (decoder_) {
    const char* fmt = av_get_pix_fmt_name(decoder_->pix_fmt);
    text = std::string(decoder_->codec ? decoder_->codec->name : "?") + " " +
           std::to_string(decoder_->width) + "x" + std::to_string(decoder_->height) + " " +
           (fmt ? fmt : "?");
  } else {
    const AVCodecParameters& par = *stream().codecpar;
    text = std::string(avcodec_get_name(par.codec_id)) + " " + std::to_string(par.width) + "x" +
           std::to_string(par.height) + " (packets only, not decoded)";
  }
  if (rate.num > 0 && rate.den > 0) {
    char buf[32];
    std::snprintf(buf, sizeof buf, " %.4g fps", av_q2d(rate));
    text += buf;
  }
  return text;
}

}  // namespace framering::ingest
