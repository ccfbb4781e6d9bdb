#include "ring_status.hpp"

#include <unistd.h>

#include <cinttypes>
#include <cstdio>
#include <string>

#include "framering/ringbuf/layout.hpp"
#include "framering/ringbuf/reader.hpp"
#include "framering/ringbuf/reader_stats.hpp"
#include "packet_ring_status.hpp"

namespace framering::cli {

namespace {

const char* state_name(ring::State state) {
  switch (state) {
    case ring::State::kInit:
      return "INIT";
    case ring::State::kLive:
      return "LIVE";
    case ring::State::kClosed:
      return "CLOSED";
  }
  return "INVALID";  // a value outside the enum, from a corrupt or newer segment
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
    const ring::FrameView f =
        reader.peek_slot(static_cast<std::uint32_t>((cursor - 1 - i) % slots));
    if (f.publish_monotonic_ns == 0 || f.publish_monotonic_ns > now ||
        now - f.publish_monotonic_ns > window)
      break;
    if (count == 0) newest = f.publish_monotonic_ns;
    oldest = f.publish_monotonic_ns;
    ++count;
  }
  if (count < 2 || newest <= oldest) return static_cast<double>(count);
  const bool ring_covers_window = count < slots - 1;
  if (ring_covers_window) return static_cast<double>(count);
  return static_cast<double>(count - 1) * 1e9 / static_cast<double>(newest - oldest);
}

// `text` with anything outside printable ASCII replaced by '?' (for names taken from the
// directory listing, which anyone can choose).
std::string printable(std::string text) {
  for (char& c : text) {
    if (c < 0x20 || c > 0x7e) c = '?';
  }
  return text;
}

// A live reader (it holds its stats file's lock) whose heartbeat is older than this is shown
// as stalled: stopped (SIGSTOP), hung in its analytic, or starved of CPU. Workers beat at least
// once per frame wait (well under a second), so 3 s is far outside normal jitter.
constexpr double kStalledAfterS = 3.0;

// "alive", "stalled" or "dead": liveness is the reader's lock alone (ring::reader_alive, read
// into the snapshot); the heartbeat only tells a working reader from a stuck one.
const char* reader_status(const ring::ReaderStatsSnapshot& s, double heartbeat_age_s) {
  if (!s.alive) return "dead";
  return heartbeat_age_s < 0 || heartbeat_age_s > kStalledAfterS ? "stalled" : "alive";
}

double rate(const nlohmann::json& now, const nlohmann::json& before, const char* key, double dt_s) {
  const auto a = now[key].get<std::uint64_t>(), b = before[key].get<std::uint64_t>();
  return a >= b ? static_cast<double>(a - b) / dt_s : 0.0;
}

std::uint64_t drops(const nlohmann::json& reader) {
  const auto& d = reader["dropped"];
  return d["lapped"].get<std::uint64_t>() + d["torn"].get<std::uint64_t>() +
         d["skipped"].get<std::uint64_t>();
}

// "12.3" or "-" for a null rate.
std::string fmt_rate(const nlohmann::json& v, const char* format = "%.1f") {
  if (!v.is_number()) return "-";
  char buf[32];
  std::snprintf(buf, sizeof buf, format, v.get<double>());
  return buf;
}

}  // namespace

nlohmann::json ring_status(const std::string& name, const std::vector<uid_t>& owners) {
  ring::ReaderOptions options;
  options.owners = owners;
  ring::Reader reader = ring::Reader::attach(name, options);
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
  j["epoch"] = ring::epoch_text(info.epoch);
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
  j["mb_per_s"] = nullptr;  // add_rates()
  j["sampled_ns"] = now;
  nlohmann::json readers = nlohmann::json::array();
  // Stats files are read from private copies and only from this user or the ring's owner: anyone
  // can create a file named like one.
  nlohmann::json rejected = nlohmann::json::array();
  for (const std::string& path : ring::reader_stats_files(name)) {
    ring::ReaderStatsFile file =
        ring::inspect_reader_stats_file(path, name, {::geteuid(), reader.owner()});
    if (!file.stats) {
      // The file name passed the ring-name prefix; its tail is whatever its creator chose.
      rejected.push_back({{"file", printable(path)}, {"reason", file.rejected}});
      continue;
    }
    const ring::ReaderStatsSnapshot& s = *file.stats;
    const bool same_epoch = s.epoch == info.epoch;
    const double hb_age = s.heartbeat_ns && now >= s.heartbeat_ns
                              ? static_cast<double>(now - s.heartbeat_ns) / 1e9
                              : -1.0;
    readers.push_back(
        {{"reader", s.reader},
         {"pid", s.pid},
         {"uid", s.uid},
         {"position", s.position},
         {"lag", same_epoch && cursor > s.position ? cursor - s.position : 0},
         {"frames_read", s.frames_read},
         {"bytes_in_place", s.bytes_in_place},
         {"bytes_copied", s.bytes_copied},
         {"dropped", {{"lapped", s.lapped}, {"torn", s.torn}, {"skipped", s.skipped}}},
         {"heartbeat_age_s", hb_age},
         {"alive", s.alive},
         {"status", reader_status(s, hb_age)},
         {"same_epoch", same_epoch},
         {"fps", nullptr},  // add_rates()
         {"mb_per_s_in_place", nullptr},
         {"drops_per_s", nullptr}});
  }
  j["readers"] = readers;
  j["rejected_stats_files"] = rejected;
  j["packet_ring"] = packet_ring_status(name, reader.owner());
  return j;
}

