#include "snapshots.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

// jpeglib.h needs FILE and size_t declared first.
#include <jpeglib.h>
#include <cstdio>
#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <cerrno>
#include <csetjmp>
#include <cstring>
#include <filesystem>
#include <system_error>

#include "framering/workers/config_error.hpp"

namespace framering::workers {

namespace {

namespace fs = std::filesystem;

constexpr int kLineWidth = 3;  // wide enough to survive JPEG's 8x8 blocks visibly

struct JpegError {
  jpeg_error_mgr mgr;
  std::jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
};

void on_jpeg_error(j_common_ptr cinfo) {
  auto* err = reinterpret_cast<JpegError*>(cinfo->err);
  (*cinfo->err->format_message)(cinfo, err->message);
  std::longjmp(err->jump, 1);
}

// Everything the encoder needs, reached through one pointer: the only value that lives across
// setjmp in run_jpeg(), so nothing can be clobbered by the longjmp of an encoder error.
struct JpegJob {
  std::FILE* out;
  const cv::Mat* frame;
  const cv::Mat* mask;
  J_COLOR_SPACE space;
  int quality;
  const unsigned char* box;
  const unsigned char* zone;
  std::vector<unsigned char>* row;
  std::size_t copied = 0;
  char error[JMSG_LENGTH_MAX] = {};
};

void compress(jpeg_compress_struct* cinfo, JpegJob* job) {
  const cv::Mat& frame = *job->frame;
  const int channels = frame.channels();
  jpeg_create_compress(cinfo);
  jpeg_stdio_dest(cinfo, job->out);
  cinfo->image_width = static_cast<JDIMENSION>(frame.cols);
  cinfo->image_height = static_cast<JDIMENSION>(frame.rows);
  cinfo->input_components = channels;
  cinfo->in_color_space = job->space;
  jpeg_set_defaults(cinfo);
  jpeg_set_quality(cinfo, job->quality, TRUE);
  if (channels > 1) {  // full-resolution colour: thin coloured lines stay coloured
    cinfo->comp_info[0].h_samp_factor = 1;
    cinfo->comp_info[0].v_samp_factor = 1;
  }
  jpeg_start_compress(cinfo, TRUE);
  std::vector<unsigned char>& buf = *job->row;
  buf.resize(static_cast<std::size_t>(frame.cols) * channels);
  for (int y = 0; y < frame.rows; ++y) {
    const unsigned char* src = frame.ptr<unsigned char>(y);
    const unsigned char* m = job->mask->ptr<unsigned char>(y);
    JSAMPROW row = const_cast<JSAMPROW>(src);  // the encoder only reads it
    if (std::any_of(m, m + frame.cols, [](unsigned char v) { return v != 0; })) {
      std::memcpy(buf.data(), src, buf.size());
      job->copied += buf.size();
      for (int x = 0; x < frame.cols; ++x) {
        if (m[x] == 0) continue;
        const unsigned char* colour = m[x] == 1 ? job->box : job->zone;
        std::memcpy(&buf[static_cast<std::size_t>(x) * channels], colour,
                    static_cast<std::size_t>(std::min(channels, 3)));
      }
      row = buf.data();
    }
    jpeg_write_scanlines(cinfo, &row, 1);
  }
  jpeg_finish_compress(cinfo);
}

bool run_jpeg(JpegJob* job) {
  jpeg_compress_struct cinfo{};
  JpegError err{};
  cinfo.err = jpeg_std_error(&err.mgr);
  err.mgr.error_exit = on_jpeg_error;
  if (setjmp(err.jump)) {
    std::memcpy(job->error, err.message, sizeof err.message);
    jpeg_destroy_compress(&cinfo);
    return false;
  }
  compress(&cinfo, job);
  jpeg_destroy_compress(&cinfo);
  return true;
}

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

bool Snapshots::encode(const std::string& path, const cv::Mat& frame, ring::PixFmt fmt,
                       const SnapshotMarks& marks, std::size_t& bytes_copied) {
  const int channels = frame.channels();
  J_COLOR_SPACE space = JCS_GRAYSCALE;
  if (channels == 3) space = fmt == ring::PixFmt::kRgb24 ? JCS_RGB : JCS_EXT_BGR;
  if (channels == 4) space = JCS_EXT_BGRX;

  // Where to draw: a mask of the frame's size (derived, not a copy of the payload).
  mask_.create(frame.size(), CV_8UC1);
  mask_.setTo(0);
  if (!marks.outlines.empty())
    cv::polylines(mask_, marks.outlines, true, cv::Scalar(2), kLineWidth);
  for (const cv::Rect& b : marks.boxes) cv::rectangle(mask_, b, cv::Scalar(1), kLineWidth);
  // Colours in the frame's channel order.
  unsigned char box[4] = {0, 0, 255, 0}, zone[4] = {0, 255, 255, 0};  // BGR red, yellow
  if (space == JCS_RGB) std::swap(box[0], box[2]), std::swap(zone[0], zone[2]);
  if (channels == 1) box[0] = 255, zone[0] = 192;

  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) {
    log_.warn("snapshot " + path + ": cannot create: " + std::strerror(errno));
    return false;
  }
  std::FILE* out = ::fdopen(fd, "wb");
  if (!out) {
    ::close(fd);
    return false;
  }
  JpegJob job{out, &frame, &mask_, space, settings_.quality, box, zone, &row_};
  const bool ok = run_jpeg(&job);
  bytes_copied += job.copied;
  if (!ok) {
    std::fclose(out);
    log_.warn("snapshot " + path + ": JPEG encoder: " + job.error);
    return false;
  }
  if (std::fclose(out) != 0) {
    log_.warn("snapshot " + path + ": write failed: " + std::strerror(errno));
    return false;
  }
  return true;
}

std::string Snapshots::write(const std::string& id, const cv::Mat& frame, ring::PixFmt fmt,
                             const SnapshotMarks& marks, const std::function<bool()>& still_valid,
                             std::size_t& bytes_copied) {
  bytes_copied = 0;
  const int depth = frame.depth();
  const int channels = frame.channels();
  if (depth != CV_8U || (channels != 1 && channels != 3 && channels != 4)) return "";
  const std::string path = camera_dir_ + "/" + id + ".jpg";
  const std::string tmp = path + ".part";
  if (!encode(tmp, frame, fmt, marks, bytes_copied)) {
    ::unlink(tmp.c_str());
    return "";
  }
  if (!still_valid()) {  // the writer reused the slot while we encoded: a torn picture
    ::unlink(tmp.c_str());
    log_.debug("snapshot " + id + ": frame overwritten during encoding; dropped (torn)");
    return "";
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    log_.warn("snapshot " + path + ": rename failed: " + std::strerror(errno));
    ::unlink(tmp.c_str());
    return "";
  }
  prune();
  return path;
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
