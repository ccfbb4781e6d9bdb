// A small HTTP server (civetweb) serving exact paths with HttpHandlers. The metrics Endpoint runs
// one for /metrics (prometheus-cpp 1.0's Exposer cannot serve anything else), the ingest's
// opt-in preview (--preview-addr) another on its own address.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "framering/metrics/catalogue.hpp"

struct mg_context;
struct mg_connection;

namespace framering::metrics {

class HttpServer {
 public:
  // Listens on host:port (port 0 = any free port). `addr` is the user's text of `flag`
  // (--metrics-addr, --preview-addr), used in error messages. Throws MetricsError when the
  // address cannot be bound.
  HttpServer(const std::string& host, std::uint16_t port, const std::string& addr,
             const std::string& flag = "--metrics-addr");
  ~HttpServer();  // stops the server; waits for running handlers
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Serves `handler` at exactly `path`; replaces an earlier handler of that path.
  void route(const std::string& path, HttpHandler handler);
  // Serves every path under `prefix` (which ends in '/') that no exact route serves: `handler`
  // receives the rest of the path after the prefix (decoded, dot segments already resolved by
  // civetweb), never the query. The rest is untrusted: the handler validates it.
  void route_prefix(const std::string& prefix, HttpHandler handler);
  // From now on, answers only requests whose Host header names this server by an IP address,
  // "localhost", or one of `names` (case-insensitive, port ignored); others get 403. A page that
  // a hostile web site rebinds its own DNS name to this address sends that name as Host, so it
  // cannot read what this server serves (DNS rebinding). Call before the server is reachable.
  void require_host(std::vector<std::string> names);
  std::uint16_t port() const { return port_; }

 private:
  static int dispatch(mg_connection* conn, void* self);
  void poke() const;

  mutable std::mutex mutex_;
  std::map<std::string, std::shared_ptr<const HttpHandler>> routes_;
  std::map<std::string, std::shared_ptr<const HttpHandler>> prefix_routes_;
  std::string host_;
  bool check_host_ = false;
  std::vector<std::string> allowed_hosts_;  // lower case
  mg_context* ctx_ = nullptr;
  std::uint16_t port_ = 0;
};

}  // namespace framering::metrics
