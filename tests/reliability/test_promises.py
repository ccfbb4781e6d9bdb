"""The stop promises, measured on real processes: `framering ingest`, `framering worker` and
`framering run` exit 0 within 5 s of SIGTERM (and SIGINT), also when they are blocked (a stopped
reader holding the ingest at its gate, a frozen writer, a ring that does not exist yet, a child
that ignores the stop); a second Ctrl-C makes `run` kill what is left at once instead of waiting
out its grace period.

Each test measures the wall time from the signal to the process's exit and asserts the promised
bound; the bound is the promise itself (5 s), generous next to what an unloaded machine takes
(well under a second, except where the supervisor's 3 s grace period is part of the promise).
"""
import os
import signal
import subprocess
import time

import pytest

from chaos import child_commands, children_of, is_zombie_or_gone, processes_mentioning
from conftest import wait_for
from rel_helpers import VTEST, stat_json

TESTSRC = "testsrc:testsrc2=size=160x120:rate=25"
STOP_BOUND_S = 5.0  # the promise: exit 0 within 5 s of SIGTERM/SIGINT
# A grace period far longer than the bound, so only the second Ctrl-C can end the run in time.
LONG_GRACE_S = 30


@pytest.fixture(autouse=True)
def own_shm(private_shm):
    """Rings in a directory of this test's own: `framering run` removes rings without a live
    writer when it starts and stops, which in /dev/shm could be another test's on purpose."""
    return private_shm


def stop_and_time(proc, sig):
    """Sends `sig` and returns (exit code, seconds from the signal to the exit). The 60 s
    timeout only keeps a broken build from hanging the suite; the caller asserts the bound."""
    started = time.monotonic()
    proc.send_signal(sig)
    rc = proc.wait(timeout=60)
    return rc, time.monotonic() - started


def assert_stopped_in_time(rc, seconds, what, log=""):
    assert rc == 0, f"{what} exited {rc}\n{log[-3000:]}"
    assert seconds < STOP_BOUND_S, f"{what} took {seconds:.2f} s to exit (promise: < 5 s)"


def frozen(pid):
    """SIGSTOPs `pid` and returns once the kernel shows it stopped (state T)."""
    os.kill(pid, signal.SIGSTOP)
    wait_for(lambda: open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[0] == "T",
             timeout=10, what=f"process {pid} to stop")
    return pid


def cursor(framering_bin, ring):
    try:
        return stat_json(framering_bin, ring)["cursor"]
    except (AssertionError, IndexError, KeyError, ValueError):
        return 0


def frames_read_by(framering_bin, ring, reader):
    """The reader's frames_read from `framering stat`, 0 while the ring or reader is not there."""
    try:
        readers = stat_json(framering_bin, ring).get("readers", [])
    except (AssertionError, IndexError, ValueError):
        return 0
    return next((r["frames_read"] for r in readers if r["reader"] == reader), 0)


def start_ingest(procs, framering_bin, ring, *extra, source=TESTSRC, log=None):
    return procs.start([framering_bin, "ingest", "--ring", ring, "--source", str(source),
                        "--metrics-addr", "0", *extra],
                       stdout=subprocess.DEVNULL, stderr=log or subprocess.DEVNULL)


def start_worker(procs, framering_bin, ring, log, *extra):
    return procs.start([framering_bin, "worker", "--ring", ring, "--analytic", "checksum",
                        "--events", os.devnull, "--metrics-addr", "0", *extra],
                       stdout=subprocess.DEVNULL, stderr=log)


# -- framering ingest ---------------------------------------------------------------------------

@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_ingest_exits_0_within_5s_of_a_stop_signal(framering_bin, ring_name, procs, tmp_path, sig):
    with open(tmp_path / "ingest.log", "w") as log:
        ingest = start_ingest(procs, framering_bin, ring_name, "--realtime", log=log)
    wait_for(lambda: cursor(framering_bin, ring_name) >= 5, timeout=30, what="frames in the ring")
    rc, seconds = stop_and_time(ingest, sig)
    print(f"ingest: exit {rc} {seconds:.3f} s after {sig.name}")
    assert_stopped_in_time(rc, seconds, "ingest", (tmp_path / "ingest.log").read_text())


