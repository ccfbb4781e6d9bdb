"""`framering worker --analytic objects` on real ONNX models (generated with python3-onnx, loaded
by OpenCV's ONNX importer inside the worker) over frames of vtest.avi published by a real
`framering ingest`: one test per output layout, and the bad-input exit codes."""
import signal
import subprocess

import pytest

import numpy as np

from onnx_models import (colour_driven_model, constant_output_model, letterbox_to_frame, ssd_output, yolov5_output,
                         yolov8_output)
from conftest import free_port
from mqtt_helpers import retry_until, sample, scrape
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
    port = free_port()
    args = objects_worker(framering_bin, ring_name, events, model, *params,
                          f"letterbox={str(letterbox).lower()}") + ["--name", "det"]
    args[args.index("--metrics-addr") + 1] = f"127.0.0.1:{port}"
    del args[args.index("--max-frames"):args.index("--max-frames") + 2]
    log = tmp_path / "worker.log"
    with open(log, "w") as err:
        worker = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=err, text=True)
    try:
        labels = f'ring="{ring_name}",worker="det"'
        retry_until(lambda: sample(scrape(port), f"framering_frames_read_total{{{labels}}}")
                    == FRAMES or worker.poll() is not None, 60, f"{FRAMES} frames read")
        assert worker.poll() is None, log.read_text()
        text = scrape(port)
        # docs/objects.md, "Zero copy": the slot is read in place in both modes (letterbox
        # resizes it once into the worker's canvas: the model's input, not a copy of the frame).
        assert sample(text, f'framering_bytes_copied_total{{component="worker",'
                            f'ring="{ring_name}"}}') == 0
        assert sample(text, f"framering_bytes_read_in_place_total{{{labels}}}") == \
            FRAMES * FRAME[0] * FRAME[1] * 3
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(timeout=20) == 0, log.read_text()
    finally:
        if worker.poll() is None:
            worker.kill()
    got = read_events(events)
    # The same box on every frame is one track: one object_enter (no zones given: the whole frame
    # is the zone "frame"), not one per frame, and no object_leave while it stays; the worker's
    # stop ends that occupancy with an object_leave under the same id.
    assert [(e["kind"], e["type"]) for e in got] == [("object_enter", "start"),
                                                     ("object_leave", "end")], got
    assert got[0]["id"] == got[1]["id"] and got[1]["end_reason"] == "stopped"
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
    assert f"{FRAMES} frames analysed" in log.read_text()


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


# A box that moves with the frames' colour: a 160x120 ring of uniform frames, red = blue = v and
# green = g. The model (yolov8 layout, 80 classes, 8 anchors) reports on anchor 0 a 40x40
# "person" centred at (20 + v/2, 60) in input pixels scoring g/255; the input is the frame size
# with letterbox=false, so input pixels are frame pixels and the slot is the model's input.
SMALL = (160, 120)


def moving_person_model(path):
    bias = np.zeros((1, 84, 8), np.float32)
    weights = np.zeros((1, 84, 8, 3), np.float32)
    bias[0, 0:4, 0] = (20, 60, 40, 40)
    # channel means are v/255 (red, blue) and g/255: red and blue weigh the same, so the
    # worker's swap to RGB does not matter; 2 * 63.75 * v/255 = v/2.
    weights[0, 0, 0] = (63.75, 0, 63.75)
    weights[0, 4, 0] = (0, 1, 0)
    return colour_driven_model(path, bias, weights, SMALL)


def frame_showing(cx=None):
    """A BGR frame for which the model sees a person centred at x = cx, or nobody (cx None)."""
    v = 0 if cx is None else 2 * (cx - 20)
    g = 0 if cx is None else 230
    f = np.empty((SMALL[1], SMALL[0], 3), np.uint8)
    f[:, :] = (v, g, v)
    return f


def test_a_box_that_leaves_its_zone_and_a_track_that_ends_are_object_leaves(
        framering_bin, ring_name, tmp_path):
    # Centres walk right 10 px a frame (IoU 0.6 with the last box: one track) across the zone
    # border at x = 80, then nobody for 3 frames (max_missed=2: the track ends on the third), then
    # a new person stays until the worker stops.
    xs = [45, 55, 65, 75, 85, 95, None, None, None, 95, 95]
    stack = tmp_path / "frames"
    stack.mkdir()
    for i, cx in enumerate(xs):
        np.save(stack / f"f{i:03d}.npy", frame_showing(cx))
    subprocess.run([framering_bin, "ingest", "--ring", ring_name, "--source", f"npy:{stack}",
                    "--metrics-addr", "0", "--slots", str(len(xs) + 4), "--keep"],
                   check=True, capture_output=True, timeout=60)
    model = moving_person_model(tmp_path / "moving.onnx")
    events = tmp_path / "events.jsonl"
    zones = "left:0,0;0.5,0;0.5,1;0,1|right:0.5,0;1,0;1,1;0.5,1"
    run = subprocess.run([framering_bin, "worker", "--ring", ring_name, "--analytic", "objects",
                          "--mode", "every", "--events", str(events), "--metrics-addr", "0",
                          "--max-frames", str(len(xs)), "--param", f"model={model}",
                          "--param", "input=160x120", "--param", "letterbox=false", "--param", "format=yolov8",
                          "--param", "max_missed=2", "--param", f"zones={zones}"],
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    got = read_events(events)
    seen = [(e["frame_no"], e["kind"], e["type"], e["zone"], e["track_id"]) for e in got]
    assert seen == [(0, "object_enter", "start", "left", 1),
                    (4, "object_enter", "start", "right", 1),  # crossed the border ...
                    (4, "object_leave", "end", "left", 1),     # ... so it left "left"
                    (8, "object_leave", "end", "right", 1),    # unseen 3 frames > max_missed
                    (9, "object_enter", "start", "right", 2),
                    (len(xs) - 1, "object_leave", "end", "right", 2)], got
    by_subject = {}
    for e in got:
        assert e["class"] == "person" and e["class_id"] == 0
        assert e["subject"] == f'{e["zone"]}/{e["track_id"]}'
        by_subject.setdefault(e["subject"], []).append(e)
    # Each occupancy is one lifecycle: its leave carries the enter's id and start.
    for subject, (enter, leave) in by_subject.items():
        assert leave["id"] == enter["id"] and leave["start_frame_no"] == enter["start_frame_no"]
    assert len({e["id"] for e in got}) == 3
    # The leave across the border carries the box that left: centre 85 → x 65..105, y 40..80.
    assert got[2]["boxes"] == [[65, 40, 40, 40]] and got[0]["boxes"] == [[25, 40, 40, 40]]
    assert got[2]["scores"][0] == pytest.approx(230 / 255, abs=1e-3)
    assert "end_reason" not in got[2] and "end_reason" not in got[3]
    assert got[5]["end_reason"] == "stopped"
