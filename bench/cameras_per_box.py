#!/usr/bin/python3
"""Cameras per box: how many cameras this machine runs without dropping a frame, side by side.

    /usr/bin/python3 bench/cameras_per_box.py [--bin build/release/bin/framering] [--quick]
        [--seconds S] [--readers 1 4] [--pipelines decode-only,framering,...] [--size 1920x1080]
        [--max-cameras N] [--no-stages] [--no-rtsp] [--json FILE] [--svg FILE]

Every camera is the same H.264 file at 30 fps (made once with the ffmpeg CLI, a keyframe every
2 s), played in real time and looped, so the source costs what a camera's network stream does:
nothing but the packets. For each pipeline and each K (analytics per camera) it searches the
largest N for which, over a window of S seconds after a warm-up, every camera delivers at least
99 % of its frames and no reader drops one:

- framering: one `framering ingest` per camera (1 decode thread) into its bgr24 ring, K
  `framering worker --analytic checksum --mode every` per ring (checksum: a crc32 of every byte,
  in place, the cheap stand-in for an analytic that reads the whole frame);
- framering-yuv: the same with `--pix-fmt yuv420p` (the decoder's planes copied, no colour
  conversion); a binary without that flag is reported as such and the pipeline skipped;
- framering-fps5 / framering-keyframes: bgr24 with `--fps 5` / `--decode keyframes` (the frames
  a camera must deliver are then 5 per second / its keyframes);
- framering-scale: bgr24 with `--scale 640x360` (the 1080p stream decoded, published at a
  detection size);
- framering-substream: what a camera with a 640x360 `detect:` sub-stream and a 1080p
  `record.source` costs: an ingest of a 640x360 file (the sub-stream, decoded, K readers) plus
  `ingest --packets-only --packet-history 10s` of the 1080p file (demuxed into a packet ring,
  not decoded), both counted;
- frigate-style: per camera `ffmpeg … -f rawvideo -pix_fmt bgr24 pipe:` and a Python capture
  process copying each frame into a shared-memory slot for K Python crc32 readers
  (bench/frigate_style.py says what it copies);
- decode-only: `ffmpeg -re … -f null -` per camera, the physical limit of decoding N streams.

framering-scale, framering-substream and decode-only run at K = 1 only; --quick runs K = 4
only for framering, framering-yuv and frigate-style (the goals need those).

The search: a short one-camera probe first (at K > 1, the K = 1 probe plus K - 1 of its
readers); its CPU predicts N (90 % of the cores ÷ CPU per camera). From that guess it steps once
by --precision, then doubles or halves to a pass and a failure, and bisects until they are
within --precision of each other. N is capped by --max-cameras and by the memory and the
free space of the shm directory the rings need; `--decode keyframes`, whose goal is 10× the
full-decode N, may go to 10 × (framering, K = 1) + 1 cameras however small --max-cameras is.

A trial starts every process, waits until each ring has all its readers attached (a trial
whose readers are not all up within a minute fails, and says so), warms up, then measures.

CPU per camera is user+sys of all the pipeline's processes over the window, divided by N, also
split by role (ingest, reader, ...). Per-stage cost of the ingest comes from runs over the
whole 10 s file as fast as it goes (CPU per frame from rusage, times 30), subtracted from each
other: demux = `ingest --packets-only --packet-history 10s` (demux and packet copy, no decode);
decode = `ingest --fps 0.1` (every frame decoded, one converted) − demux; into the slot = the
plain ingest − `--fps 0.1`, for bgr24 (sws_scale) and yuv420p (the plane copy); a reader = a
checksum worker's CPU in the one-camera trial. A confirmation run plays the
file through a local gst-rtsp-server (no re-encode) to N framering cameras over real RTSP.

Prints the Markdown section (bench/cameras_report.py); --json writes everything measured,
which bench/report.py turns into docs/benchmarks.md's section and docs/capacity.md's table.
"""
import argparse
import json
import math
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
DETECT_SIZE = "640x360"  # framering-scale's --scale and framering-substream's sub-stream
INGEST_FLAGS = {"framering": [], "framering-yuv": ["--pix-fmt", "yuv420p"],
                "framering-fps5": ["--fps", "5"], "framering-keyframes": ["--decode", "keyframes"],
                "framering-scale": ["--scale", DETECT_SIZE], "framering-substream": []}
