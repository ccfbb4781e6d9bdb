#!/usr/bin/python3
"""Runs every framering benchmark and writes the raw results to build/bench/results.json.

    /usr/bin/python3 bench/run_all.py --build-dir build/release [--quick]

Repeats each measurement (interleaving the transports, since the machine is shared and noisy);
bench/report.py turns the results into docs/benchmarks.md and the plots. `make bench` runs both
(scripts/bench.sh).
"""
import argparse
import datetime
import json
import os
import pathlib
import platform
import re
import shutil
import subprocess
import sys
import time

import ingest_vs_ffmpeg
import provenance
import record_vs_reencode
from child_cpu import wait_with_rusage

ROOT = pathlib.Path(__file__).resolve().parents[1]
VTEST = pathlib.Path("/usr/share/doc/opencv-doc/examples/data/vtest.avi")
TRANSPORTS = ["ring", "unix4m", "unix", "pipe1m", "pipe", "zmq"]
# Fan-out also measures the lossless ring (writer held back by its readers, as ingest
# --wait-for-readers); at a fixed 30 fps it would be the same as the plain ring.
FANOUT_TRANSPORTS = ["ringwait"] + TRANSPORTS
ANALYTICS = ["checksum", "motion", "tamper", "people"]
WORKER_LIMIT_S = 120  # a worker member that needs longer is stopped and reported as such


def log(msg):
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def run_json(cmd, timeout=300):
    """Runs a driver that prints one JSON object; returns it (or an error record)."""
    log(" ".join(map(str, cmd)))
    p = subprocess.run(list(map(str, cmd)), capture_output=True, text=True, timeout=timeout)
    if p.returncode != 0:
        log(f"  failed ({p.returncode}): {p.stderr.strip()[-400:]}")
        return {"error": p.stderr.strip()[-400:] or f"exit {p.returncode}", "cmd": list(map(str, cmd))}
    return json.loads(p.stdout.strip().splitlines()[-1])


def load_average():
    return [float(x) for x in pathlib.Path("/proc/loadavg").read_text().split()[:3]]


def machine_info():
    cpu = ""
    for line in pathlib.Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    mem_kb = int(re.search(r"MemTotal:\s+(\d+)", pathlib.Path("/proc/meminfo").read_text()).group(1))

    def first_line(cmd):
        try:
            return subprocess.run(cmd, capture_output=True, text=True).stdout.splitlines()[0]
        except (OSError, IndexError):
            return "unknown"

    l3 = pathlib.Path("/sys/devices/system/cpu/cpu0/cache/index3/size")
    return {
        "date_utc": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu": cpu, "cores": os.cpu_count(), "memory_gib": round(mem_kb / 2**20, 1),
        "l3_cache": l3.read_text().strip() if l3.exists() else None,
        "kernel": platform.release(), "compiler": first_line(["c++", "--version"]),
        "ffmpeg": first_line(["ffmpeg", "-hide_banner", "-version"]),
        "commit": provenance.commit(),
        "other_processes_running": int(first_line(["sh", "-c", "ps -e --no-headers | wc -l"])),
    }


# -- 1. ring publish vs memcpy ----------------------------------------------------------------
def bench_publish(bindir, quick):
    reps = 3 if quick else 9
    cmd = [bindir / "bench_publish", f"--benchmark_repetitions={reps}",
           "--benchmark_enable_random_interleaving=true", "--benchmark_format=json",
           f"--benchmark_min_time={0.05 if quick else 0.3}"]
    log(" ".join(map(str, cmd)))
    p = subprocess.run(list(map(str, cmd)), capture_output=True, text=True, timeout=600)
    if p.returncode != 0:
        return {"error": p.stderr[-400:], "cmd": list(map(str, cmd))}
    data = json.loads(p.stdout)
    runs = {}
    for b in data["benchmarks"]:
        if b.get("run_type") != "iteration":
            continue
        runs.setdefault(b["run_name"], []).append(b["real_time"])  # microseconds per frame
    return {"cmd": " ".join(map(str, cmd[1:])), "runs_us": runs, "context": data.get("context", {})}


# -- 2. fan-out ---------------------------------------------------------------------------------
def bench_fanout(bindir, quick):
    reps, seconds = (1, 0.5) if quick else (3, 1.5)
    results = []
    for rep in range(reps):
        for n in (1, 2, 4, 8):
            for t in FANOUT_TRANSPORTS:
                r = run_json([bindir / "bench_fanout", "--transport", t, "--readers", n,
                              "--seconds", seconds])
                r.update(rep=rep, transport=t, readers=n)
                results.append(r)
    return {"cmd": f"bench_fanout --transport T --readers N --seconds {seconds}",
            "reps": reps, "runs": results}


