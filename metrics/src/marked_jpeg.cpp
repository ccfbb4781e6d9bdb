#include "framering/metrics/marked_jpeg.hpp"

// jpeglib.h needs FILE and size_t declared first.
#include <jpeglib.h>
#include <cstdio>
#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <csetjmp>
#include <cstdlib>
#include <cstring>
#include <memory>

#include "framering/metrics/yuv_picture.hpp"
#include "framering/ringbuf/geometry.hpp"

namespace framering::metrics {

namespace {

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
  const cv::Mat* frame;
  const cv::Mat* mask;
  J_COLOR_SPACE space;
  int quality;
  const unsigned char* box;
  const unsigned char* zone;
  std::vector<unsigned char>* row;
  unsigned char* out = nullptr;  // malloc'ed by libjpeg's memory destination
  unsigned long out_bytes = 0;
  std::size_t copied = 0;
  char error[JMSG_LENGTH_MAX] = {};
};

void compress(jpeg_compress_struct* cinfo, JpegJob* job) {
  const cv::Mat& frame = *job->frame;
  const int channels = frame.channels();
  jpeg_create_compress(cinfo);
  jpeg_mem_dest(cinfo, &job->out, &job->out_bytes);
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

bool MarkedJpegEncoder::encode(const cv::Mat& frame, ring::PixFmt fmt, const JpegMarks& marks,
                               int quality, std::string& jpeg, std::size_t& bytes_copied,
                               std::string& error) {
  bytes_copied = 0;
  if (ring::is_yuv420(fmt)) {
    // JPEG's own YCbCr is full range and BT.601 on any picture; converting through BGR gives
    // the encoder what it expects from video's limited-range planes.
    const std::size_t converted = yuv_to_bgr(frame, fmt, bgr_);
    const bool ok = encode(bgr_, ring::PixFmt::kBgr24, marks, quality, jpeg, bytes_copied, error);
    bytes_copied += converted;
    return ok;
  }
  const int channels = frame.channels();
  if (frame.depth() != CV_8U || (channels != 1 && channels != 3 && channels != 4) ||
      frame.empty()) {
    error = "JPEG needs 8-bit images with 1, 3 or 4 channels";
    return false;
  }
  J_COLOR_SPACE space = JCS_GRAYSCALE;
  if (channels == 3) space = fmt == ring::PixFmt::kRgb24 ? JCS_RGB : JCS_EXT_BGR;
  if (channels == 4) space = JCS_EXT_BGRX;

  // Where to draw: a mask of the frame's size.
  mask_.create(frame.size(), CV_8UC1);
  mask_.setTo(0);
  if (!marks.outlines.empty())
    cv::polylines(mask_, marks.outlines, true, cv::Scalar(2), kLineWidth);
  for (const cv::Rect& b : marks.boxes) cv::rectangle(mask_, b, cv::Scalar(1), kLineWidth);
  // Colours in the frame's channel order.
  unsigned char box[4] = {0, 0, 255, 0}, zone[4] = {0, 255, 255, 0};  // BGR red, yellow
  if (space == JCS_RGB) std::swap(box[0], box[2]), std::swap(zone[0], zone[2]);
  if (channels == 1) box[0] = 255, zone[0] = 192;

  JpegJob job{&frame, &mask_, space, quality, box, zone, &row_};
  const bool ok = run_jpeg(&job);
  std::unique_ptr<unsigned char, void (*)(void*)> owned(job.out, &std::free);
  bytes_copied = job.copied;
  if (!ok) {
    error = std::string("JPEG encoder: ") + job.error;
    return false;
  }
  jpeg.assign(reinterpret_cast<const char*>(job.out), job.out_bytes);
  return true;
}

}  // namespace framering::metrics
