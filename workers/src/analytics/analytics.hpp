// Factories of the built-in analytics (one file each) and the helpers they share.
#pragma once

#include <opencv2/core.hpp>

#include <memory>
#include <string>

#include "framering/workers/analytic.hpp"

namespace framering::workers::analytics {

std::unique_ptr<Analytic> make_checksum(Params& params);
std::unique_ptr<Analytic> make_motion(Params& params);
std::unique_ptr<Analytic> make_objects(Params& params);
std::unique_ptr<Analytic> make_people(Params& params);
std::unique_ptr<Analytic> make_tamper(Params& params);

// Throws ConfigError unless the stream is an 8-bit image with 1, 3 or 4 channels.
void require_8bit_image(const StreamInfo& stream, const char* analytic);

// A grey image at most `max_width` wide (aspect kept), for analyses that need no colour.
// Downscales before converting so the conversion touches fewer pixels. `tmp` and `grey` are
// buffers the analytic owns; the result is a header over one of them, or over `frame` itself
// when the frame is already grey and narrow enough: that case copies nothing, so the result may
// point into the read-only ring slot. Use it within analyse() only, never write into it and
// never assign it to a member (a later cvtColor into that member would write into the slot).
// `factor` receives the scale from result pixels back to frame pixels. A yuv420p/nv12 frame's
// grey picture is its Y plane, the first H rows of the slot, used in place like a gray8 frame.
cv::Mat small_grey(const cv::Mat& frame, ring::PixFmt fmt, int max_width, cv::Mat& tmp,
                   cv::Mat& grey, double& factor);

// Scales a box from analysed pixels back to frame pixels and clips it to `bounds`.
cv::Rect to_frame(const cv::Rect& box, double factor, cv::Size bounds);

}  // namespace framering::workers::analytics
