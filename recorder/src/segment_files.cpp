#include "segment_files.hpp"

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
}

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <stdexcept>

namespace framering::recorder {

namespace fs = std::filesystem;

namespace {

constexpr const char* kPart = ".part";

// The start time back from "<camera>-YYYYmmddTHHMMSS.mmmZ.mp4"; 0 when the name is not ours.
std::uint64_t start_from_name(const std::string& camera, const std::string& file) {
  const std::string prefix = camera + "-";
  if (file.rfind(prefix, 0) != 0) return 0;
  std::tm tm{};
  int ms = 0;
  char z = 0;
  if (std::sscanf(file.c_str() + prefix.size(), "%4d%2d%2dT%2d%2d%2d.%3d%c", &tm.tm_year,
                  &tm.tm_mon, &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &ms, &z) != 8 ||
      z != 'Z') {
    return 0;
  }
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  const std::time_t t = timegm(&tm);
  if (t < 0) return 0;
  return static_cast<std::uint64_t>(t) * 1'000'000'000ULL +
         static_cast<std::uint64_t>(ms) * 1'000'000ULL;
}

// Stream time a finished segment covers, in ns (0 when unreadable): last dts + its duration -
// first dts, as SegmentWriter::seconds() counted it while writing.
std::uint64_t covered_ns(const fs::path& file) {
  AVFormatContext* in = nullptr;
  if (avformat_open_input(&in, file.c_str(), nullptr, nullptr) != 0) return 0;
  std::int64_t first = AV_NOPTS_VALUE, last = AV_NOPTS_VALUE, last_duration = 0;
  AVRational tb{1, 1};
  if (avformat_find_stream_info(in, nullptr) >= 0 && in->nb_streams >= 1) {
    tb = in->streams[0]->time_base;
    AVPacket* pkt = av_packet_alloc();
    while (pkt && av_read_frame(in, pkt) >= 0) {  // demux only: headers, no decoding
      const std::int64_t t = pkt->dts != AV_NOPTS_VALUE ? pkt->dts : pkt->pts;
      if (pkt->stream_index == 0 && t != AV_NOPTS_VALUE) {
        if (first == AV_NOPTS_VALUE) first = t;
        last = t;
        last_duration = pkt->duration;
      }
      av_packet_unref(pkt);
    }
    av_packet_free(&pkt);
  }
  avformat_close_input(&in);
  if (first == AV_NOPTS_VALUE || last < first) return 0;
  return static_cast<std::uint64_t>(
      av_rescale_q(last + last_duration - first, tb, AVRational{1, 1'000'000'000}));
}

}  // namespace

std::uint64_t recorded_until(const fs::path& dir, const std::string& camera) {
  fs::path newest;
  std::uint64_t newest_start = 0;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    const auto ext = entry.path().extension();
    if (!entry.is_regular_file(ec) || (ext != ".mp4" && ext != ".mkv")) continue;
    const std::uint64_t start = start_from_name(camera, entry.path().filename().string());
    if (start > newest_start) newest_start = start, newest = entry.path();
  }
  if (newest_start == 0) return 0;
  const std::uint64_t covered = covered_ns(newest);
  return covered == 0 ? 0 : newest_start + covered;
}

std::string segment_name(const std::string& camera, std::uint64_t realtime_ns,
                         const std::string& extension) {
  const auto seconds = static_cast<std::time_t>(realtime_ns / 1'000'000'000ULL);
  const auto ms = static_cast<int>(realtime_ns / 1'000'000ULL % 1000);
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d%02d%02dT%02d%02d%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ms);
  return camera + "-" + buf + extension;
}

RetentionResult apply_retention(const fs::path& dir, const std::string& camera, double max_age_s,
                                std::uint64_t max_bytes, std::uint64_t now_realtime_ns) {
  struct Segment {
    fs::path path;
    std::uint64_t start = 0;
    std::uint64_t bytes = 0;
  };
  std::vector<Segment> segments;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    const auto ext = entry.path().extension();
    // Finished segments, and what failures left of them (`.part.broken`: unreadable or
    // overwritten; `.part.remux`: a recovery cut short): they take disk space too.
    const bool ours = ext == ".mp4" || ext == ".mkv" || ext == ".broken" || ext == ".remux";
    if (!entry.is_regular_file(ec) || !ours) continue;
    const std::uint64_t start = start_from_name(camera, entry.path().filename().string());
    if (start == 0) continue;  // not named like a segment of ours: never deleted
    segments.push_back({entry.path(), start, static_cast<std::uint64_t>(entry.file_size(ec))});
  }
  std::sort(segments.begin(), segments.end(),
            [](const Segment& a, const Segment& b) { return a.start < b.start; });
  RetentionResult result;
  std::uint64_t total = 0;
  for (const Segment& s : segments) total += s.bytes;
  const auto max_age_ns = static_cast<std::uint64_t>(max_age_s * 1e9);
  for (const Segment& s : segments) {
    const bool too_old =
        max_age_s > 0 && now_realtime_ns > s.start && now_realtime_ns - s.start > max_age_ns;
    const bool too_big = max_bytes > 0 && total > max_bytes;
    if (!too_old && !too_big) break;  // oldest first: everything after is younger
    if (fs::remove(s.path, ec)) {
      total -= s.bytes;
      result.removed.push_back(s.path);
    }
  }
  result.kept_bytes = total;
  return result;
}

fs::path recover_partial(const fs::path& part) {
  std::string target = part.string();
  target.resize(target.size() - std::string(kPart).size());
  // Remuxed under a name of its own and renamed into place whole: nobody (retention, a user, a
  // second crash) ever sees a half-written segment under the final name.
  const std::string remux = part.string() + ".remux";
  AVFormatContext* in = nullptr;
  AVFormatContext* out = nullptr;
  std::uint64_t copied = 0;
  bool ok = avformat_open_input(&in, part.c_str(), nullptr, nullptr) == 0 &&
            avformat_find_stream_info(in, nullptr) >= 0 && in->nb_streams == 1;
  if (ok) {
    const bool mp4 = fs::path(target).extension() == ".mp4";
    ok =
        avformat_alloc_output_context2(&out, nullptr, mp4 ? "mp4" : "matroska", remux.c_str()) >= 0;
    AVStream* st = ok ? avformat_new_stream(out, nullptr) : nullptr;
    ok = st && avcodec_parameters_copy(st->codecpar, in->streams[0]->codecpar) >= 0;
    if (ok) {
      st->codecpar->codec_tag = 0;
      st->time_base = in->streams[0]->time_base;
      AVDictionary* opts = nullptr;
      if (mp4) av_dict_set(&opts, "movflags", "frag_keyframe+empty_moov+default_base_moof", 0);
      ok = avio_open(&out->pb, remux.c_str(), AVIO_FLAG_WRITE) >= 0 &&
           avformat_write_header(out, &opts) >= 0;
      av_dict_free(&opts);
    }
    AVPacket* pkt = ok ? av_packet_alloc() : nullptr;
    // Every packet the demuxer can still read whole; a fragment cut short ends the copy.
    while (pkt && av_read_frame(in, pkt) >= 0) {
      if (pkt->flags & AV_PKT_FLAG_CORRUPT) {
        av_packet_unref(pkt);
        break;
      }
      av_packet_rescale_ts(pkt, in->streams[0]->time_base, out->streams[0]->time_base);
      pkt->stream_index = 0;
      if (av_write_frame(out, pkt) < 0) {
        av_packet_unref(pkt);
        break;
      }
      av_packet_unref(pkt);
      ++copied;
    }
    av_packet_free(&pkt);
    if (ok) ok = av_write_trailer(out) >= 0;
  }
  if (out) {
    if (out->pb) avio_closep(&out->pb);
    avformat_free_context(out);
  }
  if (in) avformat_close_input(&in);
  std::error_code ec;
  if (ok && copied > 0) {
    fs::rename(remux, target, ec);
    if (!ec) {
      fs::remove(part, ec);
      return target;
    }
  }
  fs::remove(remux, ec);
  const fs::path broken = part.string() + ".broken";
  fs::rename(part, broken, ec);
  return broken;
}

}  // namespace framering::recorder
