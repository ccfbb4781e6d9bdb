"""Workers on yuv420p/nv12 rings (ingest --pix-fmt): motion and tamper analyse the Y plane in place,
people and objects convert the frame to BGR in a buffer of their own and count it as copied,
checksum covers every byte of the planes."""
import json
import signal
import subprocess
import zlib

import pytest

from onnx_models import constant_output_model, yolov8_output
from test_workers_ingest import ingest_cmd, run, scrape, stat_reader, worker_cmd
from workers_helpers import VTEST, read_events, wait_for

W, H = 768, 576  # vtest.avi


def publish(bin_, ring, pix_fmt, frames, *extra):
    # --keep: the worker may attach after the ingest is done; the closed ring keeps the frames.
    rc, err = run(ingest_cmd(bin_, ring, "--pix-fmt", pix_fmt, "--keep", "--slots",
                             str(frames + 4), "--max-frames", str(frames), *extra))
    assert rc == 0, err


def motion_events(bin_, ring, events, frames):
    rc, err = run(worker_cmd(bin_, ring, "motion", events, "--mode", "every", "--max-frames",
                             str(frames), "--param", "min_area=300", "--param", "end_frames=3"))
    assert rc == 0, err
    return [(e["type"], e["frame_no"], e.get("boxes")) for e in read_events(events)]


@pytest.mark.parametrize("pix_fmt", ["yuv420p", "nv12"])
def test_motion_on_a_yuv_ring_reports_what_it_reports_on_a_gray8_ring(framering_bin, ring_name,
                                                                      tmp_path, pix_fmt):
    # A gray8 ring is the luma stretched to full range (as `ffmpeg -pix_fmt gray` makes it); the
    # Y plane is the same picture in limited range, 255/219 less contrast. The tolerance: the
    # same lifecycles at the same frames with as many boxes, each box overlapping its gray8
    # twin by IoU >= 0.75 (measured on vtest.avi: the edges move by at most 3 pixels).
    n = 60
    grey_ring, yuv_ring = ring_name + "-g", ring_name + "-y"  # the fixture removes both
    publish(framering_bin, grey_ring, "gray8", n)
    publish(framering_bin, yuv_ring, pix_fmt, n)
    grey = motion_events(framering_bin, grey_ring, tmp_path / "grey.jsonl", n)
    yuv = motion_events(framering_bin, yuv_ring, tmp_path / "yuv.jsonl", n)
    assert any(kind == "start" and boxes for kind, _, boxes in grey), grey
    assert [(kind, frame, len(boxes or [])) for kind, frame, boxes in yuv] == \
        [(kind, frame, len(boxes or [])) for kind, frame, boxes in grey]
    for (_, _, yuv_boxes), (_, _, grey_boxes) in zip(yuv, grey):
        for a, b in zip(sorted(yuv_boxes or []), sorted(grey_boxes or [])):
            assert iou(a, b) >= 0.75, (a, b)
            x, y, w, h = a
            assert x + w <= W and y + h <= H, "boxes in picture pixels, never in the chroma rows"


def iou(a, b):
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    iw = max(0, min(ax + aw, bx + bw) - max(ax, bx))
    ih = max(0, min(ay + ah, by + bh) - max(ay, by))
    return iw * ih / (aw * ah + bw * bh - iw * ih)


@pytest.mark.parametrize("analytic", ["motion", "tamper"])
def test_y_plane_is_analysed_in_place_with_no_copy(framering_bin, ring_name, procs, tmp_path, port,
                                                   analytic):
    n, fb = 12, 320 * 240 * 3 // 2
    worker = procs.start(worker_cmd(framering_bin, ring_name, analytic, tmp_path / "e.jsonl",
                                    "--name", "luma", "--mode", "every", "--param", "width=320",
                                    metrics=f"127.0.0.1:{port}"))
    publish(framering_bin, ring_name, "yuv420p", n, "--width", "320", "--height", "240")
    r = wait_for(lambda: stat_reader(framering_bin, ring_name, "luma", n), 30,
                 "the worker in framering stat at the end of the stream")
    assert r["frames_read"] == n and r["dropped"] == {"lapped": 0, "torn": 0, "skipped": 0}
    assert r["bytes_in_place"] == n * fb
    assert r["bytes_copied"] == 0
    m = scrape(port)
    assert m[f'framering_bytes_copied_total{{component="worker",ring="{ring_name}"}}'] == 0
    worker.send_signal(signal.SIGTERM)
    assert worker.wait(timeout=10) == 0


@pytest.mark.parametrize("pix_fmt", ["yuv420p", "nv12"])
def test_people_convert_to_bgr_and_count_the_copy(framering_bin, ring_name, procs, tmp_path, port,
                                                  pix_fmt):
    n = 16
    events = tmp_path / "people.jsonl"
    worker = procs.start(worker_cmd(framering_bin, ring_name, "people", events, "--name", "hog",
                                    "--mode", "every", metrics=f"127.0.0.1:{port}"))
    publish(framering_bin, ring_name, pix_fmt, n)
    r = wait_for(lambda: stat_reader(framering_bin, ring_name, "hog", n), 120,
                 "the people worker at the end of the stream")
    assert r["frames_read"] == n and r["dropped"] == {"lapped": 0, "torn": 0, "skipped": 0}
    # One BGR picture per frame, written into the worker's own buffer: counted as copied.
    assert r["bytes_copied"] == n * W * H * 3
    m = scrape(port)
    assert m[f'framering_bytes_copied_total{{component="worker",ring="{ring_name}"}}'] == n * W * H * 3
    worker.send_signal(signal.SIGTERM)
    assert worker.wait(timeout=10) == 0
    got = read_events(events)
    # Pedestrians are in view all along, as on a bgr24 ring.
    assert got[0]["type"] == "start" and got[0]["count"] > 0, got[0]
    for e in got:
        for x, y, w, h in e["boxes"]:
            assert 0 <= x and 0 <= y and x + w <= W and y + h <= H


