#include "ring_status.hpp"

#include <cinttypes>
#include <cstdio>

#include "framering/ringbuf/layout.hpp"
#include "framering/ringbuf/reader.hpp"
#include "framering/ringbuf/reader_stats.hpp"

namespace framering::cli {

namespace {

const char* state_name(std::uint32_t state) {
  switch (state) {
    case 0: return "INIT";
    case 1: return "LIVE";
    case 2: return "CLOSED";
    default: return "INVALID";
  }
}

// Frames published in the last second, from the publish times still in the slot table. When
// the ring holds less than a second of frames, extrapolates from the span it does hold.
double fps_last_second(ring::Reader& reader) {
  const std::uint64_t cursor = reader.cursor();
  const std::uint32_t slots = reader.info().slots;
  if (cursor < 2) return 0.0;
  const std::uint64_t now = ring::monotonic_ns();
  const std::uint64_t window = 1'000'000'000ULL;
  std::uint64_t newest = 0, oldest = 0, count = 0;
  for (std::uint64_t i = 0; i + 1 < slots && i < cursor; ++i) {
    const ring::FrameView f = reader.peek_slot(static_cast<std::uint32_t>((cursor - 1 - i) % slots));
    if (f.publish_monotonic_ns == 0 || f.publish_monotonic_ns > now || now - f.publish_monotonic_ns > window) break;
    if (count == 0) newest = f.publish_monotonic_ns;
    oldest = f.publish_monotonic_ns;
    ++count;
  }
  if (count < 2 || newest <= oldest) return static_cast<double>(count);
  const bool ring_covers_window = count < slots - 1;
  if (ring_covers_window) return static_cast<double>(count);
  return static_cast<double>(count - 1) * 1e9 / static_cast<double>(newest - oldest);
}

std::string hex64(std::uint64_t v) {
  char buf[20];
  std::snprintf(buf, sizeof buf, "%016" PRIx64, v);
  return buf;
}

}  // namespace

nlohmann::json ring_status(const std::string& name) {
  ring::Reader reader = ring::Reader::attach(name);
  const ring::RingInfo& info = reader.info();
  const std::uint64_t cursor = reader.cursor();
  nlohmann::json j;
  j["ring"] = name;
  j["state"] = state_name(reader.state());
  j["writer_pid"] = info.writer_pid;
  j["writer_alive"] = reader.writer_alive();
  const std::uint64_t hb = reader.heartbeat_ns();
  const std::uint64_t now = ring::monotonic_ns();
  j["heartbeat_age_s"] = hb && now >= hb ? static_cast<double>(now - hb) / 1e9 : -1.0;
  j["epoch"] = hex64(info.epoch);
  j["slots"] = info.slots;
  j["slot_bytes"] = info.slot_stride;
  j["frame_bytes"] = info.frame_bytes;
  j["segment_bytes"] = info.segment_bytes;
  j["geometry"] = {{"shape", info.geometry.shape},
                   {"typestr", info.geometry.typestr},
                   {"pix_fmt", ring::pix_fmt_name(info.geometry.pix_fmt)},
                   {"strides", info.geometry.strides()}};
  j["cursor"] = cursor;
  j["fps"] = fps_last_second(reader);
  nlohmann::json readers = nlohmann::json::array();
  for (const auto& s : ring::read_reader_stats(name)) {
    const bool same_epoch = s.epoch == info.epoch;
    readers.push_back({{"reader", s.reader},
                       {"pid", s.pid},
                       {"position", s.position},
                       {"lag", same_epoch && cursor > s.position ? cursor - s.position : 0},
                       {"frames_read", s.frames_read},
                       {"bytes_in_place", s.bytes_in_place},
                       {"bytes_copied", s.bytes_copied},
                       {"dropped", {{"lapped", s.lapped}, {"torn", s.torn}, {"skipped", s.skipped}}},
                       {"heartbeat_age_s", s.heartbeat_ns && now >= s.heartbeat_ns
                                               ? static_cast<double>(now - s.heartbeat_ns) / 1e9
                                               : -1.0},
                       {"same_epoch", same_epoch}});
  }
  j["readers"] = readers;
  return j;
}

void print_status_table(const nlohmann::json& rings, std::ostream& out) {
  char line[512];
  std::snprintf(line, sizeof line, "%-16s %-7s %8s %-5s %-17s %5s %10s %-20s %10s %8s\n", "RING", "STATE",
                "PID", "ALIVE", "EPOCH", "SLOTS", "SLOT_B", "GEOMETRY", "CURSOR", "FPS");
  out << line;
  for (const auto& r : rings) {
    std::string geometry;
    for (const auto& d : r["geometry"]["shape"]) geometry += (geometry.empty() ? "" : "x") + std::to_string(d.get<std::uint64_t>());
    geometry += " " + r["geometry"]["pix_fmt"].get<std::string>();
    std::snprintf(line, sizeof line, "%-16s %-7s %8d %-5s %-17s %5u %10" PRIu64 " %-20s %10" PRIu64 " %8.1f\n",
                  r["ring"].get<std::string>().c_str(), r["state"].get<std::string>().c_str(),
                  r["writer_pid"].get<int>(), r["writer_alive"].get<bool>() ? "yes" : "NO",
                  r["epoch"].get<std::string>().c_str(), r["slots"].get<unsigned>(),
                  r["slot_bytes"].get<std::uint64_t>(), geometry.c_str(), r["cursor"].get<std::uint64_t>(),
                  r["fps"].get<double>());
    out << line;
    for (const auto& rd : r["readers"]) {
      std::snprintf(line, sizeof line,
                    "  reader %-20s pid %-7d pos %-10" PRIu64 " lag %-6" PRIu64 " read %-10" PRIu64
                    " lapped %-6" PRIu64 " torn %-4" PRIu64 " skipped %-8" PRIu64 " copied %" PRIu64 " B\n",
                    rd["reader"].get<std::string>().c_str(), rd["pid"].get<int>(),
                    rd["position"].get<std::uint64_t>(), rd["lag"].get<std::uint64_t>(),
                    rd["frames_read"].get<std::uint64_t>(), rd["dropped"]["lapped"].get<std::uint64_t>(),
                    rd["dropped"]["torn"].get<std::uint64_t>(), rd["dropped"]["skipped"].get<std::uint64_t>(),
                    rd["bytes_copied"].get<std::uint64_t>());
      out << line;
    }
  }
}

}  // namespace framering::cli
