#include "av_util.hpp"

extern "C" {
#include <libavutil/log.h>
}

#include <spdlog/spdlog.h>

#include <cstdarg>
#include <mutex>
#include <new>
#include <utility>

#include "framering/ingest/redact.hpp"

namespace framering::ingest {

std::string av_error(int err) {
  char buf[AV_ERROR_MAX_STRING_SIZE] = {};
  if (av_strerror(err, buf, sizeof buf) < 0) return "libav error " + std::to_string(err);
  return buf;
}

FramePtr make_frame() {
  FramePtr frame(av_frame_alloc());
  if (!frame) throw std::bad_alloc();
  return frame;
}

PacketPtr make_packet() {
  PacketPtr packet(av_packet_alloc());
  if (!packet) throw std::bad_alloc();
  return packet;
}

namespace {

std::mutex g_log_mutex;
std::vector<std::string> g_secrets;  // guarded by g_log_mutex; set once before decoding starts
int g_print_prefix = 1;              // av_log_format_line2's line-continuation state
std::string g_last_error;            // guarded by g_log_mutex: newest error-level libav message

spdlog::level::level_enum to_spdlog(int level) {
  if (level <= AV_LOG_FATAL) return spdlog::level::critical;
  if (level <= AV_LOG_ERROR) return spdlog::level::err;
  if (level <= AV_LOG_WARNING) return spdlog::level::warn;
  if (level <= AV_LOG_INFO) return spdlog::level::info;
  return spdlog::level::debug;
}

void av_log_to_spdlog(void* avcl, int level, const char* fmt, va_list args) {
  if (level > av_log_get_level()) return;
  char line[1024];
  std::lock_guard lock(g_log_mutex);
  if (av_log_format_line2(avcl, level, fmt, args, line, sizeof line, &g_print_prefix) < 0) return;
  std::string text(line);
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
  if (text.empty()) return;
  text = redact_text(std::move(text), g_secrets);
  // "Format not on whitelist '<every demuxer of libavformat>'": the list is ours and long.
  if (const std::size_t w = text.find("not on whitelist '");
      w != std::string::npos && text.size() > w + 200) {
    text.resize(w + 16);
  }
  if (level <= AV_LOG_ERROR) {
    // Without the leading "[component @ 0x...] " contexts: the reason alone, for a message.
    std::size_t start = 0;
    while (start < text.size() && text[start] == '[') {
      const std::size_t close = text.find("] ", start);
      if (close == std::string::npos || text.find(" @ ", start) > close) break;
      start = close + 2;
    }
    g_last_error = text.substr(start);
  }
  spdlog::log(to_spdlog(level), "libav: {}", text);
}

}  // namespace

std::string take_last_av_error() {
  std::lock_guard lock(g_log_mutex);
  return std::exchange(g_last_error, {});
}

std::string av_failure(int err) {
  const std::string detail = take_last_av_error();
  // An interrupted call (our I/O deadline) failed for that reason, whatever was logged before.
  if (detail.empty() || err == AVERROR_EXIT) return av_error(err);
  return detail + " (" + av_error(err) + ")";
}

void route_av_logs(std::vector<std::string> secrets, bool verbose) {
  {
    std::lock_guard lock(g_log_mutex);
    g_secrets = std::move(secrets);
  }
  av_log_set_level(verbose ? AV_LOG_VERBOSE : AV_LOG_WARNING);
  av_log_set_callback(av_log_to_spdlog);
}

}  // namespace framering::ingest
