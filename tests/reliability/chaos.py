#!/usr/bin/python3
"""Chaos run: a live pipeline under `framering run` while random processes are killed (-9) or
frozen (SIGSTOP, then SIGCONT after up to 0.8 s), then proof that nothing went wrong unseen.

Pipeline (one camera, written as a `framering run` config):
  ingest   testsrc2 320x240 at 100 fps, paced (--realtime), 4 slots: a slot is reused every 40 ms
  checksum worker, every frame                        ─┐
  sums: checksum consumer group, 2 members, every     ─┼─ the 3 workers (4 processes)
  motion worker, latest frame                         ─┘
  probe:  a Python framering.Ring reader that reads each frame slowly (chaos_probe.py)
The driver picks a random ingest or worker process per action; the supervisor restarts what
was killed. Afterwards it checks:
  * every child is running again and frames flow (ring cursor and each worker's reader stats
    move); `framering run` exits 0 on SIGTERM;
  * no frame reported OK has the wrong bytes: each checksum event's crc32 (and each probe line
    it marked valid) equals the crc32 of that frame of the source, which testsrc2 defines by
    frame number alone, computed independently with the ffmpeg CLI. A torn frame that slipped
    past the seqlock would show up here as a mismatch ("undetected");
  * tears really happened and were caught: lapped/torn drops in the workers' stats and probe
    frames whose valid() was false and whose crc32 is indeed wrong ("detected"); a run where
    either count is 0 fails, since it could not have shown a tear slipping through;
  * nothing leaks: no /dev/shm file of the ring, no process of the run left.
Prints one report (counts of each action and recovery) and exits 0 only if every check holds.

    chaos.py --bin build/release/bin/framering [--actions 100] [--seed N] [--report FILE]
"""
import argparse
import collections
import json
import os
import pathlib
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
import zlib

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parents[1]
# A private directory on /dev/shm's tmpfs for this run's ring and reader-stats files (set in
# main): the leak check can then demand that it ends empty, and the supervisor's stale-ring
# cleanup at exit cannot touch rings of anything else running on the host.
SHM = pathlib.Path("/dev/shm")
OWN_SHM_DIR = False
WIDTH, HEIGHT, FPS, SLOTS = 320, 240, 100, 4
SOURCE = f"testsrc2=size={WIDTH}x{HEIGHT}:rate={FPS}"
WORKERS = ["checksum", "sums-0", "sums-1", "motion"]
CHECKSUM_WORKERS = ["checksum", "sums-0", "sums-1"]
MIN_VERIFIED = 100  # checksum events the run waits for before it stops (test_chaos.py checks)

CONFIG = """\
cameras:
  {ring}:
    source: "testsrc:{source}"
    realtime: true
    slots: {slots}
    workers:
      checksum:
        mode: every
      sums:
        analytic: checksum
        mode: every
        replicas: 2
      motion:
        mode: latest
metrics:
  enabled: false
events:
  path: {events}
supervisor:
  stop_grace: 5
  restart_backoff: 0.1
  restart_backoff_max: 1
  progress_interval: 5
"""


def log(msg):
    print(f"[chaos {time.strftime('%H:%M:%S')}] {msg}", flush=True)


def child_commands(pid):
    """{child pid: argv} of the live children of `pid` (from /proc)."""
    out = {}
    for proc in pathlib.Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            stat = (proc / "stat").read_text()
            ppid = int(stat[stat.rindex(")") + 2:].split()[1])
            if ppid != pid:
                continue
            args = (proc / "cmdline").read_bytes().split(b"\0")
        except (OSError, ValueError):
            continue
        out[int(proc.name)] = [a.decode() for a in args if a]
    return out


def children_of(pid):
    """{label: pid} of the supervisor's live children, labelled 'ingest' or the worker --name.
    The short `--check-config` runs the supervisor makes before it starts the pipeline are not
    its children in this sense."""
    out = {}
    for child, args in child_commands(pid).items():
        if "--check-config" in args:
            continue
        if "ingest" in args:
            out["ingest"] = child
        elif "worker" in args and "--name" in args:
            out[args[args.index("--name") + 1]] = child
    return out


def processes_mentioning(text):
    found = []
    for proc in pathlib.Path("/proc").iterdir():
        if proc.name.isdigit() and int(proc.name) != os.getpid():
            try:
                if text.encode() in (proc / "cmdline").read_bytes():
                    found.append(int(proc.name))
            except OSError:
                pass
    return found


def is_zombie_or_gone(pid):
    try:
        stat = pathlib.Path(f"/proc/{pid}/stat").read_text()
        return stat[stat.rindex(")") + 2] == "Z"
    except OSError:
        return True


