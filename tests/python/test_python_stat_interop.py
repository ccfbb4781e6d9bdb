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