@pytest.mark.skipif(not VTEST.exists(), reason="needs Debian's opencv-doc (vtest.avi)")
def test_ingest_held_at_its_gate_by_a_frozen_reader_exits_0_within_5s(framering_bin, ring_name,
                                                                     procs, tmp_path):
    """--wait-for-readers: a stopped worker holds the writer back; SIGTERM must still end it."""
    worker_log = tmp_path / "worker.log"
    with open(worker_log, "w") as log:
        worker = start_worker(procs, framering_bin, ring_name, log, "--mode", "every")
    wait_for(lambda: "waiting for ring" in worker_log.read_text(), timeout=30,
             what="the worker to wait for its ring")
    with open(tmp_path / "ingest.log", "w") as log:
        # --realtime: unpaced, a fast machine decodes all of vtest.avi before the worker is frozen
        # and the ring is gone; at 10 fps the input lasts 80 s.
        ingest = start_ingest(procs, framering_bin, ring_name, "--slots", "4", "--realtime",
                              "--wait-for-readers", "1", source=VTEST, log=log)
    wait_for(lambda: cursor(framering_bin, ring_name) >= 8, timeout=30, what="frames read")
    frozen(worker.pid)

    def held():
        before = cursor(framering_bin, ring_name)
        time.sleep(0.3)
        return before if before is not None and before == cursor(framering_bin, ring_name) else None
    wait_for(held, timeout=30, what="the writer to wait for the frozen reader")
    assert ingest.poll() is None
    rc, seconds = stop_and_time(ingest, signal.SIGTERM)
    os.kill(worker.pid, signal.SIGCONT)
    print(f"ingest at its gate: exit {rc} {seconds:.3f} s after SIGTERM")
    assert_stopped_in_time(rc, seconds, "ingest", (tmp_path / "ingest.log").read_text())


# -- framering worker ---------------------------------------------------------------------------

def test_reading_worker_exits_0_within_5s_of_sigterm(framering_bin, ring_name, procs, tmp_path):
    start_ingest(procs, framering_bin, ring_name, "--realtime")
    log_path = tmp_path / "worker.log"
    with open(log_path, "w") as log:
        worker = start_worker(procs, framering_bin, ring_name, log, "--mode", "every",
                              "--name", "w")
    wait_for(lambda: frames_read_by(framering_bin, ring_name, "w") > 3, timeout=30,
             what="the worker reading frames")
    rc, seconds = stop_and_time(worker, signal.SIGTERM)
    print(f"reading worker: exit {rc} {seconds:.3f} s after SIGTERM")
    assert_stopped_in_time(rc, seconds, "worker", log_path.read_text())


def test_worker_of_a_frozen_writer_exits_0_within_5s_of_sigterm(framering_bin, ring_name, procs,
                                                               tmp_path):
    """The worker waits for a frame that does not come (the writer is stopped, its flock held)."""
    ingest = start_ingest(procs, framering_bin, ring_name, "--realtime")
    log_path = tmp_path / "worker.log"
    with open(log_path, "w") as log:
        worker = start_worker(procs, framering_bin, ring_name, log, "--name", "w")
    wait_for(lambda: frames_read_by(framering_bin, ring_name, "w") > 3, timeout=30,
             what="the worker reading frames")
    frozen(ingest.pid)
    try:
        # Past the readers' stale_after (0.3 s): the worker now probes the writer's flock too.
        wait_for(lambda: stat_json(framering_bin, ring_name)["heartbeat_age_s"] > 0.4,
                 timeout=30, what="the frozen writer's heartbeat to go stale")
        rc, seconds = stop_and_time(worker, signal.SIGTERM)
    finally:
        os.kill(ingest.pid, signal.SIGCONT)
    print(f"worker of a frozen writer: exit {rc} {seconds:.3f} s after SIGTERM")
    assert_stopped_in_time(rc, seconds, "worker", log_path.read_text())


def test_worker_waiting_for_its_ring_exits_0_within_5s_of_sigterm(framering_bin, ring_name, procs,
                                                                 tmp_path):
    log_path = tmp_path / "worker.log"
    with open(log_path, "w") as log:
        worker = start_worker(procs, framering_bin, ring_name, log)
    wait_for(lambda: "waiting for ring" in log_path.read_text(), timeout=30,
             what="the worker to wait for its ring")
    rc, seconds = stop_and_time(worker, signal.SIGTERM)
    print(f"worker waiting for its ring: exit {rc} {seconds:.3f} s after SIGTERM")
    assert_stopped_in_time(rc, seconds, "worker", log_path.read_text())


# -- framering run ------------------------------------------------------------------------------

def run_config(tmp_path, ring, supervisor="", checksum_replicas=1):
    cfg = tmp_path / "promises.yaml"
    cfg.write_text(f"""
cameras:
  {ring}:
    source: "testsrc:testsrc2=size=160x120:rate=25"
    realtime: true
    workers:
      checksum:
        mode: every
        replicas: {checksum_replicas}
      motion: {{}}
metrics:
  enabled: false
supervisor:
  restart_backoff: 0.2
{supervisor}
""")
    return cfg


def start_run(procs, framering_bin, cfg, tmp_path):
    """`framering run` with its log in run.err; returns (process, {label: pid} of its children)
    once the ingest and both workers run."""
    with open(tmp_path / "run.out", "w") as out, open(tmp_path / "run.err", "w") as err:
        run = procs.start([framering_bin, "run", str(cfg)], stdout=out, stderr=err)
    kids = wait_for(lambda: (lambda k: k if len(k) == 3 else None)(children_of(run.pid)),
                    timeout=30, what="ingest and 2 workers running")
    return run, kids