def reader_stats(ring):
    """{worker: frames_read} from the reader-stats files (layout: ringbuf/reader_stats.hpp)."""
    import struct
    out = {}
    for f in SHM.glob(f"framering.{ring}.reader.*"):
        try:
            data = f.read_bytes()
            out[f.name.split(".reader.", 1)[1]] = struct.unpack_from("<Q", data, 208)[0]
        except (OSError, struct.error):
            pass
    return out


def ring_cursor(ring):
    import struct
    try:
        with open(SHM / f"framering.{ring}", "rb") as f:
            f.seek(384)
            return struct.unpack("<Q", f.read(8))[0]
    except (OSError, struct.error):
        return None


def wait_until(pred, timeout, what):
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(0.1)
    raise RuntimeError(f"timed out after {timeout} s waiting for {what}")


def reference_crcs(count):
    """crc32 of testsrc2 frames 0..count-1 as bgr24, from the ffmpeg CLI (independent of
    framering's decoder and scaler)."""
    frame = WIDTH * HEIGHT * 3
    proc = subprocess.Popen(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", SOURCE, "-frames:v",
                             str(count), "-pix_fmt", "bgr24", "-f", "rawvideo", "-"],
                            stdout=subprocess.PIPE)
    crcs = []
    while True:
        buf = proc.stdout.read(frame)
        if len(buf) < frame:
            break
        crcs.append(f"{zlib.crc32(buf):08x}")
    proc.wait()
    return crcs


