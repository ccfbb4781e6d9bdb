"""Python Writer -> Python Ring: zero-copy views, outcomes, liveness and successor detection."""
import os
import signal
import stat
import time

import numpy as np
import pytest

import framering
from framering import ReadStatus
from pyhelpers import communicate, start_py, wait_until



def test_frames_are_zero_copy_read_only_views_of_the_slot(ring_name):
    with framering.Writer(ring_name, shape=(48, 64, 3), slots=4, pix_fmt="bgr24") as w:
        for n in range(6):
            w.write(np.full(w.shape, n, np.uint8), pts_ns=n * 33_000_000,
                    flags=framering.FLAG_KEYFRAME if n % 3 == 0 else 0)
        with framering.Ring(ring_name) as ring:
            r = ring.latest()
            assert r.status is ReadStatus.OK and r.next == 6
            f = r.frame
            assert (f.frame_no, f.seq, f.pts, f.keyframe) == (5, 12, 5 * 33_000_000, False)
            assert f.array.shape == (48, 64, 3) and f.array.dtype == np.uint8
            assert not f.array.flags.writeable
            slots = ring.slots_array()
            assert slots.shape == (4, 48, 64, 3) and slots.strides[0] == ring.info.slot_stride
            assert not slots.flags.writeable
            assert np.shares_memory(f.array, slots[5 % 4])
            assert not np.shares_memory(f.array, slots[4 % 4])
            assert (f.array == 5).all() and f.valid()
            with pytest.raises(ValueError):
                f.array[0, 0, 0] = 1
            # the writer's next store into this slot is visible through the same array
            slot = w.claim()
            slot.array[...] = 200
            w.publish(slot)  # frame 6 -> slot 2: frame 5 untouched
            assert f.valid() and (f.array == 5).all()
            for n in range(7, 10):
                w.write(np.full(w.shape, n, np.uint8))  # frame 9 lands in slot 1, frame 5's
            assert not f.valid() and (f.array == 9).all()


@pytest.mark.parametrize("pix_fmt", ["yuv420p", "nv12"])
def test_yuv_ring_view_is_the_stacked_planes(ring_name, pix_fmt):
    # docs/ring-format.md §4: a W x H 4:2:0 picture is one (H*3//2, W) uint8 array, Y on top.
    with framering.Writer.image(ring_name, 64, 48, pix_fmt, slots=2) as w:
        assert w.shape == (72, 64)
        planes = np.zeros((72, 64), np.uint8)
        planes[:48] = 16   # Y
        planes[48:] = 128  # chroma
        w.write(planes)
        with framering.Ring(ring_name) as ring:
            g = ring.geometry
            assert (g.pix_fmt_name, g.width, g.height) == (pix_fmt, 64, 48)
            assert ring.info.frame_bytes == 64 * 48 * 3 // 2
            f = ring.latest().frame
            assert f.array.shape == (72, 64) and f.array.dtype == np.uint8
            assert not f.array.flags.writeable
            assert np.shares_memory(f.array, ring.slots_array())
            assert (f.array[:48] == 16).all() and (f.array[48:] == 128).all() and f.valid()
    for width, height in ((63, 48), (64, 47)):
        with pytest.raises(framering.InvalidArgumentError, match="even width and height"):
            framering.Writer.image(ring_name, width, height, pix_fmt)


def test_every_outcome_of_read(ring_name):
    with framering.Writer(ring_name, shape=(16,), dtype=np.float32, slots=3) as w:
        ring = framering.Ring(ring_name)
        assert ring.latest().status is ReadStatus.NOT_YET
        with pytest.raises(framering.NoFrameError, match="returned NOT_YET"):
            ring.latest().array  # noqa: B018 - an outcome without a frame says so
        assert ring.read(0).status is ReadStatus.NOT_YET
        for n in range(5):
            w.write(np.arange(16, dtype=np.float32) + n)
        r = ring.read(0)  # overwritten by frame 3
        # resume at the oldest frame the writer cannot be overwriting now (frame 5 goes to
        # frame 2's slot next), as the C++ reader does
        assert (r.status, r.missed, r.next) == (ReadStatus.LAPPED, 3, 3)
        r = ring.read(2)  # still intact until frame 5 is claimed
        assert r.ok and r.frame.array[0] == 2.0
        assert r.array is r.frame.array and r.valid() and r.frame_no == 2  # OK stands for its frame
        assert ring.read(5).status is ReadStatus.NOT_YET
        assert ring.wait_next(timeout=0.05, frame_no=5).status is ReadStatus.NOT_YET
    # closed (and unlinked): committed frames stay readable, beyond them the writer is gone
    assert ring.state_name == "CLOSED"
    assert ring.read(4).ok
    r = ring.read(5)
    assert r.status is ReadStatus.WRITER_GONE and r.next == 5
    ring.close()