def assert_nothing_left(kids, ring):
    alive = {label: pid for label, pid in kids.items() if not is_zombie_or_gone(pid)}
    assert alive == {}, f"children outlived `framering run`: {alive}"
    assert processes_mentioning(ring) == []


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_run_exits_0_within_5s_of_a_stop_signal(framering_bin, ring_name, procs, tmp_path, sig):
    run, kids = start_run(procs, framering_bin, run_config(tmp_path, ring_name), tmp_path)
    wait_for(lambda: cursor(framering_bin, ring_name) >= 5, timeout=30, what="frames in the ring")
    rc, seconds = stop_and_time(run, sig)
    print(f"run: exit {rc} {seconds:.3f} s after {sig.name}")
    assert_stopped_in_time(rc, seconds, "framering run", (tmp_path / "run.err").read_text())
    assert_nothing_left(kids, ring_name)


def test_run_stopped_while_it_checks_its_config_exits_0_within_5s(framering_bin, ring_name, procs,
                                                                  tmp_path):
    """SIGTERM while the children's command lines are still being checked (before the pipeline
    starts): the run ends with exit 0, starting nothing, rather than dying of the signal. Five
    children to check (each a start of the binary, all at once) keep that phase long enough for
    this test to see it even on a fast machine."""
    cfg = run_config(tmp_path, ring_name, checksum_replicas=3)
    with open(tmp_path / "run.out", "w") as out, open(tmp_path / "run.err", "w") as err:
        run = procs.start([framering_bin, "run", str(cfg)], stdout=out, stderr=err)
    wait_for(lambda: any("--check-config" in args for args in child_commands(run.pid).values()),
             timeout=30, interval=0.005, what="the supervisor to check its children's settings")
    rc, seconds = stop_and_time(run, signal.SIGTERM)
    print(f"run checking its config: exit {rc} {seconds:.3f} s after SIGTERM")
    err = (tmp_path / "run.err").read_text()
    assert_stopped_in_time(rc, seconds, "framering run", err)
    assert "started " not in err, err[-3000:]
    assert processes_mentioning(ring_name) == []


def test_run_with_a_child_ignoring_sigterm_exits_0_within_5s(framering_bin, ring_name, procs,
                                                            tmp_path):
    """A frozen worker cannot act on SIGTERM: the default grace period (3 s) ends in SIGKILL,
    still inside the 5 s promise."""
    run, kids = start_run(procs, framering_bin, run_config(tmp_path, ring_name), tmp_path)
    frozen(kids["checksum"])
    rc, seconds = stop_and_time(run, signal.SIGTERM)
    print(f"run with a frozen worker: exit {rc} {seconds:.3f} s after SIGTERM")
    err = (tmp_path / "run.err").read_text()
    assert_stopped_in_time(rc, seconds, "framering run", err)
    assert "still running after SIGTERM; sending SIGKILL" in err, err[-3000:]
    assert_nothing_left(kids, ring_name)


def test_second_ctrl_c_kills_at_once_instead_of_waiting_the_grace_period(framering_bin, ring_name,
                                                                         procs, tmp_path):
    """A frozen worker would hold the graceful stop for the whole 30 s grace period; the second
    SIGINT, sent as soon as the supervisor says it is stopping, must end the run within 5 s of
    the first, with exit code 0 (the stop was asked for) and no child left."""
    cfg = run_config(tmp_path, ring_name, f"  stop_grace: {LONG_GRACE_S}")
    run, kids = start_run(procs, framering_bin, cfg, tmp_path)
    frozen(kids["checksum"])
    err_path = tmp_path / "run.err"
    started = time.monotonic()
    run.send_signal(signal.SIGINT)
    # Two signals of one kind pending at once are one signal: the second Ctrl-C counts only once
    # the first was taken, which the supervisor's log line shows.
    wait_for(lambda: "stopping: received SIGINT" in err_path.read_text(), timeout=STOP_BOUND_S,
             interval=0.01, what="the supervisor to begin its stop")
    second_at = time.monotonic()
    run.send_signal(signal.SIGINT)
    rc = run.wait(timeout=60)
    ended = time.monotonic()
    print(f"run, second SIGINT: exit {rc} {ended - second_at:.3f} s after the second SIGINT, "
          f"{ended - started:.3f} s after the first (grace period {LONG_GRACE_S} s)")
    err = err_path.read_text()
    assert "SIGINT again: killing the remaining children now" in err, err[-3000:]
    assert_stopped_in_time(rc, ended - started, "framering run", err)
    assert_nothing_left(kids, ring_name)
