"""`framering run` with the real ingest and workers: children up, events collected, clean stop
on SIGTERM, restarts after kill -9 (workers follow the ingest's new ring epoch), bad configs,
and the demo (`make demo DEMO_SECONDS=...` runs scripts/demo.sh exactly like this)."""
import json
import os
import pathlib
import re
import signal
import subprocess
import time

import pytest

from conftest import ROOT, VTEST, free_port, json_lines, wait_for



@pytest.fixture(autouse=True)
def own_shm(private_shm):
    """Every run here keeps its rings in a directory of its own: `framering run` removes the rings
    without a live writer it finds (cleanup_stale) when it starts and stops, and in /dev/shm those
    could be rings another test on the host left without a writer on purpose."""
    return private_shm


def shm_dir():
    return pathlib.Path(os.environ.get("FRAMERING_SHM_DIR") or "/dev/shm")


def children_of(pid):
    """Pids whose parent is `pid` (from /proc/*/stat)."""
    kids = []
    for stat in pathlib.Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            kids.append(int(stat.parent.name))
    return kids


def cmdline(pid):
    try:
        return pathlib.Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return []


def pipeline_children(sup_pid):
    """The supervisor's ingest and worker children (not the short --check-config runs)."""
    kids = []
    for kid in children_of(sup_pid):
        args = cmdline(kid)
        if len(args) > 1 and args[1] in (b"ingest", b"worker") and b"--check-config" not in args:
            kids.append(kid)
    return kids


def child_with(sup_pid, *needles):
    """The supervisor's ingest/worker child whose command line has every needle, or None."""
    for kid in pipeline_children(sup_pid):
        args = cmdline(kid)
        if all(n in args for n in needles):
            return kid
    return None


def processes_mentioning(text):
    found = []
    for path in pathlib.Path("/proc").glob("[0-9]*/cmdline"):
        try:
            args = path.read_bytes()
            if text.encode() in args:
                found.append((int(path.parent.name), args.replace(b"\0", b" ").decode()))
        except OSError:
            pass
    return [p for p in found if p[0] != os.getpid()]


def shm_files(ring):
    return sorted(p.name for p in shm_dir().glob(f"framering.{ring}*"))


def event_lines(path):
    return json_lines(path)


def write_config(tmp_path, ring, base_port, extra_workers=""):
    cfg = tmp_path / "pipeline.yaml"
    cfg.write_text(f"""
cameras:
  {ring}:
    source: "testsrc:testsrc2=size=320x240:rate=25"
    realtime: true
    slots: 16
    workers:
      motion: {{}}
      checksum:
        mode: every
{extra_workers}
metrics:
  base_port: {base_port}
events:
  path: {tmp_path / "events.jsonl"}
supervisor:
  restart_backoff: 0.2
  progress_interval: 1
""")
    return cfg


class Run:
    """A `framering run` process with stdout/stderr in files (it forwards its children's logs,
    so a pipe nobody reads could fill up)."""

    def __init__(self, framering_bin, args, tmp_path, env=None, cwd=None):
        self.out_path = tmp_path / "run.out"
        self.err_path = tmp_path / "run.err"
        self.out = open(self.out_path, "w")
        self.err = open(self.err_path, "w")
        self.proc = subprocess.Popen([framering_bin, "run", *args], stdout=self.out,
                                     stderr=self.err, env=env, cwd=cwd)

    @property
    def pid(self):
        return self.proc.pid

    def stdout(self):
        return self.out_path.read_text()

    def stderr(self):
        return self.err_path.read_text()

    def stop(self, sig=signal.SIGTERM, timeout=30):
        self.proc.send_signal(sig)
        return self.proc.wait(timeout=timeout)

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.out.close()
        self.err.close()


@pytest.fixture
def runs():
    started = []
    yield lambda *a, **kw: started.append(Run(*a, **kw)) or started[-1]
    for run in started:
        run.close()


