// `objects`: a neural object detector on OpenCV DNN (ONNX YOLOv5/v8/v11, SSD detection_out),
// with zones, masks and an IoU tracker. Events: object_enter / object_leave per zone and track.
//
// The frame is read in place: blobFromImage reads the slot's cv::Mat directly (stretch mode, or
// a frame already the input size); in letterbox mode the slot is resized once into the middle of
// a padded canvas the analytic owns. Either way the only images made are the model's input (a
// scaled float tensor, another size and type than the frame: derived, not a copy of it), so
// bytes_copied stays 0 for bgr24/rgb24 rings. A yuv420p/nv12 frame is first converted to BGR in
// full into a buffer the analytic owns; that picture is counted as copied.
#include <opencv2/dnn.hpp>
#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>

#include "../analytics.hpp"
#include "decode.hpp"
#include "framering/metrics/yuv_picture.hpp"
#include "framering/ringbuf/geometry.hpp"
#include "framering/workers/analytic_error.hpp"
#include "framering/workers/config_error.hpp"
#include "labels.hpp"
#include "letterbox.hpp"
#include "tracker.hpp"
#include "zones.hpp"

namespace framering::workers::analytics {

namespace {

using namespace objects;

cv::Size parse_size(const std::string& text) {
  std::uint32_t w = 0, h = 0;
  if (!ring::parse_image_size(text, w, h) || w < 16 || h < 16 || w > 4096 || h > 4096) {
    throw ConfigError("--param input=" + text +
                      ": expected WxH between 16x16 and 4096x4096 (e.g. input=640x640)");
  }
  return {static_cast<int>(w), static_cast<int>(h)};
}

int parse_backend(const std::string& s) {
  if (s == "default") return cv::dnn::DNN_BACKEND_DEFAULT;
  if (s == "opencv") return cv::dnn::DNN_BACKEND_OPENCV;
  if (s == "openvino") return cv::dnn::DNN_BACKEND_INFERENCE_ENGINE;
  if (s == "cuda") return cv::dnn::DNN_BACKEND_CUDA;
  throw ConfigError("--param backend=" + s + ": expected default, opencv, openvino or cuda");
}

int parse_target(const std::string& s) {
  if (s == "cpu") return cv::dnn::DNN_TARGET_CPU;
  if (s == "opencl") return cv::dnn::DNN_TARGET_OPENCL;
  if (s == "opencl_fp16") return cv::dnn::DNN_TARGET_OPENCL_FP16;
  if (s == "myriad") return cv::dnn::DNN_TARGET_MYRIAD;
  if (s == "cuda") return cv::dnn::DNN_TARGET_CUDA;
  if (s == "cuda_fp16") return cv::dnn::DNN_TARGET_CUDA_FP16;
  throw ConfigError("--param target=" + s +
                    ": expected cpu, opencl, opencl_fp16, myriad, cuda or cuda_fp16");
}

std::string first_line(const std::string& s) {
  std::string line = s.substr(0, s.find('\n'));
  return line.size() > 300 ? line.substr(0, 300) + "..." : line;
}

void require_readable(const std::string& key, const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    throw ConfigError("--param " + key + "=" + path + ": cannot read the file (" +
                      std::strerror(errno) +
                      "); give the path of a model file (ONNX, or Caffe/TensorFlow with "
                      "config=), see docs/objects.md");
  }
}

class Objects final : public Analytic {
 public:
  explicit Objects(Params& p)
      : model_path_(p.text("model", "")),
        config_path_(p.text("config", "")),
        input_(parse_size(p.text("input", "640x640"))),
        letterbox_(p.flag("letterbox", true)),
        confidence_(static_cast<float>(p.number("confidence", 0.25, 0.0, 1.0))),
        nms_iou_(p.number("nms", 0.45, 0.0, 1.0)),
        scale_(p.number("scale", 1.0 / 255.0, 1e-6, 1e3)),
        mean_(p.number("mean", 0.0, -1e3, 1e3)),
        rgb_(p.flag("rgb", true)),
        zones_(parse_polygons("zones", p.text("zones", ""), true)),
        masks_(parse_polygons("mask", p.text("mask", ""), false)),
        tracker_(p.number("track_iou", 0.3, 0.0, 1.0), p.integer("max_missed", 5, 0, 10000)) {
    const std::string labels_path = p.text("labels", "");
    labels_ = labels_path.empty() ? coco80() : load_labels(labels_path);
    const std::string format = p.text("format", "auto");
    std::optional<OutputFormat> wanted;
    if (format != "auto") {
      wanted = parse_format(format);
      if (!wanted) {
        throw ConfigError("--param format=" + format +
                          ": expected auto, yolov8 (also v11), yolov5 (also v7) or ssd");
      }
    }
    const int backend = parse_backend(p.text("backend", "default"));
    const int target = parse_target(p.text("target", "cpu"));
    const std::string classes = p.text("classes", "");
    if (zones_.empty()) zones_.push_back({"frame", {{0, 0}, {1, 0}, {1, 1}, {0, 1}}});

    if (model_path_.empty()) {
      throw ConfigError(
          "--param model: required; give the path of an ONNX detector (e.g. "
          "model=/models/yolov8n.onnx), see docs/objects.md");
    }
    require_readable("model", model_path_);
    if (!config_path_.empty()) require_readable("config", config_path_);
    try {
      net_ = cv::dnn::readNet(model_path_, config_path_);
    } catch (const cv::Exception& e) {
      throw ConfigError("--param model=" + model_path_ +
                        ": OpenCV cannot load this model: " + first_line(e.what()) +
                        " (use an ONNX export with opset <= 13 or a Caffe/TensorFlow model "
                        "with config=)");
    }
    if (net_.empty()) {
      throw ConfigError("--param model=" + model_path_ +
                        ": OpenCV loaded no network from it; is it an ONNX/Caffe/TF model?");
    }
    net_.setPreferableBackend(backend);
    net_.setPreferableTarget(target);
    out_names_ = net_.getUnconnectedOutLayersNames();

    // One inference on a blank input tells the output layout (and proves input= fits).
    const cv::Mat blank(input_, CV_8UC3, cv::Scalar::all(114));
    cv::Mat out;
    try {
      out = infer(blank, false);
    } catch (const AnalyticError& e) {
      throw ConfigError(
          "--param model=" + model_path_ + " with input=" + std::to_string(input_.width) + "x" +
          std::to_string(input_.height) + ": the first inference failed: " + e.what() +
          " (check input= matches the model's input size)");
    }
    format_ = choose_format(out, wanted, labels_.size());
    if (!classes.empty()) parse_classes(classes);
  }

