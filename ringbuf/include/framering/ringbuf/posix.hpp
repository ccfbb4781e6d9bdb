// The POSIX pieces every framering process needs around its files: an owning descriptor and
// the text of an errno. One definition, shared by the ring and its producers.
#pragma once

#include <string>

namespace framering::ring {

// RAII file descriptor: closes on destruction; move-only.
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  Fd(Fd&& other) noexcept : fd_(other.release()) {}
  Fd& operator=(Fd&& other) noexcept;
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd();
  int get() const { return fd_; }
  int release() {
    int fd = fd_;
    fd_ = -1;
    return fd;
  }
  explicit operator bool() const { return fd_ >= 0; }

 private:
  int fd_ = -1;
};

// strerror(err); for 0 (a read that found the end of the file early) "unexpected end of file".
std::string errno_text(int err);

}  // namespace framering::ring
