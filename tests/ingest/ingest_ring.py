"""Test helpers for ingest: run `framering ingest`, read a kept ring segment, ask `framering stat`.

RingFile reads /dev/shm/framering.<ring> with the offsets of
ringbuf/include/framering/ringbuf/layout.hpp (the Python package is not needed for these tests).
"""
import atexit
import hashlib
import json
import mmap
import os
import pathlib
import re
import struct
import shutil
import subprocess
import tempfile

OPENCV_DATA = pathlib.Path("/usr/share/doc/opencv-doc/examples/data")
VTEST = OPENCV_DATA / "vtest.avi"

def _private_shm_dir():
    """A tmpfs directory of our own: rings kept with --keep for inspection have no writer, and
    any `cleanup_stale()` in /dev/shm (other suites, the supervisor) would rightly remove them."""
    if os.environ.get("FRAMERING_SHM_DIR"):
        return pathlib.Path(os.environ["FRAMERING_SHM_DIR"])
    path = pathlib.Path(tempfile.mkdtemp(prefix="fr-ingest-tests-", dir="/dev/shm"))
    atexit.register(shutil.rmtree, path, True)
    return path


SHM = _private_shm_dir()
ENV = dict(os.environ, FRAMERING_SHM_DIR=str(SHM))  # pass to every framering process

# layout.hpp offsets
HDR_SLOT_TABLE_OFFSET = 16
HDR_SLOT_COUNT = 36
HDR_PAYLOAD_OFFSET = 40
HDR_SLOT_STRIDE = 48
HDR_FRAME_BYTES = 56
HDR_RATE_NUM, HDR_RATE_DEN = 176, 180
HDR_CURSOR = 384
SLOT_ENTRY_BYTES = 128
SLOT_SEQ, SLOT_FRAME_NO, SLOT_PTS_NS, SLOT_CAPTURE_NS, SLOT_PUBLISH_NS = 0, 8, 16, 24, 32
SLOT_FLAGS = 40
FLAG_KEYFRAME, FLAG_DECODE_ERROR, FLAG_RESIZED = 1, 2, 4

SUMMARY = re.compile(r"published (\d+) frames \(\d+ MiB\), \d+ aborted, (\d+) decode errors, (\d+) reconnects")


class RingFile:
    """A read-only view of a ring segment left in /dev/shm (ingest --keep)."""

    def __init__(self, ring):
        self.path = SHM / f"framering.{ring}"
        with open(self.path, "rb") as f:
            self.map = mmap.mmap(f.fileno(), 0, prot=mmap.PROT_READ)
        u32 = lambda off: struct.unpack_from("<I", self.map, off)[0]
        u64 = lambda off: struct.unpack_from("<Q", self.map, off)[0]
        self.slots = u32(HDR_SLOT_COUNT)
        self.slot_table = u64(HDR_SLOT_TABLE_OFFSET)
        self.payload_offset = u64(HDR_PAYLOAD_OFFSET)
        self.stride = u64(HDR_SLOT_STRIDE)
        self.frame_bytes = u64(HDR_FRAME_BYTES)
        self.rate = (u32(HDR_RATE_NUM), u32(HDR_RATE_DEN))

    @property
    def cursor(self):
        return struct.unpack_from("<Q", self.map, HDR_CURSOR)[0]

    def entry(self, frame_no):
        base = self.slot_table + (frame_no % self.slots) * SLOT_ENTRY_BYTES
        seq, number, pts = struct.unpack_from("<QQq", self.map, base)
        flags = struct.unpack_from("<I", self.map, base + SLOT_FLAGS)[0]
        capture, publish = struct.unpack_from("<QQ", self.map, base + SLOT_CAPTURE_NS)
        return {"seq": seq, "frame_no": number, "pts_ns": pts, "flags": flags,
                "capture_ns": capture, "publish_ns": publish}

    def held(self):
        """Frame numbers still in the ring, oldest first."""
        return list(range(max(0, self.cursor - self.slots), self.cursor))

    def payload(self, frame_no):
        e = self.entry(frame_no)
        assert e["frame_no"] == frame_no and e["seq"] == 2 * frame_no + 2, e
        off = self.payload_offset + (frame_no % self.slots) * self.stride
        return self.map[off:off + self.frame_bytes]

    def close(self):
        self.map.close()


def run_ingest(framering_bin, ring, source, *args, timeout=120):
    """Runs ingest to completion; returns (returncode, stderr)."""
    p = subprocess.run([framering_bin, "ingest", "--ring", ring, "--source", str(source),
                        "--metrics-addr", "0", *args],
                       capture_output=True, text=True, timeout=timeout, env=ENV)
    return p.returncode, p.stderr


def summary(stderr):
    """(frames, decode_errors, reconnects) from ingest's last log line."""
    m = SUMMARY.findall(stderr)
    assert m, f"no summary line in:\n{stderr[-2000:]}"
    return tuple(int(x) for x in m[-1])


def stat_json(framering_bin, ring):
    p = subprocess.run([framering_bin, "stat", ring, "--json"], capture_output=True, text=True,
                       timeout=30, env=ENV)
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout)[0]


def ffprobe_frame_count(path):
    out = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v:0", "-count_frames",
                          "-show_entries", "stream=nb_read_frames", "-of", "csv=p=0", str(path)],
                         capture_output=True, text=True, check=True).stdout
    return int(out.strip().splitlines()[0].strip(","))


def ffmpeg_frame_hashes(path, frame_bytes, wanted, pix_fmt="bgr24"):
    """md5 of each decoded frame (ffmpeg CLI, -pix_fmt pix_fmt) whose number is in `wanted`."""
    wanted = set(wanted)
    hashes = {}
    proc = subprocess.Popen(["ffmpeg", "-v", "error", "-i", str(path), "-fps_mode", "passthrough",
                             "-pix_fmt", pix_fmt, "-f", "rawvideo", "-"],
                            stdout=subprocess.PIPE)
    n = 0
    try:
        while len(hashes) < len(wanted):
            buf = proc.stdout.read(frame_bytes)
            if len(buf) < frame_bytes:
                break
            if n in wanted:
                hashes[n] = hashlib.md5(buf).hexdigest()
            n += 1
    finally:
        proc.stdout.close()
        proc.kill()
        proc.wait()
    return hashes


# The shared polling and port helpers (tests/conftest.py), re-exported for this directory's tests.
from conftest import free_port, wait_for  # noqa: E402,F401
