"""A hostile local user: anyone can create files in /dev/shm, under any framering name. FIFOs,
symlinks, directories, truncated or garbage segments, other users' files and stats files with
terminal escapes or invalid UTF-8 in them must not hang, crash or garble the real binary's
`stat`, `ingest` (its segment creation and its --wait-for-readers gate) or `run` (its start-up
cleanup); the Python writer must refuse group/other-writable modes and, like the C++ one, let
exactly one of many concurrent writers win a ring name."""
import json
import os
import pathlib
import shutil
import signal
import struct
import time

import numpy as np
import pytest

from rel_helpers import SHM, VTEST, assert_no_crash, run, wait_for

import framering

STAT_BOUND_S = 2.0  # `framering stat` answers within this, whatever is planted
STATS_BYTES = 4096


def timed(args, timeout=60, **kw):
    t0 = time.monotonic()
    p = run(args, timeout=timeout, **kw)
    return p, time.monotonic() - t0


def stats_file_bytes(ring, reader, pid):
    """A valid reader-stats file (layout: ringbuf/include/framering/ringbuf/layout.hpp), but
    nobody holds its lock: whatever `pid` it names, its reader is dead."""
    b = bytearray(STATS_BYTES)
    b[0:8] = framering.layout.STATS_MAGIC_BYTES
    struct.pack_into("<II", b, 8, framering.layout.STATS_VERSION, pid)
    b[16:16 + len(ring)] = ring.encode()
    b[80:80 + len(reader)] = reader
    struct.pack_into("<Q", b, 192, time.monotonic_ns())
    return bytes(b)


@pytest.fixture
def planted(ring_name):
    """Plants every kind of hostile file under names derived from ring_name; removes them."""
    paths = []

    def plant(suffix):
        p = SHM / f"framering.{ring_name}{suffix}"
        paths.append(p)
        return p

    os.mkfifo(plant("fifo"))
    os.mkfifo(plant("live.reader.fifo"))
    os.symlink("/dev/zero", plant("devlink"))
    os.symlink(SHM / f"framering.{ring_name}fifo", plant("fifolink"))
    plant("dir").mkdir()
    plant("short").write_bytes(b"FMRRING\0" + b"\0" * 92)
    plant("garbage").write_bytes(np.random.default_rng(1).bytes(3 * 4096))
    with framering.Writer(f"{ring_name}cut", shape=(64, 64, 3), slots=4, keep=True) as w:
        w.write(np.zeros((64, 64, 3), np.uint8))
    cut = plant("cut")
    os.truncate(cut, 5000)  # a real header claiming more than the file holds
    with framering.Writer(f"{ring_name}theirs", shape=(8, 8, 3), slots=2, keep=True) as w:
        w.write(np.zeros((8, 8, 3), np.uint8))
    os.chown(plant("theirs"), 65534, 65534)
    esc = SHM / ("framering." + ring_name + "\x1b[2J")
    paths.append(esc)
    esc.write_bytes(b"")
    bad_utf8 = os.path.join(os.fsencode(SHM), b"framering." + ring_name.encode() + b"\xff\xfe")
    open(bad_utf8, "wb").close()
    yield ring_name
    for p in paths:
        try:
            shutil.rmtree(p) if p.is_dir() and not p.is_symlink() else p.unlink()
        except OSError:
            pass
    os.unlink(bad_utf8)


