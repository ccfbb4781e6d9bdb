// `mqtt://[user:pass@]host[:port]` and `mqtts://...` (TLS): where a worker publishes its events.
#pragma once

#include <string>

namespace framering::workers {

struct MqttUrl {
  bool tls = false;
  std::string host;
  int port = 1883;  // 8883 for mqtts
  std::string user;
  std::string password;  // percent-decoded; never logged (print redacted_mqtt_url())
};

// Throws ConfigError naming `flag` and the redacted URL when it does not parse.
MqttUrl parse_mqtt_url(const std::string& url, const std::string& flag);

// The URL with its password masked: the form every log line and error message prints.
std::string redacted_mqtt_url(const std::string& url);

}  // namespace framering::workers