  void configure(const StreamInfo& stream) override {
    require_8bit_image(stream, "objects");
    yuv_ = ring::is_yuv420(stream.pix_fmt) ? stream.pix_fmt : ring::PixFmt::kRaw;
    if (CV_MAT_CN(stream.cv_type) != 3 && yuv_ == ring::PixFmt::kRaw) {
      throw ConfigError(
          "--analytic objects needs a colour ring (bgr24, rgb24, yuv420p or nv12); this ring "
          "holds " +
          cv::typeToString(stream.cv_type) + " frames: ingest with --pix-fmt bgr24");
    }
    swap_rb_ = (stream.pix_fmt == ring::PixFmt::kRgb24) != rgb_;
    letterbox_geometry_ = Letterbox::fit(stream.band.size(), input_, letterbox_);
    placed_zones_ = PlacedPolygons(zones_, stream.ring_size, stream.band);
    placed_masks_ = PlacedPolygons(masks_, stream.ring_size, stream.band);
    canvas_.release();
    committed_ = staged_ = tracker_;  // a new stream starts with no tracks
  }

  void analyse(const cv::Mat& frame, const FrameContext&, std::vector<Event>& events) override {
    detected_.clear();
    // A 4:2:0 frame becomes BGR in a buffer of our own first (the network needs colour pixels).
    copied_ = metrics::yuv_to_bgr(frame, yuv_, bgr_);
    const cv::Mat out = infer(copied_ ? bgr_ : frame, true);
    std::vector<Detection> found = decode(out, format_, input_, confidence_);
    found.erase(
        std::remove_if(found.begin(), found.end(),
                       [&](const Detection& d) {
                         return d.class_id < 0 ||
                                static_cast<std::size_t>(d.class_id) >= labels_.size() ||
                                (!wanted_classes_.empty() && !wanted_classes_.count(d.class_id));
                       }),
        found.end());
    std::vector<TrackedBox> boxes;
    for (const Detection& d : nms_per_class(std::move(found), nms_iou_)) {
      const cv::Rect box = letterbox_geometry_.to_frame_pixels(d.box);
      if (box.width <= 0 || box.height <= 0) continue;
      if (placed_masks_.any_contains(box)) continue;
      boxes.push_back({d.class_id, d.score, box});
      detected_.push_back(labels_[d.class_id]);
    }

    staged_ = committed_;
    const Tracker::Update u = staged_.update(boxes);
    for (Track& t : staged_.tracks()) {
      if (t.missed > 0) continue;  // not seen this frame: keeps its zones until it ends
      const std::vector<std::size_t> now = placed_zones_.containing(t.last.box);
      for (std::size_t z : now) {
        if (!std::binary_search(t.zones.begin(), t.zones.end(), z)) {
          events.push_back(event("object_enter", Phase::kStart, t, z));
        }
      }
      for (std::size_t z : t.zones) {
        if (!std::binary_search(now.begin(), now.end(), z)) {
          events.push_back(event("object_leave", Phase::kEnd, t, z));
        }
      }
      t.zones = now;
    }
    for (const Track& t : u.ended) {
      for (std::size_t z : t.zones) events.push_back(event("object_leave", Phase::kEnd, t, z));
    }
  }

