"""`framering worker --analytic objects` on real ONNX models (generated with python3-onnx, loaded
by OpenCV's ONNX importer inside the worker) over frames of vtest.avi published by a real
`framering ingest`: one test per output layout, and the bad-input exit codes."""
import subprocess

import pytest

from onnx_models import (constant_output_model, letterbox_to_frame, ssd_output, yolov5_output,
                         yolov8_output)
from workers_helpers import VTEST, read_events

FRAME = (768, 576)   # vtest.avi
INPUT = (320, 320)   # the generated models' input
FRAMES = 6
# One person in input pixels: centre (100, 160), 40 x 80 → x 80..120, y 120..200.
PERSON_XYXY = (80, 120, 120, 200)


def model_for(fmt, tmp_path):
    """(model path, extra --param items) of a generated model reporting PERSON_XYXY."""
    x1, y1, x2, y2 = PERSON_XYXY
    cx, cy, w, h = (x1 + x2) / 2, (y1 + y2) / 2, x2 - x1, y2 - y1
    path = tmp_path / f"{fmt}.onnx"
    if fmt == "yolov8":
        return constant_output_model(path, yolov8_output([(0, 0.9, cx, cy, w, h)]), INPUT), []
    if fmt == "yolov5":
        return constant_output_model(path, yolov5_output([(0, 0.95, 0.9, cx, cy, w, h)]),
                                     INPUT), []
    # SSD class ids index the labels directly; id 0 is the background.
    labels = tmp_path / "voc.txt"
    labels.write_text("background\nperson\ncar\n")
    rows = [(1, 0.9, x1 / INPUT[0], y1 / INPUT[1], x2 / INPUT[0], y2 / INPUT[1])]
    return constant_output_model(path, ssd_output(rows), INPUT), [f"labels={labels}"]


def objects_worker(bin_, ring, events, model, *params, frames=FRAMES):
    args = [bin_, "worker", "--ring", ring, "--analytic", "objects", "--mode", "every",
            "--events", str(events), "--metrics-addr", "0", "--max-frames", str(frames),
            "--param", f"model={model}", "--param", f"input={INPUT[0]}x{INPUT[1]}"]
    for p in params:
        args += ["--param", p]
    return args


def publish_vtest(bin_, ring, frames=FRAMES):
    # --keep: the worker may attach after the ingest is done; the closed ring keeps the frames.
    subprocess.run([bin_, "ingest", "--ring", ring, "--source", str(VTEST), "--metrics-addr", "0",
                    "--slots", str(frames + 4), "--max-frames", str(frames), "--keep"],
                   check=True, capture_output=True, timeout=60)


@pytest.mark.parametrize("fmt,letterbox", [("yolov8", True), ("yolov5", True), ("ssd", True),
                                           ("yolov8", False)])
def test_each_layout_reports_the_models_box_in_frame_pixels_once_per_track(
        framering_bin, ring_name, tmp_path, fmt, letterbox):
    model, params = model_for(fmt, tmp_path)
    publish_vtest(framering_bin, ring_name)
    events = tmp_path / "events.jsonl"
    run = subprocess.run(objects_worker(framering_bin, ring_name, events, model, *params,
                                        f"letterbox={str(letterbox).lower()}"),
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    got = read_events(events)
    # The same box on every frame is one track: one object_enter (no zones given: the whole frame
    # is the zone "frame"), not one per frame, and no object_leave while it stays; the worker's
    # stop ends that lifecycle under the same id.
    assert [(e["kind"], e["type"]) for e in got] == [("object_enter", "start"),
                                                     ("object_enter", "end")], got
    assert got[0]["id"] == got[1]["id"]
    e = got[0]
    assert (e["frame_no"], e["zone"], e["class"], e["track_id"]) == (0, "frame", "person", 1)
    if letterbox:
        want = letterbox_to_frame(PERSON_XYXY, FRAME, INPUT)
        assert want == [192, 192, 96, 192]  # by hand: s = 320/768, pad 40 px above and below
    else:
        sx, sy = FRAME[0] / INPUT[0], FRAME[1] / INPUT[1]
        want = [round(80 * sx), round(120 * sy), round(40 * sx), round(80 * sy)]
    assert e["boxes"] == [want]
    assert e["scores"][0] == pytest.approx(0.9 if fmt != "yolov5" else 0.95 * 0.9, abs=1e-6)
    assert f"{FRAMES} frames analysed" in run.stderr


def run_worker_expecting_exit(bin_, *params):
    """Runs an objects worker on a ring that does not exist: configuration is checked before it
    waits for the ring, so a bad model or parameter ends it at once."""
    args = [bin_, "worker", "--ring", "objects-never-created", "--analytic", "objects",
            "--metrics-addr", "0"]
    for p in params:
        args += ["--param", p]
    return subprocess.run(args, capture_output=True, text=True, timeout=60)


def test_missing_model_is_exit_2_naming_the_file(framering_bin, tmp_path):
    missing = tmp_path / "nowhere" / "yolov8n.onnx"
    r = run_worker_expecting_exit(framering_bin, f"model={missing}")
    assert r.returncode == 2, r.stderr
    assert str(missing) in r.stderr and "docs/objects.md" in r.stderr
    r = run_worker_expecting_exit(framering_bin)
    assert r.returncode == 2 and "--param model: required" in r.stderr, r.stderr


def test_a_file_that_is_no_model_is_exit_2(framering_bin, tmp_path):
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"this is not a protobuf" * 10)
    r = run_worker_expecting_exit(framering_bin, f"model={junk}")
    assert r.returncode == 2, r.stderr
    assert str(junk) in r.stderr and "cannot load" in r.stderr


def test_unknown_output_shape_is_exit_2_with_the_shape_and_the_layouts(framering_bin, tmp_path):
    import numpy as np
    model = constant_output_model(tmp_path / "odd.onnx", np.zeros((1, 10), np.float32), INPUT)
    r = run_worker_expecting_exit(framering_bin, f"model={model}", "input=320x320")
    assert r.returncode == 2, r.stderr
    assert "[1, 10]" in r.stderr
    for layout in ("[1, 4+C, A]", "[1, A, 5+C]", "[1, 1, N, 7]"):
        assert layout in r.stderr, r.stderr


def test_labels_count_mismatch_is_exit_2(framering_bin, tmp_path):
    # Anchors outnumber attributes, as in every real export (yolov8n: 8400 anchors): that is how
    # the layout is told when the labels fit neither.
    model = constant_output_model(tmp_path / "v8.onnx",
                                  yolov8_output([], classes=80, anchors=400), INPUT)
    labels = tmp_path / "three.txt"
    labels.write_text("person\ncar\ndog\n")
    r = run_worker_expecting_exit(framering_bin, f"model={model}", "input=320x320",
                                  f"labels={labels}")
    assert r.returncode == 2, r.stderr
    assert "80 classes" in r.stderr and "3 names" in r.stderr


def test_wrong_input_size_and_unknown_class_are_exit_2(framering_bin, tmp_path):
    model = constant_output_model(tmp_path / "v8.onnx", yolov8_output([]), INPUT)
    r = run_worker_expecting_exit(framering_bin, f"model={model}", "input=640x480")
    assert r.returncode == 2 and "input=640x480" in r.stderr, r.stderr
    r = run_worker_expecting_exit(framering_bin, f"model={model}", "input=320x320",
                                  "classes=person,unicorn")
    assert r.returncode == 2 and "'unicorn'" in r.stderr, r.stderr
