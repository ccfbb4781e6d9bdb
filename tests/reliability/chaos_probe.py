#!/usr/bin/python3
"""The chaos run's control reader: a Python framering.Ring reader that reads each frame slowly
(crc32 over row blocks with short sleeps in between), so the writer often overwrites the slot
while it reads. For every frame it gets as OK it prints `frame_no crc32 valid` where valid is
Frame.valid() after the read: the driver checks that every valid=1 line has the source frame's
crc32 (no undetected tear) and counts the valid=0 lines whose crc32 is indeed wrong (tears that
really happened and were caught). Usage: chaos_probe.py RING OUT_PATH; stops on SIGTERM."""
import signal
import sys
import time
import zlib

import framering

stop = False


def on_term(*_):
    global stop
    stop = True


def main():
    ring_name, out_path = sys.argv[1], sys.argv[2]
    signal.signal(signal.SIGTERM, on_term)
    ring = None
    while ring is None and not stop:
        try:
            ring = framering.Ring(ring_name, start="next")
        except framering.NotFoundError:
            time.sleep(0.05)
    with open(out_path, "w", buffering=1) as out:
        while not stop:
            r = ring.wait_next(timeout=0.2)
            if r.status is not framering.ReadStatus.OK:
                if r.status is not framering.ReadStatus.NOT_YET:
                    out.write(f"# {r.status}\n")
                continue
            frame = r.frame
            rows = frame.array.reshape(frame.array.shape[0], -1)
            crc = 0
            for start in range(0, rows.shape[0], 16):
                crc = zlib.crc32(rows[start:start + 16], crc)
                time.sleep(0.001)
            out.write(f"{frame.frame_no} {crc:08x} {int(frame.valid())}\n")


if __name__ == "__main__":
    main()
