"""`framering ingest --wait-for-readers N`: a file source loses no frame to slow workers.

Real workers (checksum analytic, every mode) read a 4-slot ring fed with vtest.avi (795 frames),
far fewer slots than frames. Slowness is made deterministic with SIGSTOP: a stopped worker must
hold the writer back (and `stat` shows it alive but stalled), a killed one must not, and neither
must a dead reader's stats file whose pid now names another live process.
"""
import json
import os
import pathlib
import signal
import struct
import subprocess
import time

import pytest

from conftest import json_lines, wait_for
from ingest_ring import VTEST

import framering

pytestmark = pytest.mark.skipif(not VTEST.exists(), reason="opencv-doc's vtest.avi is missing")

VTEST_FRAMES = 795
SLOTS = 4


def stat(framering_bin, ring):
    out = subprocess.run([framering_bin, "stat", ring, "--json"], capture_output=True, text=True,
                         timeout=30)
    if out.returncode != 0:
        return None
    return json.loads(out.stdout)[0]


def start_worker(procs, framering_bin, ring, name, events):
    return procs.start([framering_bin, "worker", "--ring", ring, "--analytic", "checksum",
                        "--mode", "every", "--name", name, "--events", str(events),
                        "--metrics-addr", "0"])


def start_ingest(procs, framering_bin, ring, readers, *extra):
    return procs.start([framering_bin, "ingest", "--ring", ring, "--source", str(VTEST),
                        "--slots", str(SLOTS), "--wait-for-readers", str(readers),
                        "--metrics-addr", "0", "--keep", *extra])


def frames_in(events):
    return json_lines(events)


def reader(st, name):
    return next((r for r in st["readers"] if r["reader"] == name), None)


def test_a_stopped_worker_holds_the_writer_and_then_gets_every_frame(
        framering_bin, ring_name, private_shm, procs, tmp_path):
    events = tmp_path / "a.jsonl"
    worker = start_worker(procs, framering_bin, ring_name, "a", events)
    ingest = start_ingest(procs, framering_bin, ring_name, 1)
    wait_for(lambda: len(frames_in(events)) >= 20, timeout=60, what="the worker reading frames")
    worker.send_signal(signal.SIGSTOP)
    try:
        # While the worker is stopped the writer may fill the slots up to the worker's position
        # and no further: the cursor settles at most SLOTS frames past what the worker wants.
        def settled():
            a = stat(framering_bin, ring_name)
            time.sleep(0.5)
            b = stat(framering_bin, ring_name)
            return b if a and b and a["cursor"] == b["cursor"] else None
        st = wait_for(settled, timeout=30, what="the writer to stop advancing")
        assert ingest.poll() is None, "ingest finished although a worker was stopped"
        position = reader(st, "a")["position"]
        assert st["cursor"] <= position + SLOTS
        assert st["cursor"] < VTEST_FRAMES
        # Alive (it holds its stats file's lock) but stalled: its heartbeat stopped with it.
        stalled = wait_for(lambda: (s := stat(framering_bin, ring_name)) and
                           (r := reader(s, "a"))["status"] == "stalled" and r,
                           timeout=30, what="stat to show the stopped worker as stalled")
        assert stalled["alive"] is True and stalled["heartbeat_age_s"] > 3, stalled
    finally:
        worker.send_signal(signal.SIGCONT)
    assert ingest.wait(timeout=120) == 0
    wait_for(lambda: len(frames_in(events)) >= VTEST_FRAMES, timeout=60,
             what="the worker reading the rest")
    got = [e["frame_no"] for e in frames_in(events)]
    assert got == list(range(VTEST_FRAMES))
    st = stat(framering_bin, ring_name)
    assert reader(st, "a")["dropped"] == {"lapped": 0, "torn": 0, "skipped": 0}


