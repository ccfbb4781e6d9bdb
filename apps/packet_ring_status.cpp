#include "packet_ring_status.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <cinttypes>
#include <cstdio>
#include <optional>

#include "framering/ringbuf/error.hpp"
#include "framering/ringbuf/names.hpp"
#include "framering/ringbuf/packet_ring.hpp"
#include "framering/ringbuf/reader.hpp"
#include "framering/ringbuf/reader_stats.hpp"

namespace framering::cli {

namespace {

const char* state_text(std::uint32_t state) {
  switch (state) {
    case 0:
      return "INIT";
    case 1:
      return "LIVE";
    case 2:
      return "CLOSED";
    default:
      return "INVALID";
  }
}

// Recorders beat every wait (200 ms at most): 3 s without a beat is a stuck or stopped one.
constexpr double kStalledAfterS = 3.0;

std::optional<std::int64_t> timestamp(const ring::PacketView& p) {
  if (p.pts != ring::pkt::kNoTimestamp) return p.pts;
  if (p.dts != ring::pkt::kNoTimestamp) return p.dts;
  return std::nullopt;
}

// Seconds from the oldest packet record still intact to the end of the newest, from their
// timestamps; null when the ring is empty or the packets carry none. The oldest record may be
// overwritten while it is read: then the writer's new `oldest` is tried again.
nlohmann::json history_seconds(ring::PacketReader& reader) {
  const ring::PacketRingInfo& info = reader.info();
  const double time_base =
      static_cast<double>(info.stream.time_base_num) / info.stream.time_base_den;
  for (int attempt = 0; attempt < 5; ++attempt) {
    if (reader.packets() == 0) return nullptr;
    const ring::PacketReadResult newest = reader.read(reader.latest());
    const ring::PacketReadResult oldest = reader.read(reader.oldest_record());
    if (newest.status != ring::ReadStatus::kOk || oldest.status != ring::ReadStatus::kOk) continue;
    const auto a = timestamp(oldest.packet), b = timestamp(newest.packet);
    const bool intact = reader.valid(oldest.packet) && reader.valid(newest.packet);
    if (!intact) continue;
    if (!a || !b || *b < *a) return nullptr;
    return static_cast<double>(*b - *a + std::max<std::int64_t>(0, newest.packet.duration)) *
           time_base;
  }
  return nullptr;
}

nlohmann::json readers_of(const std::string& name, std::uint64_t tail, std::uint64_t epoch,
                          uid_t owner) {
  nlohmann::json readers = nlohmann::json::array();
  const std::string stats_ring = ring::packet_reader_stats_ring(name);
  const std::uint64_t now = ring::monotonic_ns();
  for (const std::string& path : ring::reader_stats_files(stats_ring)) {
    const ring::ReaderStatsFile file =
        ring::inspect_reader_stats_file(path, stats_ring, {::geteuid(), owner});
    if (!file.stats) continue;  // the frame ring's table already tells how files are rejected
    const ring::ReaderStatsSnapshot& s = *file.stats;
    const bool same_epoch = s.epoch == epoch;
    const double hb_age = s.heartbeat_ns && now >= s.heartbeat_ns
                              ? static_cast<double>(now - s.heartbeat_ns) / 1e9
                              : -1.0;
    const char* status = !s.alive                                ? "dead"
                         : hb_age < 0 || hb_age > kStalledAfterS ? "stalled"
                                                                 : "alive";
    readers.push_back({{"reader", s.reader},
                       {"pid", s.pid},
                       {"status", status},
                       {"heartbeat_age_s", hb_age},
                       {"position", s.position},
                       {"lag_bytes", same_epoch && tail > s.position ? tail - s.position : 0},
                       {"packets_read", s.frames_read},
                       {"bytes_read", s.bytes_in_place},
                       {"lapped_packets", s.lapped},
                       {"same_epoch", same_epoch}});
  }
  return readers;
}

}  // namespace

nlohmann::json packet_ring_status(const std::string& name, uid_t owner) {
  struct stat st {};
  if (::lstat(ring::packet_segment_path(name).c_str(), &st) != 0) return nullptr;
  ring::ReaderOptions options;
  options.owners = {::geteuid(), owner};
  std::optional<ring::PacketReader> reader;
  try {
    reader.emplace(ring::PacketReader::attach(name, options));
  } catch (const ring::RingError& e) {
    return {{"error", e.what()}};
  }
  const ring::PacketRingInfo& info = reader->info();
  const std::uint64_t tail = reader->tail();
  nlohmann::json j;
  j["state"] = state_text(reader->state());
  j["writer_pid"] = info.writer_pid;
  j["writer_alive"] = reader->writer_alive();
  j["epoch"] = ring::epoch_text(info.epoch);
  j["codec"] = info.stream.codec_name;
  j["width"] = info.stream.width;
  j["height"] = info.stream.height;
  j["capacity_bytes"] = info.capacity;
  j["packets_published"] = reader->packets();
  j["bytes_published"] = tail;  // record bytes: headers and wrap padding included
  j["history_s"] = history_seconds(*reader);
  j["history_asked_s"] = info.sizing.history_ms
                             ? nlohmann::json(static_cast<double>(info.sizing.history_ms) / 1000)
                             : nlohmann::json(nullptr);
  j["sized_from"] = {{"basis", ring::sizing_basis_name(info.sizing.basis)},
                     {"bytes_per_second", info.sizing.bytes_per_second}};
  j["readers"] = readers_of(name, tail, info.epoch, owner);
  return j;
}

void print_packet_ring(const nlohmann::json& p, std::ostream& out) {
  if (p.is_null()) return;
  char line[512];
  if (p.contains("error")) {
    out << "  packet ring: " << p["error"].get<std::string>() << "\n";
    return;
  }
  auto seconds = [](const nlohmann::json& v) {
    if (!v.is_number()) return std::string("-");
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.1f", v.get<double>());
    return std::string(buf);
  };
  std::snprintf(line, sizeof line, "  %-12s %-7s %8s %-5s %-6s %10s %10s %12s %7s %7s %s\n",
                "PACKET_RING", "STATE", "PID", "ALIVE", "CODEC", "SIZE_MiB", "PACKETS", "BYTES",
                "HELD_S", "ASKED_S", "SIZED_FROM");
  out << line;
  const auto& sized = p["sized_from"];
  char sized_text[64];
  std::snprintf(sized_text, sizeof sized_text, "%s %.2f Mbit/s",
                sized["basis"].get<std::string>().c_str(),
                static_cast<double>(sized["bytes_per_second"].get<std::uint64_t>()) * 8 / 1e6);
  std::snprintf(line, sizeof line,
                "  %-12s %-7s %8d %-5s %-6s %10.1f %10" PRIu64 " %12" PRIu64 " %7s %7s %s\n",
                "packets", p["state"].get<std::string>().c_str(), p["writer_pid"].get<int>(),
                p["writer_alive"].get<bool>() ? "yes" : "NO", p["codec"].get<std::string>().c_str(),
                static_cast<double>(p["capacity_bytes"].get<std::uint64_t>()) / (1 << 20),
                p["packets_published"].get<std::uint64_t>(),
                p["bytes_published"].get<std::uint64_t>(), seconds(p["history_s"]).c_str(),
                seconds(p["history_asked_s"]).c_str(), sized_text);
  out << line;
  if (p["readers"].empty()) return;
  std::snprintf(line, sizeof line, "    %-20s %7s %-7s %6s %12s %10s %10s %8s\n", "PACKET_READER",
                "PID", "STATUS", "HB_S", "POS", "LAG_B", "PACKETS", "LAPPED");
  out << line;
  for (const auto& r : p["readers"]) {
    const double hb = r["heartbeat_age_s"].get<double>();
    std::snprintf(line, sizeof line,
                  "    %-20s %7d %-7s %6s %12" PRIu64 " %10" PRIu64 " %10" PRIu64 " %8" PRIu64 "\n",
                  r["reader"].get<std::string>().c_str(), r["pid"].get<int>(),
                  r["status"].get<std::string>().c_str(), hb < 0 ? "-" : seconds(hb).c_str(),
                  r["position"].get<std::uint64_t>(), r["lag_bytes"].get<std::uint64_t>(),
                  r["packets_read"].get<std::uint64_t>(), r["lapped_packets"].get<std::uint64_t>());
    out << line;
  }
}

}  // namespace framering::cli
