// A ring segment mapped through Boost.Interprocess (internal to ringbuf).
//
// The segment's file is opened natively, not by boost::interprocess::shared_memory_object's
// named opener: shm_open() can neither refuse a planted FIFO without blocking (O_NONBLOCK) nor
// live outside /dev/shm (FRAMERING_SHM_DIR), and the writer creates under a temporary name and
// renames into place. The descriptor keeps the Linux specifics Boost lacks (posix_fallocate,
// flock, fstat checks, rename); Boost's mapped_region maps it — read-only for readers — and
// unmaps it when the region is destroyed.
#pragma once

#include <boost/interprocess/mapped_region.hpp>
#include <boost/interprocess/permissions.hpp>

#include <cstddef>
#include <string>

namespace framering::ring::detail {

namespace bip = boost::interprocess;

// Boost's MemoryMappable concept over a descriptor opened by us (open_regular or O_CREAT|O_EXCL).
class NativeMappable {
 public:
  NativeMappable(int fd, bip::mode_t mode) : handle_{fd, false}, mode_(mode) {}
  bip::mapping_handle_t get_mapping_handle() const { return handle_; }
  bip::mode_t get_mode() const { return mode_; }

 private:
  bip::mapping_handle_t handle_;
  bip::mode_t mode_;
};

// Maps `size` bytes of `fd` shared, read_only or read_write. Throws RingError(kSystem) naming
// `what` (the ring) when the kernel refuses.
bip::mapped_region map_segment(int fd, std::size_t size, bip::mode_t mode, const std::string& what);

// The permissions a segment is created with, applied exactly (fchmod after open: not via umask).
inline bip::permissions segment_permissions(unsigned mode) {
  return bip::permissions(static_cast<int>(mode & 07777));
}

}  // namespace framering::ring::detail
