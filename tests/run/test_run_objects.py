"""`framering run` with an `objects` worker on vtest.avi: a generated ONNX model (python3-onnx,
loaded by the worker's OpenCV) reports a person, a car and a dog at known places; the run YAML
gives two zones (one in fractions, one in pixels) and a mask. The person must enter the zone
"door" and the car the zone "street", once each, with boxes mapped to frame pixels as computed
here independently; the masked dog must not count; framering_objects_detected_total moves per
class. The same run has the camera's preview on: /preview.jpg draws the detector's boxes and
zone outlines where the events say, and the start snapshots are served read-only under
/snapshots/ on the preview address (and nothing outside the snapshot directory is)."""
import http.client
import io
import json
import os
import re
import signal
import urllib.request

from PIL import Image

import pytest

from conftest import VTEST, free_port, wait_for
from onnx_models import constant_output_model, letterbox_to_frame, yolov8_output

FRAME = (768, 576)
INPUT = (320, 320)
# (COCO class id, score, x1, y1, x2, y2) in input pixels
PERSON = (0, 0.9, 80, 120, 120, 200)     # bottom centre (240, 384) in frame px: zone "door"
CAR = (2, 0.8, 200, 150, 280, 210)       # bottom centre (576, 408): zone "street"
DOG = (16, 0.85, 100, 45, 120, 60)       # bottom centre (264, 48): inside the mask
BICYCLE = (1, 0.1, 10, 60, 40, 100)      # below the confidence threshold


def model(tmp_path):
    boxes = [(c, s, (x1 + x2) / 2, (y1 + y2) / 2, x2 - x1, y2 - y1)
             for c, s, x1, y1, x2, y2 in (PERSON, CAR, DOG, BICYCLE)]
    return constant_output_model(tmp_path / "detector.onnx", yolov8_output(boxes), INPUT)


def metric(port, series):
    """Value of the exact series at the worker's /metrics, or None."""
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    for line in text.splitlines():
        if line.startswith(series + " "):
            return float(line.split()[-1])
    return None


def events(path):
    if not path.exists():
        return []
    return [json.loads(l) for l in path.read_text().splitlines() if l.endswith("}")]


