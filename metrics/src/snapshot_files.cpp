#include "snapshot_files.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>

namespace framering::metrics {

namespace {

// Far above any snapshot (a 4K JPEG is a few MiB); a bound on what one request may read.
constexpr off_t kMaxSnapshotBytes = 64 << 20;

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

// A camera directory or a snapshot file name as the workers write them: letters, digits, '.',
// '_', '-', not starting with '.' (so never "." or ".."), at most 255 bytes.
bool plain_name(const std::string& name) {
  if (name.empty() || name.size() > 255 || name.front() == '.') return false;
  for (const char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '.' || c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

HttpResponse not_found() {
  return {404, "text/plain; charset=utf-8", "no such snapshot\n"};
}

}  // namespace

HttpResponse serve_snapshot(const std::string& dir, const std::string& rest) {
  const std::size_t slash = rest.find('/');
  if (dir.empty() || slash == std::string::npos) return not_found();
  const std::string camera = rest.substr(0, slash);
  const std::string file = rest.substr(slash + 1);
  if (!plain_name(camera) || !plain_name(file) || file.size() <= 4 ||
      file.compare(file.size() - 4, 4, ".jpg") != 0) {
    return not_found();
  }
  // The directory itself is the operator's (--preview-snapshots) and may be a link; below it,
  // O_NOFOLLOW refuses a link at either level, so nothing outside it can be reached.
  const Fd root(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (root.get() < 0) return not_found();
  const Fd cam(
      ::openat(root.get(), camera.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (cam.get() < 0) return not_found();
  const Fd fd(::openat(cam.get(), file.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
  struct stat st {};
  // One link only: workers create each file by rename; a hard link could name a file elsewhere.
  if (fd.get() < 0 || ::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode) || st.st_nlink != 1 ||
      st.st_size > kMaxSnapshotBytes) {
    return not_found();
  }
  std::string body(static_cast<std::size_t>(st.st_size), '\0');
  std::size_t done = 0;
  while (done < body.size()) {
    const ssize_t n = ::read(fd.get(), body.data() + done, body.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    done += static_cast<std::size_t>(n);
  }
  body.resize(done);
  if (body.size() < 2 || body[0] != '\xff' || body[1] != '\xd8') return not_found();  // not JPEG
  return {200, "image/jpeg", std::move(body)};
}

}  // namespace framering::metrics
