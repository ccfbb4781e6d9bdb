// Small POSIX helpers shared by the writer and reader (internal to ringbuf).
#pragma once

#include <cstdint>
#include <string>

namespace framering::ring::detail {

// RAII file descriptor.
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

std::string errno_text(int err);

// Wakes every thread/process sleeping on the 32-bit word at addr (shared futex).
void futex_wake_all(const void* addr);
// Sleeps while *addr == expected, at most timeout_ns. Works on PROT_READ mappings.
void futex_wait(const void* addr, std::uint32_t expected, std::uint64_t timeout_ns);

// True if some process holds an exclusive flock on fd's file (probe with a shared lock).
bool flock_held_elsewhere(int fd);

std::uint64_t random_u64();

}  // namespace framering::ring::detail
