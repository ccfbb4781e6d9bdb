"""examples/brightness_worker.py: NumPy statistics on frames read in place, as JSON-line events;
consumer groups split the frames; signals and bad arguments end it cleanly."""
import json
import os
import pathlib
import signal
import subprocess

import numpy as np
import pytest

import framering
from conftest import json_lines
from pyhelpers import PYTHON, ROOT, py_env, wait_until

WORKER = str(ROOT / "examples" / "brightness_worker.py")


def start_worker(procs, ring, *extra, events=None):
    args = [PYTHON, WORKER, "--ring", ring, "--mode", "every", *extra]
    if events:
        args += ["--events", str(events)]
    return procs.start(args, env=py_env(), text=True)


def stamped(n):
    """Frame n of a 24x32 bgr24 ring: channels b, g, r = n, 2n, 3n (so means are known)."""
    frame = np.empty((24, 32, 3), np.uint8)
    frame[...] = (n, 2 * n, 3 * n)
    return frame


def events_of(path):
    return json_lines(path)


def test_events_carry_the_frames_brightness(ring_name, procs, tmp_path):
    with framering.Writer.image(ring_name, 32, 24, "bgr24", slots=16) as w:
        for n in range(10):
            w.write(stamped(n), pts_ns=n * 100)
        worker = start_worker(procs, ring_name, events=tmp_path / "ev.jsonl")
        for n in range(10, 12):
            w.write(stamped(n), pts_ns=n * 100)
        wait_until(lambda: len(events_of(tmp_path / "ev.jsonl")) == 12, timeout=20,
                   what="12 events")  # then the writer goes away and the worker ends
    _, err = worker.communicate(timeout=20)
    assert worker.returncode == 0, err
    events = events_of(tmp_path / "ev.jsonl")
    assert [e["frame_no"] for e in events] == list(range(12))
    for e in events:
        n = e["frame_no"]
        assert e["channel_means"] == [n, 2 * n, 3 * n]
        assert e["mean"] == pytest.approx(0.114 * n + 0.587 * 2 * n + 0.299 * 3 * n, abs=1e-3)
        assert (e["min"], e["max"]) == (n, 3 * n)
        assert (e["ring"], e["worker"], e["kind"], e["pts_ns"], e["seq"]) == \
            (ring_name, "brightness", "brightness", n * 100, 2 * n + 2)
    assert "12 events" in err


def test_group_members_split_the_frames(ring_name, procs, tmp_path):
    with framering.Writer(ring_name, shape=(8, 8, 1), pix_fmt="gray8", slots=32) as w:
        for n in range(20):
            w.write(np.full((8, 8, 1), n, np.uint8))
        workers = [start_worker(procs, ring_name, "--group", "g", "--member", str(i), "--members", "2",
                                events=tmp_path / f"m{i}.jsonl") for i in range(2)]
        wait_until(lambda: sum(len(events_of(tmp_path / f"m{i}.jsonl")) for i in range(2)) == 20,
                   timeout=20, what="20 events from the two members")
    for p in workers:
        _, err = p.communicate(timeout=20)
        assert p.returncode == 0, err
    got = [[e["frame_no"] for e in events_of(tmp_path / f"m{i}.jsonl")] for i in range(2)]
    assert got == [list(range(0, 20, 2)), list(range(1, 20, 2))]
    assert {e["worker"] for e in events_of(tmp_path / "m1.jsonl")} == {"brightness-1"}
    assert all(e["mean"] == e["frame_no"] for e in events_of(tmp_path / "m0.jsonl"))


def test_sigterm_exits_zero_and_bad_arguments_exit_two(ring_name, procs):
    with framering.Writer(ring_name, shape=(4, 4, 1), pix_fmt="gray8") as w:
        worker = start_worker(procs, ring_name, events=None)
        w.write(np.zeros((4, 4, 1), np.uint8))
        first = worker.stdout.readline()
        assert json.loads(first)["frame_no"] == 0
        worker.send_signal(signal.SIGTERM)
        worker.communicate(timeout=10)
        assert worker.returncode == 0
    bad = subprocess.run([PYTHON, WORKER, "--ring", ring_name, "--member", "2", "--members", "2"],
                         capture_output=True, text=True, env=py_env(), timeout=20)
    assert bad.returncode == 2 and "--member must be in [0, --members)" in bad.stderr
    missing = subprocess.run([PYTHON, WORKER, "--ring", ring_name], capture_output=True, text=True,
                             env=py_env(), timeout=20)
    assert missing.returncode == 4 and f"no ring '{ring_name}'" in missing.stderr


def test_ingest_waits_for_a_python_reader_and_it_gets_every_frame(framering_bin, ring_name, procs,
                                                                  tmp_path):
    # A Python reader publishes its position through ReaderStatsPublisher.update(), so
    # `ingest --wait-for-readers` holds back for it as for a C++ worker: all 795 frames of
    # vtest.avi pass a 4-slot ring to a reader that is much slower than the decoder.
    from pyhelpers import VTEST
    if not VTEST.exists():
        pytest.skip("opencv-doc's vtest.avi is missing")
    events = tmp_path / "ev.jsonl"
    ingest = procs.start([framering_bin, "ingest", "--ring", ring_name, "--source", str(VTEST),
                          "--slots", "4", "--wait-for-readers", "1", "--metrics-addr", "0"],
                         env=py_env())
    # The example needs the ring to exist; the writer then holds before its last free slot until
    # a reader is attached, so a reader starting at the oldest frame still gets frame 0.
    segment = pathlib.Path(os.environ.get("FRAMERING_SHM_DIR", "/dev/shm")) / f"framering.{ring_name}"
    wait_until(segment.exists, timeout=30, what="the ring")
    worker = start_worker(procs, ring_name, events=events)
    assert ingest.wait(timeout=180) == 0, ingest.stderr.read()
    _, err = worker.communicate(timeout=60)  # the writer is gone once every frame was offered
    assert worker.returncode == 0, err
    assert [e["frame_no"] for e in events_of(events)] == list(range(795))
    assert "lapped 0, torn 0, skipped 0" in err, err