PIPELINES = ["decode-only", "framering", "framering-yuv", "framering-fps5", "framering-keyframes",
             "framering-scale", "framering-substream", "frigate-style"]
# K = 1 only: the ceiling has no readers; scale and sub-stream are compared with framering K = 1.
K1_ONLY = {"decode-only", "framering-scale", "framering-substream"}
# QUICK: K = 4 only where a goal needs it.
QUICK_K4 = {"framering", "framering-yuv", "frigate-style"}
KEYFRAMES_GOAL = 10  # --decode keyframes: N >= 10x the full-decode N
READY_TIMEOUT_S = 60  # every ring up, then every reader attached, each within this


def log(msg):
    print(f"cameras_per_box: {msg}", file=sys.stderr, flush=True)


def make_media(out_dir, size, seconds=10):
    path = pathlib.Path(out_dir) / f"camera-{size}-h264-{FPS}fps-{seconds}s.mp4"
    if not path.exists():
        log(f"making {path} ({seconds} s of H.264 {size} at {FPS} fps)")
        tmp = path.with_suffix(".tmp.mp4")
        subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i",
                        f"testsrc2=size={size}:rate={FPS}", "-t", str(seconds), "-c:v", "libx264",
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


def shm_dir():
    return pathlib.Path(os.environ.get("FRAMERING_SHM_DIR") or "/dev/shm")


def slots_for(pipeline):
    # Slow publishers need few slots: keyframes arrive 2 s apart, --fps 5 every 200 ms.
    return 4 if pipeline in ("framering-fps5", "framering-keyframes") else 16


PACKET_RING_BYTES = 32e6  # generous for 10 s of a 1080p camera's packets


def shm_bytes(pipeline, size):
    """What one camera's rings take in the shm directory."""
    if pipeline in ("framering-scale", "framering-substream"):
        size = DETECT_SIZE
    w, h = map(int, size.split("x"))
    frame = w * h * (1.5 if pipeline == "framering-yuv" else 3)
    ring = slots_for(pipeline) * frame if pipeline != "decode-only" else 0
    return ring + (PACKET_RING_BYTES if pipeline == "framering-substream" else 0)


def memory_cap(pipeline, size):
    """Cameras whose rings and processes fit in half the available memory and in 90 % of the
    shm directory's free space."""
    processes = 2 if pipeline in ("framering-substream", "frigate-style") else 1
    per_camera = shm_bytes(pipeline, size) + 80e6 * processes  # + decoder buffers and process
    cap = 1
    for line in pathlib.Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemAvailable:"):
            cap = max(1, int(int(line.split()[1]) * 1024 * 0.5 / per_camera))
    if shm_bytes(pipeline, size):
        fs = os.statvfs(shm_dir())
        cap = min(cap, max(1, int(fs.f_bavail * fs.f_frsize * 0.9 / shm_bytes(pipeline, size))))
    return cap


def camera_cap(args, pipeline, full_decode_n):
    """(the largest N a search tries, what set it): --max-cameras, or for keyframes enough to
    show its goal (10x the full-decode N, plus one), never more than memory and shm hold."""
    cap, by = args.max_cameras, "--max-cameras"
    if pipeline == "framering-keyframes" and full_decode_n:
        cap, by = max(cap, KEYFRAMES_GOAL * full_decode_n + 1), "10× framering's N + 1"
    memory = memory_cap(pipeline, args.size)
    return (cap, by) if cap <= memory else (memory, "memory and shm space")


