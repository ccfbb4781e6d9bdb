// A minimal blocking HTTP/1.0 GET over a loopback TCP socket, so tests talk to the endpoint
// exactly as Prometheus does (no client library in between).
#pragma once

#include <cstdint>
#include <string>

namespace framering::test {

struct HttpResult {
  int status = 0;
  std::string headers;  // raw header block
  std::string body;
};

// Throws std::runtime_error if the connection fails or the reply is not HTTP.
HttpResult http_get(std::uint16_t port, const std::string& path,
                    const std::string& host = "127.0.0.1");

// The same GET with a Host header of the caller's choosing ("" sends none), over 127.0.0.1.
HttpResult http_get_host(std::uint16_t port, const std::string& path,
                         const std::string& host_header);

}  // namespace framering::test
