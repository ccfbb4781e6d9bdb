// JPEG snapshots of the frame an event started on, with its boxes and zone outlines drawn:
// <dir>/<camera>/<event-id>.jpg, kept by count and age.
//
// The frame is encoded from the ring slot in place (metrics::MarkedJpegEncoder): only rows
// something is drawn on are copied into a one-row buffer first (counted as copied bytes).
// After encoding the frame is re-validated: if the writer reused the slot meanwhile, the JPEG
// may mix two frames and is dropped before it reaches the disk (and counted by the caller).
#pragma once

#include <opencv2/core.hpp>

#include <cstddef>
#include <functional>
#include <string>
#include <vector>

#include "framering/metrics/marked_jpeg.hpp"
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
using SnapshotMarks = metrics::JpegMarks;

struct SnapshotResult {
  std::string path;              // "" when no snapshot was written
  bool torn = false;             // dropped: the slot was rewritten while it was encoded
  std::size_t bytes_copied = 0;  // payload bytes copied into the row buffer to draw
};

class Snapshots {
 public:
  // Creates <dir>/<camera> (0700). Throws ConfigError naming --snapshots when it cannot.
  Snapshots(SnapshotSettings settings, const std::string& camera, Log log);

  // Encodes the snapshot, calls `still_valid` (the seqlock re-check of the frame's slot) and
  // only then writes <dir>/<camera>/<id>.jpg. Failures to encode or write are logged.
  SnapshotResult write(const std::string& id, const cv::Mat& frame, ring::PixFmt fmt,
                       const SnapshotMarks& marks, const std::function<bool()>& still_valid);

  const std::string& camera_dir() const { return camera_dir_; }

 private:
  bool save(const std::string& path);  // jpeg_ to path, through a .part file and rename
  void prune();

  SnapshotSettings settings_;
  std::string camera_dir_;
  Log log_;
  metrics::MarkedJpegEncoder encoder_;
  std::string jpeg_;  // the encoded picture, reused between snapshots
};

}  // namespace framering::workers
