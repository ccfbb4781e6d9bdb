"""The detector the objects benchmark runs: a real ONNX graph of realistic cost for OpenCV's DNN
module, generated here (no model is downloaded), and its cost in FLOPs computed from the graph.

    input [1, 3, 640, 640] → 3x3 Conv 3→16 → ReLU → (3x3 Conv 16→16 → ReLU) x N, all at
    640x640 → AveragePool (whole image) → 1x1 Conv (weights 0) → Reshape [1, 84, 16]

The convolutions are the compute (about what a small YOLO backbone spends at this input); the
zero-weight head makes the output a YOLOv8-layout tensor whose scores are all 0, so nothing is
detected and the time measured is inference plus the analytic's own work, not event output.
"""
import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper, shape_inference

OPSET = 13  # within what OpenCV 4.6's ONNX importer supports
INPUT = (640, 640)
CLASSES, ANCHORS = 80, 16


def write_model(path, hidden_convs=2):
    """Writes the detector to `path`; returns its FLOPs per frame (see flops())."""
    w, h = INPUT
    nodes, inits = [], []
    x, channels = "images", 3
    rng = np.random.default_rng(7)
    for i in range(1 + hidden_convs):
        wname, bname, y = f"w{i}", f"b{i}", f"conv{i}"
        inits.append(numpy_helper.from_array(
            (rng.standard_normal((16, channels, 3, 3)) * 0.1).astype(np.float32), wname))
        inits.append(numpy_helper.from_array(np.zeros(16, np.float32), bname))
        nodes.append(helper.make_node("Conv", [x, wname, bname], [y], kernel_shape=[3, 3],
                                      pads=[1, 1, 1, 1]))
        nodes.append(helper.make_node("Relu", [y], [f"relu{i}"]))
        x, channels = f"relu{i}", 16
    nodes.append(helper.make_node("AveragePool", [x], ["pooled"], kernel_shape=[h, w]))
    k = (4 + CLASSES) * ANCHORS
    inits.append(numpy_helper.from_array(np.zeros((k, channels, 1, 1), np.float32), "hw"))
    inits.append(numpy_helper.from_array(np.zeros(k, np.float32), "hb"))
    nodes.append(helper.make_node("Conv", ["pooled", "hw", "hb"], ["flat"], kernel_shape=[1, 1]))
    inits.append(numpy_helper.from_array(np.array([1, 4 + CLASSES, ANCHORS], np.int64), "shape"))
    nodes.append(helper.make_node("Reshape", ["flat", "shape"], ["output0"]))
    graph = helper.make_graph(
        nodes, "framering_bench_detector",
        [helper.make_tensor_value_info("images", TensorProto.FLOAT, [1, 3, h, w])],
        [helper.make_tensor_value_info("output0", TensorProto.FLOAT, [1, 4 + CLASSES, ANCHORS])],
        inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                              producer_name="framering-bench")
    model.ir_version = 7
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return flops(model)


def flops(model):
    """Floating-point operations of one inference, from the graph itself: each Conv counts
    2 x (output elements) x (input channels / group) x kernel area (a multiply and an add per
    weight); ReLU and pooling one per input element. Shapes come from ONNX shape inference."""
    inferred = shape_inference.infer_shapes(model)
    shapes = {}
    for v in list(inferred.graph.value_info) + list(inferred.graph.input) + list(inferred.graph.output):
        shapes[v.name] = [d.dim_value for d in v.type.tensor_type.shape.dim]
    weights = {t.name: list(t.dims) for t in model.graph.initializer}
    total = 0
    for n in model.graph.node:
        if n.op_type == "Conv":
            cout, cin_per_group, kh, kw = weights[n.input[1]]
            out = shapes[n.output[0]]
            total += 2 * int(np.prod(out)) * cin_per_group * kh * kw
        elif n.op_type in ("Relu", "AveragePool"):
            total += int(np.prod(shapes[n.input[0]]))
    return total