class Trial:
    """N cameras of one pipeline with K readers each, started, measured, stopped."""

    def __init__(self, args, source, pipeline, n, k, tmp, live=False, detect_source=None):
        self.args, self.source, self.pipeline, self.n, self.k = args, source, pipeline, n, k
        self.detect_source = detect_source  # framering-substream: the 640x360 file decoded
        self.tmp, self.live = tmp, live
        self.procs = []  # (Popen, role)
        self.logs = {}  # role: the file its processes' stderr goes to
        tag = pipeline.replace("-", "")[:12]
        self.rings = [f"cpb{os.getpid()}-{tag}-{i}" for i in range(n)]

    def start(self):
        w, h = self.args.size.split("x")
        pacing = [] if self.live else ["--realtime", "--loop"]
        for ring in self.rings:
            if self.pipeline == "framering-substream":
                # The main stream: demuxed into the packet ring a recorder would read.
                self.spawn("record-ingest", [self.args.bin, "ingest", "--ring", ring, "--source",
                                             self.source, *pacing, "--packets-only",
                                             "--packet-history", "10s", "--metrics-addr", "0",
                                             "--log-level", "warn"])
            if self.pipeline.startswith("framering"):
                source = self.detect_source or self.source
                self.spawn("ingest", [self.args.bin, "ingest", "--ring", ring, "--source",
                                      source, *pacing, "--decode-threads", "1", "--slots",
                                      slots_for(self.pipeline), "--metrics-addr", "0",
                                      "--log-level", "warn", *INGEST_FLAGS[self.pipeline]])
            elif self.pipeline == "frigate-style":
                # One decode thread and one filter (bgr24 conversion) thread, as the ingest's.
                self.spawn("capture", [sys.executable, HERE / "frigate_style.py", "capture",
                                       "--name", ring, "--width", w, "--height", h, "--slots",
                                       "16", "--readers", self.k, "--stats",
                                       self.tmp / f"{ring}.json", "--", "-re", "-stream_loop",
                                       "-1", "-threads", "1", "-filter_threads", "1", "-i",
                                       self.source, "-f", "rawvideo", "-pix_fmt", "bgr24",
                                       "pipe:"])
            else:  # decode-only
                self.spawn("decode", ["ffmpeg", "-v", "error", "-nostats", "-stats_period", "0.1",
                                      "-progress", self.tmp / f"{ring}.progress", "-re",
                                      "-stream_loop", "-1", "-threads", "1", "-filter_threads",
                                      "1", "-i", self.source, "-f", "null", "-"])
        # Every pipeline is up (a ring, a first counters file) before the warm-up starts.
        ready = {"frigate-style": lambda r: [self.tmp / f"{r}.json"],
                 "decode-only": lambda r: [self.tmp / f"{r}.progress"],
                 "framering-substream": lambda r: [shm_dir() / f"framering.{r}",
                                                   shm_dir() / f"framering.{r}.packets"]}.get(
                     self.pipeline, lambda r: [shm_dir() / f"framering.{r}"])
        self.wait_until(lambda: all(p.exists() for r in self.rings for p in ready(r)),
                        "not up")
        if not self.pipeline.startswith("framering"):
            return
        for ring in self.rings:
            for j in range(self.k):
                self.spawn("reader", [self.args.bin, "worker", "--ring", ring, "--analytic",
                                      "checksum", "--mode", "every", "--name", f"r{j}",
                                      "--events", os.devnull, "--metrics-addr", "0",
                                      "--log-level", "warn"])
        # A reader not yet attached when the window opens would count as one that reported
        # nothing: the trial measures only once `stat` lists every one of them alive.
        attached = [0]

        def all_attached():
            attached[0] = sum(1 for r in self.stat() for rd in r["readers"] if rd["alive"])
            return attached[0] >= self.n * self.k

        self.wait_until(all_attached, lambda: f"readers not attached: {attached[0]} of "
                        f"{self.n * self.k} alive")

    def wait_until(self, ready, what):
        deadline = time.monotonic() + READY_TIMEOUT_S
        while not ready():
            if self.exited():
                raise RuntimeError(f"a process exited early: {self.exited()}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"{what() if callable(what) else what} within "
                                   f"{READY_TIMEOUT_S} s")
            time.sleep(0.2)

    def stat(self):
        out = subprocess.run([self.args.bin, "stat", *self.rings, "--json"],
                             capture_output=True, text=True, timeout=60)
        return json.loads(out.stdout) if out.returncode == 0 else []

    def spawn(self, role, cmd):
        if role not in self.logs:
            self.logs[role] = self.tmp.joinpath(f"{role}.err").open("a")
        self.procs.append((subprocess.Popen(list(map(str, cmd)), stdout=subprocess.DEVNULL,
                                            stderr=self.logs[role], stdin=subprocess.DEVNULL),
                           role))

    def exited(self):
        """What exited before being asked to: [(role, exit code, last stderr line)]."""
        out = []
        for p, role in self.procs:
            if p.poll() is not None:
                err = self.tmp.joinpath(f"{role}.err").read_text().strip().splitlines()
                out.append((role, p.returncode, err[-1][-200:] if err else ""))
        return out

    def roles(self):
        """{role: [pid]}, the frigate-style capture's own children split out of it."""
        roles = {}
        captures = iter(self.rings)  # one capture per camera, in ring order
        for p, role in self.procs:
            if role != "capture":
                roles.setdefault(role, []).append(p.pid)
                continue
            try:
                s = json.loads(self.tmp.joinpath(f"{next(captures)}.json").read_text())
                capture, ffmpeg, *readers = s["pids"]
            except (OSError, ValueError, KeyError, IndexError):
                capture, ffmpeg, readers = p.pid, None, []
            roles.setdefault("capture", []).append(capture)
            roles.setdefault("decode", []).extend([ffmpeg] if ffmpeg else [])
            roles.setdefault("reader", []).extend(readers)
        return roles

    def sample(self):
        """([(frames delivered, when counted)] per camera, frames dropped per reader,
        {role: CPU seconds}). Counters the capture or ffmpeg write now and then come with the
        time they were written, so a rate is exact however stale the file."""
        cpu = {role: cpu_seconds(pids) for role, pids in self.roles().items()}
        delivered, dropped = [], []
        if self.pipeline.startswith("framering"):
            for r in self.stat():
                # The cursor with the moment stat read it (CLOCK_MONOTONIC, as Python's
                # monotonic clock): not when a loaded machine let stat exit and be read.
                delivered.append((r["cursor"], r["sampled_ns"] / 1e9))
                for rd in r["readers"]:
                    d = rd["dropped"]
                    dropped.append(d["lapped"] + d["torn"] + d["skipped"])
        elif self.pipeline == "frigate-style":
            for ring in self.rings:
                try:
                    s = json.loads((self.tmp / f"{ring}.json").read_text())
                except (OSError, ValueError):
                    s = {"frames": 0, "readers": [], "time": time.time()}
                delivered.append((s["frames"], s["time"]))
                dropped += [torn for _, torn in s["readers"]]
        else:
            for ring in self.rings:
                frames, when = 0, time.time()
                try:
                    path = self.tmp / f"{ring}.progress"
                    when = path.stat().st_mtime
                    for line in path.read_text().splitlines():
                        if line.startswith("frame="):
                            frames = int(line.split("=", 1)[1])
                except (OSError, ValueError):
                    pass
                delivered.append((frames, when))
        return delivered, dropped, cpu

    def stop(self):
        for p, _ in self.procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p, _ in self.procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        for f in self.logs.values():
            f.close()


