#include "http_server.hpp"

#include <arpa/inet.h>
#include <civetweb.h>
#include <netdb.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <exception>
#include <system_error>
#include <thread>

namespace framering::metrics {

namespace {

// Each connection holds a civetweb worker thread until its request has arrived or
// kRequestTimeoutMs passed (civetweb counts from the connection's start, so a client trickling
// a byte a second is cut off too). Idle or slow clients below kThreads cannot delay a scrape at
// all; above it, by at most kRequestTimeoutMs per kThreads of them (docs/security.md). Threads
// wait idle on a condition variable: 32 cost a few hundred KiB of resident memory.
constexpr const char* kThreads = "32";
constexpr const char* kRequestTimeoutMs = "2000";
// Accepted connections waiting for a free thread; beyond it the kernel's listen backlog holds them.
constexpr const char* kConnectionQueue = "64";

const char* reason_phrase(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 400:
      return "Bad Request";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 503:
      return "Service Unavailable";
    default:
      return status >= 500 ? "Internal Server Error" : "Error";
  }
}

// Writes the response with mg_write only: no printf-family call on a civetweb thread (see
// run_on_full_stack for why those threads have almost no stack to spare).
void send(mg_connection* conn, const HttpResponse& r, bool head) {
  std::string header = "HTTP/1.1 " + std::to_string(r.status) + " " + reason_phrase(r.status) +
                       "\r\nContent-Type: " + r.content_type +
                       "\r\nContent-Length: " + std::to_string(r.body.size()) +
                       "\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n";
  mg_write(conn, header.data(), header.size());
  if (!head && !r.body.empty()) mg_write(conn, r.body.data(), r.body.size());
}

// civetweb's worker threads get a fixed stack of 100 KiB (a build-time setting of the library,
// not an option), and glibc places the static thread-local storage of every loaded library in
// that same stack. With OpenCV and its BLAS loaded (OpenBLAS where it is the system's BLAS),
// that storage is about 70 KiB, leaving ~28 KiB: not enough for a glibc printf on its slow path
// (taken whenever a library registered printf hooks, as libquadmath does), JPEG encoding or text
// serialisation. A handler therefore runs on a thread of ours, with the process's default
// stack; the civetweb thread only parses the request and moves bytes.
HttpResponse run_on_full_stack(const HttpHandler& handler, const std::string& query) {
  HttpResponse r;
  std::exception_ptr failure;
  try {
    std::thread worker([&] {
      try {
        r = handler(query);
      } catch (...) {
        failure = std::current_exception();
      }
    });
    worker.join();
  } catch (const std::system_error& e) {  // no thread could be started
    return {503, "text/plain; charset=utf-8", std::string("busy: ") + e.what() + "\n"};
  }
  if (failure) std::rethrow_exception(failure);
  return r;
}

// Whether a request's Host header may be answered by a server that checks it (require_host):
// an IP literal (a page can only send one if its own origin is that address), "localhost", or
// one of `names`. Never a name the client made up: that is what a DNS-rebinding page sends.
bool host_allowed(const char* header, const std::vector<std::string>& names) {
  if (header == nullptr) return false;
  std::string host(header);
  std::transform(host.begin(), host.end(), host.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  in6_addr v6{};
  in_addr v4{};
  if (!host.empty() && host.front() == '[') {
    const std::size_t close = host.find(']');
    if (close == std::string::npos) return false;
    const std::string rest = host.substr(close + 1);
    if (!rest.empty() &&
        (rest[0] != ':' || rest.find_first_not_of("0123456789", 1) != std::string::npos)) {
      return false;
    }
    return ::inet_pton(AF_INET6, host.substr(1, close - 1).c_str(), &v6) == 1;
  }
  const std::size_t colon = host.find(':');
  if (colon != std::string::npos) {
    if (host.find_first_not_of("0123456789", colon + 1) != std::string::npos) return false;
    host.resize(colon);
  }
  if (!host.empty() && host.back() == '.') host.pop_back();  // "localhost." is localhost
  if (host.empty()) return false;
  if (::inet_pton(AF_INET, host.c_str(), &v4) == 1) return true;
  return host == "localhost" || std::find(names.begin(), names.end(), host) != names.end();
}

// civetweb reports bind errors through mg_cry → log_message; keep them out of stderr (the
// exception carries the message) but keep the text for the error.
int quiet_log(const mg_connection*, const char*) {
  return 1;
}

// civetweb only says "Failed to setup server ports"; binding the address ourselves tells why
// (address in use, not an address of this host, permission for ports < 1024, ...).
std::string bind_failure_reason(const std::string& host, std::uint16_t port) {
  std::string h = host.empty() ? "0.0.0.0" : host;
  if (h.size() > 2 && h.front() == '[') h = h.substr(1, h.size() - 2);
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE;
  addrinfo* res = nullptr;
  const int gai = getaddrinfo(h.c_str(), std::to_string(port).c_str(), &hints, &res);
  if (gai != 0) return std::string("cannot resolve '") + h + "': " + gai_strerror(gai);
  std::string reason;
  const int fd = ::socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  const int one = 1;
  if (fd < 0) {
    reason = std::strerror(errno);
  } else {
    (void)::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (::bind(fd, res->ai_addr, res->ai_addrlen) != 0) reason = std::strerror(errno);
    ::close(fd);
  }
  freeaddrinfo(res);
  return reason;
}

}  // namespace

HttpServer::HttpServer(const std::string& host, std::uint16_t port, const std::string& addr,
                       const std::string& flag) {
  host_ = host;
  const std::string listen = (host.empty() ? std::string() : host + ":") + std::to_string(port);
  const char* options[] = {"listening_ports",
                           listen.c_str(),
                           "num_threads",
                           kThreads,
                           "connection_queue",
                           kConnectionQueue,
                           "request_timeout_ms",
                           kRequestTimeoutMs,
                           "enable_keep_alive",
                           "no",
                           nullptr};
  mg_callbacks callbacks{};
  callbacks.log_message = quiet_log;
  mg_init_data init{};
  init.callbacks = &callbacks;
  init.user_data = this;
  init.configuration_options = options;
  char text[256] = {};
  unsigned code = 0;
  mg_error_data error{};
  error.code = &code;
  error.text = text;
  error.text_buffer_size = sizeof text;
  ctx_ = mg_start2(&init, &error);
  if (ctx_ == nullptr) {
    std::string why = bind_failure_reason(host, port);
    if (why.empty()) why = text[0] ? text : "the HTTP server could not start";
    throw MetricsError(
        std::string(flag == "--metrics-addr" ? "metrics" : "preview") + ": cannot listen on " +
        flag + " " + addr + ": " + why + "; pick a free port with " + flag +
        " HOST:PORT (another framering process may use this one)" +
        (flag == "--metrics-addr" ? ", or disable metrics with --metrics-addr 0" : ""));
  }
  mg_server_port ports[4] = {};
  const int n = mg_get_server_ports(ctx_, 4, ports);
  port_ = n > 0 ? static_cast<std::uint16_t>(ports[0].port) : port;
  // One catch-all handler; dispatch() matches exact paths (civetweb itself matches prefixes).
  mg_set_request_handler(ctx_, "/", &HttpServer::dispatch, this);
}

// Opens and at once closes a connection to the server, which wakes civetweb's listener.
void HttpServer::poke() const {
  std::string host = host_;
  if (host.empty() || host == "0.0.0.0") host = "127.0.0.1";
  if (host == "[::]") host = "[::1]";
  if (host.size() > 2 && host.front() == '[') host = host.substr(1, host.size() - 2);
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  if (getaddrinfo(host.c_str(), std::to_string(port_).c_str(), &hints, &res) != 0) return;
  const int fd = ::socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd >= 0) {
    (void)::connect(fd, res->ai_addr, res->ai_addrlen);
    ::close(fd);
  }
  freeaddrinfo(res);
}

