#include "framering/ingest/source_spec.hpp"

#include <string_view>

namespace framering::ingest {

namespace {
bool starts_with_nocase(std::string_view text, std::string_view prefix) {
  if (text.size() < prefix.size()) return false;
  for (std::size_t i = 0; i < prefix.size(); ++i) {
    const char c = text[i];
    const char lower = (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
    if (lower != prefix[i]) return false;
  }
  return true;
}
}  // namespace

SourceSpec parse_source(const std::string& source) {
  if (starts_with_nocase(source, "rtsp://") || starts_with_nocase(source, "rtsps://")) {
    return {SourceKind::kRtsp, source};
  }
  if (source.starts_with("testsrc:")) return {SourceKind::kTestsrc, source.substr(8)};
  if (source.starts_with("npy:")) return {SourceKind::kNpy, source.substr(4)};
  return {SourceKind::kFile, source};
}

std::string SourceSpec::local_path() const {
  switch (kind) {
    case SourceKind::kFile:
      return target.find("://") == std::string::npos ? target : std::string();
    case SourceKind::kNpy:
      return target.find_first_of("*?[") == std::string::npos ? target : std::string();
    case SourceKind::kRtsp:
    case SourceKind::kTestsrc:
      break;
  }
  return {};
}

const char* source_kind_name(SourceKind kind) {
  switch (kind) {
    case SourceKind::kFile:
      return "file";
    case SourceKind::kRtsp:
      return "rtsp";
    case SourceKind::kTestsrc:
      return "testsrc";
    case SourceKind::kNpy:
      return "npy";
  }
  return "unknown";
}

}  // namespace framering::ingest
