#include "segment.hpp"

#include <boost/interprocess/exceptions.hpp>

#include "framering/ringbuf/error.hpp"

namespace framering::ring::detail {

bip::mapped_region map_segment(int fd, std::size_t size, bip::mode_t mode,
                               const std::string& what) {
  try {
    return bip::mapped_region(NativeMappable(fd, mode), mode, 0, size);
  } catch (const bip::interprocess_exception& e) {
    throw RingError(ErrorKind::kSystem, "ring '" + what + "': mmap: " + e.what());
  }
}

}  // namespace framering::ring::detail
