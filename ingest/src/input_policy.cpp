#include "framering/ingest/input_policy.hpp"

#include <algorithm>
#include <array>
#include <cctype>

namespace framering::ingest {

namespace {

// Demuxers that follow references to other files or URLs, describe network sessions, or run
// scripts (libavformat names).
constexpr std::array<std::string_view, 10> kReferencingDemuxers = {
    "hls", "dash", "concat", "imf", "sdp", "rtsp", "rtp", "lavfi", "avisynth", "vapoursynth"};

// Filters a test pattern may use. Anything not listed (movie, amovie, sendcmd, zmq, drawtext,
// subtitles, lut3d, frei0r, ladspa, dnn_*, metadata, psnr, ...) can touch files, sockets or
// plugins, and is refused.
constexpr std::array<std::string_view, 52> kTestsrcFilters = {
    // generators
    "testsrc", "testsrc2", "smptebars", "smptehdbars", "pal75bars", "pal100bars", "rgbtestsrc",
    "yuvtestsrc", "colorspectrum", "colorchart", "color", "nullsrc", "allrgb", "allyuv",
    "mandelbrot", "life", "cellauto", "sierpinski", "gradients", "zoneplate",
    // in-memory processing
    "null", "format", "scale", "fps", "framerate", "setpts", "settb", "trim", "loop", "tpad",
    "crop", "pad", "hflip", "vflip", "transpose", "rotate", "setsar", "setdar", "noise", "boxblur",
    "gblur", "drawbox", "drawgrid", "hue", "eq", "negate", "fade", "split", "overlay", "hstack",
    "vstack", "geq"};

}  // namespace

const char* protocol_whitelist(SourceKind kind) {
  switch (kind) {
    case SourceKind::kFile:
      return "file";
    case SourceKind::kRtsp:
      return "rtsp,rtsps,rtp,srtp,tcp,udp,tls";
    case SourceKind::kTestsrc:
    case SourceKind::kNpy:
      break;
  }
  return "none";
}

bool opens_other_resources(std::string_view demuxer_name) {
  // libavformat names some demuxers by a list ("mov,mp4,m4a,3gp,3g2,mj2"): any member counts.
  std::size_t pos = 0;
  while (pos <= demuxer_name.size()) {
    std::size_t comma = demuxer_name.find(',', pos);
    if (comma == std::string_view::npos) comma = demuxer_name.size();
    const std::string_view name = demuxer_name.substr(pos, comma - pos);
    if (std::find(kReferencingDemuxers.begin(), kReferencingDemuxers.end(), name) !=
        kReferencingDemuxers.end()) {
      return true;
    }
    pos = comma + 1;
  }
  return false;
}

std::string first_disallowed_filter(std::string_view graph) {
  std::size_t i = 0;
  while (i < graph.size()) {
    // Skip separators, whitespace and link labels ("[in]") before a filter's name.
    while (i < graph.size()) {
      const char c = graph[i];
      if (c == ',' || c == ';' || std::isspace(static_cast<unsigned char>(c))) {
        ++i;
      } else if (c == '[') {
        const std::size_t close = graph.find(']', i);
        i = close == std::string_view::npos ? graph.size() : close + 1;
      } else {
        break;
      }
    }
    if (i >= graph.size()) break;
    // The name runs to '=', '@', '[', a separator or whitespace.
    std::string name;
    while (i < graph.size() &&
           std::string_view("=@[,; \t\r\n").find(graph[i]) == std::string_view::npos) {
      name += static_cast<char>(std::tolower(static_cast<unsigned char>(graph[i])));
      ++i;
    }
    if (name.empty() ||
        std::find(kTestsrcFilters.begin(), kTestsrcFilters.end(), name) == kTestsrcFilters.end()) {
      return name.empty() ? std::string(graph.substr(i, 1)) : name;
    }
    // Skip "@id" and "=args" up to the next unquoted, unescaped ',' ';' or '[' (output label).
    bool quoted = false;
    while (i < graph.size()) {
      const char c = graph[i];
      if (c == '\\' && i + 1 < graph.size()) {
        i += 2;
        continue;
      }
      if (c == '\'') quoted = !quoted;
      if (!quoted && (c == ',' || c == ';' || c == '[')) break;
      ++i;
    }
  }
  return "";
}

}  // namespace framering::ingest
