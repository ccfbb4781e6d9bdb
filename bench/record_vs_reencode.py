#!/usr/bin/python3
"""Recording one 1080p30 H.264 camera: packets the packet ring publishes per second, and the CPU
`framering record` spends per camera against a re-encode of the same stream, side by side.

    /usr/bin/python3 bench/record_vs_reencode.py [build/release] [--quick]

`make bench` runs it as its "recording" section (bench/run_all.py --only recording; the table is
written by bench/report.py). Cases, interleaved over the repetitions so machine noise hits all:

- `framering ingest --realtime --packet-history 30s` playing the file like a camera, with
  `framering record --segment-seconds 5` reading its packet ring: CPU seconds (user + sys, from
  wait4) of each process ÷ the video's seconds = fraction of a core per camera;
- `ffmpeg -re -i SRC -c:v libx264 -preset ultrafast` (the cheapest re-encode, paced the same);
- `ffmpeg -i SRC -c copy` (libavformat's stream copy, unpaced: its CPU only, for reference);
- `bench_packet_publish` (Google Benchmark): the packet ring's own publish rate, flat out.
"""
import argparse
import json
import os
import pathlib
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

from child_cpu import wait_with_rusage

ROOT = pathlib.Path(__file__).resolve().parents[1]
SIZE, RATE, GOP, BITRATE = "1920x1080", 30, 30, "4M"


def log(msg):
    print(f"[bench recording {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def make_source(out_dir, seconds):
    path = out_dir / f"record_1080p30_{seconds}s.mp4"
    if not path.exists():
        cmd = ["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi",
               "-i", f"testsrc2=size={SIZE}:rate={RATE}:duration={seconds}", "-c:v", "libx264",
               "-preset", "veryfast", "-g", str(GOP), "-b:v", BITRATE, "-pix_fmt", "yuv420p",
               str(path)]
        log(" ".join(cmd))
        subprocess.run(cmd, check=True, timeout=900)
    return path


def packet_count(path):
    out = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v:0", "-count_packets",
                          "-show_entries", "stream=nb_read_packets", "-of", "csv=p=0", str(path)],
                         capture_output=True, text=True, check=True).stdout
    return int(out.strip())


def cpu_of(p, timeout):
    """(exit code, user + sys CPU seconds) of child `p`, waited for with wait4."""
    return wait_with_rusage(p, time.monotonic() + timeout)


def run_recorder_case(framering, src, seconds, work):
    """The ingest plays `src` in real time with a packet ring; the recorder writes segments."""
    shm = pathlib.Path(tempfile.mkdtemp(prefix="fr-bench-rec-", dir="/dev/shm"))
    env = dict(os.environ, FRAMERING_SHM_DIR=str(shm))
    ring = f"benchrec{os.getpid()}"
    rec_dir = work / "segments"
    shutil.rmtree(rec_dir, ignore_errors=True)
    try:
        rec = subprocess.Popen([str(framering), "record", "--ring", ring, "--dir", str(rec_dir),
                                "--segment-seconds", "5", "--retain-hours", "0"],
                               stderr=subprocess.DEVNULL, env=env)
        t0 = time.monotonic()
        ing = subprocess.Popen([str(framering), "ingest", "--ring", ring, "--source", str(src),
                                "--realtime", "--packet-history", "30s", "--slots", "4",
                                "--metrics-addr", "0"],
                               stderr=subprocess.PIPE, text=True, env=env)
        ing_rc, ing_cpu = cpu_of(ing, seconds * 4 + 60)
        wall = time.monotonic() - t0
        log_text = ing.stderr.read()
        time.sleep(0.5)  # the recorder's last packets: it closes its segment when the ring closes
        rec.send_signal(signal.SIGTERM)
        rec_rc, rec_cpu = cpu_of(rec, 30)
        segments = sorted(rec_dir.rglob("*.mp4"))
        recorded = sum(packet_count(s) for s in segments)
        return {"ingest_rc": ing_rc, "ingest_cpu_s": ing_cpu, "wall_s": wall,
                "record_rc": rec_rc, "record_cpu_s": rec_cpu, "segments": len(segments),
                "packets_recorded": recorded,
                "sizing_log": next((line for line in log_text.splitlines()
                                    if "packet ring" in line and "KiB" in line), "")}
    finally:
        shutil.rmtree(shm, ignore_errors=True)


