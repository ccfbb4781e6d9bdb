// JPEG snapshots of the frame an event started on, with its boxes and zone outlines drawn:
// <dir>/<camera>/<event-id>.jpg, kept by count and age.
//
// The frame is encoded from the ring slot in place, one row at a time (libjpeg-turbo's scanline
// API): rows no box or outline crosses are handed to the encoder straight from the slot; only
// rows something is drawn on are copied into a one-row buffer first (counted as copied bytes).
// After encoding the frame is re-validated: if the writer reused the slot meanwhile, the JPEG
// may mix two frames and is deleted.
#pragma once

#include <opencv2/core.hpp>

#include <cstddef>
#include <functional>
#include <string>
#include <vector>

#include "framering/ringbuf/layout.hpp"
#include "framering/workers/log.hpp"

namespace framering::workers {

struct SnapshotSettings {
  std::string dir;                 // "" = no snapshots
  int keep = 200;                  // newest files kept per camera
  double max_age_s = 7 * 86400.0;  // older files are deleted
  int quality = 85;
};

// What is drawn, in the frame's pixels.
struct SnapshotMarks {
  std::vector<cv::Rect> boxes;                   // red (white on grey frames)
  std::vector<std::vector<cv::Point>> outlines;  // yellow (light grey on grey frames)
};

class Snapshots {
 public:
  // Creates <dir>/<camera> (0700). Throws ConfigError naming --snapshots when it cannot.
  Snapshots(SnapshotSettings settings, const std::string& camera, Log log);

  // Writes the snapshot; returns its path, or "" when the frame was torn (or writing failed,
  // which is logged). `bytes_copied` receives the payload bytes copied into the row buffer.
  std::string write(const std::string& id, const cv::Mat& frame, ring::PixFmt fmt,
                    const SnapshotMarks& marks, const std::function<bool()>& still_valid,
                    std::size_t& bytes_copied);

  const std::string& camera_dir() const { return camera_dir_; }

 private:
  bool encode(const std::string& path, const cv::Mat& frame, ring::PixFmt fmt,
              const SnapshotMarks& marks, std::size_t& bytes_copied);
  void prune();

  SnapshotSettings settings_;
  std::string camera_dir_;
  Log log_;
  cv::Mat mask_;  // which pixels are drawn on: 0 none, 1 box, 2 outline
  std::vector<unsigned char> row_;
};

}  // namespace framering::workers