def test_the_writer_waits_for_n_workers_and_each_gets_frame_zero(
        framering_bin, ring_name, private_shm, procs, tmp_path):
    first, second = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    start_worker(procs, framering_bin, ring_name, "a", first)
    ingest = start_ingest(procs, framering_bin, ring_name, 2)
    # One worker of the two: the writer stops before the ring's last free slot.
    st = wait_for(lambda: (s := stat(framering_bin, ring_name)) and s["cursor"] >= SLOTS - 1 and s,
                  timeout=60, what="the first frames")
    time.sleep(1.0)
    st = stat(framering_bin, ring_name)
    assert st["cursor"] == SLOTS - 1, "the writer went on with 1 of the 2 workers it waits for"
    assert ingest.poll() is None
    start_worker(procs, framering_bin, ring_name, "b", second)
    assert ingest.wait(timeout=120) == 0
    for events in (first, second):
        wait_for(lambda: len(frames_in(events)) >= VTEST_FRAMES, timeout=60,
                 what=f"{events.name} to hold every frame")
    a, b = frames_in(first), frames_in(second)
    assert [e["frame_no"] for e in a] == list(range(VTEST_FRAMES))
    assert [e["frame_no"] for e in b] == list(range(VTEST_FRAMES))
    assert [e["crc32"] for e in a] == [e["crc32"] for e in b]


def test_a_killed_worker_holds_nothing_and_a_replacement_continues(
        framering_bin, ring_name, private_shm, procs, tmp_path):
    first, second, third = tmp_path / "a.jsonl", tmp_path / "b.jsonl", tmp_path / "c.jsonl"
    doomed = start_worker(procs, framering_bin, ring_name, "a", first)
    start_worker(procs, framering_bin, ring_name, "b", second)
    ingest = start_ingest(procs, framering_bin, ring_name, 2)
    wait_for(lambda: len(frames_in(first)) >= 10, timeout=60, what="the worker reading frames")
    doomed.send_signal(signal.SIGSTOP)  # it holds the writer now...
    doomed.send_signal(signal.SIGKILL)  # ...and dies without removing its stats file
    doomed.wait(timeout=10)
    assert list(pathlib.Path(private_shm).glob(f"framering.{ring_name}.reader.a"))
    # One of the two workers is left: the writer waits for a replacement (as `framering run`
    # starts one), and the dead worker's file must not hold it back once it arrives.
    time.sleep(0.5)
    assert ingest.poll() is None, "the writer went on with 1 of the 2 workers it waits for"
    start_worker(procs, framering_bin, ring_name, "c", third)
    assert ingest.wait(timeout=120) == 0
    assert stat(framering_bin, ring_name)["cursor"] == VTEST_FRAMES
    wait_for(lambda: len(frames_in(second)) >= VTEST_FRAMES, timeout=60,
             what="the worker that stayed to read every frame")
    assert [e["frame_no"] for e in frames_in(second)] == list(range(VTEST_FRAMES))
    # The replacement starts at the oldest frame still held and misses nothing after it.
    wait_for(lambda: frames_in(third) and frames_in(third)[-1]["frame_no"] == VTEST_FRAMES - 1,
             timeout=60, what="the replacement to read to the end")
    got = [e["frame_no"] for e in frames_in(third)]
    assert got == list(range(got[0], VTEST_FRAMES))


def test_a_camera_cannot_be_held_back(framering_bin, ring_name):
    out = subprocess.run([framering_bin, "ingest", "--ring", ring_name, "--source",
                          "rtsp://127.0.0.1:1/cam", "--wait-for-readers", "1", "--metrics-addr",
                          "0"], capture_output=True, text=True, timeout=30)
    assert out.returncode == 2
    assert "--wait-for-readers" in out.stderr and "rtsp://127.0.0.1:1/cam" in out.stderr


def test_a_short_input_waits_for_its_reader_and_for_the_last_frame_to_be_read(
        framering_bin, ring_name, private_shm, procs, tmp_path):
    # Fewer frames than slots never reach the overwrite check: the end of the input must wait
    # for the reader and for it to read everything, or the ring would close (and vanish) first.
    events = tmp_path / "a.jsonl"
    ingest = start_ingest(procs, framering_bin, ring_name, 1, "--max-frames", "3")
    wait_for(lambda: stat(framering_bin, ring_name), timeout=30, what="the ring")
    time.sleep(0.5)
    assert ingest.poll() is None, "ingest ended before any reader attached"
    start_worker(procs, framering_bin, ring_name, "a", events)
    assert ingest.wait(timeout=60) == 0
    assert [e["frame_no"] for e in frames_in(events)] == [0, 1, 2]


