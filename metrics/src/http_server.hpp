// A small HTTP server (civetweb) serving exact paths with HttpHandlers. One server per process
// serves /metrics and the optional /preview pages on the same port (prometheus-cpp 1.0's Exposer
// cannot serve anything but metrics).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "framering/metrics/catalogue.hpp"

struct mg_context;
struct mg_connection;

namespace framering::metrics {

class HttpServer {
 public:
  // Listens on host:port (port 0 = any free port). `addr` is the user's --metrics-addr text,
  // used in error messages. Throws MetricsError when the address cannot be bound.
  HttpServer(const std::string& host, std::uint16_t port, const std::string& addr);
  ~HttpServer();  // stops the server; waits for running handlers
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Serves `handler` at exactly `path`; replaces an earlier handler of that path.
  void route(const std::string& path, HttpHandler handler);
  std::uint16_t port() const { return port_; }

 private:
  static int dispatch(mg_connection* conn, void* self);
  void poke() const;

  mutable std::mutex mutex_;
  std::map<std::string, std::shared_ptr<const HttpHandler>> routes_;
  std::string host_;
  mg_context* ctx_ = nullptr;
  std::uint16_t port_ = 0;
};

}  // namespace framering::metrics
