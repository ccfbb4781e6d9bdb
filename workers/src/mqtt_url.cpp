#include "framering/workers/mqtt_url.hpp"

#include <cctype>

#include "framering/ingest/redact.hpp"
#include "framering/workers/config_error.hpp"

namespace framering::workers {

namespace {

std::string percent_decode(const std::string& s, bool& ok) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      out += s[i];
      continue;
    }
    if (i + 2 >= s.size() || !std::isxdigit(static_cast<unsigned char>(s[i + 1])) ||
        !std::isxdigit(static_cast<unsigned char>(s[i + 2]))) {
      ok = false;
      return out;
    }
    out += static_cast<char>(std::stoi(s.substr(i + 1, 2), nullptr, 16));
    i += 2;
  }
  return out;
}

}  // namespace

std::string redacted_mqtt_url(const std::string& url) {
  return ingest::redact_source(url);
}

MqttUrl parse_mqtt_url(const std::string& url, const std::string& flag) {
  auto bad = [&](const std::string& why) {
    return ConfigError(flag + " " + redacted_mqtt_url(url) + ": " + why +
                       "; expected mqtt://[user:password@]host[:port] or mqtts://... (TLS)");
  };
  MqttUrl u;
  std::string rest;
  if (url.rfind("mqtt://", 0) == 0) {
    rest = url.substr(7);
  } else if (url.rfind("mqtts://", 0) == 0) {
    rest = url.substr(8);
    u.tls = true;
    u.port = 8883;
  } else {
    throw bad("unknown scheme");
  }
  if (!rest.empty() && rest.back() == '/') rest.pop_back();
  if (rest.find_first_of("/?#") != std::string::npos)
    throw bad("a broker URL has no path or query");
  const std::size_t at = rest.rfind('@');
  if (at != std::string::npos) {
    const std::string userinfo = rest.substr(0, at);
    rest = rest.substr(at + 1);
    const std::size_t colon = userinfo.find(':');
    bool ok = true;
    u.user = percent_decode(userinfo.substr(0, colon), ok);
    if (colon != std::string::npos) u.password = percent_decode(userinfo.substr(colon + 1), ok);
    if (!ok) throw bad("bad percent-encoding in the user or password");
    if (u.user.empty()) throw bad("empty user name before '@'");
  }
  std::string port;
  bool has_port = false;
  if (!rest.empty() && rest.front() == '[') {  // [IPv6]:port
    const std::size_t close = rest.find(']');
    if (close == std::string::npos) throw bad("unclosed '[' in the host");
    u.host = rest.substr(1, close - 1);
    if (close + 1 < rest.size()) {
      if (rest[close + 1] != ':') throw bad("expected ':PORT' after ']'");
      has_port = true;
      port = rest.substr(close + 2);
    }
  } else {
    const std::size_t colon = rest.rfind(':');
    u.host = rest.substr(0, colon);
    if (colon != std::string::npos) {
      has_port = true;
      port = rest.substr(colon + 1);
    }
  }
  if (u.host.empty()) throw bad("missing host");
  if (has_port) {
    if (port.empty() || port.size() > 5 ||
        port.find_first_not_of("0123456789") != std::string::npos || std::stoi(port) < 1 ||
        std::stoi(port) > 65535) {
      throw bad("port must be 1-65535");
    }
    u.port = std::stoi(port);
  }
  return u;
}

}  // namespace framering::workers