# -- 2b. fixed load: 30 fps, 4 readers -----------------------------------------------------------
def bench_fixed(bindir, quick):
    reps, seconds = (1, 1.5) if quick else (3, 4.0)
    results = []
    for rep in range(reps):
        for t in TRANSPORTS:
            r = run_json([bindir / "bench_fanout", "--transport", t, "--readers", 4, "--fps", 30,
                          "--seconds", seconds])
            r.update(rep=rep, transport=t)
            results.append(r)
    return {"cmd": f"bench_fanout --transport T --readers 4 --fps 30 --seconds {seconds}",
            "reps": reps, "runs": results}


# -- 3. memory ----------------------------------------------------------------------------------
def bench_memory(bindir, quick):
    results = []
    for mode in ("ring", "copies"):
        for n in (1, 2, 4, 8):
            r = run_json([bindir / "bench_memory", "--mode", mode, "--readers", n, "--slots", 8])
            r.update(mode=mode, readers=n)
            results.append(r)
    return {"cmd": "bench_memory --mode ring|copies --readers N --slots 8", "runs": results}


# -- 4. wake latency ------------------------------------------------------------------------------
def bench_wake(bindir, quick):
    reps, samples = (1, 400) if quick else (3, 2000)
    results = []
    for rep in range(reps):
        for t in ("ring", "pipe"):
            r = run_json([bindir / "bench_wake", "--transport", t, "--samples", samples])
            r.update(rep=rep, transport=t)
            results.append(r)
    return {"cmd": f"bench_wake --transport ring|pipe --samples {samples}", "runs": results}


# -- 5. end to end: ingest vs ffmpeg ------------------------------------------------------------
def make_h264(out_dir, frames):
    path = out_dir / f"testsrc2_1080p_{frames}.mp4"
    if not path.exists():
        cmd = ["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i",
               f"testsrc2=size=1920x1080:rate=30:duration={frames / 30}", "-frames:v", str(frames),
               "-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p", str(path)]
        log(" ".join(cmd))
        subprocess.run(cmd, check=True, timeout=600)
    return path


def time_ffmpeg(src, threads):
    cmd = ["ffmpeg", "-nostdin", "-hide_banner", "-threads", str(threads), "-i", str(src),
           "-pix_fmt", "bgr24", "-f", "null", "-"]
    t0 = time.monotonic()
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    wall = time.monotonic() - t0
    frames = [int(m) for m in re.findall(r"frame=\s*(\d+)", p.stderr)]
    return {"wall_s": wall, "frames": frames[-1] if frames else 0, "rc": p.returncode}


def time_ingest(framering, src, threads, ring):
    cmd = [framering, "ingest", "--ring", ring, "--source", src, "--pix-fmt", "bgr24",
           "--decode-threads", threads, "--metrics-addr", "0", "--keep"]
    t0 = time.monotonic()
    p = subprocess.run(list(map(str, cmd)), capture_output=True, text=True, timeout=600)
    wall = time.monotonic() - t0
    frames = 0
    s = subprocess.run([str(framering), "stat", ring, "--json", "--window", "0"], capture_output=True,
                       text=True)
    try:
        stat = json.loads(s.stdout)
        ring_stat = stat[0] if isinstance(stat, list) else stat
        frames = int(ring_stat.get("cursor", ring_stat.get("frames_published", 0)))
    except (ValueError, IndexError, AttributeError):
        log(f"  stat --json unreadable: {s.stdout[:200]} {s.stderr[:200]}")
    pathlib.Path(f"/dev/shm/framering.{ring}").unlink(missing_ok=True)
    return {"wall_s": wall, "frames": frames, "rc": p.returncode, "log_tail": p.stderr[-300:]}