def test_stat_returns_within_2_s_whatever_is_planted(framering_bin, planted):
    ring = planted
    with framering.Writer(f"{ring}live", shape=(16, 16, 3), slots=4) as w:
        for _ in range(3):
            w.write(np.zeros((16, 16, 3), np.uint8))
        # A stats file of our own user for the live ring whose reader name carries a terminal
        # escape and invalid UTF-8, and one of another user that must not be believed.
        mine = SHM / f"framering.{ring}live.reader.evil"
        mine.write_bytes(stats_file_bytes(f"{ring}live", b"\x1b]0;pwned\x07\x1b[2J\xff\xfe",
                                          os.getpid()))
        theirs = SHM / f"framering.{ring}live.reader.stranger"
        theirs.write_bytes(stats_file_bytes(f"{ring}live", b"stranger", os.getpid()))
        os.chown(theirs, 65534, 65534)
        try:
            for args in (["stat"], ["stat", "--json"]):
                p, took = timed([framering_bin, *args], timeout=30)
                assert_no_crash(p)
                assert p.returncode == 0, p.stderr
                assert took < STAT_BOUND_S, f"`framering {' '.join(args)}` took {took:.2f} s"
                assert "\x1b" not in p.stdout and "\ufffd" not in p.stdout
            rings = json.loads(p.stdout)
            names = {r["ring"] for r in rings}
            assert f"{ring}live" in names
            assert not {n for n in names if n.startswith(ring) and n != f"{ring}live"}, names
            live = next(r for r in rings if r["ring"] == f"{ring}live")
            readers = {r["reader"] for r in live["readers"]}
            assert readers == {"??0?pwned???2J??"}, readers
            # Asked by name, each planted file is a clear error at once, not a hang.
            for suffix, why in (("fifo", "not a regular file"), ("devlink", "symbolic link"),
                                ("fifolink", "symbolic link"), ("dir", "not a regular file"),
                                ("short", "smaller than the 4096-byte header"),
                                ("cut", ""), ("garbage", "")):
                p, took = timed([framering_bin, "stat", ring + suffix, "--json"], timeout=30)
                assert_no_crash(p)
                assert p.returncode == 4, (suffix, p.stdout, p.stderr)
                assert why in p.stderr, (suffix, p.stderr)
                assert took < STAT_BOUND_S, f"stat {suffix} took {took:.2f} s"
            # Another user's ring, asked for by name, is shown (a shared ring is a real setup).
            p = run([framering_bin, "stat", ring + "theirs", "--json"], timeout=30)
            assert p.returncode == 0, p.stderr
        finally:
            mine.unlink()
            theirs.unlink()


def test_ingest_onto_a_planted_name_fails_at_once(framering_bin, planted):
    for suffix in ("fifo", "fifolink", "dir"):
        p, took = timed([framering_bin, "ingest", "--ring", planted + suffix, "--source",
                         VTEST, "--max-frames", "1", "--metrics-addr", "0"], timeout=60)
        assert_no_crash(p)
        assert p.returncode == 4, (suffix, p.stderr)
        assert "choose another --ring" in p.stderr, p.stderr
        assert took < 10, f"{suffix}: {took:.1f} s"


@pytest.mark.skipif(not VTEST.exists(), reason="opencv-doc's vtest.avi is missing")
def test_wait_for_readers_gate_ignores_planted_stats_files(framering_bin, ring_name, procs,
                                                          tmp_path):
    """The gate rescans every stats file named after its ring: a FIFO, a symlink and another
    user's file there must neither block it nor count as a reader."""
    os.mkfifo(SHM / f"framering.{ring_name}.reader.fifo")
    os.symlink("/dev/zero", SHM / f"framering.{ring_name}.reader.link")
    theirs = SHM / f"framering.{ring_name}.reader.ghost"
    theirs.write_bytes(stats_file_bytes(ring_name, b"ghost", 1))  # pid 1: alive forever
    os.chown(theirs, 65534, 65534)
    events = tmp_path / "events.jsonl"
    procs.start([framering_bin, "worker", "--ring", ring_name, "--analytic", "checksum",
                 "--mode", "every", "--name", "w", "--events", events, "--metrics-addr", "0"])
    p = run([framering_bin, "ingest", "--ring", ring_name, "--source", VTEST, "--slots", "4",
             "--max-frames", "40", "--wait-for-readers", "1", "--metrics-addr", "0"], timeout=120)
    assert p.returncode == 0, p.stderr
    wait_for(lambda: events.exists() and len(events.read_text().splitlines()) >= 40, timeout=30,
             what="the worker got all 40 frames")


def test_run_starts_and_stops_with_planted_files(framering_bin, private_shm, tmp_path):
    """`framering run` sweeps its shm directory at start and stop (cleanup_stale): FIFOs and
    symlinks there are skipped without blocking, and other users' files are left alone."""
    os.mkfifo(private_shm / "framering.cam")
    os.mkfifo(private_shm / "framering.x.reader.y")
    os.symlink("/etc/passwd", private_shm / "framering.link")
    other = private_shm / "framering.old"
    other.write_bytes(b"\0" * 8192)
    os.chown(other, 65534, 65534)
    cfg = tmp_path / "run.yaml"
    cfg.write_text("cameras:\n  c1:\n    source: \"testsrc:testsrc2=size=160x120:rate=25\"\n"
                   "    workers:\n      checksum: {}\nmetrics:\n  enabled: false\n"
                   f"events:\n  path: {tmp_path / 'events.jsonl'}\n")
    p, took = timed([framering_bin, "run", cfg, "--duration", "3"], timeout=90)
    assert_no_crash(p)
    assert p.returncode == 0, p.stderr[-3000:]
    left = sorted(x.name for x in private_shm.iterdir())
    assert left == ["framering.cam", "framering.link", "framering.old", "framering.x.reader.y"]


