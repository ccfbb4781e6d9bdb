#include "http_get.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace framering::test {

namespace {

HttpResult request(std::uint16_t port, const std::string& host, const std::string& req) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) throw std::runtime_error(std::string("socket: ") + std::strerror(errno));
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(port);
  ::inet_pton(AF_INET, host.c_str(), &sa.sin_addr);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) {
    const std::string err = std::strerror(errno);
    ::close(fd);
    throw std::runtime_error("connect " + host + ":" + std::to_string(port) + ": " + err);
  }
  if (::send(fd, req.data(), req.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(req.size())) {
    ::close(fd);
    throw std::runtime_error("send failed");
  }
  std::string raw;
  char buf[65536];
  for (;;) {
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    raw.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);
  const auto split = raw.find("\r\n\r\n");
  if (raw.rfind("HTTP/1.", 0) != 0 || split == std::string::npos) {
    throw std::runtime_error("not an HTTP reply: '" + raw.substr(0, 64) + "'");
  }
  HttpResult r;
  r.status = std::stoi(raw.substr(9, 3));
  r.headers = raw.substr(0, split);
  r.body = raw.substr(split + 4);
  return r;
}

}  // namespace

HttpResult http_get(std::uint16_t port, const std::string& path, const std::string& host) {
  return request(port, host, "GET " + path + " HTTP/1.0\r\nHost: " + host + "\r\n\r\n");
}

HttpResult http_get_host(std::uint16_t port, const std::string& path,
                         const std::string& host_header) {
  const std::string host_line = host_header.empty() ? "" : "Host: " + host_header + "\r\n";
  return request(port, "127.0.0.1", "GET " + path + " HTTP/1.0\r\n" + host_line + "\r\n");
}

}  // namespace framering::test
