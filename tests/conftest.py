"""Shared pytest fixtures: the framering binary, unique ring names, free ports, shm hygiene.

Run with Debian's /usr/bin/python3 (it has numpy): `make test` does this for you.
"""
import os
import pathlib
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "python"))
OPENCV_DATA = pathlib.Path("/usr/share/doc/opencv-doc/examples/data")
VTEST = OPENCV_DATA / "vtest.avi"


def _find_bin():
    env = os.environ.get("FRAMERING_BIN")
    if env:
        return pathlib.Path(env)
    for preset in ("release", "debug", "asan"):
        cand = ROOT / "build" / preset / "bin" / "framering"
        if cand.exists():
            return cand
    return ROOT / "build" / "release" / "bin" / "framering"


@pytest.fixture(scope="session")
def framering_bin():
    path = _find_bin()
    if not path.exists():
        pytest.fail(f"framering binary not found at {path}: run `make build` first")
    return str(path)


@pytest.fixture
def ring_name():
    """A unique ring name; its segment and reader-stats files are removed afterwards."""
    name = "t" + uuid.uuid4().hex[:12]
    yield name
    shm = pathlib.Path(os.environ.get("FRAMERING_SHM_DIR", "/dev/shm"))
    for p in shm.glob(f"framering.{name}*"):
        try:
            p.unlink()
        except OSError:
            pass


@pytest.fixture
def private_shm(monkeypatch):
    """A shm directory of this test's own, exported as FRAMERING_SHM_DIR (so the framering
    processes it starts use it too). For tests that leave a ring without a live writer on purpose:
    in the shared /dev/shm, any `cleanup_stale()` on the host (a `framering run` starting or
    stopping, the ring tests) rightly removes such a ring while the test still inspects it."""
    path = pathlib.Path(tempfile.mkdtemp(prefix="framering-test-", dir="/dev/shm"))
    monkeypatch.setenv("FRAMERING_SHM_DIR", str(path))
    yield path
    shutil.rmtree(path, ignore_errors=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def port():
    return free_port()


class Procs:
    """Starts processes and guarantees they are gone when the test ends."""

    def __init__(self):
        self.procs = []

    def start(self, args, **kw):
        kw.setdefault("stdout", subprocess.PIPE)
        kw.setdefault("stderr", subprocess.PIPE)
        p = subprocess.Popen(args, **kw)
        self.procs.append(p)
        return p

    def stop_all(self):
        for p in self.procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        deadline = time.time() + 5
        for p in self.procs:
            try:
                p.wait(timeout=max(0.1, deadline - time.time()))
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


@pytest.fixture
def procs():
    p = Procs()
    yield p
    p.stop_all()


def json_lines(path):
    """The JSON objects of a JSON-lines file another process may be appending to right now.

    Only lines ended by a newline count: the text after the last newline is a line still being
    written, and it is read whole on a later call. A missing file has no lines yet.
    """
    import json
    path = pathlib.Path(path)
    try:
        text = path.read_text()
    except FileNotFoundError:
        return []
    complete = text[:text.rfind("\n") + 1]
    return [json.loads(line) for line in complete.splitlines() if line.strip()]


def wait_for(predicate, timeout=10.0, interval=0.05, what="condition"):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


@pytest.fixture
def rtsp_camera(port):
    """A real RTSP camera: gst-rtsp-server streaming H.264 640x480 at 25 fps on
    rtsp://127.0.0.1:<port>/cam (tests/ingest/rtsp_camera.py). .stop() then .start() is an outage
    on the same port; build RtspCamera(port, user, password) yourself for an authenticated one."""
    import importlib.util
    spec = importlib.util.spec_from_file_location("rtsp_camera",
                                                  ROOT / "tests" / "ingest" / "rtsp_camera.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    cam = module.RtspCamera(port).start()
    yield cam
    cam.stop()