def test_iteration_in_order_and_counters(ring_name):
    with framering.Writer(ring_name, shape=(8, 8), dtype=np.uint16, slots=8) as w:
        ring = framering.Ring(ring_name, start="next")
        for n in range(5):
            w.write(np.full((8, 8), n, np.uint16))
        seen = [(f.frame_no, int(f.array[0, 0])) for f in ring.frames(timeout=0.1)]
        assert seen == [(n, n) for n in range(5)]
        c = ring.counters
        assert (c.frames_read, c.bytes_in_place, c.lapped, c.torn) == (5, 5 * 128, 0, 0)
        for n in range(5, 25):  # laps the reader: only the last 7 are still intact
            w.write(np.full((8, 8), n, np.uint16))
        seen = [f.frame_no for f in ring.frames(timeout=0.1)]
        assert seen == list(range(18, 25)) and ring.counters.lapped == 13


def test_latest_mode_and_consumer_groups(ring_name):
    with framering.Writer(ring_name, shape=(4,), dtype=np.int32, slots=16) as w:
        for n in range(10):
            w.write(np.full(4, n, np.int32))
        members = [framering.Ring(ring_name, start=0) for _ in range(3)]
        got = [[f.frame_no for f in r.frames(member=(i, 3), timeout=0.05)] for i, r in enumerate(members)]
        assert got == [[0, 3, 6, 9], [1, 4, 7], [2, 5, 8]]
        latest = framering.Ring(ring_name, start=0)
        it = latest.frames(mode="latest", timeout=0.05)
        assert next(it).frame_no == 9 and latest.counters.skipped == 9
        w.write(np.full(4, 10, np.int32))
        assert next(it).frame_no == 10
        m = framering.Member(1, 3)
        assert [m.next_owned(n) for n in range(5)] == [1, 1, 4, 4, 4]
        assert [m.last_owned(n) for n in range(5)] == [None, 1, 1, 1, 4]
        assert m.count(0, 10) == 3 and m.count(2, 4) == 0


def test_wait_next_wakes_on_publish_from_another_process(ring_name, procs):
    with framering.Writer(ring_name, shape=(32, 32), slots=4, keep=True) as w:
        reader = start_py(procs, f"""
            import framering
            ring = framering.Ring({ring_name!r}, start="next")
            print("attached", flush=True)
            for want in range(3):
                r = ring.wait_next(timeout=20)
                assert r.ok and r.frame.frame_no == want and int(r.frame.array[0, 0]) == 7 + want, r
            print("ok", framering.futex_available)
        """)
        assert reader.stdout.readline().strip() == "attached"
        time.sleep(0.2)  # let it fall asleep on the cursor futex
        for n in range(3):
            w.write(np.full((32, 32), 7 + n, np.uint8))
            time.sleep(0.05)
        assert communicate(reader).strip() == f"ok {framering.futex_available}"


def test_killed_writer_is_gone_and_a_successor_is_an_epoch_change(ring_name, procs):
    child = start_py(procs, f"""
        import sys, time, numpy as np, framering
        w = framering.Writer({ring_name!r}, shape=(4, 4), slots=2)
        w.write(np.ones((4, 4), np.uint8))
        print("ready", flush=True)
        time.sleep(60)
    """)
    assert child.stdout.readline().strip() == "ready"
    ring = framering.Ring(ring_name)
    old_epoch = ring.epoch
    assert ring.writer_alive()
    with pytest.raises(framering.LiveWriterError, match=f"writer pid {child.pid}"):
        framering.Writer(ring_name, shape=(4, 4), slots=2)
    # The promise (same rule as the C++ reader): a reader that keeps asking sees WRITER_GONE
    # within 1 s of a kill -9 of the writer. Measured from the kill; the wait's own limit is far
    # longer, so a slower detection fails the bound instead of the wait.
    killed_at = time.monotonic()
    child.send_signal(signal.SIGKILL)
    child.wait()
    # state stays LIVE, but the heartbeat stops and the kernel dropped the flock
    assert ring.state_name == "LIVE"
    r = wait_until(lambda: (x := ring.read(1)).status is ReadStatus.WRITER_GONE and x, timeout=30,
                   interval=0.01, what="WRITER_GONE after SIGKILL")
    detected = time.monotonic() - killed_at
    print(f"writer death noticed after {detected * 1000:.0f} ms")
    assert detected < 1.0, f"WRITER_GONE came {detected:.3f} s after kill -9 (promise: within 1 s)"
    assert r.next == 1
    with framering.Writer(ring_name, shape=(4, 4), slots=2) as successor:
        successor.write(np.full((4, 4), 9, np.uint8))
        r = ring.read(1)
        assert r.status is ReadStatus.EPOCH_CHANGED and r.next == 0
        assert ring.epoch not in (old_epoch, 0) and ring.counters.epoch_changes == 1
        r = ring.read(0)
        assert r.ok and (r.frame.array == 9).all()


