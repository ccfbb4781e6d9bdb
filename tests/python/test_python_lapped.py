"""A fast writer on a tiny ring and a slow Python reader: the reader is told it was lapped, and
no frame that passed valid() is corrupt. Every frame is stamped with its number in every element,
so a frame mixing two writes (or holding another frame) is visible."""
import time

import numpy as np

import framering
from framering import ReadStatus
from pyhelpers import communicate, start_py

FRAME_SHAPE = (128, 1024)  # 512 KiB of uint32 stamps


def test_slow_reader_sees_lapped_and_torn_never_corrupt(ring_name, procs):
    writer = start_py(procs, f"""
        import sys, time, numpy as np, framering
        with framering.Writer({ring_name!r}, shape={FRAME_SHAPE}, dtype=np.uint32, slots=3) as w:
            print("ready", flush=True)
            deadline = time.monotonic() + 3.0
            slow_from = deadline - 1.0
            while time.monotonic() < deadline:
                slot = w.claim()
                slot.array.fill(slot.frame_no)   # stamp: every element = the frame number
                w.publish(slot)
                # Flat out for 2 s (laps the reader), then one frame per 50 ms for the last
                # second, so intact reads occur too however fast or loaded the machine is.
                if time.monotonic() >= slow_from:
                    time.sleep(0.05)
            print(w.cursor, flush=True)
    """)
    assert writer.stdout.readline().strip() == "ready"
    ring = framering.Ring(ring_name, start="next")
    outcomes = {s: 0 for s in ReadStatus}
    intact = corrupt = invalid = torn_and_mixed = 0
    deadline = time.monotonic() + 2.9
    while time.monotonic() < deadline:
        r = ring.wait_next(timeout=1.0)
        outcomes[r.status] += 1
        if r.status is not ReadStatus.OK:
            continue
        f = r.frame
        snapshot = f.array.copy()   # slow on purpose: a 512 KiB copy while the writer laps us
        time.sleep(0.002 if outcomes[ReadStatus.OK] % 2 else 0)
        if f.valid():
            intact += 1
            if not (snapshot == f.frame_no).all():
                corrupt += 1
            continue
        invalid += 1
        if not (snapshot == snapshot.flat[0]).all() or snapshot.flat[0] != f.frame_no:
            torn_and_mixed += 1
    total = int(communicate(writer).split()[-1])
    print(f"writer published {total}; reader outcomes {dict((k.value, v) for k, v in outcomes.items())}; "
          f"intact {intact}, invalid {invalid}, torn copies that were really changed {torn_and_mixed}; "
          f"counters {ring.counters}")
    assert corrupt == 0
    assert outcomes[ReadStatus.LAPPED] > 0 and intact > 0 and invalid > 0
    assert total > outcomes[ReadStatus.OK]


def test_copy_raises_torn_error_when_overwritten(ring_name):
    with framering.Writer(ring_name, shape=(4,), dtype=np.uint32, slots=2) as w:
        ring = framering.Ring(ring_name)
        w.write(np.zeros(4, np.uint32))
        f = ring.latest().frame
        assert (f.copy() == 0).all() and ring.counters.bytes_copied == 16
        w.write(np.ones(4, np.uint32))
        w.write(np.full(4, 2, np.uint32))  # frame 2 reuses frame 0's slot
        try:
            f.copy()
        except framering.TornError as e:
            assert "frame 0 was overwritten" in str(e)
        else:
            raise AssertionError("copy() of an overwritten frame did not raise TornError")
