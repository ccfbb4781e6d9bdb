#include "ring_fixture.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>
#include <zlib.h>

#include <opencv2/videoio.hpp>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "framering/ringbuf/names.hpp"

namespace framering::workers::test {

std::string unique_ring_name() {
  static std::atomic<int> counter{0};
  return "wkt" + std::to_string(::getpid()) + "_" + std::to_string(counter++);
}

std::vector<cv::Mat> vtest_frames(std::size_t count) {
  static std::vector<cv::Mat> cache;
  if (cache.size() < count) {
    cv::VideoCapture cap(kVtest);
    if (!cap.isOpened())
      throw std::runtime_error(std::string("cannot open ") + kVtest + " (install opencv-doc)");
    cache.clear();
    cv::Mat f;
    while (cache.size() < count && cap.read(f)) cache.push_back(f.clone());
    if (cache.size() < count)
      throw std::runtime_error("vtest.avi has fewer frames than the test needs");
  }
  return {cache.begin(), cache.begin() + static_cast<std::ptrdiff_t>(count)};
}

ring::Writer make_writer(const std::string& name, cv::Size size, std::uint32_t slots,
                         ring::PixFmt fmt) {
  ring::WriterOptions o;
  o.name = name;
  o.geometry = ring::Geometry::image(static_cast<std::uint32_t>(size.width),
                                     static_cast<std::uint32_t>(size.height), fmt);
  o.slots = slots;
  return ring::Writer::create(o);
}

void publish(ring::Writer& writer, const cv::Mat& frame) {
  auto slot = writer.claim();
  const std::size_t bytes = frame.total() * frame.elemSize();
  if (!frame.isContinuous() || bytes != slot.payload().size())
    throw std::runtime_error("frame does not fit the ring");
  std::memcpy(slot.payload().data(), frame.data, bytes);
  slot.pts_ns = static_cast<std::int64_t>(slot.frame_no()) * 100'000'000;
  writer.publish(std::move(slot));
}

std::string hex8(std::uint32_t v) {
  char buf[12];
  std::snprintf(buf, sizeof buf, "%08x", v);
  return buf;
}

std::uint32_t crc32_of(const cv::Mat& m) {
  return static_cast<std::uint32_t>(
      ::crc32_z(::crc32_z(0L, Z_NULL, 0), m.data, m.total() * m.elemSize()));
}

WorkerThread::WorkerThread(WorkerOptions options)
    : thread_([this, o = std::move(options)] { code_.store(run_worker(o, stop_)); }) {}

WorkerThread::~WorkerThread() {
  if (thread_.joinable()) {
    stop();
    thread_.join();
  }
}

int WorkerThread::join() {
  thread_.join();
  return code_.load();
}

WorkerOptions worker_options(const std::string& ring, const std::string& analytic,
                             FollowMode mode) {
  WorkerOptions o;
  o.ring = ring;
  o.analytic = analytic;
  o.mode = mode;
  o.events = (std::filesystem::temp_directory_path() / (ring + "-" + analytic + ".jsonl")).string();
  std::filesystem::remove(o.events);
  o.log_level = LogLevel::kWarn;
  return o;
}

std::vector<nlohmann::json> read_events(const std::string& path) {
  std::vector<nlohmann::json> out;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) out.push_back(nlohmann::json::parse(line));
  return out;
}

namespace {

sockaddr_in loopback(int port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<std::uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return a;
}

struct Fd {
  int fd;
  ~Fd() { ::close(fd); }
};

}  // namespace

int free_port() {
  Fd s{::socket(AF_INET, SOCK_STREAM, 0)};
  sockaddr_in a = loopback(0);
  socklen_t len = sizeof a;
  if (s.fd < 0 || ::bind(s.fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
      ::getsockname(s.fd, reinterpret_cast<sockaddr*>(&a), &len) != 0)
    throw std::runtime_error(std::string("free_port: ") + std::strerror(errno));
  return ntohs(a.sin_port);
}

double scrape_sample(int port, const std::string& series) {
  Fd s{::socket(AF_INET, SOCK_STREAM, 0)};
  const sockaddr_in a = loopback(port);
  if (s.fd < 0 || ::connect(s.fd, reinterpret_cast<const sockaddr*>(&a), sizeof a) != 0)
    throw std::runtime_error("scrape: cannot connect to 127.0.0.1:" + std::to_string(port));
  const std::string request = "GET /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
  if (::send(s.fd, request.data(), request.size(), 0) != static_cast<ssize_t>(request.size()))
    throw std::runtime_error("scrape: send failed");
  std::string response;
  char buf[8192];
  for (ssize_t n; (n = ::recv(s.fd, buf, sizeof buf, 0)) > 0;)
    response.append(buf, static_cast<std::size_t>(n));
  std::istringstream lines(response);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.rfind(series + " ", 0) == 0) return std::stod(line.substr(series.size() + 1));
  }
  return -1;
}

RingCleanup::~RingCleanup() {
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(ring::shm_dir(), ec)) {
    const std::string file = entry.path().filename().string();
    const std::string base = "framering." + name;
    if (file == base || file.rfind(base + ".", 0) == 0) std::filesystem::remove(entry.path(), ec);
  }
}

}  // namespace framering::workers::test