def expected_per_second(pipeline):
    return {"framering-fps5": 5.0, "framering-keyframes": FPS / GOP}.get(pipeline, float(FPS))


def run_trial(args, source, pipeline, n, k, live=False, window=None, detect_source=None):
    """One trial of `window` seconds (--seconds unless given)."""
    exited = []
    seconds = window or args.seconds
    with tempfile.TemporaryDirectory(prefix="cpb-") as tmp:
        trial = Trial(args, source, pipeline, n, k, pathlib.Path(tmp), live, detect_source)
        try:
            trial.start()
            time.sleep(args.warmup)
            d0, x0, c0 = trial.sample()
            t0 = time.monotonic()
            time.sleep(seconds)
            d1, x1, c1 = trial.sample()
            window = time.monotonic() - t0
            exited = trial.exited()
        except RuntimeError as e:
            log(f"{pipeline} N={n} K={k}: {e}")
            d0 = d1 = x0 = x1 = []
            c0 = c1 = {}
            window = seconds
            exited = [("start", -1, str(e))]
        finally:
            trial.stop()
    want = expected_per_second(pipeline) * window
    # Frames per camera over the window, from each camera's own rate between its two counts.
    per_camera = [0] * n
    if len(d0) == len(d1) == n:
        per_camera = [(b - a) / (tb - ta) * window if tb > ta else 0
                      for (a, ta), (b, tb) in zip(d0, d1)]
    drops = sum(x1) - sum(x0) if len(x0) == len(x1) else -1
    readers_expected = 0 if pipeline == "decode-only" else n * k
    ok = (min(per_camera) >= 0.99 * want - 1 and drops == 0 and len(x1) == readers_expected
          and not exited)
    start_failed = next((why for role, _, why in exited if role == "start"), None)
    why = ("" if ok else f"not started: {start_failed}" if start_failed else
           f"exited: {exited}" if exited else
           "not every reader reported" if drops < 0 else
           f"{drops} frames dropped" if drops else
           "readers missing" if len(x1) != readers_expected else
           f"slowest camera {min(per_camera) / window:.1f} of {want / window:g} frames/s")
    cpu = {role: round((c1.get(role, 0) - c0.get(role, 0)) / window / n, 4) for role in c1}
    result = {"pipeline": pipeline, "cameras": n, "readers": k, "window_s": round(window, 2),
              "min_fps": round(min(per_camera) / window, 2),
              "cpu_per_camera": round(sum(cpu.values()), 4), "cpu_by_role": cpu, "drops": drops,
              "ok": ok, "why": why, "source": "rtsp" if live else "file"}
    log(json.dumps(result))
    return result


