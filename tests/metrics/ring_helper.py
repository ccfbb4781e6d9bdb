"""A live ring for `framering stat` tests: one process writes 320x240 bgr24 frames at ~50 fps and
reads every one of them in place through framering.Ring, publishing its reader stats.

usage: ring_helper.py RING READER_ID   (runs until SIGTERM/SIGINT; prints "ready" once reading)
"""
import pathlib
import signal
import sys
import threading
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2] / "python"))
import numpy as np  # noqa: E402

import framering  # noqa: E402

name, reader_id = sys.argv[1], sys.argv[2]
stop = threading.Event()
signal.signal(signal.SIGTERM, lambda *_: stop.set())
signal.signal(signal.SIGINT, lambda *_: stop.set())

writer = framering.Writer.image(name, 320, 240, "bgr24")


def write():
    i = 0
    while not stop.is_set():
        writer.write(np.full((240, 320, 3), i % 256, np.uint8))
        i += 1
        time.sleep(0.02)


t = threading.Thread(target=write)
t.start()
ring = framering.Ring(name, start="next")
stats = framering.ReaderStatsPublisher(name, reader_id)
print("ready", flush=True)
while not stop.is_set():
    for frame in ring.frames(mode="every", timeout=0.2):  # ends after 0.2 s without a frame
        _ = int(frame.array[0, 0, 0])  # touch the payload in place
        stats.update(ring)
        if stop.is_set():
            break
stats.close()
ring.close()
stop.set()
t.join()
writer.close()
