// Small POSIX helpers shared by the writer and reader (internal to ringbuf).
#pragma once

#include <sys/stat.h>

#include <cstdint>
#include <string>

#include "framering/ringbuf/posix.hpp"

namespace framering::ring::detail {

using ring::errno_text;
using ring::Fd;

// Opens an existing file of the shared directory the way every framering opener must: never
// following a symlink, never blocking (anyone can plant a FIFO under a ring's name, and a
// blocking open of a FIFO waits forever for a writer), close-on-exec; then fstat()s it into *st
// and refuses anything but a regular file. On failure returns an empty Fd with errno set:
// open(2)'s own (ENOENT, EACCES, ELOOP for a symlink, ...) or EINVAL for a FIFO, socket,
// device or directory. `flags` is O_RDONLY or O_RDWR (plus any extra open flags).
Fd open_regular(const std::string& path, int flags, struct stat* st);

// Why open_regular failed, for messages ("is a symlink", "is not a regular file", strerror).
std::string open_regular_error(int err);

// Creates `target` from the fully prepared file `temp` atomically and only if `target` does not
// exist (renameat2 RENAME_NOREPLACE; link + unlink where the filesystem lacks it). Returns 0 or
// an errno (EEXIST: someone else created `target` first).
int rename_noreplace(const std::string& temp, const std::string& target);

// Wakes every thread/process sleeping on the 32-bit word at addr (shared futex).
void futex_wake_all(const void* addr);
// Sleeps while *addr == expected, at most timeout_ns. Works on PROT_READ mappings.
void futex_wait(const void* addr, std::uint32_t expected, std::uint64_t timeout_ns);

// True if some process holds an exclusive flock on fd's file (probe with a shared lock).
bool flock_held_elsewhere(int fd);

std::uint64_t random_u64();

}  // namespace framering::ring::detail