def test_pipeline_up_events_and_clean_stop_on_sigterm(framering_bin, ring_name, tmp_path, runs):
    cfg = write_config(tmp_path, ring_name, free_port())
    run = runs(framering_bin, [str(cfg)], tmp_path)
    wait_for(lambda: len(pipeline_children(run.pid)) == 3, timeout=30,
             what="ingest + 2 workers")
    kids = pipeline_children(run.pid)
    assert child_with(run.pid, b"ingest", ring_name.encode())
    assert child_with(run.pid, b"worker", b"motion")
    assert child_with(run.pid, b"worker", b"checksum")
    events = tmp_path / "events.jsonl"
    wait_for(lambda: sum(e["kind"] == "checksum" for e in event_lines(events)) >= 10,
             timeout=30, what="checksum events in the events file")
    assert all(e["ring"] == ring_name for e in event_lines(events))

    assert run.stop(signal.SIGTERM) == 0, run.stderr()
    for kid in kids:
        assert not pathlib.Path(f"/proc/{kid}").exists(), f"child {kid} outlived the supervisor"
    assert processes_mentioning(ring_name) == []
    assert shm_files(ring_name) == []

    summary = run.stdout()
    published = int(re.search(rf"camera {ring_name} \(ring {ring_name}\): (\d+) frames published",
                              summary).group(1))
    analysed = int(re.search(r"worker checksum \(checksum\): (\d+) frames analysed", summary).group(1))
    assert published > 0 and analysed > 0, summary
    assert re.search(r"total: \d+ events, \d+ frames dropped, 0 restarts", summary), summary
    logged = int(re.search(r"worker checksum .*?, (\d+) events", summary).group(1))
    assert logged == sum(e["worker"] == "checksum" for e in event_lines(events)), summary


def ring_epochs(framering_bin, ring):
    """(ring epoch, {reader: reading that epoch?}) from `framering stat --json`."""
    out = subprocess.run([framering_bin, "stat", "--json", ring], capture_output=True, text=True)
    if out.returncode != 0:
        return None, {}
    info = json.loads(out.stdout)[0]
    return info.get("epoch"), {r["reader"]: r.get("same_epoch") for r in info.get("readers", [])}


def test_kill9_children_are_restarted_and_workers_follow_new_epoch(framering_bin, ring_name,
                                                                  tmp_path, runs):
    cfg = write_config(tmp_path, ring_name, free_port())
    run = runs(framering_bin, [str(cfg)], tmp_path)
    wait_for(lambda: len(pipeline_children(run.pid)) == 3, timeout=30,
             what="ingest + 2 workers")
    events = tmp_path / "events.jsonl"
    wait_for(lambda: len(event_lines(events)) >= 5, timeout=30, what="first events")

    worker = child_with(run.pid, b"worker", b"checksum")
    os.kill(worker, signal.SIGKILL)
    wait_for(lambda: (child_with(run.pid, b"worker", b"checksum") or worker) != worker,
             timeout=20, what="checksum worker restarted")
    wait_for(lambda: "checksum died (signal SIGKILL" in run.stderr(), timeout=20,
             what="the death logged with its signal")

    old_epoch, _ = ring_epochs(framering_bin, ring_name)
    assert old_epoch is not None
    ingest = child_with(run.pid, b"ingest")
    os.kill(ingest, signal.SIGKILL)
    wait_for(lambda: (child_with(run.pid, b"ingest") or ingest) != ingest, timeout=20,
             what="ingest restarted")

    def followed():
        epoch, readers = ring_epochs(framering_bin, ring_name)
        return (epoch not in (None, old_epoch) and readers.get("checksum") is True
                and readers.get("motion") is True)
    wait_for(followed, timeout=30, interval=0.3, what="workers on the new ring epoch")
    seen = len(event_lines(events))
    wait_for(lambda: len(event_lines(events)) >= seen + 10, timeout=30,
             what="events from the new epoch")

    assert run.stop(signal.SIGTERM) == 0, run.stderr()
    err = run.stderr()
    assert "ingest died (signal SIGKILL" in err
    assert re.search(r"restarted \S+/checksum \(pid \d+, restart 1\)", err), err
    summary = run.stdout()
    assert re.search(rf"camera {ring_name} .*, 1 restarts", summary), summary
    assert re.search(r"worker checksum .*, 1 restarts", summary), summary
    assert re.search(r"total: .*, 2 restarts", summary), summary
    assert shm_files(ring_name) == []
    assert processes_mentioning(ring_name) == []


def reader_stats(framering_bin, ring, reader):
    """The reader-stats entry of `reader` from `framering stat --json`, or None."""
    out = subprocess.run([framering_bin, "stat", "--json", "--window", "0", ring],
                         capture_output=True, text=True, timeout=30)
    if out.returncode != 0:
        return None
    return next((r for r in json.loads(out.stdout)[0]["readers"] if r["reader"] == reader), None)


def process_state(pid):
    """The state letter of /proc/<pid>/stat ('T' once a SIGSTOP took effect)."""
    try:
        return pathlib.Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return None


