"""A camera with two streams under `framering run`: `detect:` (a 320x240 sub-stream) is decoded
into the ring the workers read, `record.source` (the 640x480 main stream) is ingested without
decoding into the packet ring the recorder stores. Two real gst-rtsp-server cameras serve the
two streams; each is ingested exactly once."""
import importlib.util
import json
import os
import pathlib
import signal
import subprocess

import pytest

from conftest import ROOT, free_port, wait_for


def _rtsp_camera_class():
    spec = importlib.util.spec_from_file_location("rtsp_camera",
                                                  ROOT / "tests" / "ingest" / "rtsp_camera.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.RtspCamera


@pytest.fixture
def streams():
    """(main, sub): 640x480 and 320x240 H.264 at 25 fps, a keyframe every second."""
    RtspCamera = _rtsp_camera_class()
    main = RtspCamera(free_port(), width=640, height=480).start()
    sub = RtspCamera(free_port(), width=320, height=240).start()
    yield main, sub
    main.stop()
    sub.stop()


def ingest_children(sup_pid, ring):
    """Command lines of the supervisor's `framering ingest` children for `ring`."""
    found = []
    for stat in pathlib.Path("/proc").glob("[0-9]*/stat"):
        try:
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) != sup_pid:
                continue
            args = (stat.parent / "cmdline").read_bytes().decode().split("\0")
        except (OSError, ValueError, IndexError):
            continue
        if len(args) > 3 and args[1] == "ingest" and ring in args:
            found.append(args)
    return found


def segments(dir_):
    return sorted(dir_.glob("*.mp4")) if dir_.exists() else []


def ffprobe(path):
    out = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_streams",
                          "-show_entries", "packet=flags", "-of", "json", str(path)],
                         capture_output=True, text=True, check=True, timeout=60).stdout
    doc = json.loads(out)
    return doc["streams"][0], doc["packets"]


def test_detect_stream_feeds_workers_record_stream_feeds_recorder(framering_bin, ring_name,
                                                                  private_shm, tmp_path, streams):
    main, sub = streams
    rec_dir = tmp_path / "rec"
    cfg = tmp_path / "substreams.yaml"
    cfg.write_text(f"""
cameras:
  {ring_name}:
    detect: {sub.url}
    slots: 16
    workers:
      checksum:
        mode: every
    record:
      source: {main.url}
      dir: {rec_dir}
      segment_seconds: 1
      history: 10
metrics:
  enabled: false
""")
    env = dict(os.environ, FRAMERING_SHM_DIR=str(private_shm))
    out = open(tmp_path / "run.out", "w")
    run = subprocess.Popen([framering_bin, "run", str(cfg)], stdout=out, stderr=subprocess.STDOUT,
                           env=env)
    try:
        wait_for(lambda: len(segments(rec_dir / ring_name)) >= 2, timeout=60,
                 what="two recorded segments")

        # Exactly two ingests for the camera: the sub-stream decoded, the main one not.
        ingests = ingest_children(run.pid, ring_name)
        assert len(ingests) == 2, ingests
        detect = next(a for a in ingests if sub.url in a)
        record = next(a for a in ingests if main.url in a)
        assert "--packets-only" in record and "--packet-history" in record
        assert "--packets-only" not in detect and "--packet-history" not in detect

        # The workers read 320x240 frames from the ring.
        def ring_read():
            p = subprocess.run([framering_bin, "stat", "--json", ring_name], capture_output=True,
                               text=True, timeout=30, env=env)
            if p.returncode != 0:
                return None
            info = json.loads(p.stdout)[0]
            readers = info["readers"]
            return info if readers and readers[0]["frames_read"] >= 25 else None

        info = wait_for(ring_read, timeout=30, what="the checksum worker reading frames")
        assert info["geometry"]["shape"] == [240, 320, 3], info["geometry"]
        assert (private_shm / f"framering.{ring_name}.packets").exists()

        run.send_signal(signal.SIGTERM)
        assert run.wait(timeout=30) == 0, (tmp_path / "run.out").read_text()
    finally:
        if run.poll() is None:
            run.kill()
            run.wait()
        out.close()

    log = (tmp_path / "run.out").read_text()
    assert f"{ring_name}/record-ingest" in log, log[-3000:]
    # The recorder's segments are the main stream, stream-copied: 640x480 H.264 starting at a
    # keyframe, decoding without an error.
    for seg in segments(rec_dir / ring_name):
        stream, packets = ffprobe(seg)
        assert stream["codec_name"] == "h264", seg
        assert (stream["width"], stream["height"]) == (640, 480), seg
        assert packets and "K" in packets[0]["flags"], seg
        err = subprocess.run(["ffmpeg", "-v", "error", "-i", str(seg), "-f", "null", "-"],
                             capture_output=True, text=True, timeout=60).stderr
        assert err.strip() == "", (seg, err)
