// What a worker needs to publish to MQTT, and the one check of it: run at start-up and by
// `--check-config` (also `framering run --check-config`), before any ring or broker is touched.
#pragma once

#include <cstddef>
#include <string>

namespace framering::workers {

struct MqttSettings {
  std::string url;  // "" = no MQTT output
  std::string topic_prefix = "framering";
  std::string ca_file;       // mqtts: the CA certificate file; "" = the system's /etc/ssl/certs
  std::size_t queue = 1000;  // events kept while the broker is away
};

// Throws ConfigError naming the flag (and file) at fault: a URL that does not parse, a topic
// prefix that is empty, has an MQTT wildcard (+ #), starts with '$' (broker-reserved) or is too
// long, a queue of 0, --mqtt-ca without an mqtts:// URL, a CA file that cannot be read.
void check_mqtt_settings(const MqttSettings& settings);

}  // namespace framering::workers
