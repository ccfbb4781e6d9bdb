#include "decode.hpp"

#include <algorithm>

#include "framering/workers/config_error.hpp"

namespace framering::workers::analytics::objects {

namespace {

constexpr const char* kExpected =
    "expected [1, 4+C, A] (yolov8/v11), [1, A, 5+C] (yolov5/v7) or [1, 1, N, 7] (ssd "
    "detection_out)";

cv::Rect2d from_centre(float cx, float cy, float w, float h) {
  return {cx - w / 2.0, cy - h / 2.0, static_cast<double>(w), static_cast<double>(h)};
}

// [1, 4+C, A]: attribute-major; scores of anchor a are a column.
void decode_yolov8(const cv::Mat& out, float confidence, std::vector<Detection>& found) {
  const int rows = out.size[1], anchors = out.size[2];
  const float* p = out.ptr<float>();
  for (int a = 0; a < anchors; ++a) {
    int best = -1;
    float score = confidence;
    for (int c = 4; c < rows; ++c) {
      const float s = p[static_cast<std::size_t>(c) * anchors + a];
      if (s >= score) {
        score = s;
        best = c - 4;
      }
    }
    if (best < 0) continue;
    auto at = [&](int r) { return p[static_cast<std::size_t>(r) * anchors + a]; };
    found.push_back({best, score, from_centre(at(0), at(1), at(2), at(3))});
  }
}

// [1, A, 5+C]: anchor-major; one row per anchor.
void decode_yolov5(const cv::Mat& out, float confidence, std::vector<Detection>& found) {
  const int anchors = out.size[1], cols = out.size[2];
  for (int a = 0; a < anchors; ++a) {
    const float* row = out.ptr<float>() + static_cast<std::size_t>(a) * cols;
    if (row[4] < confidence) continue;  // the final score cannot exceed objectness
    const float* best = std::max_element(row + 5, row + cols);
    const float score = row[4] * *best;
    if (score < confidence) continue;
    found.push_back(
        {static_cast<int>(best - (row + 5)), score, from_centre(row[0], row[1], row[2], row[3])});
  }
}

// [1, 1, N, 7]: image id, class id, score, x1, y1, x2, y2 (fractions of the input).
void decode_ssd(const cv::Mat& out, cv::Size input, float confidence,
                std::vector<Detection>& found) {
  const int n = out.size[2];
  const float* p = out.ptr<float>();
  for (int i = 0; i < n; ++i) {
    const float* r = p + static_cast<std::size_t>(i) * 7;
    if (r[0] < 0 || r[2] < confidence || r[1] < 0) continue;  // -1 rows pad Caffe's output
    const double w = input.width, h = input.height;
    const double x1 = r[3] * w, y1 = r[4] * h, x2 = r[5] * w, y2 = r[6] * h;
    if (x2 <= x1 || y2 <= y1) continue;
    found.push_back({static_cast<int>(r[1]), r[2], cv::Rect2d(x1, y1, x2 - x1, y2 - y1)});
  }
}

bool is_ssd(const cv::Mat& o) {
  return o.dims == 4 && o.size[0] == 1 && o.size[1] == 1 && o.size[3] == 7;
}
bool is_yolo(const cv::Mat& o) {
  return o.dims == 3 && o.size[0] == 1;
}

}  // namespace

const char* format_name(OutputFormat f) {
  switch (f) {
    case OutputFormat::kYolov8:
      return "yolov8";
    case OutputFormat::kYolov5:
      return "yolov5";
    case OutputFormat::kSsd:
      return "ssd";
  }
  return "?";
}

std::optional<OutputFormat> parse_format(const std::string& name) {
  if (name == "yolov8" || name == "yolov11" || name == "yolo11") return OutputFormat::kYolov8;
  if (name == "yolov5" || name == "yolov7") return OutputFormat::kYolov5;
  if (name == "ssd") return OutputFormat::kSsd;
  return std::nullopt;
}

std::string shape_text(const cv::Mat& t) {
  std::string s = "[";
  for (int i = 0; i < t.dims; ++i) s += (i ? ", " : "") + std::to_string(t.size[i]);
  return s + "]";
}

OutputFormat choose_format(const cv::Mat& out, std::optional<OutputFormat> wanted,
                           std::size_t labels) {
  const std::string shape = shape_text(out);
  if (out.depth() != CV_32F) {
    throw ConfigError("--param model: the output tensor " + shape + " is not float32; " +
                      kExpected);
  }
  OutputFormat f;
  if (is_ssd(out)) {
    f = OutputFormat::kSsd;
  } else if (is_yolo(out)) {
    const long l = static_cast<long>(labels);
    const bool v8 = out.size[1] - 4 == l, v5 = out.size[2] - 5 == l;
    if (wanted && *wanted != OutputFormat::kSsd) {
      f = *wanted;
    } else if (wanted) {
      f = out.size[1] < out.size[2] ? OutputFormat::kYolov8 : OutputFormat::kYolov5;
    } else if (v8 && v5) {
      throw ConfigError("--param model: output " + shape + " fits both yolov8 and yolov5 with " +
                        std::to_string(labels) + " labels; pass format=yolov8 or format=yolov5");
    } else if (v8 || v5) {
      f = v8 ? OutputFormat::kYolov8 : OutputFormat::kYolov5;
    } else {
      // Neither fits the labels: anchors outnumber attributes in every real export.
      f = out.size[1] < out.size[2] ? OutputFormat::kYolov8 : OutputFormat::kYolov5;
    }
  } else {
    throw ConfigError("--param model: output shape " + shape + " matches no known format; " +
                      kExpected);
  }
  if (wanted && *wanted != f) {
    throw ConfigError(std::string("--param format=") + format_name(*wanted) + ": output shape " +
                      shape + " is not that layout; " + kExpected);
  }
  if (f != OutputFormat::kSsd) {
    const int minimum = f == OutputFormat::kYolov8 ? 5 : 6;
    const int attrs = f == OutputFormat::kYolov8 ? out.size[1] : out.size[2];
    if (attrs < minimum) {
      throw ConfigError(std::string("--param model: output shape ") + shape + " is too small for " +
                        format_name(f) + "; " + kExpected);
    }
    const int classes = attrs - (f == OutputFormat::kYolov8 ? 4 : 5);
    if (static_cast<std::size_t>(classes) != labels) {
      throw ConfigError(std::string("--param labels: the model (") + format_name(f) + ", output " +
                        shape + ") scores " + std::to_string(classes) +
                        " classes but the labels file has " + std::to_string(labels) +
                        " names; give a labels file with one name per class, in class order");
    }
  }
  return f;
}

std::vector<Detection> decode(const cv::Mat& output, OutputFormat format, cv::Size input,
                              float confidence) {
  std::vector<Detection> found;
  const cv::Mat out = output.isContinuous() ? output : output.clone();
  switch (format) {
    case OutputFormat::kYolov8:
      decode_yolov8(out, confidence, found);
      break;
    case OutputFormat::kYolov5:
      decode_yolov5(out, confidence, found);
      break;
    case OutputFormat::kSsd:
      decode_ssd(out, input, confidence, found);
      break;
  }
  return found;
}

double iou(const cv::Rect2d& a, const cv::Rect2d& b) {
  const double inter = (a & b).area();
  const double uni = a.area() + b.area() - inter;
  return uni > 0 ? inter / uni : 0.0;
}

std::vector<Detection> nms_per_class(std::vector<Detection> d, double threshold) {
  std::stable_sort(d.begin(), d.end(),
                   [](const Detection& a, const Detection& b) { return a.score > b.score; });
  std::vector<Detection> kept;
  for (const Detection& c : d) {
    const bool suppressed = std::any_of(kept.begin(), kept.end(), [&](const Detection& k) {
      return k.class_id == c.class_id && iou(k.box, c.box) > threshold;
    });
    if (!suppressed) kept.push_back(c);
  }
  return kept;
}

}  // namespace framering::workers::analytics::objects