def test_frames_of_a_replaced_mapping_are_never_valid(ring_name):
    w = framering.Writer(ring_name, shape=(4,), slots=2)
    w.write(np.zeros(4, np.uint8))
    ring = framering.Ring(ring_name)
    old = ring.read(0).frame
    w.close()
    w = framering.Writer(ring_name, shape=(4,), slots=2)
    w.write(np.ones(4, np.uint8))
    assert ring.read(1).status is ReadStatus.EPOCH_CHANGED
    assert not old.valid()          # same slot, same seq, but another segment
    assert (old.array == 0).all()   # and the old mapping is still safe to touch
    w.close()


def test_segment_is_created_like_the_cpp_writer(ring_name, tmp_path, monkeypatch):
    monkeypatch.setenv("FRAMERING_SHM_DIR", str(tmp_path))
    with framering.Writer(ring_name, shape=(100, 70, 1), slots=5, pix_fmt="gray8", rate=(25, 1)) as w:
        path = tmp_path / f"framering.{ring_name}"
        st = os.stat(path)
        assert stat.S_IMODE(st.st_mode) == 0o600
        assert st.st_size == 4096 + 4096 + 5 * 8192 == w.info.segment_bytes
        assert os.listdir(tmp_path) == [path.name]  # no temp file left behind
        info = framering.Ring(ring_name).info
        assert info.epoch != 0 and info.writer_pid == os.getpid()
        g = info.geometry
        assert (g.rate_num, g.rate_den, g.pix_fmt_name) == (25, 1, "gray8")
    assert not path.exists()
    with framering.Writer(ring_name, shape=(4,), mode=0o640, keep=True):
        pass
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o640
    assert framering.Ring(ring_name).state_name == "CLOSED"


def test_writer_rejects_bad_arguments_with_clear_errors(ring_name):
    with pytest.raises(framering.InvalidArgumentError, match="ring name 'a/b' is invalid"):
        framering.Writer("a/b", shape=(4,))
    with pytest.raises(framering.InvalidArgumentError, match="slots must be between 2 and 65536"):
        framering.Writer(ring_name, shape=(4,), slots=1)
    with pytest.raises(framering.InvalidArgumentError, match="not supported"):
        framering.Writer(ring_name, shape=(4,), dtype=np.complex64)
    with pytest.raises(framering.InvalidArgumentError, match="needs shape"):
        framering.Writer(ring_name, shape=(4, 4), pix_fmt="bgr24")
    with pytest.raises(framering.InvalidArgumentError, match="larger than 4 GiB"):
        framering.Writer(ring_name, shape=(1 << 20, 1 << 13))
    with pytest.raises(framering.NotFoundError, match=f"no ring '{ring_name}'"):
        framering.Ring(ring_name)
    with framering.Writer(ring_name, shape=(4,)) as w:
        with pytest.raises(ValueError, match="frame shape"):
            w.write(np.zeros(5))
        w.prefault()  # before any frame: zeros, never visible to readers
        assert framering.Ring(ring_name).read(0).status is ReadStatus.NOT_YET
        w.claim()
        with pytest.raises(RuntimeError, match="before publish"):
            w.claim()
        with pytest.raises(RuntimeError, match="only before the first claim"):
            w.prefault()


def test_iteration_follows_a_successor_writer_like_the_cpp_worker(ring_name):
    w = framering.Writer(ring_name, shape=(2,), dtype=np.uint16, slots=4)
    for n in range(3):
        w.write(np.full(2, n, np.uint16))
    ring = framering.Ring(ring_name)
    frames = ring.frames(until_gone=False, timeout=5)
    assert [next(frames).frame_no for _ in range(3)] == [0, 1, 2]
    w.close()
    with framering.Writer(ring_name, shape=(2,), dtype=np.uint16, slots=4) as w2:
        for n in range(12):
            w2.write(np.full(2, 100 + n, np.uint16))
        got = [next(frames) for _ in range(3)]
        # the new stream starts at its oldest intact frame (12 - 4 + 1), not at frame 0
        assert [(f.frame_no, int(f.array[0])) for f in got] == [(9, 109), (10, 110), (11, 111)]
        assert ring.counters.epoch_changes == 1 and ring.counters.lapped == 0


def test_wait_next_looks_for_a_successor_while_the_writer_is_gone(ring_name, procs):
    w = framering.Writer(ring_name, shape=(3,), slots=2)
    w.write(np.zeros(3, np.uint8))
    ring = framering.Ring(ring_name)
    w.close()
    assert ring.wait_next(timeout=0.2, frame_no=1).status is ReadStatus.WRITER_GONE  # at the timeout
    successor = start_py(procs, f"""
        import time, numpy as np, framering
        time.sleep(0.3)
        with framering.Writer({ring_name!r}, shape=(3,), slots=2) as w:
            w.write(np.full(3, 5, np.uint8))
            time.sleep(20)
    """)
    r = ring.wait_next(timeout=20, frame_no=1)  # waits through the gap, then re-attaches
    assert r.status is ReadStatus.EPOCH_CHANGED and r.next == 0
    r = ring.wait_next(timeout=20, frame_no=0)
    assert r.ok and (r.frame.array == 5).all()
    successor.kill()
