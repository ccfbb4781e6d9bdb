// --metrics-addr and --preview-addr parsing: "HOST:PORT", "[v6]:PORT", ":PORT"; "0"/"" disables
// the server.
#include <charconv>
#include <string>

#include "framering/metrics/catalogue.hpp"

namespace framering::metrics {

namespace {

[[noreturn]] void bad_addr(const std::string& flag, const std::string& addr,
                           const std::string& why) {
  if (flag == "--metrics-addr") {
    throw MetricsError("--metrics-addr '" + addr + "': " + why +
                       "; use HOST:PORT (e.g. 127.0.0.1:9464), :PORT for all interfaces, or 0 to "
                       "disable the metrics server");
  }
  throw MetricsError(flag + " '" + addr + "': " + why +
                     "; use HOST:PORT (e.g. 127.0.0.1:9463), or leave it out to serve nothing");
}

}  // namespace

bool parse_metrics_addr(const std::string& addr, std::string& host, std::uint16_t& port) {
  return parse_listen_addr("--metrics-addr", addr, host, port);
}

bool parse_listen_addr(const std::string& flag, const std::string& addr, std::string& host,
                       std::uint16_t& port) {
  if (addr.empty() || addr == "0") return false;
  const auto colon = addr.rfind(':');
  if (colon == std::string::npos) bad_addr(flag, addr, "no ':PORT'");
  host = addr.substr(0, colon);
  const std::string port_text = addr.substr(colon + 1);
  unsigned value = 0;
  const auto [end, ec] =
      std::from_chars(port_text.data(), port_text.data() + port_text.size(), value);
  if (port_text.empty() || ec != std::errc{} || end != port_text.data() + port_text.size() ||
      value > 65535) {
    bad_addr(flag, addr, "port '" + port_text + "' is not a number in 0..65535");
  }
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    if (host.find_first_not_of("0123456789abcdefABCDEF:.", 1) != host.size() - 1) {
      bad_addr(flag, addr, "'" + host + "' is not an IPv6 address");
    }
  } else if (host.find_first_of(":[]/@ ") != std::string::npos) {
    bad_addr(flag, addr, "'" + host + "' is not a host name or IPv4 address");
  }
  port = static_cast<std::uint16_t>(value);
  return true;
}

}  // namespace framering::metrics
