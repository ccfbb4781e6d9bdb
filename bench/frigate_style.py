#!/usr/bin/python3
"""The per-camera pipeline most NVRs run today, written small and faithfully, for comparison.

    ffmpeg -re -stream_loop -1 -i FILE -f rawvideo -pix_fmt bgr24 pipe:   (one decode per camera)
      -> capture: reads each frame from the pipe (copy 1: pipe -> process memory) and copies it
         into a shared-memory slot (copy 2), then tells each of K readers the slot's number
      -> K readers: crc32 of the slot in place (the analytics' stand-in, as framering's `checksum`)

The ring of slots is a file in /dev/shm mapped with mmap (Python 3.11's shared_memory tracker
unlinks segments it only attached). Each slot starts with its 8-byte sequence number: a reader
re-reads it after the crc and counts the frame torn when the capture reused the slot meanwhile.
The capture never waits for readers: a reader that falls behind by more than the ring's slots
loses frames (counted), as in framering's `every` mode.

    frigate_style.py capture --name N --width W --height H --slots S --readers K --stats FILE -- FFMPEG_ARGS...

writes its counters (frames captured, per-reader frames read, lapped, torn) as JSON to FILE every
0.2 s and at exit (SIGTERM). Used by bench/cameras_per_box.py.
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
    read = torn = lapped = 0
    expected = 0
    while True:
        try:
            seq = conn.recv()
        except (EOFError, OSError):
            break
        if seq > expected:
            lapped += seq - expected
        expected = seq + 1
        base = (seq % slots) * stride
        zlib.crc32(view[base + HEADER:base + HEADER + frame_bytes])
        if struct.unpack_from("<Q", region, base)[0] != seq:
            torn += 1
        else:
            read += 1
        counters[index * 3:index * 3 + 3] = [read, lapped, torn]


def capture(args, ffmpeg_args):
    frame_bytes = args.width * args.height * 3
    stride = slot_stride(frame_bytes)
    path = f"/dev/shm/frigate-style.{args.name}"
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o600)
    os.ftruncate(fd, stride * args.slots)
    region = mmap.mmap(fd, stride * args.slots)
    os.close(fd)
    counters = mp.Array("q", 3 * args.readers, lock=False)
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
                 "readers": [list(counters[i * 3:i * 3 + 3]) for i in range(args.readers)],
                 "pids": [os.getpid(), ffmpeg.pid] + [p.pid for p in procs]}
        tmp = args.stats + ".tmp"
        with open(tmp, "w") as f:
            json.dump(stats, f)
        os.replace(tmp, args.stats)

    buf = bytearray(frame_bytes)
    while not stop:
        got = ffmpeg.stdout.readinto(buf)  # copy 1: the pipe into this process
        if got != frame_bytes:
            break
        base = (frames % args.slots) * stride
        struct.pack_into("<Q", region, base, 2**64 - 1)  # being written
        region[base + HEADER:base + HEADER + frame_bytes] = buf  # copy 2: into the shared slot
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
    os.unlink(path)


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