def bench_e2e(framering, out_dir, quick):
    if not framering.exists():
        return {"error": f"{framering} not built"}
    reps = 1 if quick else 3
    h264 = make_h264(out_dir, 60 if quick else 300)
    sources = [("h264_1080p", h264, (1, 2)), ("vtest", VTEST, (1,))]
    runs = []
    for rep in range(reps):
        for label, src, thread_counts in sources:
            for threads in thread_counts:
                log(f"e2e {label} threads={threads} rep={rep}")
                ing = time_ingest(framering, src, threads, f"bench-e2e-{os.getpid()}")
                ff = time_ffmpeg(src, threads)
                runs.append({"source": label, "threads": threads, "rep": rep,
                             "ingest": ing, "ffmpeg": ff})
    # What a process costs before it decodes anything (the dynamic linker's share of a short run).
    startup = {"framering": ingest_vs_ffmpeg.startup(framering, "--version", 5),
               "ffmpeg": ingest_vs_ffmpeg.startup("ffmpeg", "-version", 5)}
    return {"h264": str(h264), "runs": runs, "startup": startup,
            "cmd_ingest": "framering ingest --ring R --source SRC --pix-fmt bgr24 --decode-threads N "
                          "--metrics-addr 0 --keep  (frames: framering stat R --json)",
            "cmd_ffmpeg": "ffmpeg -threads N -i SRC -pix_fmt bgr24 -f null -"}


# -- 6. analytics workers -------------------------------------------------------------------------
def worker_available(framering):
    p = subprocess.run([str(framering), "worker", "--help"], capture_output=True, text=True)
    return p.returncode == 0 and "--analytic" in p.stdout