def get(port, path):
    """(status, body) of GET `path` sent as is (no normalisation by the client)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("GET", path)
    r = conn.getresponse()
    body = r.read()
    conn.close()
    return r.status, body


def red(px):
    r, g, b = px
    return r > 170 and g < 100 and b < 100


def yellow(px):
    r, g, b = px
    return r > 170 and g > 170 and b < 100


def check_preview_draws(preview_port, person_box, door_zone):
    """The newest frame as JPEG with the person's box (red) and the door zone (yellow) drawn."""
    status, jpeg = get(preview_port, "/preview.jpg")
    assert status == 200, jpeg
    with Image.open(io.BytesIO(jpeg)) as im:
        assert im.format == "JPEG" and im.size == FRAME
        rgb = im.convert("RGB")
    x, y, w, h = person_box
    assert red(rgb.getpixel((x, y + h // 2))) and red(rgb.getpixel((x + w // 2, y))), person_box
    assert red(rgb.getpixel((x + w - 1, y + h // 2))) and red(rgb.getpixel((x + w // 2, y + h - 1)))
    # The door zone's top edge, left of the person's box: yellow; the frame elsewhere is video.
    (zx0, zy0), (zx1, _) = door_zone[0], door_zone[1]
    assert zy0 == 288 and zx0 == 0 and zx1 == 384, door_zone
    assert all(yellow(rgb.getpixel((px, zy0))) for px in range(20, 180, 20))
    assert not red(rgb.getpixel((100, 150))) and not yellow(rgb.getpixel((100, 150)))


def check_snapshots_served(preview_port, metrics_port, camera, snapshot, snap_dir, tmp_path):
    """The event's snapshot at /snapshots/<camera>/<id>.jpg, byte for byte; what is not a
    snapshot file under the snapshot directory is 404, whatever the path tries."""
    name = os.path.basename(snapshot)
    assert os.path.dirname(snapshot) == str(snap_dir / camera)
    status, body = get(preview_port, f"/snapshots/{camera}/{name}")
    assert status == 200 and body == open(snapshot, "rb").read()
    with Image.open(io.BytesIO(body)) as im:
        assert im.format == "JPEG" and im.size == FRAME
    # Planted next to the real snapshots: a JPEG outside the directory reached by a link, a
    # linked camera directory, a file that is not .jpg.
    secret = tmp_path / "secret.jpg"
    secret.write_bytes(body)  # a valid JPEG, so only the path checks can refuse it
    os.symlink(secret, snap_dir / camera / "link.jpg")
    os.symlink(tmp_path, snap_dir / "linked")
    (snap_dir / camera / "notes.txt").write_text("not a picture")
    refused = [
        "/snapshots/../secret.jpg", f"/snapshots/{camera}/../../secret.jpg",
        f"/snapshots/{camera}/..%2f..%2fsecret.jpg", f"/snapshots/{camera}/%2e%2e/%2e%2e/secret.jpg",
        f"/snapshots/%2e%2e/secret.jpg", f"/snapshots/{camera}/link.jpg", "/snapshots/linked/secret.jpg",
        f"/snapshots/{camera}/notes.txt", f"/snapshots/{camera}/{name[:-4]}", f"/snapshots/{camera}",
        f"/snapshots//{snapshot}", f"/snapshots/{camera}/.{name}", "/snapshots/",
        f"/snapshots/{camera}/{name}/..",
    ]
    for path in refused:
        status, got = get(preview_port, path)
        assert status == 404 and b"\xff\xd8" not in got, (path, status)
    # Never on the metrics port.
    assert get(metrics_port, f"/snapshots/{camera}/{name}")[0] == 404


def test_objects_worker_reports_zone_entries_with_frame_pixel_boxes(framering_bin, ring_name,
                                                                    tmp_path, private_shm,
                                                                    procs):
    base_port = free_port()
    preview_port = free_port()
    snap_dir = tmp_path / "snaps"
    events_path = tmp_path / "events.jsonl"
    cfg = tmp_path / "objects.yaml"
    cfg.write_text(f"""
cameras:
  {ring_name}:
    source: {VTEST}
    realtime: true
    slots: 16
    preview: 127.0.0.1:{preview_port}
    workers:
      detector:
        analytic: objects
        mode: every
        zones:
          door: [[0.0, 0.5], [0.5, 0.5], [0.5, 1.0], [0.0, 1.0]]
          street: [[400, 0], [768, 0], [768, 576], [400, 576]]
        mask: [[[0.0, 0.0], [1.0, 0.0], [1.0, 0.2], [0.0, 0.2]]]
        params:
          model: {model(tmp_path)}
          input: 320x320
          confidence: 0.25
metrics:
  base_port: {base_port}
events:
  path: {events_path}
snapshots:
  dir: {snap_dir}
""")
    worker_port = base_port + 1  # the ingest takes base_port, its one worker the next
    run = procs.start([framering_bin, "run", str(cfg)], stdout=open(tmp_path / "run.out", "w"),
                      stderr=open(tmp_path / "run.err", "w"))
    person_series = (f'framering_objects_detected_total{{class="person",ring="{ring_name}",'
                     f'worker="detector"}}')

    def detected_enough():
        try:
            return (metric(worker_port, person_series) or 0) >= 5
        except OSError:
            return False
    wait_for(detected_enough, timeout=90, what="5 frames with a person at the worker's /metrics")

    car = metric(worker_port, person_series.replace('"person"', '"car"'))
    person = metric(worker_port, person_series)
    frames = metric(worker_port, f'framering_frames_read_total{{ring="{ring_name}",'
                                 f'worker="detector"}}')
    assert person >= 5 and car >= 5 and frames >= 5
    # One person and one car per analysed frame (scraped apart, so allow a frame in between).
    assert abs(person - frames) <= 1 and abs(car - frames) <= 1
    # docs/objects.md "Zero copy" and docs/events.md "Snapshots": detection reads the slot in
    # place (letterbox included), so the worker's only copies are the snapshots' marked rows:
    # whole rows of 768 x 3 bytes, one per row a box or the zone outline crosses. The person's
    # picture marks the rows from its box's top (y 192, 3 px lines) to the bottom (door reaches
    # it): about 385; the car's every row (the street polygon spans the full height): 576.
    # Measured: 962 rows; the tolerance is the lines' rounding.
    copied = metric(worker_port, f'framering_bytes_copied_total{{component="worker",'
                                 f'ring="{ring_name}"}}')
    row = FRAME[0] * 3
    assert copied % row == 0, copied
    assert abs(copied / row - (385 + 576)) <= 2, copied / row
    assert metric(worker_port, person_series.replace('"person"', '"dog"')) is None
    assert metric(worker_port, person_series.replace('"person"', '"bicycle"')) is None

    got = [e for e in events(events_path) if e["worker"] == "detector" and e["type"] == "start"]
    person_start = next(e for e in got if e["class"] == "person")
    check_preview_draws(preview_port, person_start["boxes"][0], person_start["zones"][0])
    check_snapshots_served(preview_port, base_port, ring_name, person_start["snapshot"], snap_dir,
                           tmp_path)
    run.send_signal(signal.SIGTERM)
    assert run.wait(timeout=30) == 0, (tmp_path / "run.err").read_text()

    # Once per track and zone, not once per frame; the dog (masked) and bicycle never.
    assert sorted((e["kind"], e["class"], e["zone"]) for e in got) == [
        ("object_enter", "car", "street"), ("object_enter", "person", "door")], got
    by_class = {e["class"]: e for e in got}
    # Letterbox by hand: s = 320/768 → content 320x240 at y 40; x' = x*2.4, y' = (y-40)*2.4.
    assert by_class["person"]["boxes"] == [[192, 192, 96, 192]]
    assert by_class["car"]["boxes"] == [[480, 264, 192, 144]]
    for name, box in (("person", PERSON), ("car", CAR)):
        assert by_class[name]["boxes"] == [letterbox_to_frame(box[2:], FRAME, INPUT)]
        assert by_class[name]["scores"][0] == pytest.approx(box[1], abs=1e-6)
        assert by_class[name]["frame_no"] == 0 and by_class[name]["ring"] == ring_name
    assert by_class["person"]["track_id"] != by_class["car"]["track_id"]
    assert re.search(r"worker detector \(objects\): \d+ frames analysed",
                     (tmp_path / "run.out").read_text())
