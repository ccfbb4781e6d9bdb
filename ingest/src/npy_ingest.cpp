// The .npy ingest loop: each file is one frame; its array bytes are read() straight into the
// claimed slot (no intermediate buffer). The first valid array fixes the ring geometry.
#include <fcntl.h>
#include <glob.h>
#include <sys/stat.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <vector>

#include "framering/ingest/npy_header.hpp"
#include "framering/ringbuf/geometry.hpp"
#include "framering/ringbuf/posix.hpp"
#include "npy_files.hpp"
#include "sources.hpp"
#include "stop_signal.hpp"

namespace framering::ingest {

std::vector<std::string> list_npy_files(const std::string& dir_or_glob) {
  std::vector<std::string> files;
  std::error_code ec;
  if (std::filesystem::is_directory(dir_or_glob, ec)) {
    for (const auto& entry : std::filesystem::directory_iterator(dir_or_glob, ec)) {
      if (entry.path().extension() == ".npy" && entry.is_regular_file(ec)) {
        files.push_back(entry.path().string());
      }
    }
  } else {
    glob_t g = {};
    if (glob(dir_or_glob.c_str(), 0, nullptr, &g) == 0) {
      for (std::size_t i = 0; i < g.gl_pathc; ++i) files.emplace_back(g.gl_pathv[i]);
    }
    globfree(&g);
  }
  std::sort(files.begin(), files.end());
  return files;
}

namespace {

using ring::errno_text;
using ring::Fd;

// Reads exactly dst.size() bytes at `offset`; false (errno set, or 0 on a short file) otherwise.
bool pread_all(int fd, std::span<std::byte> dst, off_t offset) {
  std::size_t done = 0;
  while (done < dst.size()) {
    const ssize_t n =
        ::pread(fd, dst.data() + done, dst.size() - done, offset + static_cast<off_t>(done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      if (n == 0) errno = 0;
      return false;
    }
    done += static_cast<std::size_t>(n);
  }
  return true;
}

ring::Geometry geometry_of(const NpyHeader& h, const IngestOptions& options) {
  ring::Geometry g;
  g.typestr = h.typestr;
  g.shape = h.shape;
  g.pix_fmt = ring::PixFmt::kRaw;
  // An HxWx3 uint8 image is tagged as colour so OpenCV workers treat it as one.
  if (h.shape.size() == 3 && h.shape[2] == 3 && h.typestr == "|u1") {
    g.pix_fmt = options.pix_fmt.value_or(ring::PixFmt::kBgr24);
    if (g.pix_fmt == ring::PixFmt::kGray8 || ring::is_yuv420(g.pix_fmt)) {
      g.pix_fmt = ring::PixFmt::kBgr24;
    }
  }
  return g;
}

// One file: parse and check its header, then read its array into a slot. Returns false (after
// logging why) when the file cannot become a frame.
bool publish_file(const std::string& path, const IngestOptions& options, Publisher& publisher) {
  // O_NONBLOCK: a FIFO named *.npy must not stall the ingest (it is refused just below).
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK));
  if (fd.get() < 0) {
    spdlog::error("npy: cannot open {}: {}; skipped", path, std::strerror(errno));
    return false;
  }
  struct stat st = {};
  if (::fstat(fd.get(), &st) != 0) {
    spdlog::error("npy: cannot stat {}: {}; skipped", path, std::strerror(errno));
    return false;
  }
  if (!S_ISREG(st.st_mode)) {
    spdlog::error("npy: {} is not a regular file; skipped", path);
    return false;
  }
  std::vector<std::byte> head(
      std::min<std::size_t>(static_cast<std::size_t>(st.st_size), kMaxNpyHeaderBytes + 12));
  if (!pread_all(fd.get(), head, 0)) {
    spdlog::error("npy: cannot read {}: {}; skipped", path, errno_text(errno));
    return false;
  }
  NpyHeader h;
  try {
    h = parse_npy_header(head);
  } catch (const NpyError& e) {
    spdlog::error("npy: {}: {}; skipped", path, e.what());
    return false;
  }
  if (h.fortran_order) {
    spdlog::error("npy: {} is in Fortran order; save it C-ordered (np.ascontiguousarray); skipped",
                  path);
    return false;
  }
  if (h.shape.empty() || h.shape.size() > ring::kMaxDims || h.data_bytes == 0) {
    spdlog::error(
        "npy: {} has {} dimension(s) and {} bytes; a frame needs 1 to {} non-empty "
        "dimensions; skipped",
        path, h.shape.size(), h.data_bytes, ring::kMaxDims);
    return false;
  }
  // Compared without adding: a header may declare up to 2^64-1 bytes, and data_offset plus that
  // wraps to a small number that every file passes.
  const auto file_bytes = static_cast<std::uint64_t>(st.st_size);
  if (file_bytes < h.data_offset || file_bytes - h.data_offset < h.data_bytes) {
    spdlog::error("npy: {} is truncated: {} B of array data expected, {} B present; skipped", path,
                  h.data_bytes, file_bytes > h.data_offset ? file_bytes - h.data_offset : 0);
    return false;
  }
  const ring::Geometry g = geometry_of(h, options);
  if (!publisher.has_ring()) {
    publisher.open_ring(g);
  } else if (g.shape != publisher.geometry().shape || g.typestr != publisher.geometry().typestr) {
    spdlog::error("npy: {} is {} but the ring holds {}; skipped", path, g.describe(),
                  publisher.geometry().describe());
    return false;
  }
  // Interrupted by a stop request: not the file's fault, so not counted as a bad array.
  if (!publisher.wait_for_readers()) return true;
  ring::Writer::Slot slot = publisher.claim();
  if (!pread_all(fd.get(), slot.payload().first(h.data_bytes), static_cast<off_t>(h.data_offset))) {
    spdlog::error("npy: reading {} failed: {}; skipped", path, errno_text(errno));
    publisher.abort(std::move(slot));  // readers never see it; the next claim reuses the number
    return false;
  }
  slot.pts_ns = -1;  // .npy arrays carry no timestamps
  publisher.publish(std::move(slot));
  return true;
}

}  // namespace

int run_npy_source(const IngestOptions& options, const SourceSpec& spec, const std::string& label,
                   Publisher& publisher) {
  const std::vector<std::string> files = list_npy_files(spec.target);
  if (files.empty()) {
    spdlog::error(
        "{} matches no .npy files; give a directory holding .npy files or a glob such "
        "as npy:'frames/*.npy'",
        label);
    return 3;
  }
  spdlog::info("{}: {} file(s)", label, files.size());
  do {
    std::uint64_t published = 0;
    for (const std::string& path : files) {
      if (stop_requested()) {
        spdlog::info("stop requested (signal {})", stop_signal_number());
        return 0;
      }
      if (publish_file(path, options, publisher)) {
        ++published;
      } else {
        publisher.count_decode_errors(1);
      }
      if (publisher.reached_max_frames()) {
        spdlog::info("published --max-frames {} frames; stopping", options.max_frames);
        return 0;
      }
    }
    if (published == 0) {
      spdlog::error("{}: none of its {} file(s) is a usable array (see the errors above)", label,
                    files.size());
      return 3;
    }
  } while (options.loop);
  spdlog::info("end of {}", label);
  return 0;
}

}  // namespace framering::ingest
