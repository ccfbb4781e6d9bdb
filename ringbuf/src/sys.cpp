#include "sys.hpp"

#include <fcntl.h>
#include <linux/futex.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstring>
#include <random>

namespace framering::ring {

Fd& Fd::operator=(Fd&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = other.release();
  }
  return *this;
}

Fd::~Fd() {
  if (fd_ >= 0) ::close(fd_);
}

std::string errno_text(int err) {
  return err ? std::strerror(err) : "unexpected end of file";
}

}  // namespace framering::ring

namespace framering::ring::detail {

Fd open_regular(const std::string& path, int flags, struct stat* st) {
  Fd fd(::open(path.c_str(), flags | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC));
  if (!fd) return fd;
  if (::fstat(fd.get(), st) != 0) return Fd{};
  if (!S_ISREG(st->st_mode)) {
    errno = EINVAL;
    return Fd{};
  }
  return fd;
}

std::string open_regular_error(int err) {
  if (err == ELOOP) return "is a symbolic link (refused: a ring file is never a link)";
  if (err == EINVAL) return "is not a regular file (a FIFO, socket, device or directory)";
  return errno_text(err);
}

int rename_noreplace(const std::string& temp, const std::string& target) {
  if (::renameat2(AT_FDCWD, temp.c_str(), AT_FDCWD, target.c_str(), RENAME_NOREPLACE) == 0)
    return 0;
  if (errno != EINVAL && errno != ENOSYS) return errno;
  // No RENAME_NOREPLACE here: link(2) fails with EEXIST just as atomically.
  if (::link(temp.c_str(), target.c_str()) != 0) return errno;
  ::unlink(temp.c_str());
  return 0;
}

void futex_wake_all(const void* addr) {
  ::syscall(SYS_futex, addr, FUTEX_WAKE, INT_MAX, nullptr, nullptr, 0);
}

void futex_wait(const void* addr, std::uint32_t expected, std::uint64_t timeout_ns) {
  timespec ts{};
  ts.tv_sec = static_cast<time_t>(timeout_ns / 1'000'000'000ULL);
  ts.tv_nsec = static_cast<long>(timeout_ns % 1'000'000'000ULL);
  // Shared (not FUTEX_PRIVATE) because writer and readers are different processes.
  ::syscall(SYS_futex, addr, FUTEX_WAIT, expected, &ts, nullptr, 0);
}

bool flock_held_elsewhere(int fd) {
  if (::flock(fd, LOCK_SH | LOCK_NB) == 0) {
    ::flock(fd, LOCK_UN);
    return false;
  }
  return errno == EWOULDBLOCK;
}

std::uint64_t random_u64() {
  std::uint64_t value = 0;
  if (::getrandom(&value, sizeof value, 0) != static_cast<ssize_t>(sizeof value)) {
    std::random_device rd;
    value = (static_cast<std::uint64_t>(rd()) << 32) ^ rd();
  }
  return value;
}

}  // namespace framering::ring::detail