def search(trial, start, cap, precision):
    """(largest passing N, smallest failing N or None). From `start` (a good guess) one step of
    `precision` (a fraction of N, at least 1) up after a pass or down after a failure, then
    doubling or halving until there is a pass and a failure, then bisection while they are
    further apart than `precision`. (0, 1) when one camera fails."""
    good, bad = 0, None
    n = max(1, min(cap, start))
    steps = 0
    while True:
        step = max(1, math.ceil(n * precision)) if steps == 0 else None
        steps += 1
        if trial(n)["ok"]:
            good = n
            if bad is not None or n >= cap:
                break
            n = min(cap, n + step if step else n * 2)
        else:
            bad = n
            if good or n == 1:
                break
            n = max(1, n - step if step else n // 2)
    while bad is not None and bad - good > max(1, int(good * precision)):
        mid = (good + bad) // 2
        if trial(mid)["ok"]:
            good = mid
        else:
            bad = mid
    return good, bad


def probe_seconds(args):
    """The one-camera probe only predicts N from its CPU: a short window is enough."""
    return min(args.seconds, 5.0) if args.quick else args.seconds


def largest_n(args, media, pipeline, k, trials, cap, probes):
    """The search for one pipeline and K. `probes` holds each pipeline's one-camera K = 1 trial:
    at K > 1 the guess is that camera plus K - 1 more of its readers, without a probe of its
    own."""

    done = {}  # N: a trial over the full window, not run twice

    def trial(n, window=None):
        if n in done:
            return done[n]
        r = run_trial(args, media["main"], pipeline, n, k, window=window,
                      detect_source=media["detect"] if pipeline == "framering-substream"
                      else None)
        trials.append(r)
        if (window or args.seconds) == args.seconds:
            done[n] = r
        return r

    base = probes.get(pipeline)
    if k == 1 or base is None:
        first = trial(1, probe_seconds(args))
        if first["ok"] and k == 1:
            probes[pipeline] = first
        if not first["ok"]:
            return {"pipeline": pipeline, "readers": k, "cameras": 0, "failed_at": 1, "cap": cap,
                    "why": first["why"]}
        cpu = first["cpu_per_camera"]
    else:
        cpu = base["cpu_per_camera"] + (k - 1) * base["cpu_by_role"].get("reader", 0)
    # One camera's CPU predicts how many fit (with a tenth of the cores to spare).
    guess = int(0.9 * os.cpu_count() / cpu) if cpu > 0 else cap
    good, bad = search(trial, max(1, guess), cap, args.precision)
    out = {"pipeline": pipeline, "readers": k, "cameras": good, "failed_at": bad, "cap": cap}
    if not good:
        out["why"] = next(t["why"] for t in reversed(trials) if t["pipeline"] == pipeline
                          and t["readers"] == k and t["cameras"] == 1)
    return out


def unpaced_cores(args, media, flags, ring):
    """Cores per 30 fps camera of one ingest run over the whole 10 s file as fast as it goes:
    its CPU (rusage) per frame of the file, times 30."""
    cmd = [args.bin, "ingest", "--ring", ring, "--source", media, "--metrics-addr", "0",
           "--slots", "4", "--log-level", "warn", *flags]
    p = subprocess.Popen(list(map(str, cmd)), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(p.pid, 0)
    err = p.stderr.read().decode(errors="replace").strip()
    p.stderr.close()
    if os.waitstatus_to_exitcode(status) != 0:
        log(f"stage run {flags} failed: {err[-300:]}")
        return None
    return (usage.ru_utime + usage.ru_stime) / (10 * FPS) * FPS


def stage_costs(args, media, trials, yuv_ok):
    """Cores per camera of each stage. The ingest's stages come from unpaced runs over the file,
    subtracted from each other (the median of 3, 1 when quick); a reader's cost and the
    Frigate-style split from the one-camera trials of the search (K = 1)."""
    runs = {"demux": ["--packets-only", "--packet-history", "10s"],
            "decoded": ["--decode-threads", "1", "--fps", "0.1"],
            "bgr24": ["--decode-threads", "1"]}
    if yuv_ok:
        runs["yuv420p"] = ["--decode-threads", "1", "--pix-fmt", "yuv420p"]
    ingest = {}
    for name, flags in runs.items():
        got = [unpaced_cores(args, media, flags, f"cpb{os.getpid()}-stage-{name}")
               for _ in range(1 if args.quick else 3)]
        got = sorted(g for g in got if g is not None)
        ingest[name] = got[len(got) // 2] if got else None
    stages = {"demux": ingest["demux"]}
    if ingest["decoded"] is not None and ingest["demux"] is not None:
        stages["decode"] = ingest["decoded"] - ingest["demux"]
    for fmt_ in ("bgr24", "yuv420p"):
        if ingest.get(fmt_) is not None and ingest["decoded"] is not None:
            stages[f"into the slot ({fmt_})"] = ingest[fmt_] - ingest["decoded"]

    def one_camera(pipeline):
        return next((t["cpu_by_role"] for t in trials if t["pipeline"] == pipeline
                     and t["cameras"] == 1 and t["readers"] == 1 and t["ok"]), {})

    stages["checksum reader"] = one_camera("framering").get("reader")
    frig = one_camera("frigate-style")
    stages["frigate-style: ffmpeg decode + bgr24 + pipe"] = frig.get("decode")
    stages["frigate-style: capture (pipe read + slot copy)"] = frig.get("capture")
    stages["frigate-style: Python crc32 reader"] = frig.get("reader")
    return {k: round(v, 4) for k, v in stages.items() if v is not None}


def serve_rtsp(port, media):
    """A camera for the confirmation run: gst-rtsp-server plays the file (no re-encode), a
    pipeline of its own for every client, in real time."""
    import gi
    gi.require_version("Gst", "1.0")
    gi.require_version("GstRtspServer", "1.0")
    from gi.repository import GLib, Gst, GstRtspServer
    Gst.init(None)
    server = GstRtspServer.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service(str(port))
    factory = GstRtspServer.RTSPMediaFactory()
    factory.set_launch(f"( filesrc location={media} ! qtdemux ! h264parse ! "
                       "rtph264pay name=pay0 pt=96 config-interval=-1 )")
    factory.set_shared(False)
    server.get_mount_points().add_factory("/cam", factory)
    if server.attach(None) == 0:
        sys.exit(f"cannot listen on 127.0.0.1:{port}")
    print("READY", flush=True)
    GLib.MainLoop().run()


def rtsp_confirmation(args, n, trials):
    """N framering cameras (K = 1) reading a local RTSP server instead of files."""
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    media = make_media(args.media_dir, args.size, int(math.ceil(args.warmup + args.seconds + 20)))
    server = subprocess.Popen([sys.executable, __file__, "serve-rtsp", str(port), str(media)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        if server.stdout.readline().strip() != "READY":
            return {"error": f"gst-rtsp-server did not start: {server.stderr.read()[-300:]}"}
        c0 = cpu_seconds([server.pid])
        # A longer warm-up: what the server sent while the ingests connected arrives in a burst.
        live = argparse.Namespace(**dict(vars(args), warmup=args.warmup + 5))
        r = run_trial(live, f"rtsp://127.0.0.1:{port}/cam", "framering", n, 1, live=True)
        r["server_cpu_per_camera"] = round((cpu_seconds([server.pid]) - c0) / n /
                                           (live.warmup + args.seconds), 4)
        trials.append(r)
        return r
    finally:
        server.terminate()
        server.wait(timeout=10)


def yuv_unsupported(binary, media):
    """None if this framering accepts `ingest --pix-fmt yuv420p`, else what it said."""
    p = subprocess.run([binary, "ingest", "--ring", "cpb-check", "--source", str(media),
                        "--pix-fmt", "yuv420p", "--check-config"], capture_output=True,
                       text=True, timeout=60)
    return None if p.returncode == 0 else (p.stderr.strip().splitlines() or ["exit 2"])[-1]


def measure(args):
    os.makedirs(args.media_dir, exist_ok=True)
    media = {"main": make_media(args.media_dir, args.size), "detect": None}
    t0 = time.monotonic()
    data = {"size": args.size, "fps": FPS, "gop": GOP, "cores": os.cpu_count(),
            "window_s": args.seconds, "warmup_s": args.warmup, "quick": args.quick,
            "probe_s": probe_seconds(args), "detect_size": DETECT_SIZE,
            "max_cameras": args.max_cameras, "precision": args.precision,
            "load1_before": os.getloadavg()[0], "results": [], "trials": [], "unsupported": {}}
    # In PIPELINES' order whatever the flag's: keyframes' cap needs framering's N first.
    pipelines = [p for p in PIPELINES if p in args.pipelines.split(",")]
    if "framering-yuv" in pipelines:
        why = yuv_unsupported(args.bin, media["main"])
        if why:
            log(f"framering-yuv skipped: this framering does not accept --pix-fmt yuv420p: {why}")
            data["unsupported"]["framering-yuv"] = f"`ingest --pix-fmt yuv420p` refused: {why}"
            pipelines.remove("framering-yuv")
    if "framering-substream" in pipelines:
        media["detect"] = make_media(args.media_dir, DETECT_SIZE)
    probes = {}
    for pipeline in pipelines:
        for k in readers_for(args, pipeline):
            full = next((r["cameras"] for r in data["results"]
                         if r["pipeline"] == "framering" and r["readers"] == 1), None)
            cap, capped_by = camera_cap(args, pipeline, full)
            r = dict(largest_n(args, media, pipeline, k, data["trials"], cap, probes),
                     capped_by=capped_by)
            data["results"].append(r)
            log(f"{pipeline} K={k}: {r['cameras']} cameras")
    if args.stages:
        data["stages"] = stage_costs(args, media["main"], data["trials"],
                                     "framering-yuv" not in data["unsupported"])
    n = next((r["cameras"] for r in data["results"]
              if r["pipeline"] == "framering" and r["readers"] == 1), 0)
    if args.rtsp and n:
        data["rtsp"] = rtsp_confirmation(args, n, data["trials"])
    data["elapsed_s"] = round(time.monotonic() - t0, 1)
    data["load1_after"] = os.getloadavg()[0]
    return data


def readers_for(args, pipeline):
    """The K values a pipeline runs at."""
    if pipeline in K1_ONLY:
        return [1]
    return [k for k in args.readers if not (args.quick and k == 4 and pipeline not in QUICK_K4)]


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog=__doc__.split("\n\n", 1)[1])
    ap.add_argument("--bin", default=str(ROOT / "build/release/bin/framering"))
    ap.add_argument("--quick", action="store_true",
                    help="30 s windows, N to within 25 %%, K = 4 only for framering, "
                         "framering-yuv and frigate-style (about 20 minutes on an idle box)")
    ap.add_argument("--seconds", type=float, help="measurement window per trial (60; quick 30)")
    ap.add_argument("--warmup", type=float, help="seconds before the window (5; quick 2)")
    ap.add_argument("--precision", type=float,
                    help="stop the search when pass and failure are this fraction of N apart "
                         "(0.1; quick 0.25)")
    ap.add_argument("--readers", type=int, nargs="+", default=[1, 4], help="K values")
    ap.add_argument("--pipelines", default=",".join(PIPELINES))
    ap.add_argument("--size", default="1920x1080")
    ap.add_argument("--max-cameras", type=int, default=64)
    ap.add_argument("--no-stages", dest="stages", action="store_false",
                    help="skip the per-stage single-camera runs")
    ap.add_argument("--no-rtsp", dest="rtsp", action="store_false",
                    help="skip the confirmation run over RTSP")
    ap.add_argument("--media-dir", default=str(ROOT / "build/bench"))
    ap.add_argument("--json", help="write everything measured here")
    ap.add_argument("--svg", help="write the cameras-vs-CPU plot here")
    args = ap.parse_args(argv)
    args.seconds = args.seconds or (30.0 if args.quick else 60.0)
    args.warmup = args.warmup if args.warmup is not None else (2.0 if args.quick else 5.0)
    args.precision = args.precision or (0.25 if args.quick else 0.1)
    for pipeline in args.pipelines.split(","):
        if pipeline not in PIPELINES:
            ap.error(f"--pipelines: unknown '{pipeline}'; choose from {','.join(PIPELINES)}")
    return args


def main():
    if sys.argv[1:2] == ["serve-rtsp"]:
        return serve_rtsp(int(sys.argv[2]), sys.argv[3])
    args = parse_args()
    data = measure(args)
    data["command"] = " ".join(["bench/cameras_per_box.py", *sys.argv[1:]]).replace(
        f"{ROOT}/", "")
    import cameras_report
    svg = pathlib.Path(args.svg) if args.svg else None
    if svg:
        svg.write_text(cameras_report.svg(data))
    print("\n".join(cameras_report.section(data, svg.name if svg else None)))
    if args.json:
        pathlib.Path(args.json).write_text(json.dumps(data, indent=1))


if __name__ == "__main__":
    main()
