#!/usr/bin/python3
"""Cameras per box: how many cameras this machine runs without dropping a frame, side by side.

    /usr/bin/python3 bench/cameras_per_box.py [--bin build/release/bin/framering] [--quick]
        [--seconds S] [--readers 1 4] [--pipelines framering,framering-fps5,framering-keyframes,frigate-style,decode-only]
        [--size 1920x1080] [--max-cameras N] [--json FILE]

Every camera is the same H.264 file at 30 fps (made once with the ffmpeg CLI, a keyframe every
2 s), played in real time and looped, so the source costs what a camera's network stream does:
nothing but the packets. For each pipeline and each K (analytics per camera) it searches the
largest N for which, over a window of S seconds after a warm-up, every camera delivers at least
99 % of its frames and no reader drops one:

- framering: one `framering ingest` per camera (1 decode thread) into its ring, K `framering
  worker --analytic checksum --mode every` per ring (checksum: a crc32 of every byte, in place,
  the cheap stand-in for an analytic that reads the whole frame);
- framering-fps5 / framering-keyframes: the same with `--fps 5` / `--decode keyframes` (the
  frames a camera must deliver are then 5 per second / its keyframes);
- frigate-style: per camera `ffmpeg … -f rawvideo -pix_fmt bgr24 pipe:` and a Python capture
  process copying each frame into a shared-memory slot for K Python crc32 readers
  (bench/frigate_style.py says what it copies);
- decode-only: `ffmpeg -re … -f null -` per camera, the physical limit of decoding N streams.

CPU per camera is user+sys of all the pipeline's processes over the window, divided by N.
Prints a Markdown section; --json writes the raw trials.
"""
import argparse
import json
import os
import pathlib
import signal
import subprocess
import sys
import tempfile
import time

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parent
FPS = 30
GOP = 60
CLK = os.sysconf("SC_CLK_TCK")


def log(msg):
    print(f"cameras_per_box: {msg}", file=sys.stderr, flush=True)


def make_media(out_dir, size):
    path = pathlib.Path(out_dir) / f"camera-{size}-h264-{FPS}fps.mp4"
    if not path.exists():
        log(f"making {path} (10 s of H.264 {size} at {FPS} fps)")
        tmp = path.with_suffix(".tmp.mp4")
        subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i",
                        f"testsrc2=size={size}:rate={FPS}", "-t", "10", "-c:v", "libx264",
                        "-preset", "veryfast", "-g", str(GOP), "-keyint_min", str(GOP),
                        "-sc_threshold", "0", "-pix_fmt", "yuv420p", str(tmp)], check=True)
        tmp.rename(path)
    return path


def cpu_seconds(pids):
    """user+sys CPU of these processes so far (those that exited count 0)."""
    total = 0
    for pid in pids:
        try:
            fields = pathlib.Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except (OSError, IndexError, ValueError):
            pass
    return total / CLK


def children_of(pids):
    """The processes these started (e.g. the capture's ffmpeg and readers), recursively."""
    out = set(pids)
    changed = True
    while changed:
        changed = False
        for entry in pathlib.Path("/proc").iterdir():
            if not entry.name.isdigit() or int(entry.name) in out:
                continue
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            if ppid in out:
                out.add(int(entry.name))
                changed = True
    return out