HttpServer::~HttpServer() {
  if (ctx_ == nullptr) return;
  // civetweb's listener polls in 2 s quanta and notices mg_stop() only at the next one; poking
  // it with a connection makes shutdown (and so SIGTERM -> exit) take milliseconds instead.
  std::atomic<bool> stopped{false};
  std::thread stopper([this, &stopped] {
    mg_stop(ctx_);
    stopped = true;
  });
  for (int i = 0; i < 150 && !stopped; ++i) {
    poke();
    std::this_thread::sleep_for(std::chrono::milliseconds(i < 5 ? 2 : 20));
  }
  stopper.join();
}

void HttpServer::require_host(std::vector<std::string> names) {
  for (std::string& n : names) {
    std::transform(n.begin(), n.end(), n.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  }
  std::lock_guard lock(mutex_);
  allowed_hosts_ = std::move(names);
  check_host_ = true;
}

void HttpServer::route(const std::string& path, HttpHandler handler) {
  std::lock_guard lock(mutex_);
  routes_[path] = std::make_shared<const HttpHandler>(std::move(handler));
}

void HttpServer::route_prefix(const std::string& prefix, HttpHandler handler) {
  std::lock_guard lock(mutex_);
  prefix_routes_[prefix] = std::make_shared<const HttpHandler>(std::move(handler));
}

int HttpServer::dispatch(mg_connection* conn, void* self_ptr) {
  auto* self = static_cast<HttpServer*>(self_ptr);
  const mg_request_info* req = mg_get_request_info(conn);
  const bool head = std::strcmp(req->request_method, "HEAD") == 0;
  bool check_host = false;
  std::vector<std::string> allowed;
  {
    std::lock_guard lock(self->mutex_);
    check_host = self->check_host_;
    if (check_host) allowed = self->allowed_hosts_;
  }
  if (check_host && !host_allowed(mg_get_header(conn, "Host"), allowed)) {
    HttpResponse r{403, "text/plain; charset=utf-8",
                   "this server answers only requests for an IP address, localhost or a name "
                   "given with --preview-host\n"};
    send(conn, r, head);
    return r.status;
  }
  if (!head && std::strcmp(req->request_method, "GET") != 0) {
    HttpResponse r{405, "text/plain; charset=utf-8", "only GET and HEAD are served\n"};
    send(conn, r, false);
    return r.status;
  }
  std::shared_ptr<const HttpHandler> handler;
  const std::string path = req->local_uri ? req->local_uri : "";
  std::string argument = req->query_string ? req->query_string : "";
  {
    std::lock_guard lock(self->mutex_);
    auto it = self->routes_.find(path);
    if (it != self->routes_.end()) {
      handler = it->second;
    } else {
      for (const auto& [prefix, h] : self->prefix_routes_) {
        if (path.size() > prefix.size() && path.compare(0, prefix.size(), prefix) == 0) {
          handler = h;
          argument = path.substr(prefix.size());
        }
      }
    }
  }
  HttpResponse r;
  if (!handler) {
    r = {404, "text/plain; charset=utf-8", "not found; try /metrics\n"};
  } else {
    try {
      r = run_on_full_stack(*handler, argument);
    } catch (const std::exception& e) {
      r = {500, "text/plain; charset=utf-8", std::string(e.what()) + "\n"};
    }
  }
  send(conn, r, head);
  return r.status;
}

}  // namespace framering::metrics
