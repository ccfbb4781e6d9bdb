#include "nms.hpp"

#include <algorithm>
#include <numeric>

namespace framering::workers::analytics {

std::vector<int> nms(const std::vector<cv::Rect>& boxes, const std::vector<double>& scores,
                     double iou, double contained) {
  std::vector<int> order(boxes.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return scores[a] > scores[b]; });
  std::vector<int> kept;
  for (int i : order) {
    const cv::Rect& b = boxes[i];
    const bool suppressed = std::any_of(kept.begin(), kept.end(), [&](int k) {
      const double inter = (b & boxes[k]).area();
      const double uni = b.area() + boxes[k].area() - inter;
      return (uni > 0 && inter / uni > iou) || (b.area() > 0 && inter / b.area() >= contained);
    });
    if (!suppressed) kept.push_back(i);
  }
  return kept;
}

}  // namespace framering::workers::analytics
