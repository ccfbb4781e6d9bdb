"""Helpers for the worker tests: per-frame crc32 of vtest.avi as decoded by the ffmpeg CLI, and
reading a worker's JSON-lines events."""
import functools
import json
import pathlib
import subprocess
import zlib

from conftest import json_lines
from conftest import wait_for as shared_wait_for

VTEST = pathlib.Path("/usr/share/doc/opencv-doc/examples/data/vtest.avi")
VTEST_FRAME_BYTES = 768 * 576 * 3


@functools.lru_cache(maxsize=None)
def ffmpeg_crcs(path=str(VTEST), frame_bytes=VTEST_FRAME_BYTES):
    """crc32 (8 hex digits) of each frame of `ffmpeg -i path -f rawvideo -pix_fmt bgr24 -`."""
    p = subprocess.Popen(["ffmpeg", "-v", "error", "-i", path, "-f", "rawvideo", "-pix_fmt", "bgr24",
                          "-"], stdout=subprocess.PIPE)
    crcs = []
    while True:
        frame = p.stdout.read(frame_bytes)
        if len(frame) < frame_bytes:
            assert not frame, "ffmpeg output is not a whole number of frames"
            break
        crcs.append("%08x" % zlib.crc32(frame))
    assert p.wait() == 0
    return tuple(crcs)


def read_events(path):
    return json_lines(path)


def wait_for(predicate, timeout=20.0, what="condition"):
    """The shared conftest wait_for (tests/conftest.py), with this directory's longer default."""
    return shared_wait_for(predicate, timeout=timeout, what=what)