class Trial:
    """N cameras of one pipeline with K readers each, started, measured, stopped."""

    def __init__(self, args, media, pipeline, n, k, tmp):
        self.args, self.media, self.pipeline, self.n, self.k = args, media, pipeline, n, k
        self.tmp = tmp
        self.procs = []
        self.rings = [f"cpb{os.getpid()}-{pipeline.replace('-', '')}-{i}" for i in range(n)]

    def start(self):
        w, h = self.args.size.split("x")
        for i, ring in enumerate(self.rings):
            if self.pipeline.startswith("framering"):
                extra = {"framering-fps5": ["--fps", "5"],
                         "framering-keyframes": ["--decode", "keyframes"]}.get(self.pipeline, [])
                self.spawn([self.args.bin, "ingest", "--ring", ring, "--source", str(self.media),
                            "--realtime", "--loop", "--decode-threads", "1", "--slots", "16",
                            "--metrics-addr", "0", "--log-level", "warn", *extra])
            elif self.pipeline == "frigate-style":
                self.spawn([sys.executable, str(HERE / "frigate_style.py"), "capture", "--name",
                            ring, "--width", w, "--height", h, "--slots", "16", "--readers",
                            str(self.k), "--stats", str(self.tmp / f"{ring}.json"), "--",
                            "-re", "-stream_loop", "-1", "-threads", "1", "-i", str(self.media),
                            "-f", "rawvideo", "-pix_fmt", "bgr24", "pipe:"])
            else:  # decode-only
                self.spawn(["ffmpeg", "-v", "error", "-nostats", "-progress",
                            str(self.tmp / f"{ring}.progress"), "-re", "-stream_loop", "-1",
                            "-threads", "1", "-i", str(self.media), "-f", "null", "-"])
        if self.pipeline.startswith("framering"):
            shm = pathlib.Path(os.environ.get("FRAMERING_SHM_DIR") or "/dev/shm")
            deadline = time.monotonic() + 30
            while not all((shm / f"framering.{r}").exists() for r in self.rings):
                if any(p.poll() is not None for p in self.procs):
                    raise RuntimeError(f"an ingest exited early: {self.procs[0].args}")
                if time.monotonic() > deadline:
                    raise RuntimeError(f"rings did not appear in {shm} within 30 s")
                time.sleep(0.1)
            for ring in self.rings:
                for j in range(self.k):
                    self.spawn([self.args.bin, "worker", "--ring", ring, "--analytic", "checksum",
                                "--mode", "every", "--name", f"r{j}", "--events", os.devnull,
                                "--metrics-addr", "0", "--log-level", "warn"])

    def spawn(self, cmd):
        self.procs.append(subprocess.Popen(list(map(str, cmd)), stdout=subprocess.DEVNULL,
                                           stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL))

    def sample(self):
        """(frames delivered per camera, frames dropped per reader, CPU seconds) right now."""
        pids = children_of([p.pid for p in self.procs])
        cpu = cpu_seconds(pids)
        delivered, dropped = [], []
        if self.pipeline.startswith("framering"):
            out = subprocess.run([self.args.bin, "stat", *self.rings, "--json"],
                                 capture_output=True, text=True, timeout=30)
            for r in json.loads(out.stdout) if out.returncode == 0 else []:
                delivered.append(r["cursor"])
                for rd in r["readers"]:
                    d = rd["dropped"]
                    dropped.append(d["lapped"] + d["torn"] + d["skipped"])
        elif self.pipeline == "frigate-style":
            for ring in self.rings:
                try:
                    s = json.loads((self.tmp / f"{ring}.json").read_text())
                except (OSError, ValueError):
                    s = {"frames": 0, "readers": []}
                delivered.append(s["frames"])
                dropped += [lapped + torn for _, lapped, torn in s["readers"]]
        else:
            for ring in self.rings:
                frames = 0
                try:
                    for line in (self.tmp / f"{ring}.progress").read_text().splitlines():
                        if line.startswith("frame="):
                            frames = int(line.split("=", 1)[1])
                except (OSError, ValueError):
                    pass
                delivered.append(frames)
        return delivered, dropped, cpu

    def stop(self):
        for p in self.procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in self.procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


def expected_per_second(pipeline):
    return {"framering-fps5": 5.0, "framering-keyframes": FPS / GOP}.get(pipeline, float(FPS))


