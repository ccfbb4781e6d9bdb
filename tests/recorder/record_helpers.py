"""Helpers for `framering record` tests: media made with the ffmpeg CLI, ffprobe views of the
segments, waiting for conditions."""
import hashlib
import json
import os
import pathlib
import re
import subprocess
import sys

import conftest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "ingest"))
from ingest_ring import ENV, SHM, VTEST  # noqa: E402  (a private shm dir for every process)

SEGMENT_NAME = re.compile(r"^(?P<cam>[A-Za-z0-9_-]+)-\d{8}T\d{6}\.\d{3}Z(-\d+)?\.mp4$")


def make_h264(path, seconds, gop, size="320x240", rate=25, bframes=2, extra=()):
    subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i",
                    f"testsrc2=size={size}:rate={rate}:duration={seconds}", "-c:v", "libx264",
                    "-preset", "ultrafast", "-g", str(gop), "-keyint_min", str(gop),
                    "-sc_threshold", "0", "-bf", str(bframes), *extra, "-pix_fmt", "yuv420p",
                    str(path)], check=True, timeout=120)
    return path


def probe(path):
    """(stream dict, packets list with MD5 hashes) of the first video stream."""
    out = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_packets",
                          "-show_data_hash", "MD5", "-show_streams", "-show_format", "-of", "json",
                          str(path)], capture_output=True, text=True, check=True).stdout
    doc = json.loads(out)
    return doc["streams"][0], doc["packets"], doc["format"]


def decode_errors(path):
    """What `ffmpeg -v error -i path -f null -` prints: '' for a file that decodes clean."""
    p = subprocess.run(["ffmpeg", "-v", "error", "-i", str(path), "-f", "null", "-"],
                       capture_output=True, text=True, timeout=120)
    return p.stderr.strip() + ("" if p.returncode == 0 else f" (exit {p.returncode})")


def wait_for(cond, timeout, what):
    """conftest's wait_for, with the timeout and the description in the order these tests use."""
    return conftest.wait_for(cond, timeout=timeout, what=what)


def segments(dir_, camera):
    d = pathlib.Path(dir_) / camera
    return sorted(p for p in d.glob("*.mp4")) if d.exists() else []


def parts(dir_, camera):
    d = pathlib.Path(dir_) / camera
    return sorted(d.glob("*.part")) if d.exists() else []


def record_cmd(framering_bin, ring, dir_, *args):
    return [framering_bin, "record", "--ring", ring, "--dir", str(dir_), *args]


def ingest_cmd(framering_bin, ring, source, *args, history="30s"):
    return [framering_bin, "ingest", "--ring", ring, "--source", str(source), "--metrics-addr",
            "0", "--slots", "4", "--packet-history", history, *args]