def frozen_frames_read(framering_bin, ring, pid):
    """Stops worker `pid` (SIGSTOP) and returns its frames read, which then no longer change."""
    os.kill(pid, signal.SIGSTOP)
    wait_for(lambda: process_state(pid) == "T", timeout=10, what=f"worker {pid} to stop")
    stats = reader_stats(framering_bin, ring, "checksum")
    assert stats and stats["pid"] == pid, stats
    return stats["frames_read"]


def test_killed_workers_last_frames_count_in_the_summary(framering_bin, ring_name, tmp_path, runs):
    """A worker's frames analysed in the summary add up over all its processes, including what a
    worker killed with -9 read after the supervisor's last sample: the supervisor reads the dead
    worker's stats file when it reaps it, before the replacement's file takes its place. Samples
    are an hour apart here, so without that read those frames would be missing. Each worker is
    frozen (SIGSTOP) before its counters are read, so the expected total is exact."""
    cfg = tmp_path / "fold.yaml"
    cfg.write_text(f"""
cameras:
  {ring_name}:
    source: "testsrc:testsrc2=size=160x120:rate=25"
    realtime: true
    slots: 16
    workers:
      checksum:
        mode: every
metrics:
  enabled: false
events:
  path: {tmp_path / "events.jsonl"}
supervisor:
  restart_backoff: 0.2
  stop_grace: 1
  progress_interval: 3600
""")
    run = runs(framering_bin, [str(cfg)], tmp_path)
    # The supervisor samples at the start, once a second later (the first progress line), then
    # not again before the stop.
    wait_for(lambda: "fps in: checksum" in run.stderr(), timeout=30, what="the first progress line")
    first = wait_for(lambda: child_with(run.pid, b"worker", b"checksum"), timeout=30,
                     what="the checksum worker")
    sampled = wait_for(lambda: (lambda s: s if s and s["pid"] == first else None)(
        reader_stats(framering_bin, ring_name, "checksum")), timeout=30, what="its reader stats")
    wait_for(lambda: reader_stats(framering_bin, ring_name, "checksum")["frames_read"]
             >= sampled["frames_read"] + 5, timeout=30, what="frames read since the last sample")
    read_by_first = frozen_frames_read(framering_bin, ring_name, first)
    os.kill(first, signal.SIGKILL)

    second = wait_for(lambda: (child_with(run.pid, b"worker", b"checksum") or first) != first and
                      child_with(run.pid, b"worker", b"checksum"), timeout=30,
                      what="the checksum worker restarted")
    wait_for(lambda: (lambda s: s and s["pid"] == second and s["frames_read"] > 0)(
        reader_stats(framering_bin, ring_name, "checksum")), timeout=30,
             what="the replacement reading frames")
    read_by_second = frozen_frames_read(framering_bin, ring_name, second)

    # The frozen replacement ignores SIGTERM and is killed after stop_grace.
    assert run.stop(signal.SIGTERM) == 0, run.stderr()
    summary = run.stdout()
    analysed = int(re.search(r"worker checksum \(checksum\): (\d+) frames analysed", summary).group(1))
    assert analysed == read_by_first + read_by_second, summary
    assert re.search(r"worker checksum .*, 1 restarts", summary), summary


def process_age(pid):
    """Seconds since `pid` started (from /proc/<pid>/stat and /proc/uptime), or None."""
    try:
        start_ticks = int(pathlib.Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19])
        uptime = float(pathlib.Path("/proc/uptime").read_text().split()[0])
    except (OSError, IndexError, ValueError):
        return None
    return uptime - start_ticks / os.sysconf("SC_CLK_TCK")


RESTART_LOG = re.compile(r"/checksum died \(.*\) after ([\d.]+) s; restarting in ([\d.]+) s")