def time_workers(framering, ring, analytic, members, frames):
    procs = []
    t0 = time.monotonic()
    for i in range(members):
        cmd = [framering, "worker", "--ring", ring, "--analytic", analytic, "--mode", "every",
               "--max-frames", frames // members, "--metrics-addr", "0", "--events", "/dev/null"]
        if members > 1:
            cmd += ["--group", "bench", "--member", i, "--members", members]
        procs.append(subprocess.Popen(list(map(str, cmd)), stdout=subprocess.DEVNULL,
                                      stderr=subprocess.PIPE, text=True))
    rcs, cpu = [], 0.0
    for p in procs:
        rc, used = wait_with_rusage(p, t0 + WORKER_LIMIT_S)
        rcs.append(rc)
        cpu += used
    wall = time.monotonic() - t0
    if "timeout" in rcs:
        return {"analytic": analytic, "members": members, "frames": frames, "wall_s": wall,
                "fps": None, "rc": f"timeout after {WORKER_LIMIT_S} s"}
    # cpu_s: user + sys of all members; cpu_s / wall_s > 1 means a member used several cores.
    return {"analytic": analytic, "members": members, "frames": frames, "wall_s": wall,
            "fps": frames / wall, "cpu_s": cpu, "rc": max(rcs)}


def bench_workers(framering, quick):
    if not framering.exists() or not worker_available(framering):
        return {"error": "`framering worker` is not in this build"}
    frames = 100 if quick else 400
    ring = f"bench-workers-{os.getpid()}"
    # Fill a ring with exactly the frames to analyse and stop the writer (--keep leaves it CLOSED):
    # a writer looping at full speed would overwrite frames while a slow analytic (HOG) still
    # looks at them, and every one of those would be discarded as torn. Nothing competes for the
    # CPU while the workers are timed.
    feeder = [str(framering), "ingest", "--ring", ring, "--source", str(VTEST), "--slots",
              str(frames + 1), "--max-frames", str(frames), "--keep", "--metrics-addr", "0"]
    runs = []
    try:
        subprocess.run(feeder, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True,
                       timeout=120)
        for analytic in ANALYTICS:
            if quick and analytic == "people":
                continue  # HOG runs at a few frames/s: too slow for a quick run
            n = frames if analytic != "people" else frames // 10
            for members in (1, 2):
                log(f"workers {analytic} members={members}")
                runs.append(time_workers(framering, ring, analytic, members, n))
    finally:
        for stale in pathlib.Path("/dev/shm").glob(f"framering.{ring}*"):
            stale.unlink(missing_ok=True)
    return {"runs": runs, "limit_s": WORKER_LIMIT_S,
            "cmd": "framering worker --ring R --analytic X --mode every --max-frames N "
                   "[--group g --member i --members 2]",
            "feeder": " ".join(["framering"] + feeder[1:]).replace(str(VTEST), "vtest.avi")}


# -- objects analytic on 1080p frames, 1 and 2 consumer-group members ------------------------------
RING_TIME = re.compile(r"([0-9.]+) s analysing, ([0-9.]+) s in ring reads and checks")


def bench_objects(framering, out_dir, quick):
    """frames/s of `--analytic objects` with a generated detector (objects_model.py) on 1080p
    frames, for 1 and 2 members of a consumer group, and the ring's share of the members' time
    (their own accounting: time getting an already published frame plus the seqlock re-check,
    against the time analysing it; printed by each worker at exit)."""
    if not framering.exists() or not worker_available(framering):
        return {"error": "`framering worker` is not in this build"}
    try:
        import objects_model
    except ImportError as e:  # python3-onnx missing
        return {"error": f"cannot generate the model: {e}"}
    model = out_dir / "objects-bench.onnx"
    flops = objects_model.write_model(model)
    frames = 4 if quick else 40
    ring = f"bench-objects-{os.getpid()}"
    # As bench_workers: the ring holds exactly the frames to analyse and its writer has exited.
    feeder = [str(framering), "ingest", "--ring", ring, "--source", str(VTEST), "--width", "1920",
              "--height", "1080", "--slots", str(frames + 1), "--max-frames", str(frames),
              "--keep", "--metrics-addr", "0"]
    runs = []
    try:
        subprocess.run(feeder, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True,
                       timeout=120)
        for members in (1, 2):
            log(f"objects members={members}")
            procs = []
            t0 = time.monotonic()
            for i in range(members):
                cmd = [framering, "worker", "--ring", ring, "--analytic", "objects", "--mode",
                       "every", "--max-frames", frames // members, "--metrics-addr", "0",
                       "--events", "/dev/null", "--param", f"model={model}", "--param",
                       "input=640x640"]
                if members > 1:
                    cmd += ["--group", "bench", "--member", i, "--members", members]
                procs.append(subprocess.Popen(list(map(str, cmd)), stdout=subprocess.DEVNULL,
                                              stderr=subprocess.PIPE, text=True))
            rcs, cpu, analysing, ring_s = [], 0.0, 0.0, 0.0
            for p in procs:
                rc, used = wait_with_rusage(p, t0 + WORKER_LIMIT_S)
                rcs.append(rc)
                cpu += used
                m = RING_TIME.search(p.stderr.read())
                if m:
                    analysing += float(m.group(1))
                    ring_s += float(m.group(2))
            wall = time.monotonic() - t0
            timed_out = "timeout" in rcs
            runs.append({"members": members, "frames": frames, "wall_s": wall,
                         "fps": None if timed_out else frames / wall, "cpu_s": cpu,
                         "analysing_s": analysing, "ring_s": ring_s,
                         "ring_share": ring_s / (ring_s + analysing) if analysing else None,
                         "rc": f"timeout after {WORKER_LIMIT_S} s" if timed_out else max(rcs)})
    finally:
        shm = pathlib.Path(os.environ.get("FRAMERING_SHM_DIR", "/dev/shm"))
        for stale in shm.glob(f"framering.{ring}*"):
            stale.unlink(missing_ok=True)
    return {"runs": runs, "flops": flops, "input": "640x640", "frame": "1920x1080 bgr24",
            "limit_s": WORKER_LIMIT_S,
            "model": "bench/objects_model.py: 3x3 Conv 3→16 + 2 x 3x3 Conv 16→16 at 640x640, "
                     "YOLOv8 output layout",
            "cmd": "framering worker --ring R --analytic objects --mode every --max-frames N "
                   "--param model=M --param input=640x640 [--group g --member i --members 2]",
            "feeder": " ".join(["framering"] + feeder[1:]).replace(str(VTEST), "vtest.avi")}


# -- Python pickling experiment (owns its own section of docs/benchmarks.md) ----------------------
def bench_python(framering, quick):
    if quick:
        return {"skipped": "QUICK=1 leaves the Python section as it is"}
    cmd = ["/usr/bin/python3", str(ROOT / "bench/python_copy_vs_shared.py"),
           "--framering-bin", str(framering)]
    log(" ".join(cmd))
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    return {"rc": p.returncode, "stdout": p.stdout[-3000:], "stderr": p.stderr[-1000:]}


# -- ingest vs the ffmpeg CLI (owns the "Measured speed" block of docs/ingest.md) -------------------
def bench_ingest_cli(framering, quick):
    if quick:
        return {"skipped": "QUICK=1 leaves docs/ingest.md as it is"}
    cmd = ["/usr/bin/python3", str(ROOT / "bench/ingest_vs_ffmpeg.py"), str(framering),
           "--doc", str(ROOT / "docs/ingest.md")]
    log(" ".join(cmd))
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    return {"rc": p.returncode, "stdout": p.stdout[-3000:], "stderr": p.stderr[-1000:]}


# -- cameras per box (owns docs/benchmarks.md's section and docs/capacity.md's table) --------------
def bench_cameras(framering, out, quick, max_cameras):
    if not framering.exists():
        return {"error": f"{framering} not built"}
    path = out / "cameras.json"
    cmd = ["/usr/bin/python3", str(ROOT / "bench/cameras_per_box.py"), "--bin", str(framering),
           "--json", str(path), "--max-cameras", str(max_cameras or (32 if quick else 64)),
           *(["--quick"] if quick else [])]
    log(" ".join(cmd))
    # Its progress (one line per trial) goes straight to this console: the run takes 20 min to hours.
    p = subprocess.run(cmd, stdout=subprocess.DEVNULL, timeout=(3600 if quick else 4 * 3600))
    if p.returncode != 0:
        return {"error": f"cameras_per_box.py exit {p.returncode} (its messages are above)"}
    return json.loads(path.read_text())


def as_rerun(results, previous, only):
    """The results of `--only` merged into the previous file without claiming its run: the
    sections not re-run keep the machine line, mode, loads and time of the run that measured them
    (the file's top level), and this run is listed under "reruns" with the sections it measured."""
    run = {k: results[k] for k in ("machine", "quick", "load_before", "load_after", "elapsed_s")}
    merged = {k: v for k, v in previous.items() if k != "reruns"}
    merged.update({k: v for k, v in results.items() if k not in run})
    reruns = []
    for r in previous.get("reruns", []):  # an older re-run keeps only what this one did not redo
        kept = [s for s in r["sections"] if s not in only]
        if kept:
            reruns.append({**r, "sections": kept})
    merged["reruns"] = reruns + [{**run, "sections": sorted(s for s in only if s in results)}]
    return merged


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--build-dir", default="build/release")
    ap.add_argument("--out", default=str(ROOT / "build/bench"))
    ap.add_argument("--quick", action="store_true", help="one repetition, short runs (cameras per box: about 20 minutes)")
    ap.add_argument("--only", help="comma-separated subset: publish,fanout,fixed,memory,wake,e2e,workers,objects,python,ingest_cli,recording,cameras")
    ap.add_argument("--max-cameras", type=int, help="cap of the cameras-per-box search (64; quick 32)")
    args = ap.parse_args()
    bindir = pathlib.Path(args.build_dir).resolve() / "bin"
    framering = bindir / "framering"
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    only = set(args.only.split(",")) if args.only else None

    results = {"machine": machine_info(), "quick": args.quick, "load_before": load_average()}
    steps = [("publish", lambda: bench_publish(bindir, args.quick)),
             ("fanout", lambda: bench_fanout(bindir, args.quick)),
             ("fixed", lambda: bench_fixed(bindir, args.quick)),
             ("memory", lambda: bench_memory(bindir, args.quick)),
             ("wake", lambda: bench_wake(bindir, args.quick)),
             ("e2e", lambda: bench_e2e(framering, out, args.quick)),
             ("workers", lambda: bench_workers(framering, args.quick)),
             ("objects", lambda: bench_objects(framering, out, args.quick)),
             ("python", lambda: bench_python(framering, args.quick)),
             ("ingest_cli", lambda: bench_ingest_cli(framering, args.quick)),
             ("recording", lambda: record_vs_reencode.run(args.build_dir, out, args.quick)),
             ("cameras", lambda: bench_cameras(framering, out, args.quick, args.max_cameras))]
    previous = {}
    results_path = out / "results.json"
    if only and results_path.exists():
        previous = json.loads(results_path.read_text())  # keep the sections not re-run
    t0 = time.monotonic()
    for name, fn in steps:
        if only and name not in only:
            if name in previous:
                results[name] = previous[name]
            continue
        s0 = time.monotonic()
        try:
            results[name] = fn()
        except subprocess.TimeoutExpired as e:
            # One section over its time limit is that section's error; the others' results stay.
            cmd = " ".join(map(str, e.cmd)) if isinstance(e.cmd, (list, tuple)) else str(e.cmd)
            log(f"{name}: timed out after {e.timeout:g} s: {cmd[:300]}")
            results[name] = {"error": f"timed out after {e.timeout:g} s", "cmd": cmd[:300]}
        results[name]["elapsed_s"] = round(time.monotonic() - s0, 1)
        results[name]["load_after"] = load_average()
    results["load_after"] = load_average()
    results["elapsed_s"] = round(time.monotonic() - t0, 1)
    if only and previous:
        results = as_rerun(results, previous, only)
    results_path.write_text(json.dumps(results, indent=1))
    log(f"wrote {results_path} in {results['elapsed_s']} s (load {results['load_after']})")


if __name__ == "__main__":
    main()