def run_trial(args, media, pipeline, n, k):
    with tempfile.TemporaryDirectory(prefix="cpb-") as tmp:
        trial = Trial(args, media, pipeline, n, k, pathlib.Path(tmp))
        try:
            trial.start()
            time.sleep(args.warmup)
            d0, x0, c0 = trial.sample()
            t0 = time.monotonic()
            time.sleep(args.seconds)
            d1, x1, c1 = trial.sample()
            window = time.monotonic() - t0
        finally:
            trial.stop()
    want = expected_per_second(pipeline) * window
    per_camera = [b - a for a, b in zip(d0, d1)] if len(d0) == len(d1) == n else [0] * n
    drops = sum(x1) - sum(x0) if len(x0) == len(x1) else -1
    readers_expected = 0 if pipeline == "decode-only" else n * k
    ok = (min(per_camera) >= 0.99 * want - 1 and drops == 0 and len(x1) == readers_expected)
    result = {"pipeline": pipeline, "cameras": n, "readers": k, "window_s": round(window, 2),
              "min_fps": round(min(per_camera) / window, 2),
              "cpu_per_camera": round((c1 - c0) / window / n, 3), "drops": drops, "ok": ok}
    log(json.dumps(result))
    return result


def largest_n(args, media, pipeline, k, trials):
    """Doubling, then bisection: the largest N that passes (0 if even one camera fails)."""
    good, bad = 0, None
    n = 1
    while n <= args.max_cameras:
        r = run_trial(args, media, pipeline, n, k)
        trials.append(r)
        if not r["ok"]:
            bad = n
            break
        good = n
        n *= 2
    if bad is None:
        return good
    while bad - good > 1:
        mid = (good + bad) // 2
        r = run_trial(args, media, pipeline, mid, k)
        trials.append(r)
        if r["ok"]:
            good = mid
        else:
            bad = mid
    return good


def section(results, trials, args, command):
    lines = ["## Cameras per box", "",
             f"`{command}` — {os.cpu_count()} CPUs; each camera H.264 {args.size} at {FPS} fps "
             f"(GOP {GOP}), {args.seconds:g} s windows; a pass: every camera ≥ 99 % of its "
             "frames, no reader drops one.", "",
             "| pipeline | analytics per camera | cameras | CPU per camera (cores) |",
             "|---|---|---|---|"]
    for (pipeline, k), n in results.items():
        cpu = [t["cpu_per_camera"] for t in trials
               if t["pipeline"] == pipeline and t["readers"] == k and t["cameras"] == n and t["ok"]]
        lines.append(f"| {pipeline} | {k if pipeline != 'decode-only' else '-'} | {n} | "
                     f"{cpu[0] if cpu else '-'} |")
    lines.append("")
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog=__doc__.split("\n\n", 1)[1])
    ap.add_argument("--bin", default=str(ROOT / "build/release/bin/framering"))
    ap.add_argument("--quick", action="store_true", help="30 s windows instead of 60")
    ap.add_argument("--seconds", type=float, help="measurement window per trial")
    ap.add_argument("--warmup", type=float, default=3.0, help="seconds before the window")
    ap.add_argument("--readers", type=int, nargs="+", default=[1, 4], help="K values")
    ap.add_argument("--pipelines", default="framering,frigate-style,decode-only")
    ap.add_argument("--size", default="1920x1080")
    ap.add_argument("--max-cameras", type=int, default=32)
    ap.add_argument("--media-dir", default=str(ROOT / "build/bench"))
    ap.add_argument("--json", help="write every trial here")
    args = ap.parse_args()
    if args.seconds is None:
        args.seconds = 30.0 if args.quick else 60.0
    os.makedirs(args.media_dir, exist_ok=True)
    media = make_media(args.media_dir, args.size)
    results, trials = {}, []
    for pipeline in args.pipelines.split(","):
        for k in ([1] if pipeline == "decode-only" else args.readers):
            results[(pipeline, k)] = largest_n(args, media, pipeline, k, trials)
            log(f"{pipeline} K={k}: {results[(pipeline, k)]} cameras")
    command = " ".join(["bench/cameras_per_box.py", *sys.argv[1:]])
    print(section(results, trials, args, command))
    if args.json:
        pathlib.Path(args.json).write_text(json.dumps({"results": [
            {"pipeline": p, "readers": k, "cameras": n} for (p, k), n in results.items()],
            "trials": trials}, indent=1))


if __name__ == "__main__":
    main()