def run_ffmpeg_case(args, timeout):
    p = subprocess.Popen(["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y", *args],
                         stderr=subprocess.DEVNULL)
    t0 = time.monotonic()
    rc, cpu = cpu_of(p, timeout)
    return {"rc": rc, "cpu_s": cpu, "wall_s": time.monotonic() - t0}


def packet_publish_micro(bindir, quick):
    cmd = [str(bindir / "bench_packet_publish"), "--benchmark_format=json",
           f"--benchmark_min_time={0.05 if quick else 0.5}",
           f"--benchmark_repetitions={1 if quick else 3}"]
    log(" ".join(cmd))
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    if p.returncode != 0:
        return {"error": p.stderr[-400:], "cmd": " ".join(cmd)}
    runs = {}
    for b in json.loads(p.stdout)["benchmarks"]:
        if b.get("run_type") != "iteration":
            continue
        to_us = {"ns": 1e-3, "us": 1.0, "ms": 1e3, "s": 1e6}[b.get("time_unit", "ns")]
        # packets_per_s is Google Benchmark's rate counter, which divides by CPU time.
        runs.setdefault(b["run_name"], []).append(
            {"wall_us": b["real_time"] * to_us, "cpu_us": b["cpu_time"] * to_us,
             "packets_per_cpu_s": b["packets_per_s"]})
    return {"cmd": "bench_packet_publish " + " ".join(cmd[1:]), "runs": runs}


def run(build_dir, out_dir, quick):
    bindir = pathlib.Path(build_dir).resolve() / "bin"
    framering = bindir / "framering"
    if not framering.exists():
        return {"error": f"{framering} not built"}
    seconds, reps = (4, 1) if quick else (20, 3)
    out_dir = pathlib.Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    src = make_source(out_dir, seconds)
    packets = packet_count(src)
    work = out_dir / "recording"
    work.mkdir(exist_ok=True)
    runs = []
    for rep in range(reps):
        log(f"rep {rep}: ingest + record")
        r = {"rep": rep, "record": run_recorder_case(framering, src, seconds, work)}
        log(f"rep {rep}: ffmpeg re-encode (libx264 ultrafast, -re)")
        r["reencode"] = run_ffmpeg_case(
            ["-re", "-i", str(src), "-c:v", "libx264", "-preset", "ultrafast",
             str(work / "reencode.mp4")], seconds * 6 + 60)
        log(f"rep {rep}: ffmpeg stream copy")
        r["copy"] = run_ffmpeg_case(["-i", str(src), "-c", "copy", str(work / "copy.mp4")], 120)
        runs.append(r)
    return {"source": src.name, "seconds": seconds, "packets": packets,
            "source_bytes": src.stat().st_size, "runs": runs,
            "micro": packet_publish_micro(bindir, quick),
            "cmd_source": f"ffmpeg -f lavfi -i testsrc2=size={SIZE}:rate={RATE}:duration={seconds} "
                          f"-c:v libx264 -preset veryfast -g {GOP} -b:v {BITRATE}",
            "cmd_record": "framering ingest --ring R --source SRC --realtime --packet-history 30s "
                          "& framering record --ring R --dir D --segment-seconds 5",
            "cmd_reencode": "ffmpeg -re -i SRC -c:v libx264 -preset ultrafast OUT.mp4",
            "cmd_copy": "ffmpeg -i SRC -c copy OUT.mp4"}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("build_dir", nargs="?", default=str(ROOT / "build/release"))
    ap.add_argument("--out", default=str(ROOT / "build/bench"))
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    res = run(args.build_dir, args.out, args.quick)
    print(json.dumps(res, indent=1))
    ok = [r for r in res.get("runs", []) if r["record"]["record_rc"] == 0]
    if ok:
        log(f"record CPU per camera: "
            f"{statistics.median(r['record']['record_cpu_s'] for r in ok) / res['seconds'] * 100:.1f} %")


if __name__ == "__main__":
    main()
