"""`framering stat` (one-shot and --watch, table and --json) against a live ring with a reader:
rates, lag, drops and liveness of writer and reader.

Each test keeps its rings in a shm directory of its own (`private_shm`): the dead-writer test
leaves a ring without a live writer behind on purpose, which any `cleanup_stale()` on the host
would remove from /dev/shm while the test still asks `framering stat` about it."""
import json
import os
import pathlib
import signal
import subprocess
import sys

import pytest

from metrics_helpers import wait_for

HELPER = pathlib.Path(__file__).with_name("ring_helper.py")
FRAME_BYTES = 240 * 320 * 3
SCREEN = "\x1b[H\x1b[2J"  # what --watch prints before each refresh of the table


@pytest.fixture(autouse=True)
def own_shm(private_shm):
    return private_shm


def start_helper(procs, ring_name, reader="pyreader"):
    p = procs.start([sys.executable, str(HELPER), ring_name, reader], text=True)
    assert p.stdout.readline().strip() == "ready", p.stderr.read()
    return p


def stat_json(framering_bin, *args):
    out = subprocess.run([framering_bin, "stat", "--json", *args], capture_output=True, text=True, timeout=20)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def reader_of(rings, ring_name, reader="pyreader"):
    (ring,) = [r for r in rings if r["ring"] == ring_name]
    (rd,) = [r for r in ring["readers"] if r["reader"] == reader]
    return ring, rd


def test_one_shot_json_has_rates_from_two_samples(framering_bin, ring_name, procs):
    start_helper(procs, ring_name)
    wait_for(lambda: reader_of(stat_json(framering_bin, "--window", "0", ring_name), ring_name)[1]["frames_read"] > 0,
             timeout=30, what="reader stats to show frames read")

    # The rates cover the 0.5 s window only: a loaded machine may not run the helper at all in
    # one window, so ask again until a window saw frames (the rates of any window must be
    # consistent; that some window has frames is the helper's doing, not stat's).
    def sample_with_frames():
        ring, rd = reader_of(stat_json(framering_bin, "--window", "0.5", ring_name), ring_name)
        assert ring["mb_per_s"] is not None and rd["fps"] is not None, (ring, rd)
        return (ring, rd) if ring["mb_per_s"] > 0 and rd["fps"] > 0 else None
    ring, rd = wait_for(sample_with_frames, timeout=30, what="a 0.5 s window in which frames were written and read")
    assert ring["writer_alive"] is True
    assert rd["alive"] is True
    assert ring["mb_per_s"] > 0
    assert rd["fps"] > 0
    # Bytes in place per frame read is exactly one frame: the two rates must agree.
    assert abs(rd["mb_per_s_in_place"] - rd["fps"] * FRAME_BYTES / 1e6) < 1e-6 * FRAME_BYTES
    assert rd["drops_per_s"] >= 0
    assert rd["bytes_copied"] == 0
    # --window 0: no second sample, so no rates.
    ring0, rd0 = reader_of(stat_json(framering_bin, "--window", "0", ring_name), ring_name)
    assert ring0["mb_per_s"] is None and rd0["fps"] is None and rd0["mb_per_s_in_place"] is None


def test_watch_json_prints_one_document_per_refresh_and_stops_on_sigint(framering_bin, ring_name, procs):
    start_helper(procs, ring_name)
    w = procs.start([framering_bin, "stat", "--watch", "--json", "--interval", "0.3", ring_name], text=True)
    docs = [json.loads(w.stdout.readline()) for _ in range(3)]
    # The cursor must move between refreshes; on a loaded machine the helper may write nothing
    # for a few of them, so read on (one document per 0.3 s) until it has.
    while docs[-1][0]["cursor"] == docs[0][0]["cursor"] and len(docs) < 200:
        docs.append(json.loads(w.stdout.readline()))
    w.send_signal(signal.SIGINT)
    assert w.wait(timeout=10) == 0
    assert docs[0][0]["mb_per_s"] is None, "the first refresh has nothing to compute rates from"
    for doc in docs[1:]:
        ring, rd = reader_of(doc, ring_name)
        assert ring["mb_per_s"] is not None and rd["mb_per_s_in_place"] is not None
    cursors = [d[0]["cursor"] for d in docs]
    assert cursors == sorted(cursors) and cursors[-1] > cursors[0]


def test_watch_table_shows_rings_and_readers(framering_bin, ring_name, procs):
    start_helper(procs, ring_name)
    w = procs.start([framering_bin, "stat", "--watch", "--interval", "0.2", ring_name])
    seen = b""
    while seen.count(SCREEN.encode()) < 3:  # a few refreshes, however long they take to come
        chunk = os.read(w.stdout.fileno(), 65536)
        assert chunk, f"stat --watch ended early (exit {w.wait(timeout=10)}): {seen!r}"
        seen += chunk
    w.send_signal(signal.SIGTERM)
    rest, _ = w.communicate(timeout=10)
    assert w.returncode == 0
    out = (seen + rest).decode()
    screens = out.split(SCREEN)
    assert len(screens) >= 3, out
    last = screens[-1]
    for column in ("RING", "ALIVE", "STATUS", "FPS", "MB/s", "READER", "LAG", "MB/s_IN", "LAPPED", "TORN", "SKIPPED"):
        assert column in last, column
    assert ring_name in last and "pyreader" in last
    assert "240x320x3 bgr24" in last


def test_dead_writer_and_reader_are_shown_dead(framering_bin, ring_name, procs):
    p = start_helper(procs, ring_name)
    wait_for(lambda: reader_of(stat_json(framering_bin, "--window", "0", ring_name), ring_name)[1]["frames_read"] > 0,
             timeout=30, what="frames read")
    p.send_signal(signal.SIGKILL)  # no cleanup: segment and stats file stay behind
    p.wait(timeout=5)
    # The writer's heartbeat is trusted for a moment (then its flock is probed): not instant.
    wait_for(lambda: not reader_of(stat_json(framering_bin, "--window", "0", ring_name), ring_name)[0]["writer_alive"],
             timeout=30, what="writer to be reported dead")
    ring, rd = reader_of(stat_json(framering_bin, "--window", "0", ring_name), ring_name)
    assert rd["alive"] is False, rd
    table = subprocess.run([framering_bin, "stat", "--window", "0", ring_name], capture_output=True, text=True,
                           timeout=20)
    assert table.returncode == 0
    line = next(ln for ln in table.stdout.splitlines() if ln.startswith(ring_name))
    assert " NO " in line, table.stdout
    rline = next(ln for ln in table.stdout.splitlines() if "pyreader" in ln)
    assert " dead " in rline, table.stdout
    assert rd["status"] == "dead", rd
