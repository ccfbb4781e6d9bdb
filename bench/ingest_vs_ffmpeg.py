#!/usr/bin/python3
"""framering ingest vs the ffmpeg CLI decoding the same input to bgr24, side by side.

    /usr/bin/python3 bench/ingest_vs_ffmpeg.py [build/release/bin/framering] [--runs 3]

Each case is run `runs` times, interleaved with the others so machine noise hits all alike;
prints the median frames per wall-clock second (process start to exit, ring creation included)
and per CPU second (user + sys of the process; steadier than wall time on a shared machine), and
per CPU second after subtracting the binary's own start-up CPU (`--version`: framering links
every subcommand's libraries, ~300 shared objects), as a Markdown table for docs/ingest.md.
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


def run_cpu(cmd):
    """(wall seconds, user+sys CPU seconds) of one run of `cmd`; exits on failure."""
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    err = p.stderr.read()
    _, status, usage = os.wait4(p.pid, 0)
    wall = time.perf_counter() - t0
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{err[-2000:]}")
    return wall, usage.ru_utime + usage.ru_stime


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("framering", nargs="?", default="build/release/bin/framering")
    ap.add_argument("--runs", type=int, default=3)
    a = ap.parse_args()
    todo = cases(a.framering)
    fps = {i: [] for i in range(len(todo))}
    cpu_fps = {i: [] for i in range(len(todo))}
    net_fps = {i: [] for i in range(len(todo))}
    startup = {}
    for binary, flag in ((a.framering, "--version"), ("ffmpeg", "-version")):
        startup[binary] = statistics.median(run_cpu([binary, flag])[1] for _ in range(3))
    load_before = os.getloadavg()[0]
    for _ in range(a.runs):
        for i, (_, _, cmd, frames) in enumerate(todo):
            wall, cpu = run_cpu(cmd)
            fps[i].append(frames / wall)
            cpu_fps[i].append(frames / cpu)
            net_fps[i].append(frames / max(1e-3, cpu - startup[cmd[0]]))
    print(f"load average {load_before:.1f} before, {os.getloadavg()[0]:.1f} after; "
          f"{os.cpu_count()} CPUs; medians of {a.runs} runs; start-up CPU: framering "
          f"{startup[a.framering]:.3f} s, ffmpeg {startup['ffmpeg']:.3f} s\n")
    print("| input | command | frames/s wall | frames/s CPU | frames/s CPU without start-up |")
    print("|---|---|---|---|---|")
    for i, (inp, what, _, _) in enumerate(todo):
        cells = []
        for series in (fps[i], cpu_fps[i], net_fps[i]):
            runs = ", ".join(f"{x:.0f}" for x in series)
            cells.append(f"**{statistics.median(series):.0f}** ({runs})")
        print(f"| {inp} | {what} | {' | '.join(cells)} |")


if __name__ == "__main__":
    main()
