// Detector output layouts and their decoders. Each decoder turns one output tensor into
// detections with boxes in input pixels (x, y, w, h as a Rect2d); the letterbox maps them to
// the frame afterwards.
//
//   yolov8  [1, 4+C, A]   per anchor a: cx, cy, w, h (input px), then C class scores
//                         (YOLOv8/v11 ONNX exports: one column per anchor)
//   yolov5  [1, A, 5+C]   per anchor a: cx, cy, w, h (input px), objectness, C class scores;
//                         score = objectness x best class score (YOLOv5/v7)
//   ssd     [1, 1, N, 7]  per row: image id, class id, score, x1, y1, x2, y2 as fractions of
//                         the input (Caffe/TF `detection_out`); class ids index the labels
//                         directly, so the labels file of such a model starts with "background"
#pragma once

#include <opencv2/core.hpp>

#include <optional>
#include <string>
#include <vector>

namespace framering::workers::analytics::objects {

enum class OutputFormat { kYolov8, kYolov5, kSsd };

struct Detection {
  int class_id = 0;
  float score = 0.0f;
  cv::Rect2d box;  // input pixels
};

const char* format_name(OutputFormat f);
std::optional<OutputFormat> parse_format(const std::string& name);  // yolov8|yolov5|ssd

// "[1, 84, 8400]"
std::string shape_text(const cv::Mat& tensor);

// Decides the layout of `output`: `wanted` if given (and the shape fits it), else from the shape
// and the labels count. Throws ConfigError saying the shape and the layouts expected when no
// layout fits, when the shape is ambiguous (pass format=), or when the class count the shape
// implies differs from `labels` (yolo layouts only: SSD outputs carry class ids, not scores).
OutputFormat choose_format(const cv::Mat& output, std::optional<OutputFormat> wanted,
                           std::size_t labels);

// Detections scoring at least `confidence`. `input` converts SSD's fractions to input pixels.
std::vector<Detection> decode(const cv::Mat& output, OutputFormat format, cv::Size input,
                              float confidence);

// Greedy non-maximum suppression within each class: of boxes of one class overlapping by more
// than `iou`, only the best scored stays. Returns the kept detections, best score first.
std::vector<Detection> nms_per_class(std::vector<Detection> detections, double iou);

double iou(const cv::Rect2d& a, const cv::Rect2d& b);

}  // namespace framering::workers::analytics::objects
