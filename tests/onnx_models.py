"""Small ONNX detectors whose outputs are known boxes, built with Debian's python3-onnx.

Each model is a real graph that OpenCV's ONNX importer loads and runs:
    input [1, 3, H, W] → AveragePool (whole image) → 1x1 Conv (weights 0, bias = the output
    values) → Reshape to the detector's output layout
so whatever the frame shows, the output is the tensor given here. The tests then know exactly
which boxes the `objects` analytic must report and where they land in frame pixels.
"""
import math

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 13  # within what OpenCV 4.6's ONNX importer supports


def constant_output_model(path, values, input_size, *, hidden_convs=0):
    """Writes an ONNX model whose single output is `values` (a float array of any shape) for any
    input of `input_size` (W, H). `hidden_convs` adds that many 3x3 convolutions (16 channels) at
    full input resolution before the pooling: real compute that cannot change the output (the
    last Conv's weights are zero), for a detector of realistic cost in benchmarks."""
    values = np.asarray(values, dtype=np.float32)
    w, h = input_size
    nodes, inits = [], []
    x = "images"
    channels = 3
    for i in range(hidden_convs):
        out_ch = 16
        wname, bname, y = f"hw{i}", f"hb{i}", f"hidden{i}"
        rng = np.random.default_rng(i)
        inits.append(numpy_helper.from_array(
            (rng.standard_normal((out_ch, channels, 3, 3)) * 0.1).astype(np.float32), wname))
        inits.append(numpy_helper.from_array(np.zeros(out_ch, np.float32), bname))
        nodes.append(helper.make_node("Conv", [x, wname, bname], [y], kernel_shape=[3, 3],
                                      pads=[1, 1, 1, 1]))
        x, channels = y, out_ch
    nodes.append(helper.make_node("AveragePool", [x], ["pooled"], kernel_shape=[h, w]))
    k = int(values.size)
    inits.append(numpy_helper.from_array(np.zeros((k, channels, 1, 1), np.float32), "cw"))
    inits.append(numpy_helper.from_array(values.reshape(-1), "cb"))
    nodes.append(helper.make_node("Conv", ["pooled", "cw", "cb"], ["flat"], kernel_shape=[1, 1]))
    inits.append(numpy_helper.from_array(np.array(values.shape, dtype=np.int64), "shape"))
    nodes.append(helper.make_node("Reshape", ["flat", "shape"], ["output0"]))
    return _save(path, "framering_test_detector", nodes, inits, (h, w), values.shape)


def _save(path, name, nodes, inits, input_hw, output_shape):
    """Checks and writes a graph with one [1, 3, H, W] input `images` and one output `output0`."""
    h, w = input_hw
    graph = helper.make_graph(
        nodes, name,
        [helper.make_tensor_value_info("images", TensorProto.FLOAT, [1, 3, h, w])],
        [helper.make_tensor_value_info("output0", TensorProto.FLOAT, list(output_shape))],
        inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                              producer_name="framering-tests")
    model.ir_version = 7
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


def yolov8_output(boxes, classes=80, anchors=16):
    """[1, 4+C, A]: boxes are (class_id, score, cx, cy, w, h) in input pixels, one per anchor;
    the remaining anchors score 0."""
    out = np.zeros((1, 4 + classes, anchors), np.float32)
    for a, (cls, score, cx, cy, bw, bh) in enumerate(boxes):
        out[0, 0:4, a] = (cx, cy, bw, bh)
        out[0, 4 + cls, a] = score
    return out


def yolov5_output(boxes, classes=80, anchors=16):
    """[1, A, 5+C]: boxes are (class_id, objectness, class_score, cx, cy, w, h)."""
    out = np.zeros((1, anchors, 5 + classes), np.float32)
    for a, (cls, obj, score, cx, cy, bw, bh) in enumerate(boxes):
        out[0, a, 0:5] = (cx, cy, bw, bh, obj)
        out[0, a, 5 + cls] = score
    return out


def ssd_output(rows, n=8):
    """[1, 1, N, 7]: rows are (class_id, score, x1, y1, x2, y2) as fractions of the input; the
    remaining rows are Caffe's padding (image id -1)."""
    out = np.zeros((1, 1, n, 7), np.float32)
    out[0, 0, :, 0] = -1
    for i, (cls, score, x1, y1, x2, y2) in enumerate(rows):
        out[0, 0, i] = (0, cls, score, x1, y1, x2, y2)
    return out


def letterbox_to_frame(box_xyxy, frame, input_size):
    """Independent reference for the worker's letterbox arithmetic: an input-pixel box
    (x1, y1, x2, y2) → frame pixels [x, y, w, h] with each edge rounded to the nearest pixel."""
    fw, fh = frame
    iw, ih = input_size
    near = lambda v: math.floor(v + 0.5)  # half away from zero, as C++ lround (v >= 0 here)
    s = min(iw / fw, ih / fh)
    cw, ch = near(fw * s), near(fh * s)
    px, py = (iw - cw) // 2, (ih - ch) // 2
    x1, y1, x2, y2 = box_xyxy
    fx = lambda x: min(max((x - px) * fw / cw, 0), fw)
    fy = lambda y: min(max((y - py) * fh / ch, 0), fh)
    e = [near(fx(x1)), near(fy(y1)), near(fx(x2)), near(fy(y2))]
    return [e[0], e[1], e[2] - e[0], e[3] - e[1]]


def colour_driven_model(path, bias, weights, input_size):
    """An ONNX model whose output depends on the frame: output = bias + weights · m, where m is
    the mean of each input channel over the whole image (after the worker's scaling, so 0..1 for
    8-bit frames). `bias` has the output's shape, `weights` that shape plus a last axis of 3 (one
    weight per input channel). A test that controls the frames' colours thereby controls where
    the box is and how it scores, frame by frame, through OpenCV's real inference path."""
    bias = np.asarray(bias, dtype=np.float32)
    weights = np.asarray(weights, dtype=np.float32)
    assert weights.shape == bias.shape + (3,)
    w, h = input_size
    k = int(bias.size)
    inits = [numpy_helper.from_array(weights.reshape(k, 3, 1, 1), "cw"),
             numpy_helper.from_array(bias.reshape(-1), "cb"),
             numpy_helper.from_array(np.array(bias.shape, dtype=np.int64), "shape")]
    nodes = [helper.make_node("AveragePool", ["images"], ["pooled"], kernel_shape=[h, w]),
             helper.make_node("Conv", ["pooled", "cw", "cb"], ["flat"], kernel_shape=[1, 1]),
             helper.make_node("Reshape", ["flat", "shape"], ["output0"])]
    return _save(path, "framering_test_colour_detector", nodes, inits, (h, w), bias.shape)
