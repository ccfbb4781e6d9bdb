#!/usr/bin/python3
"""The per-camera pipeline most NVRs run today, written small and faithfully, for comparison.

    ffmpeg -re -stream_loop -1 -threads 1 -filter_threads 1 -i FILE
        -f rawvideo -pix_fmt bgr24 pipe:
      -> capture: reads each frame from the pipe into its buffer and copies it into a
         shared-memory slot, then tells each of K readers the slot's number
      -> K readers: crc32 of the slot in place (the analytics' stand-in, as framering's `checksum`)

Per frame (6.2 MB of bgr24 at 1080p) that is three copies after ffmpeg's colour conversion:
ffmpeg's write into the pipe (its buffer into the kernel's), the capture's readinto (the kernel's
pipe buffer into the capture's), and the capture's copy into the shared slot. framering's ingest
writes the converted frame once, straight into the slot. One decode thread and one filter thread
per ffmpeg, as framering's ingest with --decode-threads 1 (sws_scale runs in its own thread).

The ring of slots is a file in $FRAMERING_SHM_DIR (default /dev/shm; the capture removes it at
exit) mapped with mmap (Python 3.11's shared_memory tracker unlinks segments it only attached).
Each slot starts with its 8-byte sequence number: a reader re-reads it after the crc and counts
the frame torn when the capture reused the slot meanwhile, or before the reader got to it. The
capture never waits for readers and tells each of them every frame through its own pipe, so a
reader never skips a number: one that falls behind by more than the ring's slots finds those
slots rewritten and counts their frames torn, as framering's `every` mode counts them dropped.

    frigate_style.py capture --name N --width W --height H --slots S --readers K --stats FILE -- FFMPEG_ARGS...

writes its counters (frames captured, per reader [frames read, frames torn], the pids) as JSON to
FILE every 0.2 s and at exit (SIGTERM). Used by bench/cameras_per_box.py.
"""
import argparse
import json
import mmap
import multiprocessing as mp
import os
import signal
import struct
import subprocess
import sys
import time
import zlib

HEADER = 8  # u64 sequence number at the start of each slot


def slot_stride(frame_bytes):
    return (HEADER + frame_bytes + 4095) // 4096 * 4096


def reader(path, frame_bytes, slots, conn, counters, index, senders):
    # The fork copied the capture's sending ends (this reader's own among them): closed here, so
    # recv() sees EOF once the capture closes its end or dies, and no reader outlives it.
    for send in senders:
        send.close()
    fd = os.open(path, os.O_RDONLY)
    region = mmap.mmap(fd, slot_stride(frame_bytes) * slots, prot=mmap.PROT_READ)
    os.close(fd)
    view = memoryview(region)
    stride = slot_stride(frame_bytes)
    read = torn = 0
    while True:
        try:
            seq = conn.recv()
        except (EOFError, OSError):
            break
        base = (seq % slots) * stride
        zlib.crc32(view[base + HEADER:base + HEADER + frame_bytes])
        if struct.unpack_from("<Q", region, base)[0] != seq:
            torn += 1
        else:
            read += 1
        counters[index * 2:index * 2 + 2] = [read, torn]


def capture(args, ffmpeg_args):
    shm = os.environ.get("FRAMERING_SHM_DIR") or "/dev/shm"
    path = os.path.join(shm, f"frigate-style.{args.name}")
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        run(args, ffmpeg_args, path, fd)
    finally:
        os.unlink(path)  # also when ffmpeg could not start or a reader could not be forked


def run(args, ffmpeg_args, path, fd):
    frame_bytes = args.width * args.height * 3
    stride = slot_stride(frame_bytes)
    os.ftruncate(fd, stride * args.slots)
    region = mmap.mmap(fd, stride * args.slots)
    os.close(fd)
    counters = mp.Array("q", 2 * args.readers, lock=False)
    pipes, procs = [], []
    for i in range(args.readers):
        recv, send = mp.Pipe(duplex=False)
        pipes.append(send)
        p = mp.Process(target=reader, args=(path, frame_bytes, args.slots, recv, counters, i,
                                            list(pipes)), daemon=True)
        p.start()
        recv.close()
        procs.append(p)
    ffmpeg = subprocess.Popen(["ffmpeg", "-v", "error", *ffmpeg_args], stdout=subprocess.PIPE,
                              stdin=subprocess.DEVNULL)
    stop = False

    def on_term(*_):
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, on_term)
    frames = 0
    last_write = 0.0

    def write_stats():
        stats = {"frames": frames, "time": time.time(),
                 "readers": [list(counters[i * 2:i * 2 + 2]) for i in range(args.readers)],
                 "pids": [os.getpid(), ffmpeg.pid] + [p.pid for p in procs]}
        tmp = args.stats + ".tmp"
        with open(tmp, "w") as f:
            json.dump(stats, f)
        os.replace(tmp, args.stats)

    buf = bytearray(frame_bytes)
    while not stop:
        # ffmpeg's write put the frame into the pipe (copy 1); this reads it out (copy 2).
        got = ffmpeg.stdout.readinto(buf)
        if got != frame_bytes:
            break
        base = (frames % args.slots) * stride
        struct.pack_into("<Q", region, base, 2**64 - 1)  # being written
        region[base + HEADER:base + HEADER + frame_bytes] = buf  # copy 3: into the shared slot
        struct.pack_into("<Q", region, base, frames)
        for send in pipes:
            try:
                send.send(frames)
            except (BrokenPipeError, OSError):
                stop = True
        frames += 1
        now = time.monotonic()
        if now - last_write >= 0.2:
            write_stats()
            last_write = now
    ffmpeg.terminate()
    ffmpeg.stdout.close()  # an ffmpeg blocked writing a frame gets EPIPE instead of waiting
    for send in pipes:
        send.close()
    for p in procs:
        p.join(timeout=5)
        if p.is_alive():
            p.terminate()
    write_stats()
    ffmpeg.wait()


def main():
    argv = sys.argv[1:]
    ffmpeg_args = []
    if "--" in argv:
        ffmpeg_args = argv[argv.index("--") + 1:]
        argv = argv[:argv.index("--")]
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("role", choices=["capture"])
    ap.add_argument("--name", required=True)
    ap.add_argument("--width", type=int, required=True)
    ap.add_argument("--height", type=int, required=True)
    ap.add_argument("--slots", type=int, default=8)
    ap.add_argument("--readers", type=int, default=1)
    ap.add_argument("--stats", required=True)
    args = ap.parse_args(argv)
    capture(args, ffmpeg_args)


if __name__ == "__main__":
    main()
