#include "framering/workers/mqtt_settings.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "framering/workers/config_error.hpp"
#include "framering/workers/mqtt_url.hpp"

namespace framering::workers {

namespace {

constexpr std::size_t kMaxPrefix = 200;  // topics are <prefix>/<camera>/<worker>/available

// The CA file is read by libmosquitto only at the first TLS connection, in the background:
// a missing or unreadable file must fail here, where the user still sees a clear error.
void check_ca_file(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    throw ConfigError("--mqtt-ca " + path + ": cannot read the file (" + std::strerror(errno) +
                      "); give the PEM file of the CA that signed the broker's certificate");
  }
  struct stat st {};
  const bool regular = ::fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
  char byte = 0;
  const bool readable = regular && ::read(fd, &byte, 1) == 1;
  ::close(fd);
  if (!regular || !readable) {
    throw ConfigError("--mqtt-ca " + path +
                      (regular ? ": the file is empty" : ": not a regular file") +
                      "; give the PEM file of the CA that signed the broker's certificate");
  }
}

}  // namespace

void check_mqtt_settings(const MqttSettings& s) {
  const MqttUrl url = s.url.empty() ? MqttUrl{} : parse_mqtt_url(s.url, "--mqtt");
  const std::string& p = s.topic_prefix;
  if (p.empty() || p.find_first_of("#+") != std::string::npos || p.front() == '$' ||
      p.size() > kMaxPrefix || p.find('\0') != std::string::npos) {
    throw ConfigError("--mqtt-topic-prefix '" + p +
                      "': must be 1-200 characters, contain no MQTT wildcard (+ #) and not "
                      "start with '$' (topics reserved for the broker), e.g. framering or "
                      "home/cameras");
  }
  if (s.queue == 0) throw ConfigError("--mqtt-queue must be at least 1");
  if (s.ca_file.empty()) return;
  if (s.url.empty() || !url.tls) {
    throw ConfigError("--mqtt-ca " + s.ca_file + ": a CA file needs an mqtts:// URL (--mqtt " +
                      (s.url.empty() ? std::string("is not given") : redacted_mqtt_url(s.url)) +
                      ")");
  }
  check_ca_file(s.ca_file);
}

}  // namespace framering::workers