def test_restart_delay_doubles_per_crash_and_resets_after_a_stable_run(framering_bin, ring_name,
                                                                       tmp_path, runs):
    """The delays the supervisor decides (its log says each one) follow the rule of
    supervisor/include/framering/supervisor/backoff.hpp: restart_backoff after the first crash,
    doubled after each further one up to restart_backoff_max, and restart_backoff again after a
    crash that came once the child had been up stable_run seconds. The worker is killed as soon
    as each replacement appears (far less than stable_run after it was started), except once,
    when the test waits until the replacement is older than stable_run."""
    cfg = tmp_path / "backoff.yaml"
    cfg.write_text(f"""
cameras:
  {ring_name}:
    source: "testsrc:testsrc2=size=160x120:rate=25"
    realtime: true
    workers:
      checksum: {{}}
metrics:
  enabled: false
supervisor:
  restart_backoff: 0.2
  restart_backoff_max: 0.8
  stable_run: 3
  stop_grace: 1
  progress_interval: 3600
""")
    run = runs(framering_bin, [str(cfg)], tmp_path)
    seen = []

    def next_worker():
        pid = wait_for(lambda: (lambda p: p if p and p not in seen else None)(
            child_with(run.pid, b"worker", b"checksum")), timeout=30,
                       what=f"checksum worker #{len(seen) + 1}")
        seen.append(pid)
        return pid

    def kill_and_wait_for_log(pid):
        logged = len(RESTART_LOG.findall(run.stderr()))
        os.kill(pid, signal.SIGKILL)
        wait_for(lambda: len(RESTART_LOG.findall(run.stderr())) > logged, timeout=30,
                 what="the restart logged")

    for _ in range(4):  # quick crashes: 0.2, 0.4, 0.8, then the 0.8 cap
        kill_and_wait_for_log(next_worker())
    stable = next_worker()
    # The supervisor counts from just before its fork, so its measure is at least this age.
    wait_for(lambda: (process_age(stable) or 0) >= 3.1, timeout=30, interval=0.1,
             what="the worker up longer than stable_run")
    kill_and_wait_for_log(stable)
    kill_and_wait_for_log(next_worker())  # quick again: doubling starts over
    next_worker()
    assert run.stop(signal.SIGTERM) == 0, run.stderr()

    logged = RESTART_LOG.findall(run.stderr())
    ran = [float(r) for r, _ in logged]
    assert [float(d) for _, d in logged] == [0.2, 0.4, 0.8, 0.8, 0.2, 0.4], (ran, run.stderr())
    assert ran[4] >= 3.0, ran
    assert re.search(r"worker checksum .*, 6 restarts", run.stdout()), run.stdout()


BAD_CONFIGS = {
    "unknown_key": ("cameras:\n  c:\n    source: testsrc:testsrc2\n    realtme: true\n",
                    r"bad\.yaml:4: cameras\.c\.realtme: unknown key; did you mean 'realtime'"),
    "wrong_type": ("cameras:\n  c:\n    source: testsrc:testsrc2\n    slots: lots\n",
                   r"bad\.yaml:4: cameras\.c\.slots: expected a whole number"),
    "missing_source_file": ("cameras:\n  c:\n    source: /no/such/clip.avi\n",
                            r"bad\.yaml:3: cameras\.c\.source: '/no/such/clip\.avi' does not exist"),
    "duplicate_camera": ("cameras:\n  c:\n    source: testsrc:testsrc2\n  c:\n"
                         "    source: testsrc:testsrc2\n",
                         r"bad\.yaml:4: cameras\.c: duplicate camera name 'c' \(first on line 2\)"),
    "unknown_param": ("cameras:\n  c:\n    source: testsrc:testsrc2\n    workers:\n"
                      "      motion:\n        params: {min_areaa: 5}\n",
                      r"bad\.yaml:5: c/motion rejects its settings.*min_areaa"),
    "motion_mask_point": ("cameras:\n  c:\n    source: testsrc:testsrc2\n    workers:\n"
                          "      motion:\n        mask: [[[0, 0], [1, 0]]]\n",
                          r"bad\.yaml:6: cameras\.c\.workers\.motion\.mask\[0\]: expected a "
                          r"list of at least 3 \[x, y\] points"),
}