@pytest.mark.parametrize("mode", ["0666", "0660", "0662", "0620", "0602"])
def test_group_or_other_write_mode_is_refused_with_exit_2(framering_bin, ring_name, tmp_path, mode):
    p = run([framering_bin, "ingest", "--ring", ring_name, "--source", VTEST, "--shm-mode", mode,
             "--check-config"], timeout=30)
    assert p.returncode == 2, p.stderr
    assert "--shm-mode" in p.stderr and "group or others write" in p.stderr, p.stderr
    p = run([framering_bin, "ingest", "--ring", ring_name, "--source", VTEST, "--shm-mode", mode,
             "--max-frames", "1", "--metrics-addr", "0"], timeout=30)
    assert p.returncode == 2, p.stderr
    assert not (SHM / f"framering.{ring_name}").exists()
    cfg = tmp_path / "bad.yaml"
    cfg.write_text(f"cameras:\n  c:\n    source: testsrc:testsrc2\nshm:\n  mode: \"{mode}\"\n")
    p = run([framering_bin, "run", cfg, "--check-config"], timeout=30)
    assert p.returncode == 2, p.stderr
    assert "bad.yaml:5: shm.mode" in p.stderr and "group or others write" in p.stderr, p.stderr
    with pytest.raises(framering.InvalidArgumentError, match="group or others"):
        framering.Writer(ring_name, shape=(4, 4), mode=int(mode, 8))
    assert not (SHM / f"framering.{ring_name}").exists()


def test_owner_and_group_read_modes_are_still_accepted(framering_bin, ring_name):
    for mode in ("0600", "0640", "0644"):
        p = run([framering_bin, "ingest", "--ring", ring_name, "--source", VTEST, "--shm-mode",
                 mode, "--check-config"], timeout=30)
        assert p.returncode == 0, (mode, p.stderr)


ROUNDS = int(os.environ.get("FRAMERING_RACE_ROUNDS", "50"))
WRITERS = 8


def _contend(name, go_r, result_w, hold_r):
    """In a forked child: wait for go, try to become the writer, report, hold while told."""
    os.read(go_r, 1)
    try:
        w = framering.Writer(name, shape=(1024, 1024, 3), slots=8)  # 24 MiB: a real ring's size
    except framering.LiveWriterError:
        os.write(result_w, b"L")
        os._exit(0)
    except BaseException:
        os.write(result_w, b"E")
        os._exit(0)
    os.write(result_w, b"W")
    while os.read(hold_r, 1):
        pass
    w.close()
    os._exit(0)


@pytest.mark.parametrize("dead_writer_first", [False, True])
def test_python_writers_racing_for_a_name_exactly_one_wins(ring_name, dead_writer_first):
    for rnd in range(ROUNDS):
        if dead_writer_first:
            framering.Writer(ring_name, shape=(4, 4), slots=2, keep=True).close()
        go_r, go_w = os.pipe()
        hold_r, hold_w = os.pipe()
        children = []
        for _ in range(WRITERS):
            res_r, res_w = os.pipe()
            pid = os.fork()
            if pid == 0:
                os.close(res_r)
                os.close(go_w)
                os.close(hold_w)
                _contend(ring_name, go_r, res_w, hold_r)
            os.close(res_w)
            children.append((pid, res_r))
        os.close(go_r)
        os.close(hold_r)
        os.write(go_w, b"g" * WRITERS)
        results = {}
        for pid, res_r in children:
            results[pid] = os.read(res_r, 1)
            os.close(res_r)
        winners = [pid for pid, r in results.items() if r == b"W"]
        assert len(winners) == 1 and b"E" not in results.values(), (rnd, results)
        ring = framering.Ring(ring_name)
        try:
            assert ring.info.writer_pid == winners[0], rnd
        finally:
            ring.close()
        os.close(go_w)
        os.close(hold_w)
        for pid, _ in children:
            os.waitpid(pid, 0)
