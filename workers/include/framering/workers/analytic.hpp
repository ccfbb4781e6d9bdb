// The one interface every analytic implements, and the factory `--analytic NAME` selects from.
//
// The runtime calls analyse() on a read-only cv::Mat over the ring slot, then re-checks the
// seqlock. Only if the frame was intact does it call commit() and write the proposed events, so
// an analytic proposes from its committed state and adopts new state (motion on/off, a tamper
// baseline, ...) only in commit(). Learning inside OpenCV models (MOG2) is the exception: one
// torn frame is one frame of background learning, which the model's learning rate absorbs.
#pragma once

#include <opencv2/core.hpp>

#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "framering/workers/event.hpp"
#include "framering/workers/params.hpp"

namespace framering::workers {

class Analytic {
 public:
  virtual ~Analytic() = default;
  // (Re)starts on a stream: sizes buffers, forgets history. Throws ConfigError when the analytic
  // cannot read this pixel format.
  virtual void configure(const StreamInfo& stream) = 0;
  // Looks at one frame (a view into shared memory: never keep a pointer into it) and appends
  // the events it proposes. Throws AnalyticError when it fails on this frame only (the runtime
  // counts the frame as dropped, reason analytic_error, and goes on).
  virtual void analyse(const cv::Mat& frame, const FrameContext& ctx,
                       std::vector<Event>& events) = 0;
  // The frame passed to the last analyse() was intact: adopt the state it staged.
  virtual void commit() {}
  // Payload bytes the last analyse() duplicated verbatim from the frame into private memory;
  // the runtime adds them to framering_bytes_copied_total and the reader-stats bytes_copied
  // (torn frame or not: the copy happened). Derived images (downscaled, colour-converted) are
  // not copies. The built-in analytics read in place and copy nothing.
  virtual std::size_t bytes_copied() const { return 0; }
  // Class names of the objects the last analyse() detected, one entry per object, for
  // framering_objects_detected_total (counted only when the frame was intact). Analytics that
  // detect no classed objects leave it empty.
  virtual const std::vector<std::string>& detected_classes() const {
    static const std::vector<std::string> none;
    return none;
  }
};

using AnalyticFactory = std::function<std::unique_ptr<Analytic>(Params& params)>;

// Names accepted by --analytic, in help order.
const std::vector<std::string>& analytic_names();
// Builds the analytic and validates its --param keys (unknown key or bad value: ConfigError).
std::unique_ptr<Analytic> make_analytic(const std::string& name, Params params);
// Makes `name` (not a built-in one) available to make_analytic and so to run_worker, for
// programs that embed the runtime and for tests; registering a name again replaces it.
void register_analytic(const std::string& name, AnalyticFactory factory);

}  // namespace framering::workers
