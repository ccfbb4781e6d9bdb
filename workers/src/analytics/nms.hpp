// Greedy non-maximum suppression: keeps the best-scored box of each overlapping cluster.
#pragma once

#include <opencv2/core.hpp>

#include <vector>

namespace framering::workers::analytics {

// Indices of kept boxes, best score first. A box is dropped when its IoU with a kept box
// exceeds `iou` or when a kept box covers at least `contained` of its own area (HOG often
// reports a person again as a smaller box inside the first).
std::vector<int> nms(const std::vector<cv::Rect>& boxes, const std::vector<double>& scores,
                     double iou, double contained = 0.8);

}  // namespace framering::workers::analytics
