"""A fast writer on a tiny ring and a slow Python reader: the reader is told it was lapped, and
no frame that passed valid() is corrupt. Every frame is stamped with its number in every element,
so a frame mixing two writes (or holding another frame) is visible.

The writer is another process driven line by line over its stdin: first a burst at full speed
while the reader reads concurrently (whatever happens there, a frame that passed valid() must be
intact), then steps in which the reader decides exactly what the writer does while it holds a
frame, so lapping, a frame overwritten under the reader, and an intact read each happen on every
machine, however fast or loaded."""
import subprocess
import time

import numpy as np

import framering
from framering import ReadStatus
from pyhelpers import communicate, start_py

FRAME_SHAPE = (128, 1024)  # 512 KiB of uint32 stamps
SLOTS = 3
BURST = 2000


def test_slow_reader_sees_lapped_and_torn_never_corrupt(ring_name, procs):
    writer = start_py(procs, f"""
        import sys, numpy as np, framering
        with framering.Writer({ring_name!r}, shape={FRAME_SHAPE}, dtype=np.uint32, slots={SLOTS}) as w:
            print("ready", flush=True)
            for line in sys.stdin:          # "write N": publish N frames, then say the cursor
                for _ in range(int(line.split()[1])):
                    slot = w.claim()
                    slot.array.fill(slot.frame_no)   # stamp: every element = the frame number
                    w.publish(slot)
                print(w.cursor, flush=True)
    """, stdin=subprocess.PIPE)
    assert writer.stdout.readline().strip() == "ready"
    ring = framering.Ring(ring_name, start="next")
    outcomes = {s: 0 for s in ReadStatus}
    counts = {"intact": 0, "corrupt": 0, "invalid": 0, "torn_and_mixed": 0}

    def write(n):
        writer.stdin.write(f"write {n}\n")
        writer.stdin.flush()

    def written():
        return int(writer.stdout.readline())

    def take(r, overwrite=0):
        """Counts one read; for an OK frame copies it (slowly), lets the writer publish
        `overwrite` more frames meanwhile, then checks the copy against valid()."""
        outcomes[r.status] += 1
        if r.status is not ReadStatus.OK:
            return
        f = r.frame
        snapshot = f.array.copy()
        if overwrite:
            write(overwrite)
            written()
            snapshot = f.array.copy()   # the slot as it is now
        if f.valid():
            counts["intact"] += 1
            if not (snapshot == f.frame_no).all():
                counts["corrupt"] += 1
            return
        counts["invalid"] += 1
        if not (snapshot == snapshot.flat[0]).all() or snapshot.flat[0] != f.frame_no:
            counts["torn_and_mixed"] += 1

    # 1. A burst at full speed with the reader reading concurrently: any outcome may occur.
    write(BURST)
    deadline = time.monotonic() + 120
    while ring.position < BURST:
        assert time.monotonic() < deadline, f"the reader did not reach frame {BURST}"
        r = ring.wait_next(timeout=1.0)
        take(r)
        if r.ok and outcomes[ReadStatus.OK] % 2:
            time.sleep(0.002)   # slow on purpose: the writer laps us
    assert written() == BURST

    # 2. Lapped: the writer publishes more frames than the ring holds before the reader looks.
    lapped_before = outcomes[ReadStatus.LAPPED]
    write(SLOTS + 2)
    cursor = written()
    take(ring.read(cursor - SLOTS - 2))
    assert outcomes[ReadStatus.LAPPED] == lapped_before + 1

    # 3. Overwritten while held: valid() must say so, and the copy indeed holds another frame.
    write(1)
    cursor = written()
    invalid_before = counts["invalid"]
    take(ring.read(cursor - 1), overwrite=SLOTS)
    assert counts["invalid"] == invalid_before + 1

    # 4. Intact: nothing is written while the reader holds the frame.
    write(1)
    cursor = written()
    intact_before = counts["intact"]
    take(ring.read(cursor - 1))
    assert counts["intact"] == intact_before + 1

    total = cursor
    communicate(writer)  # closes its stdin: the writer closes the ring and exits
    print(f"writer published {total}; reader outcomes {dict((k.value, v) for k, v in outcomes.items())}; "
          f"{counts}; counters {ring.counters}")
    assert counts["corrupt"] == 0
    assert outcomes[ReadStatus.LAPPED] > 0 and counts["intact"] > 0 and counts["invalid"] > 0
    assert counts["torn_and_mixed"] > 0, "the frame valid() rejected really held another frame"
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