  void commit() override { committed_ = staged_; }

  const std::vector<std::string>& detected_classes() const override { return detected_; }
  std::size_t bytes_copied() const override { return copied_; }

 private:
  // Runs the network on `image` (the slot itself, or the blank probe). Throws AnalyticError when
  // OpenCV throws: a model may fail on one input and work on the next.
  cv::Mat infer(const cv::Mat& image, bool from_slot) {
    try {
      cv::Mat src = image;
      if (letterbox_ && image.size() != input_) {
        const Letterbox& lb =
            from_slot ? letterbox_geometry_
                      : (probe_geometry_ = Letterbox::fit(image.size(), input_, letterbox_));
        if (canvas_.size() != input_ || canvas_.type() != image.type()) {
          canvas_.create(input_, image.type());
          canvas_.setTo(cv::Scalar::all(114));  // the grey ultralytics pads with
        }
        cv::Mat content = canvas_(lb.content);
        cv::resize(image, content, lb.content.size(), 0, 0, cv::INTER_LINEAR);
        src = canvas_;
      }
      cv::dnn::blobFromImage(src, blob_, scale_, input_, cv::Scalar::all(mean_), swap_rb_, false,
                             CV_32F);
      net_.setInput(blob_);
      net_.forward(outs_, out_names_);
    } catch (const cv::Exception& e) {
      throw AnalyticError("model " + model_path_ + ": inference failed: " + first_line(e.what()));
    }
    if (outs_.empty()) throw AnalyticError("model " + model_path_ + ": no output");
    return outs_[0];
  }

  void parse_classes(const std::string& text) {
    std::stringstream in(text);
    std::string name;
    while (std::getline(in, name, ',')) {
      const auto it = std::find(labels_.begin(), labels_.end(), name);
      if (it == labels_.end()) {
        throw ConfigError("--param classes: '" + name +
                          "' is not a class of the labels file (names as written there, e.g. "
                          "classes=person,car)");
      }
      wanted_classes_.insert(static_cast<int>(it - labels_.begin()));
    }
  }

  // One lifecycle per track and zone: object_enter opens it, object_leave ends it under the same
  // id: when the track's box leaves the zone, when the track ends (unseen for more than
  // max_missed frames), or when the worker stops (then with end_reason).
  Event event(const char* kind, Phase phase, const Track& t, std::size_t zone) const {
    Event e;
    e.kind = kind;
    e.phase = phase;
    e.subject = placed_zones_.name(zone) + "/" + std::to_string(t.id);
    e.end_kind = "object_leave";  // a worker stop ends the occupancy as a leave too
    e.boxes.push_back(t.last.box);
    e.scores.push_back(t.last.score);
    e.outlines.push_back(placed_zones_.outline(zone));  // "zones" in the event, drawn in pictures
    e.fields["zone"] = placed_zones_.name(zone);
    e.fields["class"] = labels_[t.last.class_id];
    e.fields["class_id"] = t.last.class_id;
    e.fields["track_id"] = t.id;
    return e;
  }

  std::string model_path_;
  std::string config_path_;
  cv::Size input_;
  bool letterbox_;
  float confidence_;
  double nms_iou_;
  double scale_;
  double mean_;
  bool rgb_;
  std::vector<Polygon> zones_;
  std::vector<Polygon> masks_;
  Tracker tracker_;  // the configured, empty tracker each stream starts from
  std::vector<std::string> labels_;
  std::set<int> wanted_classes_;
  OutputFormat format_ = OutputFormat::kYolov8;
  cv::dnn::Net net_;
  std::vector<std::string> out_names_;
  bool swap_rb_ = true;
  Letterbox letterbox_geometry_;
  Letterbox probe_geometry_;
  PlacedPolygons placed_zones_;
  PlacedPolygons placed_masks_;
  cv::Mat canvas_;
  ring::PixFmt yuv_ = ring::PixFmt::kRaw;  // yuv420p/nv12 when the ring holds 4:2:0 planes
  cv::Mat bgr_;                            // such a frame converted
  std::size_t copied_ = 0;
  cv::Mat blob_;
  std::vector<cv::Mat> outs_;
  Tracker committed_{tracker_}, staged_{tracker_};
  std::vector<std::string> detected_;
};

}  // namespace

std::unique_ptr<Analytic> make_objects(Params& params) {
  return std::make_unique<Objects>(params);
}

}  // namespace framering::workers::analytics
