"""Helpers of the reliability tests: run a framering command with a hard timeout, make media
with the ffmpeg CLI, list leftovers in the shm directory. Fixtures (framering_bin, ring_name,
procs, port) come from tests/conftest.py; pure helpers are reused from tests/ingest/ingest_ring.py.

These tests use the real shm directory (/dev/shm, or $FRAMERING_SHM_DIR): the permission tests
need a directory other users can traverse, as /dev/shm is."""
import json
import os
import pathlib
import subprocess
import sys

import pytest

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "ingest"))

from ingest_ring import (OPENCV_DATA, VTEST, ffprobe_frame_count, free_port,  # noqa: E402,F401
                         summary, wait_for)

SHM = pathlib.Path(os.environ.get("FRAMERING_SHM_DIR") or "/dev/shm")


def run(args, timeout=60, **kw):
    """Runs a command to completion; the timeout is the test's "never hangs" bound."""
    return subprocess.run([str(a) for a in args], capture_output=True, text=True,
                          timeout=timeout, **kw)


def stat_json(framering_bin, ring):
    p = run([framering_bin, "stat", ring, "--json"], timeout=30)
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout)[0]


def ffmpeg(*args):
    subprocess.run(["ffmpeg", "-v", "error", "-y", *[str(a) for a in args]], check=True,
                   timeout=120)


def make_clip(path, seconds=2, size="320x240", rate=25, extra=()):
    """An H.264 test pattern clip (mp4/mkv/avi by extension)."""
    ffmpeg("-f", "lavfi", "-i", f"testsrc2=size={size}:rate={rate}", "-t", seconds,
           "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", *extra, path)
    return path


def truncated_copy(src, dst, keep_bytes):
    with open(src, "rb") as f:
        dst.write_bytes(f.read(keep_bytes))
    return dst


def shm_leftovers(ring):
    return sorted(p.name for p in SHM.glob(f"framering.{ring}*"))


def assert_no_crash(proc):
    """A negative return code is a signal: a crash, never an acceptable answer to bad input."""
    assert proc.returncode >= 0, f"killed by signal {-proc.returncode}:\n{proc.stderr[-3000:]}"


class StallingServer:
    """Accepts TCP connections and never answers: an RTSP camera that hangs mid-handshake."""

    def __init__(self):
        import socket
        import threading
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self.accepted = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepted.append(conn)  # held open, never read or written

    def close(self):
        self.sock.close()
        for c in self.accepted:
            c.close()


@pytest.fixture
def stalling_server():
    """A StallingServer for one test (import this fixture into the test module)."""
    s = StallingServer()
    yield s
    s.close()


def start_stalled_ingest(procs, framering_bin, ring, server, url):
    """Starts ingest on `url` (served by `server`, a StallingServer) with a 600 s I/O timeout and
    returns it once the server accepted its connection: it hangs in the RTSP handshake."""
    p = procs.start([framering_bin, "ingest", "--ring", ring, "--source", url, "--timeout", "600",
                     "--metrics-addr", "0"], text=True)
    wait_for(lambda: server.accepted, timeout=20, what="ingest to connect")
    return p