class Chaos:
    def __init__(self, args):
        self.args = args
        self.rng = random.Random(args.seed)
        self.ring = "chaos" + uuid.uuid4().hex[:8]
        self.tmp = pathlib.Path(tempfile.mkdtemp(prefix="framering-chaos-"))
        self.events = self.tmp / "events.jsonl"
        self.actions = collections.Counter()
        self.failures = []
        self.run = None
        self.probe = None
        self.schedule = []
        self.started = time.time()

    def fail(self, msg):
        log("FAIL: " + msg)
        self.failures.append(msg)

    # -- pipeline ---------------------------------------------------------------------------
    def start(self):
        cfg = self.tmp / "chaos.yaml"
        cfg.write_text(CONFIG.format(ring=self.ring, source=SOURCE, slots=SLOTS,
                                     events=self.events))
        self.run_log = open(self.tmp / "run.log", "w")
        self.run = subprocess.Popen([self.args.bin, "run", str(cfg), "--log-level", "info"],
                                    stdout=subprocess.PIPE, stderr=self.run_log, text=True)
        wait_until(lambda: len(children_of(self.run.pid)) == 1 + len(WORKERS), 30,
                   "ingest and 4 workers")
        wait_until(lambda: (ring_cursor(self.ring) or 0) > 2 * FPS, 30, "frames in the ring")
        self.probe_out = self.tmp / "probe.txt"
        env = dict(os.environ, PYTHONPATH=str(ROOT / "python"))
        self.probe = subprocess.Popen(["/usr/bin/python3", str(HERE / "chaos_probe.py"),
                                       self.ring, str(self.probe_out)], env=env)
        log(f"pipeline up: ring {self.ring}, supervisor pid {self.run.pid}, "
            f"children {children_of(self.run.pid)}")

    # -- the chaos --------------------------------------------------------------------------
    def next_action(self):
        """(target kind, action): each of the four pairs once per block of four, shuffled, so
        even a short run kills and freezes both the ingest and the workers."""
        if not self.schedule:
            self.schedule = [(k, a) for k in ("ingest", "worker") for a in ("kill", "stop")]
            self.rng.shuffle(self.schedule)
        return self.schedule.pop()

    def act(self):
        kind, action = self.next_action()

        def running():
            kids = {k: p for k, p in children_of(self.run.pid).items() if not is_zombie_or_gone(p)}
            names = [k for k in kids if (k == "ingest") == (kind == "ingest")]
            return kids, sorted(names)

        kids, names = running()
        deadline = time.time() + 3  # the target may be in its restart backoff: wait for it
        while not names and time.time() < deadline:
            time.sleep(0.05)
            kids, names = running()
        if not names:
            self.actions[f"skipped: no {kind} running (restarting)"] += 1
            return
        pid = kids[self.rng.choice(names)]
        if action == "kill":
            os.kill(pid, signal.SIGKILL)
            self.actions[f"kill -9 {kind}"] += 1
        else:
            pause = self.rng.uniform(0.05, 0.8)
            try:
                os.kill(pid, signal.SIGSTOP)
                time.sleep(pause)
            finally:
                try:
                    os.kill(pid, signal.SIGCONT)
                except ProcessLookupError:
                    pass
            self.actions[f"SIGSTOP+SIGCONT {kind}"] += 1

    def chaos(self):
        for i in range(self.args.actions):
            self.act()
            time.sleep(self.rng.uniform(0.1, 0.5))
            if self.run.poll() is not None:
                self.fail(f"framering run exited ({self.run.returncode}) during the chaos")
                return
        log(f"{self.args.actions} actions done: {dict(self.actions)}")

    # -- after ------------------------------------------------------------------------------
    def check_recovered(self):
        try:
            kids = wait_until(lambda: (lambda k: k if len(k) == 1 + len(WORKERS) else None)(
                children_of(self.run.pid)), 30, "every child to be running again")
        except RuntimeError as e:
            self.fail(f"{e}: running {sorted(children_of(self.run.pid))}")
            return
        before_cursor, before = ring_cursor(self.ring), reader_stats(self.ring)
        try:
            wait_until(lambda: (ring_cursor(self.ring) or 0) > (before_cursor or 0) + FPS and
                       all(reader_stats(self.ring).get(w, 0) > before.get(w, 0) for w in WORKERS),
                       30, "frames published and analysed by every worker after the chaos")
            # Enough checksum events to verify, however fast the machine analysed so far.
            wait_until(lambda: self.checksum_events() > MIN_VERIFIED, 60,
                       f"more than {MIN_VERIFIED} checksum events")
            log(f"recovered: every child running ({sorted(kids)}), frames flowing")
        except RuntimeError as e:
            self.fail(str(e))

    def checksum_events(self):
        try:
            return self.events.read_text().count('"kind":"checksum"')
        except OSError:
            return 0

    def stop(self):
        self.probe.send_signal(signal.SIGTERM)
        try:
            self.probe.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.probe.kill()
            self.fail("the probe reader did not stop on SIGTERM")
        self.run.send_signal(signal.SIGTERM)
        try:
            out, _ = self.run.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            self.run.kill()
            out, _ = self.run.communicate()
            self.fail("framering run did not stop within 30 s of SIGTERM")
        self.summary = out
        if self.run.returncode != 0:
            self.fail(f"framering run exited {self.run.returncode} after SIGTERM")

    def check_leaks(self):
        time.sleep(0.2)
        left = sorted(p.name for p in (SHM.iterdir() if OWN_SHM_DIR else
                                       SHM.glob(f"framering.{self.ring}*")))
        if left:
            self.fail(f"left in {SHM}: {left}")
        procs = processes_mentioning(self.ring)
        if procs:
            self.fail(f"processes of the run still alive: {procs}")
            for pid in procs:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        self.leaks = {"shm files left": len(left), "processes left": len(procs)}

    def verify_frames(self):
        events = []
        bad_lines = 0
        for line in self.events.read_text().splitlines() if self.events.exists() else []:
            try:
                events.append(json.loads(line))
            except ValueError:
                bad_lines += 1
        if bad_lines:
            self.fail(f"{bad_lines} events lines are not JSON (torn event writes)")
        probe = []
        probe_status = collections.Counter()
        for line in self.probe_out.read_text().splitlines() if self.probe_out.exists() else []:
            if line.startswith("# "):
                probe_status[line[2:]] += 1
            else:
                n, crc, valid = line.split()
                probe.append((int(n), crc, valid == "1"))
        sums = [e for e in events if e.get("kind") == "checksum"]
        highest = max([e["frame_no"] for e in sums] + [n for n, _, _ in probe] + [0])
        ref = reference_crcs(highest + 1)
        if len(ref) <= highest:
            self.fail(f"ffmpeg produced {len(ref)} reference frames, need {highest + 1}")
            return
        per_worker = collections.Counter()
        undetected = collections.Counter()
        for e in sums:
            per_worker[e["worker"]] += 1
            if e["crc32"] != ref[e["frame_no"]]:
                undetected[e["worker"]] += 1
        self.frames = {
            "checksum events verified": dict(per_worker),
            "checksum events with a wrong crc32 (undetected torn)": sum(undetected.values()),
            "probe frames valid, crc32 right": sum(1 for n, c, v in probe if v and c == ref[n]),
            "probe frames valid, crc32 wrong (undetected torn)":
                sum(1 for n, c, v in probe if v and c != ref[n]),
            "probe frames invalid, crc32 wrong (torn, detected)":
                sum(1 for n, c, v in probe if not v and c != ref[n]),
            "probe frames invalid, crc32 right (overwritten late, dropped anyway)":
                sum(1 for n, c, v in probe if not v and c == ref[n]),
            "probe read results other than OK": dict(probe_status),
        }
        if undetected:
            self.fail(f"checksum events with a wrong crc32: {dict(undetected)}")
        if self.frames["probe frames valid, crc32 wrong (undetected torn)"]:
            self.fail("the probe accepted frames with wrong bytes")
        for w in CHECKSUM_WORKERS:
            if per_worker[w] == 0:
                self.fail(f"no checksum events from {w}")
        if not probe:
            self.fail("the probe read no frames")
        # The run must have made tears happen and shown them caught, or "0 undetected" above
        # proves nothing: the slow probe forces the writer to reuse slots under it (valid() false),
        # and some of those frames must really carry wrong bytes (torn, and detected).
        forced = sum(1 for _, _, v in probe if not v)
        if forced == 0:
            self.fail("no tear was forced: the probe never saw a frame overwritten while it read")
        elif self.frames["probe frames invalid, crc32 wrong (torn, detected)"] == 0:
            self.fail(f"no tear was caught: none of the {forced} frames the probe saw overwritten "
                      f"had wrong bytes")

    def check_worker_drops(self, recoveries):
        """The workers, frozen and lapped by the chaos, must have reported frames they lost."""
        drops = sum(r["lapped"] + r["torn"] for w, r in recoveries.items() if w in WORKERS)
        if drops == 0:
            self.fail("no worker reported a lapped or torn frame although workers were frozen")

    def recoveries(self):
        """Restart and drop counts from `framering run`'s summary and log."""
        text = self.summary or ""
        out = {}
        m = re.search(r"camera \S+ \(ring \S+\): (\d+) frames published .*?, (\d+) restarts", text)
        if m:
            out["frames published"] = int(m.group(1))
            out["ingest restarts"] = int(m.group(2))
        for w in WORKERS:
            m = re.search(rf"worker {re.escape(w)} \(\w+\): (\d+) frames analysed, \d+ dropped "
                          rf"\(lapped (\d+), torn (\d+), skipped (\d+)\).*?(\d+) restarts", text)
            if m:
                out[w] = {"analysed": int(m.group(1)), "lapped": int(m.group(2)),
                          "torn": int(m.group(3)), "skipped": int(m.group(4)),
                          "restarts": int(m.group(5))}
        run_log = (self.tmp / "run.log").read_text()
        out["epoch changes seen by workers"] = run_log.count("new writer; resuming")
        out["children that died (supervisor log)"] = run_log.count(" died (")
        return out

    def execute(self):
        try:
            self.start()
            self.chaos()
            self.check_recovered()
        except Exception as e:  # the report still gets written
            self.fail(f"{type(e).__name__}: {e}")
        finally:
            for pid in children_of(self.run.pid).values() if self.run else []:
                try:
                    os.kill(pid, signal.SIGCONT)
                except ProcessLookupError:
                    pass
            if self.run and self.probe:
                self.stop()
            elif self.run:
                self.run.kill()
                self.run.wait()
                self.summary = ""
        self.check_leaks()
        self.verify_frames()
        recoveries = self.recoveries()
        self.check_worker_drops(recoveries)
        report = {"actions": dict(self.actions), "seconds": round(time.time() - self.started),
                  "recoveries": recoveries,
                  "frames": getattr(self, "frames", {}), "leaks": self.leaks,
                  "failures": self.failures, "seed": self.args.seed}
        text = json.dumps(report, indent=2)
        print(text)
        if self.args.report:
            pathlib.Path(self.args.report).write_text(text + "\n")
        if self.failures:
            log(f"kept {self.tmp} (config, supervisor log, events, probe lines) for inspection")
            return 1
        shutil.rmtree(self.tmp, ignore_errors=True)
        return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bin", default=str(ROOT / "build" / "release" / "bin" / "framering"))
    ap.add_argument("--actions", type=int, default=100)
    ap.add_argument("--seed", type=int, default=int(time.time()))
    ap.add_argument("--report", help="also write the JSON report here")
    args = ap.parse_args()
    global SHM, OWN_SHM_DIR
    own_dir = OWN_SHM_DIR = not os.environ.get("FRAMERING_SHM_DIR")
    if own_dir:
        os.environ["FRAMERING_SHM_DIR"] = tempfile.mkdtemp(prefix="framering-chaos-",
                                                           dir="/dev/shm")
    SHM = pathlib.Path(os.environ["FRAMERING_SHM_DIR"])
    try:
        return Chaos(args).execute()
    finally:
        if own_dir:
            shutil.rmtree(SHM, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
