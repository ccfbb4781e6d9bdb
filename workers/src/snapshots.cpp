#include "snapshots.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <system_error>

#include "framering/workers/config_error.hpp"

namespace framering::workers {

namespace {

namespace fs = std::filesystem;

}  // namespace

Snapshots::Snapshots(SnapshotSettings settings, const std::string& camera, Log log)
    : settings_(std::move(settings)), log_(std::move(log)) {
  camera_dir_ = (fs::path(settings_.dir) / camera).string();
  std::error_code ec;
  fs::create_directories(camera_dir_, ec);
  if (ec || !fs::is_directory(camera_dir_)) {
    throw ConfigError("--snapshots " + settings_.dir + ": cannot create " + camera_dir_ + ": " +
                      (ec ? ec.message() : "not a directory") + " (choose a writable directory)");
  }
  ::chmod(camera_dir_.c_str(), 0700);
}

bool Snapshots::save(const std::string& path) {
  const std::string tmp = path + ".part";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) {
    log_.warn("snapshot " + tmp + ": cannot create: " + std::strerror(errno));
    return false;
  }
  std::size_t done = 0;
  bool ok = true;
  while (ok && done < jpeg_.size()) {
    const ssize_t n = ::write(fd, jpeg_.data() + done, jpeg_.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0)
      ok = false;
    else
      done += static_cast<std::size_t>(n);
  }
  if (::close(fd) != 0) ok = false;
  if (!ok || ::rename(tmp.c_str(), path.c_str()) != 0) {
    log_.warn("snapshot " + path + ": write failed: " + std::strerror(errno));
    ::unlink(tmp.c_str());
    return false;
  }
  return true;
}

SnapshotResult Snapshots::write(const std::string& id, const cv::Mat& frame, ring::PixFmt fmt,
                                const SnapshotMarks& marks,
                                const std::function<bool()>& still_valid) {
  SnapshotResult result;
  std::string error;
  if (!encoder_.encode(frame, fmt, marks, settings_.quality, jpeg_, result.bytes_copied, error)) {
    log_.warn("snapshot " + id + ": " + error);
    return result;
  }
  // Checked before anything reaches the disk: a torn picture is never written.
  if (!still_valid()) {
    result.torn = true;
    log_.debug("snapshot " + id + ": frame overwritten during encoding; dropped (torn)");
    return result;
  }
  const std::string path = camera_dir_ + "/" + id + ".jpg";
  if (!save(path)) return result;
  prune();
  result.path = path;
  return result;
}

void Snapshots::prune() {
  struct Entry {
    fs::file_time_type time;
    fs::path path;
  };
  std::vector<Entry> files;
  std::error_code ec;
  for (const auto& f : fs::directory_iterator(camera_dir_, ec)) {
    if (f.path().extension() != ".jpg") continue;
    files.push_back({f.last_write_time(ec), f.path()});
  }
  std::sort(files.begin(), files.end(),
            [](const Entry& a, const Entry& b) { return a.time > b.time; });  // newest first
  const auto now = fs::file_time_type::clock::now();
  for (std::size_t i = 0; i < files.size(); ++i) {
    const double age = std::chrono::duration<double>(now - files[i].time).count();
    if (i >= static_cast<std::size_t>(settings_.keep) || age > settings_.max_age_s)
      fs::remove(files[i].path, ec);
  }
}

}  // namespace framering::workers