def test_a_worker_that_finishes_on_purpose_is_not_waited_for(
        framering_bin, ring_name, private_shm, procs, tmp_path):
    short, full = tmp_path / "short.jsonl", tmp_path / "full.jsonl"
    procs.start([framering_bin, "worker", "--ring", ring_name, "--analytic", "checksum", "--mode",
                 "every", "--name", "short", "--events", str(short), "--metrics-addr", "0",
                 "--max-frames", "50"])
    start_worker(procs, framering_bin, ring_name, "full", full)
    ingest = start_ingest(procs, framering_bin, ring_name, 2)
    # After 50 frames one worker exits 0 and removes its stats file: the writer goes on with the
    # other instead of waiting for a second reader forever.
    assert ingest.wait(timeout=120) == 0
    assert [e["frame_no"] for e in frames_in(short)] == list(range(50))
    assert [e["frame_no"] for e in frames_in(full)] == list(range(VTEST_FRAMES))


def test_a_worker_restarted_under_its_name_is_followed(
        framering_bin, ring_name, private_shm, procs, tmp_path):
    # What `framering run` does after a crash: the same --name, so the same stats file path.
    first, second = tmp_path / "a1.jsonl", tmp_path / "a2.jsonl"
    doomed = start_worker(procs, framering_bin, ring_name, "a", first)
    ingest = start_ingest(procs, framering_bin, ring_name, 1)
    wait_for(lambda: len(frames_in(first)) >= 10, timeout=60, what="the worker reading frames")
    doomed.send_signal(signal.SIGSTOP)
    doomed.send_signal(signal.SIGKILL)
    doomed.wait(timeout=10)
    time.sleep(0.5)
    assert ingest.poll() is None, "the writer went on without the reader it waits for"
    start_worker(procs, framering_bin, ring_name, "a", second)
    assert ingest.wait(timeout=120) == 0
    got = [e["frame_no"] for e in frames_in(second)]
    assert got and got == list(range(got[0], VTEST_FRAMES))
    # The crashed worker held the writer at the frame it was analysing; its replacement starts
    # at the oldest frame certainly intact, just after that one: only the frame in flight at the
    # crash is lost to it.
    assert got[0] <= frames_in(first)[-1]["frame_no"] + 2


def test_a_dead_readers_file_naming_a_reused_pid_holds_nothing(
        framering_bin, ring_name, private_shm, procs, tmp_path):
    """A reader killed without cleanup leaves its stats file; its pid is then reused by another
    live process. The file (right uid, magic, version, ring, epoch; position 0; nobody holds
    its lock) must neither hold the writer nor show as a live reader."""
    ingest = start_ingest(procs, framering_bin, ring_name, 1, "--max-frames", "40")
    st = wait_for(lambda: (s := stat(framering_bin, ring_name)) and s["cursor"] >= SLOTS - 1 and s,
                  timeout=60, what="the writer waiting for its reader at the last free slot")
    unrelated = procs.start(["sleep", "120"])  # the live process the pid now names
    b = bytearray(framering.layout.STATS_BYTES)
    S = framering.layout.stats
    b[S.MAGIC:S.MAGIC + 8] = framering.layout.STATS_MAGIC_BYTES
    struct.pack_into("<II", b, S.VERSION, framering.layout.STATS_VERSION, unrelated.pid)
    b[S.RING:S.RING + len(ring_name)] = ring_name.encode()
    b[S.READER:S.READER + 5] = b"ghost"
    struct.pack_into("<QQ", b, S.HEARTBEAT_NS, time.monotonic_ns(), 0)  # heartbeat, position 0
    struct.pack_into("<Q", b, S.EPOCH, int(st["epoch"], 16))
    (private_shm / f"framering.{ring_name}.reader.ghost").write_bytes(bytes(b))
    ghost = reader(stat(framering_bin, ring_name), "ghost")
    assert ghost["pid"] == unrelated.pid and ghost["same_epoch"] is True
    assert ghost["alive"] is False and ghost["status"] == "dead", ghost
    events = tmp_path / "a.jsonl"
    start_worker(procs, framering_bin, ring_name, "a", events)
    assert ingest.wait(timeout=60) == 0, "the writer was held by a dead reader's file"
    wait_for(lambda: len(frames_in(events)) >= 40, timeout=30, what="the worker's 40 events")
    assert [e["frame_no"] for e in frames_in(events)] == list(range(40))
