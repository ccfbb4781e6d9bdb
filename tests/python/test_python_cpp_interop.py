"""C++ and Python on the same rings: frames `framering ingest` decodes are read in place by the
Python Ring with the same bytes (crc32) the C++ checksum worker saw, and frames a Python Writer
publishes reach `framering worker --analytic checksum` intact."""
import json
import mmap
import zlib

import numpy as np
import pytest

import framering
from pyhelpers import PYTHON, ROOT, VTEST, py_env, wait_until

FRAMES = 60
# One slot more than frames: a reader attaching after the last publish still starts at frame 0
# (the oldest frame certainly intact is cursor - slots + 1).
SLOTS = FRAMES + 1


def checksum_worker(procs, framering_bin, ring, events, *extra):
    return procs.start([framering_bin, "worker", "--ring", ring, "--analytic", "checksum",
                        "--mode", "every", "--events", str(events), "--metrics-addr", "0",
                        "--max-frames", str(FRAMES), *extra], text=True)


def crcs_of(events_path):
    events = [json.loads(line) for line in events_path.read_text().splitlines()]
    assert all(e["kind"] == "checksum" for e in events)
    return {e["frame_no"]: e["crc32"] for e in events}


def attach(name):
    def try_attach():
        try:
            return framering.Ring(name, start=0)
        except framering.NotFoundError:
            return None
    return wait_until(try_attach, timeout=30, what=f"ring '{name}' to appear")


def mapping_of(array):
    """The object at the end of an array's chain of bases: the buffer it is a view of."""
    while isinstance(array, np.ndarray):
        array = array.base
    return array.obj if isinstance(array, memoryview) else array


# vtest.avi is 768x576: packed BGR is (H, W, 3); the 4:2:0 formats are their stacked planes,
# (H*3//2, W), Y in the first H rows.
@pytest.mark.parametrize("pix_fmt,shape", [("bgr24", (576, 768, 3)), ("yuv420p", (864, 768)),
                                           ("nv12", (864, 768))])
def test_ingest_frames_read_in_place_match_the_cpp_checksum_worker(framering_bin, ring_name, procs,
                                                                      tmp_path, pix_fmt, shape):
    events = tmp_path / "checksum.jsonl"
    worker = checksum_worker(procs, framering_bin, ring_name, events)  # waits for the ring
    # The ring holds every frame, so neither reader can be lapped and both see all of them.
    ingest = procs.start([framering_bin, "ingest", "--ring", ring_name, "--source", str(VTEST),
                          "--max-frames", str(FRAMES), "--slots", str(SLOTS), "--keep",
                          "--pix-fmt", pix_fmt, "--metrics-addr", "0"], text=True)
    ring = attach(ring_name)
    assert ring.shape == shape and ring.dtype == np.uint8
    assert ring.geometry.pix_fmt_name == pix_fmt
    assert (ring.geometry.width, ring.geometry.height) == (768, 576)
    python_crcs = {}
    for frame in ring.frames(timeout=30):
        assert frame.array.shape == shape
        assert np.shares_memory(frame.array, ring.slots_array())  # read in place, no copy
        assert isinstance(mapping_of(frame.array), mmap.mmap)
        assert not frame.array.flags.writeable
        crc = f"{zlib.crc32(frame.array) & 0xFFFFFFFF:08x}"
        assert frame.valid()
        python_crcs[frame.frame_no] = crc
    _, err = ingest.communicate(timeout=60)
    assert ingest.returncode == 0, err
    _, err = worker.communicate(timeout=60)
    assert worker.returncode == 0, err
    cpp_crcs = crcs_of(events)
    assert sorted(python_crcs) == list(range(FRAMES)) == sorted(cpp_crcs)
    assert python_crcs == cpp_crcs
    assert len(set(python_crcs.values())) > FRAMES // 2  # real, changing video frames


def test_python_writer_frames_reach_the_cpp_checksum_worker(framering_bin, ring_name, procs, tmp_path):
    events = tmp_path / "checksum.jsonl"
    worker = checksum_worker(procs, framering_bin, ring_name, events)
    rng = np.random.default_rng(7)
    expected = {}
    with framering.Writer.image(ring_name, 320, 240, "bgr24", slots=SLOTS) as w:
        for n in range(FRAMES):
            frame = rng.integers(0, 256, size=(240, 320, 3), dtype=np.uint8)
            w.write(frame, pts_ns=n * 40_000_000)
            expected[n] = f"{zlib.crc32(frame) & 0xFFFFFFFF:08x}"
        _, err = worker.communicate(timeout=60)  # stays alive until the worker has all frames
    assert worker.returncode == 0, err
    assert crcs_of(events) == expected


