#!/usr/bin/python3
"""framering ingest vs the ffmpeg CLI decoding the same input to bgr24, side by side.

    /usr/bin/python3 bench/ingest_vs_ffmpeg.py [build/release/bin/framering] [--runs 3]

Each case is run `runs` times, interleaved with the others so machine noise hits all alike;
prints the median frames per wall-clock second (process start to exit, ring creation included)
and per CPU second (user + sys of the process; steadier than wall time on a shared machine) as a
Markdown table for docs/ingest.md.
"""
import argparse
import os
import statistics
import subprocess
import time

VTEST = "/usr/share/doc/opencv-doc/examples/data/vtest.avi"
GRAPH = "testsrc2=size=1920x1080:rate=30"
FRAMES = 300  # of the endless test pattern
VTEST_FRAMES = 795


def cases(framering):
    ring = f"bench{os.getpid()}"
    ingest = [framering, "ingest", "--ring", ring, "--metrics-addr", "0"]
    null = ["-pix_fmt", "bgr24", "-f", "null", "-"]
    return [
        ("vtest.avi (768x576 msmpeg4v3)", "framering ingest",
         ingest + ["--source", VTEST], VTEST_FRAMES),
        ("vtest.avi (768x576 msmpeg4v3)", "ffmpeg -pix_fmt bgr24 -f null -",
         ["ffmpeg", "-v", "error", "-i", VTEST] + null, VTEST_FRAMES),
        (f"{GRAPH}, {FRAMES} frames", "framering ingest",
         ingest + ["--source", f"testsrc:{GRAPH}", "--max-frames", str(FRAMES)], FRAMES),
        (f"{GRAPH}, {FRAMES} frames", "ffmpeg -pix_fmt bgr24 -f null -",
         ["ffmpeg", "-v", "error", "-f", "lavfi", "-i", GRAPH, "-frames:v", str(FRAMES)] + null,
         FRAMES),
        (f"{GRAPH}, {FRAMES} frames", "ffmpeg, graph forced to yuv420p first",
         ["ffmpeg", "-v", "error", "-f", "lavfi", "-i", GRAPH + ",format=yuv420p", "-frames:v",
          str(FRAMES)] + null, FRAMES),
    ]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("framering", nargs="?", default="build/release/bin/framering")
    ap.add_argument("--runs", type=int, default=3)
    a = ap.parse_args()
    todo = cases(a.framering)
    fps = {i: [] for i in range(len(todo))}
    cpu_fps = {i: [] for i in range(len(todo))}
    load_before = os.getloadavg()[0]
    for _ in range(a.runs):
        for i, (_, _, cmd, frames) in enumerate(todo):
            t0 = time.perf_counter()
            p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            err = p.stderr.read()
            _, status, usage = os.wait4(p.pid, 0)
            dt = time.perf_counter() - t0
            p.returncode = os.waitstatus_to_exitcode(status)
            if p.returncode != 0:
                raise SystemExit(f"{' '.join(cmd)} failed ({p.returncode}):\n{err[-2000:]}")
            fps[i].append(frames / dt)
            cpu_fps[i].append(frames / (usage.ru_utime + usage.ru_stime))
    print(f"load average {load_before:.1f} before, {os.getloadavg()[0]:.1f} after; "
          f"{os.cpu_count()} CPUs; medians of {a.runs} runs\n")
    print("| input | command | frames/s wall (runs) | frames/s CPU (runs) |")
    print("|---|---|---|---|")
    for i, (inp, what, _, _) in enumerate(todo):
        wall = ", ".join(f"{x:.0f}" for x in fps[i])
        cpu = ", ".join(f"{x:.0f}" for x in cpu_fps[i])
        print(f"| {inp} | {what} | **{statistics.median(fps[i]):.0f}** ({wall}) "
              f"| **{statistics.median(cpu_fps[i]):.0f}** ({cpu}) |")


if __name__ == "__main__":
    main()
