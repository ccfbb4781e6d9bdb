#!/usr/bin/python3
"""A Python worker next to the C++ workers: per-frame brightness statistics with NumPy, read in
place from a framering ring (no copy), written as JSON-line events like `framering worker`'s.

    PYTHONPATH=python /usr/bin/python3 examples/brightness_worker.py --ring cam0 --events -
    ... --group bright --member 0 --members 2      # split frames with another instance

Each event: {"ring", "worker", "analytic": "brightness", "frame_no", "seq", "pts_ns",
"wall_time_ns", "kind": "brightness", "boxes": [], "scores": [], "mean", "min", "max",
"channel_means"} (mean is luma for bgr24/rgb24). A frame whose slot was overwritten while it was
measured (valid() is False afterwards) produces no event and counts as torn. The worker also
publishes a reader-stats file, so `framering stat` lists it beside the C++ workers.
Exits 0 on SIGINT/SIGTERM, when the writer is gone and every frame was offered, or after
--max-frames; 2 on bad arguments, 4 when the ring cannot be attached.
"""
import argparse
import json
import pathlib
import signal
import sys
import time

import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "python"))
import framering  # noqa: E402

# ITU-R BT.601 luma weights, in the ring's channel order.
LUMA = {"bgr24": np.array([0.114, 0.587, 0.299]), "rgb24": np.array([0.299, 0.587, 0.114])}


def brightness(array, pix_fmt):
    """(mean, min, max, per-channel means) of one frame, computed on the slot in place."""
    pixels = array.reshape(-1, array.shape[-1]) if array.ndim == 3 else array.reshape(-1, 1)
    channel_means = pixels.mean(axis=0, dtype=np.float64)
    mean = float(channel_means @ LUMA[pix_fmt]) if pix_fmt in LUMA else float(channel_means.mean())
    return mean, int(array.min()), int(array.max()), [round(float(c), 3) for c in channel_means]


class Stop(Exception):
    pass


def on_signal(signum, frame):
    raise Stop()


def parse_args(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--ring", required=True, help="ring name (as given to framering ingest --ring)")
    ap.add_argument("--mode", choices=("every", "latest"), default="latest",
                    help="every frame in order, or always the newest (default latest)")
    ap.add_argument("--group", help="consumer group name (used in the default --name)")
    ap.add_argument("--member", type=int, default=0, help="this member's index I (frame_no %% N == I)")
    ap.add_argument("--members", type=int, default=1, help="members N in the group")
    ap.add_argument("--events", default="-", help="JSON-lines output file, '-' for stdout")
    ap.add_argument("--name", help="worker id for events and the stats file "
                                   "(default brightness or brightness-<member>)")
    ap.add_argument("--max-frames", type=int, default=0, help="stop after this many events (0: no limit)")
    ap.add_argument("--start", choices=("oldest", "next"), default="oldest",
                    help="begin at the oldest frame still in the ring or the next one published")
    ap.add_argument("--follow", action="store_true",
                    help="keep waiting for a new writer when this one stops (default: exit)")
    args = ap.parse_args(argv)
    if args.members < 1 or not 0 <= args.member < args.members:
        ap.error(f"--member must be in [0, --members), got --member {args.member} --members {args.members}")
    if args.max_frames < 0:
        ap.error("--max-frames must be >= 0")
    args.name = args.name or ("brightness" if args.members == 1 else f"brightness-{args.member}")
    return args


def main(argv=None):
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        ring = framering.Ring(args.ring, start=args.start)
        stats = framering.ReaderStatsPublisher(args.ring, args.name)
    except framering.RingError as e:
        print(f"brightness_worker: {e}", file=sys.stderr)
        return e.exit_code
    out = sys.stdout if args.events == "-" else open(args.events, "a", buffering=1)
    pix_fmt = ring.geometry.pix_fmt_name
    emitted = 0
    try:
        member = (args.member, args.members) if args.members > 1 else None
        for frame in ring.frames(mode=args.mode, member=member, until_gone=not args.follow):
            mean, lo, hi, channels = brightness(frame.array, pix_fmt)
            if not frame.valid():  # overwritten while we measured: the numbers are not this frame's
                ring.counters.torn += 1
                stats.update(ring)
                continue
            event = {"ring": args.ring, "worker": args.name, "analytic": "brightness",
                     "frame_no": frame.frame_no, "seq": frame.seq, "pts_ns": frame.pts_ns,
                     "wall_time_ns": time.time_ns(), "kind": "brightness", "boxes": [], "scores": [],
                     "mean": round(mean, 3), "min": lo, "max": hi, "channel_means": channels}
            out.write(json.dumps(event) + "\n")
            out.flush()
            stats.update(ring)
            emitted += 1
            if args.max_frames and emitted >= args.max_frames:
                break
    except Stop:
        pass
    finally:
        stats.close()
        c = ring.counters
        print(f"brightness_worker {args.name}: {emitted} events, read {c.frames_read}, "
              f"lapped {c.lapped}, torn {c.torn}, skipped {c.skipped}", file=sys.stderr)
        if out is not sys.stdout:
            out.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