def test_objects_run_on_a_yuv_ring_and_count_the_conversion(framering_bin, ring_name, tmp_path,
                                                            port):
    n, size = 6, (320, 320)
    model = constant_output_model(tmp_path / "v8.onnx",
                                  yolov8_output([(0, 0.9, 100, 160, 40, 80)]), size)
    publish(framering_bin, ring_name, "nv12", n)
    events = tmp_path / "objects.jsonl"
    args = [framering_bin, "worker", "--ring", ring_name, "--analytic", "objects", "--mode",
            "every", "--events", str(events), "--metrics-addr", f"127.0.0.1:{port}", "--name",
            "det", "--param", f"model={model}", "--param", f"input={size[0]}x{size[1]}"]
    with open(tmp_path / "worker.log", "w") as log:
        worker = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=log)
    try:
        r = wait_for(lambda: stat_reader(framering_bin, ring_name, "det", n) or
                     (worker.poll() is not None and {"exited": worker.returncode}), 120,
                     "the objects worker at the end of the stream")
        assert "exited" not in r, (tmp_path / "worker.log").read_text()
        assert r["bytes_copied"] == n * W * H * 3
        m = scrape(port)
        assert m[f'framering_bytes_copied_total{{component="worker",ring="{ring_name}"}}'] == \
            n * W * H * 3
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=20)
    starts = [e for e in read_events(events) if e["kind"] == "object_enter"]
    assert starts and starts[0]["class"] == "person", read_events(events)
    x, y, w, h = starts[0]["boxes"][0]
    assert 0 <= x and x + w <= W and 0 <= y and y + h <= H


def test_checksum_covers_every_plane(framering_bin, ring_name, tmp_path):
    n = 10
    publish(framering_bin, ring_name, "yuv420p", n)
    events = tmp_path / "crc.jsonl"
    rc, err = run(worker_cmd(framering_bin, ring_name, "checksum", events, "--mode", "every",
                             "--max-frames", str(n)))
    assert rc == 0, err
    got = read_events(events)
    raw = subprocess.run(["ffmpeg", "-v", "error", "-i", str(VTEST), "-frames:v", str(n),
                          "-pix_fmt", "yuv420p", "-f", "rawvideo", "-"], capture_output=True,
                         check=True, timeout=60).stdout
    fb = W * H * 3 // 2
    want = ["%08x" % zlib.crc32(raw[i * fb:(i + 1) * fb]) for i in range(n)]
    assert [e["crc32"] for e in got] == want
    assert all(e["bytes"] == fb for e in got)


def test_tiles_are_refused_on_a_yuv_ring(framering_bin, ring_name, tmp_path):
    publish(framering_bin, ring_name, "yuv420p", 2)
    rc, err = run(worker_cmd(framering_bin, ring_name, "motion", tmp_path / "e.jsonl", "--tiles",
                             "--group", "g", "--member", "0", "--members", "2",
                             "--max-frames", "1"))
    assert rc == 2 and "--tiles" in err and "yuv420p" in err, err


def test_snapshots_of_a_yuv_ring_are_colour_pictures_of_the_frame(framering_bin, ring_name,
                                                                  tmp_path):
    from PIL import Image  # Debian's python3-pil, as the other snapshot tests

    n = 40
    publish(framering_bin, ring_name, "nv12", n)
    snaps = tmp_path / "snaps"
    rc, err = run(worker_cmd(framering_bin, ring_name, "motion", tmp_path / "ev.jsonl", "--mode",
                             "every", "--max-frames", str(n), "--param", "min_area=300",
                             "--snapshots", str(snaps), "--camera", "lobby"))
    assert rc == 0, err
    starts = [e for e in read_events(tmp_path / "ev.jsonl") if e["type"] == "start"]
    assert starts
    frame_no = starts[0]["frame_no"]
    bgr = subprocess.run(["ffmpeg", "-v", "error", "-i", str(VTEST), "-frames:v", str(frame_no + 1),
                          "-pix_fmt", "rgb24", "-f", "rawvideo", "-"], capture_output=True,
                         check=True, timeout=60).stdout[frame_no * W * H * 3:]
    with Image.open(starts[0]["snapshot"]) as im:
        assert im.format == "JPEG" and im.size == (W, H) and im.mode == "RGB"
        rgb = im.tobytes()
    # The snapshot is the frame converted to colour (JPEG-compressed, boxes drawn): away from the
    # boxes it stays close to ffmpeg's own conversion of the same frame.
    x0, y0 = 20, 20  # a patch of the top-left wall, where vtest.avi has no one walking
    diffs = [abs(rgb[i] - bgr[i]) for y in range(y0, y0 + 40)
             for i in range((y * W + x0) * 3, (y * W + x0 + 60) * 3)]
    assert sum(diffs) / len(diffs) < 6, sum(diffs) / len(diffs)
