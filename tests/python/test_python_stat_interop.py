"""A ring made by the Python Writer is a ring to the C++ side: `framering stat --json` reads its
geometry, cursor, state, epoch and writer, and shows Python readers' stats files."""
import json
import os
import subprocess

import numpy as np

import framering


def stat_json(framering_bin, name):
    out = subprocess.run([framering_bin, "stat", "--json", name], capture_output=True, text=True,
                         timeout=20)
    assert out.returncode == 0, out.stderr
    (ring,) = json.loads(out.stdout)
    return ring


def test_cpp_stat_reads_a_python_writers_ring(framering_bin, ring_name):
    with framering.Writer(ring_name, shape=(3, 40, 50), dtype=np.float32, slots=5, rate=(25, 1)) as w:
        for n in range(12):
            w.write(np.full(w.shape, n, np.float32))
        s = stat_json(framering_bin, ring_name)
        assert s["ring"] == ring_name and s["state"] == "LIVE" and s["writer_alive"] is True
        assert s["writer_pid"] == os.getpid()
        assert s["epoch"] == f"{w.info.epoch:016x}"
        assert s["cursor"] == 12 and s["slots"] == 5
        assert s["frame_bytes"] == 3 * 40 * 50 * 4 and s["slot_bytes"] == 24576
        assert s["segment_bytes"] == os.path.getsize(framering.segment_path(ring_name))
        assert s["geometry"] == {"shape": [3, 40, 50], "typestr": "<f4", "pix_fmt": "raw",
                                 "strides": [8000, 200, 4]}
        assert s["readers"] == []

        ring = framering.Ring(ring_name, start=0)
        with framering.ReaderStatsPublisher(ring_name, "py-brightness") as stats:
            got = [f.frame_no for f in ring.frames(timeout=0.05)]
            stats.update(ring)
            (reader,) = stat_json(framering_bin, ring_name)["readers"]
        assert got == list(range(8, 12)) and ring.counters.lapped == 8
        assert reader["reader"] == "py-brightness" and reader["pid"] == os.getpid()
        assert reader["position"] == 12 and reader["lag"] == 0 and reader["same_epoch"] is True
        assert reader["frames_read"] == 4 and reader["dropped"]["lapped"] == 8
        assert reader["bytes_in_place"] == 4 * 24000
    assert not os.path.exists(framering.segment_path(ring_name))


def test_cpp_stat_sees_closed_and_image_rings(framering_bin, ring_name):
    with framering.Writer.image(ring_name, 320, 240, "rgb24", slots=2, keep=True) as w:
        w.write(np.zeros((240, 320, 3), np.uint8))
    s = stat_json(framering_bin, ring_name)
    assert s["state"] == "CLOSED" and s["writer_alive"] is False and s["cursor"] == 1
    assert s["geometry"]["shape"] == [240, 320, 3] and s["geometry"]["pix_fmt"] == "rgb24"


def test_python_readers_liveness_is_their_lock_for_python_and_cpp_alike(framering_bin, ring_name):
    """A Python reader holds the lock on its stats file for its life; the Python package and
    `framering stat` both read liveness from that lock: alive while stopped, dead once killed,
    dead still when its file names a live pid (this test's) that holds no lock."""
    import signal
    import struct
    import subprocess as sp
    import sys

    def both():
        (py,) = [s for s in framering.read_reader_stats(ring_name) if s["reader"] == "child"]
        (cpp,) = [r for r in stat_json(framering_bin, ring_name)["readers"] if r["reader"] == "child"]
        return py, cpp

    with framering.Writer(ring_name, shape=(8, 8), dtype=np.uint8, slots=2):
        child = sp.Popen([sys.executable, "-c", (
            "import sys, time, framering\n"
            f"p = framering.ReaderStatsPublisher({ring_name!r}, 'child')\n"
            "print('ready', flush=True)\n"
            "time.sleep(120)\n")], stdout=sp.PIPE, text=True,
            env={**os.environ, "PYTHONPATH": os.path.dirname(os.path.dirname(framering.__file__))})
        try:
            assert child.stdout.readline().strip() == "ready"
            py, cpp = both()
            assert py["alive"] is True and cpp["alive"] is True and py["pid"] == child.pid
            child.send_signal(signal.SIGSTOP)
            py, cpp = both()
            assert py["alive"] is True and cpp["alive"] is True, "a stopped reader is alive"
        finally:
            child.kill()
            child.wait(timeout=10)
        py, cpp = both()
        assert py["alive"] is False and cpp["alive"] is False and cpp["status"] == "dead"
        path = framering.segment_path(ring_name) + ".reader.child"
        with open(path, "r+b") as f:  # the pid is reused by a live process: still dead
            f.seek(framering.layout.stats.PID)
            f.write(struct.pack("<I", os.getpid()))
        py, cpp = both()
        assert py["pid"] == cpp["pid"] == os.getpid()
        assert py["alive"] is False and cpp["alive"] is False
        os.unlink(path)