void add_rates(nlohmann::json& rings, const nlohmann::json& before) {
  for (auto& r : rings) {
    const nlohmann::json* prev = nullptr;
    for (const auto& b : before) {
      if (b["ring"] == r["ring"] && b["epoch"] == r["epoch"]) prev = &b;
    }
    if (!prev) continue;
    const auto t1 = r["sampled_ns"].get<std::uint64_t>(),
               t0 = (*prev)["sampled_ns"].get<std::uint64_t>();
    if (t1 <= t0) continue;
    const double dt = static_cast<double>(t1 - t0) / 1e9;
    const double frames = rate(r, *prev, "cursor", dt);
    r["mb_per_s"] = frames * r["frame_bytes"].get<double>() / 1e6;
    for (auto& rd : r["readers"]) {
      for (const auto& pd : (*prev)["readers"]) {
        if (pd["reader"] != rd["reader"] || pd["pid"] != rd["pid"]) continue;
        rd["fps"] = rate(rd, pd, "frames_read", dt);
        rd["mb_per_s_in_place"] = rate(rd, pd, "bytes_in_place", dt) / 1e6;
        const std::uint64_t d1 = drops(rd), d0 = drops(pd);
        rd["drops_per_s"] = d1 >= d0 ? static_cast<double>(d1 - d0) / dt : 0.0;
      }
    }
  }
}

void print_status_table(const nlohmann::json& rings, std::ostream& out) {
  char line[512];
  std::snprintf(line, sizeof line, "%-16s %-7s %8s %-5s %6s %-17s %5s %10s %-20s %10s %8s %8s\n",
                "RING", "STATE", "PID", "ALIVE", "HB_S", "EPOCH", "SLOTS", "SLOT_B", "GEOMETRY",
                "CURSOR", "FPS", "MB/s");
  out << line;
  for (const auto& r : rings) {
    std::string geometry;
    for (const auto& d : r["geometry"]["shape"]) {
      geometry += (geometry.empty() ? "" : "x") + std::to_string(d.get<std::uint64_t>());
    }
    geometry += " " + r["geometry"]["pix_fmt"].get<std::string>();
    const double hb = r["heartbeat_age_s"].get<double>();
    std::snprintf(line, sizeof line,
                  "%-16s %-7s %8d %-5s %6s %-17s %5u %10" PRIu64 " %-20s %10" PRIu64 " %8.1f %8s\n",
                  r["ring"].get<std::string>().c_str(), r["state"].get<std::string>().c_str(),
                  r["writer_pid"].get<int>(), r["writer_alive"].get<bool>() ? "yes" : "NO",
                  hb < 0 ? "-" : fmt_rate(hb).c_str(), r["epoch"].get<std::string>().c_str(),
                  r["slots"].get<unsigned>(), r["slot_bytes"].get<std::uint64_t>(),
                  geometry.c_str(), r["cursor"].get<std::uint64_t>(), r["fps"].get<double>(),
                  fmt_rate(r["mb_per_s"]).c_str());
    out << line;
    for (const auto& f : r["rejected_stats_files"]) {
      out << "  ignored " << f["file"].get<std::string>() << ": " << f["reason"].get<std::string>()
          << "\n";
    }
    print_packet_ring(r["packet_ring"], out);
    if (r["readers"].empty()) continue;
    std::snprintf(line, sizeof line, "  %-20s %7s %-7s %6s %10s %6s %7s %9s %8s %6s %8s %6s %10s\n",
                  "READER", "PID", "STATUS", "HB_S", "POS", "LAG", "FPS", "MB/s_IN", "LAPPED",
                  "TORN", "SKIPPED", "DROP/s", "COPIED_B");
    out << line;
    for (const auto& rd : r["readers"]) {
      std::snprintf(
          line, sizeof line,
          "  %-20s %7d %-7s %6s %10" PRIu64 " %6" PRIu64 " %7s %9s %8" PRIu64 " %6" PRIu64
          " %8" PRIu64 " %6s %10" PRIu64 "\n",
          rd["reader"].get<std::string>().c_str(), rd["pid"].get<int>(),
          rd["status"].get<std::string>().c_str(),
          rd["heartbeat_age_s"].get<double>() < 0 ? "-" : fmt_rate(rd["heartbeat_age_s"]).c_str(),
          rd["position"].get<std::uint64_t>(), rd["lag"].get<std::uint64_t>(),
          fmt_rate(rd["fps"]).c_str(), fmt_rate(rd["mb_per_s_in_place"]).c_str(),
          rd["dropped"]["lapped"].get<std::uint64_t>(), rd["dropped"]["torn"].get<std::uint64_t>(),
          rd["dropped"]["skipped"].get<std::uint64_t>(), fmt_rate(rd["drops_per_s"]).c_str(),
          rd["bytes_copied"].get<std::uint64_t>());
      out << line;
    }
  }
}

}  // namespace framering::cli