def test_python_worker_runs_next_to_cpp_workers(framering_bin, ring_name, procs, tmp_path):
    """The example brightness worker and the C++ checksum worker share one ingest ring; both see
    every frame, and the brightness numbers are those of the frames in the ring."""
    events = tmp_path / "checksum.jsonl"
    worker = checksum_worker(procs, framering_bin, ring_name, events)
    ingest = procs.start([framering_bin, "ingest", "--ring", ring_name, "--source", str(VTEST),
                          "--max-frames", str(FRAMES), "--slots", str(SLOTS), "--keep",
                          "--metrics-addr", "0"], text=True)
    attach(ring_name).close()
    bright = procs.start([PYTHON, str(ROOT / "examples" / "brightness_worker.py"), "--ring", ring_name,
                          "--mode", "every", "--max-frames", str(FRAMES), "--events",
                          str(tmp_path / "bright.jsonl")], env=py_env(), text=True)
    _, err = bright.communicate(timeout=60)
    assert bright.returncode == 0, err
    _, err = worker.communicate(timeout=60)
    assert worker.returncode == 0, err
    ingest.communicate(timeout=60)
    bright_events = [json.loads(line) for line in (tmp_path / "bright.jsonl").read_text().splitlines()]
    assert [e["frame_no"] for e in bright_events] == list(range(FRAMES)) == sorted(crcs_of(events))
    ring = framering.Ring(ring_name, start=0)
    for e in bright_events[:5]:  # the frames are still in the ring (--keep): recompute
        frame = ring.read(e["frame_no"]).frame
        assert e["channel_means"] == [round(float(m), 3) for m in
                                      frame.array.reshape(-1, 3).mean(axis=0, dtype=np.float64)]


def test_cpp_group_member_takes_the_frames_python_member_owns(framering_bin, ring_name, procs,
                                                               tmp_path):
    member = framering.Member(1, 3)
    owned = [n for n in range(FRAMES) if member.owns(n)]
    events = tmp_path / "member1.jsonl"
    worker = procs.start([framering_bin, "worker", "--ring", ring_name, "--analytic", "checksum",
                          "--mode", "every", "--group", "g", "--member", "1", "--members", "3",
                          "--events", str(events), "--metrics-addr", "0",
                          "--max-frames", str(len(owned))], text=True)
    with framering.Writer(ring_name, shape=(16, 16, 1), pix_fmt="gray8", slots=SLOTS) as w:
        for n in range(FRAMES):
            w.write(np.full((16, 16, 1), n, np.uint8))
        _, err = worker.communicate(timeout=60)
    assert worker.returncode == 0, err
    crcs = crcs_of(events)
    assert sorted(crcs) == owned
    assert all(crcs[n] == f"{zlib.crc32(np.full(256, n, np.uint8)) & 0xFFFFFFFF:08x}" for n in owned)


def test_ring_starts_where_the_cpp_worker_starts_once_the_writer_is_gone(framering_bin, ring_name,
                                                                        procs, tmp_path,
                                                                        private_shm):
    # A closed writer left every slot intact: both start at cursor - slots (frame 2 of 0..5 in a
    # 4-slot ring); while a writer is alive both start one frame later (cursor - slots + 1).
    w = framering.Writer(ring_name, shape=(16,), dtype=np.uint8, slots=4, keep=True)
    for n in range(6):
        w.write(np.full(16, n, np.uint8))
    with framering.Ring(ring_name) as live:
        assert live.position == 3
    w.close()
    with framering.Ring(ring_name) as ring:
        assert ring.state_name == "CLOSED" and ring.position == 2
        assert [f.frame_no for f in ring.frames(timeout=1)] == [2, 3, 4, 5]
    events = tmp_path / "sums.jsonl"
    worker = procs.start([framering_bin, "worker", "--ring", ring_name, "--analytic", "checksum",
                          "--mode", "every", "--events", str(events), "--metrics-addr", "0",
                          "--max-frames", "4"], text=True, env=py_env())
    assert worker.wait(timeout=60) == 0
    assert sorted(crcs_of(events)) == [2, 3, 4, 5]