def test_motion_workers_take_mask_and_named_zones_from_the_yaml(framering_bin, tmp_path):
    cfg = tmp_path / "motion.yaml"
    cfg.write_text("cameras:\n  c:\n    source: testsrc:testsrc2\n    workers:\n"
                   "      motion:\n"
                   "        mask: [[[0, 0], [1, 0], [1, 0.1], [0, 0.1]]]\n"
                   "        zones: {door: [[0, 0.5], [0.5, 0.5], [0.5, 1], [0, 1]]}\n")
    out = subprocess.run([framering_bin, "run", str(cfg), "--check-config"], capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 0, out.stderr


@pytest.mark.parametrize("case", sorted(BAD_CONFIGS))
def test_bad_config_exits_2_naming_key_and_line(framering_bin, tmp_path, case):
    text, pattern = BAD_CONFIGS[case]
    cfg = tmp_path / "bad.yaml"
    cfg.write_text(text)
    for extra in ([], ["--check-config"]):
        out = subprocess.run([framering_bin, "run", str(cfg), *extra], capture_output=True,
                             text=True, timeout=60)
        assert out.returncode == 2, out.stderr
        assert re.search(pattern, out.stderr), out.stderr
    assert shm_files("c") == []


def test_check_config_accepts_shipped_configs(framering_bin):
    out = subprocess.run([framering_bin, "run", str(ROOT / "config" / "demo.yaml"),
                          "--check-config"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "ok (1 cameras, 5 processes)" in out.stdout


@pytest.mark.skipif(not VTEST.exists(), reason="needs Debian's opencv-doc (vtest.avi)")
def test_demo_with_duration_detects_people(framering_bin, tmp_path):
    # Exactly what `make demo DEMO_SECONDS=10` runs after building, on free metrics ports.
    env = dict(os.environ, FRAMERING_DEMO_SECONDS="10",
               FRAMERING_METRICS_BASE_PORT=str(free_port()))
    # The demo's config, with its fixed preview port swapped for a free one.
    preview = f"127.0.0.1:{free_port()}"
    demo = (ROOT / "config" / "demo.yaml").read_text()
    assert "preview: 127.0.0.1:9463" in demo
    config = tmp_path / "demo.yaml"
    config.write_text(demo.replace("127.0.0.1:9463", preview))
    out = subprocess.run([str(ROOT / "scripts" / "demo.sh"), framering_bin, str(config)],
                         capture_output=True, text=True, env=env, cwd=tmp_path, timeout=90)
    assert out.returncode == 0, out.stderr
    summary = out.stdout
    assert f"preview http://{preview}/preview" in out.stderr, "the run says where the preview is"
    published = int(re.search(r"camera pedestrians .*?: (\d+) frames published", summary).group(1))
    assert published > 0, summary
    people = re.findall(r"worker people-\d \(people\): (\d+) frames analysed.*?(\d+) people detected",
                        summary)
    assert len(people) == 2, summary
    assert sum(int(n) for n, _ in people) > 0, summary
    assert sum(int(d) for _, d in people) > 0, summary
    assert "checksum" not in summary, "no per-frame verification worker in the demo"
    events = event_lines(tmp_path / "build" / "demo" / "events.jsonl")
    assert any(e["kind"] == "people" and e["boxes"] for e in events)
    # A handful of lifecycle events, not one per frame: each is a start, update or end of a
    # motion episode or of people in view, and each start has its snapshot on disk.
    assert {e["kind"] for e in events} <= {"motion", "people"}, events
    assert {e["type"] for e in events} <= {"start", "update", "end"}, events
    assert len(events) < published / 2, (len(events), published)
    starts = [e for e in events if e["type"] == "start"]
    assert starts and all((tmp_path / e["snapshot"]).is_file() for e in starts), starts
    # The demo records too: a stream-copied segment and a clip, their paths in the summary.
    recorded = re.search(r"recorded pedestrians: (\d+) segment\(s\) in \S+ \(newest: (\S+)\); "
                         r"(\d+) event clip\(s\) \(first: (\S+)\)", summary)
    assert recorded, summary
    assert int(recorded.group(1)) >= 1 and (tmp_path / recorded.group(2)).stat().st_size > 0
    assert int(recorded.group(3)) >= 1 and (tmp_path / recorded.group(4)).stat().st_size > 0
    assert shm_files("pedestrians") == []


def test_kill9_of_supervisor_takes_children_down(framering_bin, ring_name, tmp_path, runs):
    cfg = write_config(tmp_path, ring_name, free_port())
    run = runs(framering_bin, [str(cfg)], tmp_path)
    wait_for(lambda: len(pipeline_children(run.pid)) == 3, timeout=30,
             what="ingest + 2 workers")
    kids = pipeline_children(run.pid)
    wait_for(lambda: len(event_lines(tmp_path / "events.jsonl")) >= 3, timeout=30,
             what="first events")
    run.proc.kill()
    run.proc.wait()
    # PR_SET_PDEATHSIG: the kernel sends each child SIGKILL when the supervisor dies.
    wait_for(lambda: not any(pathlib.Path(f"/proc/{k}").exists() for k in kids), timeout=30,
             what="children gone after kill -9 of the supervisor")
    wait_for(lambda: processes_mentioning(ring_name) == [], timeout=30,
             what="no process left that names the ring")
    # The next run removes what the killed pipeline left in shared memory, then stops cleanly.
    (tmp_path / "again").mkdir()
    again = runs(framering_bin, [str(cfg), "--duration", "2"], tmp_path / "again")
    assert again.proc.wait(timeout=60) == 0, again.stderr()
    assert shm_files(ring_name) == []
