"""Resource limits and access control: a ring bigger than its tmpfs fails at creation with a
clear no-space message (never SIGBUS), a live writer's ring is refused to a second writer even
while the first is stopped, and another user cannot read or take a 0600 ring."""
import os
import re
import pathlib
import shutil
import signal

import pytest

from rel_helpers import SHM, VTEST, assert_no_crash, run, shm_leftovers, stat_json, wait_for

NOBODY = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"]
DAEMON = ["setpriv", "--reuid=daemon", "--regid=daemon", "--clear-groups"]


def probe_bin(framering_bin):
    path = pathlib.Path(framering_bin).parent / "ring_probe"
    if not path.exists():
        pytest.fail(f"{path} not built: cmake --build --preset release --target ring_probe")
    return str(path)


def in_small_tmpfs(size_mib, command):
    """Runs `command` (a shell string) with FRAMERING_SHM_DIR on a fresh tmpfs of size_mib,
    mounted in a private mount namespace (nothing is visible to, or left for, the host).
    Afterwards it lists what is left in the tmpfs, after a line '--- left:'."""
    script = (f'd=$(mktemp -d) && mount -t tmpfs -o size={size_mib}m tmpfs "$d" && '
              f'export FRAMERING_SHM_DIR="$d"; {command}; rc=$?; echo "--- left:"; ls -A "$d"; '
              f'exit $rc')
    return run(["unshare", "-m", "--propagation", "private", "sh", "-c", script], timeout=60)


@pytest.fixture(scope="module", autouse=True)
def need_privileges():
    """Probes, not guesses: root in an unprivileged container, for one, may not unshare or
    mount. A missing capability skips with what failed (CI requires that nothing skips)."""
    if os.geteuid() != 0:
        pytest.skip("needs root (a tmpfs mount of its own, and another uid)")
    for tool in ("unshare", "setpriv"):
        if not shutil.which(tool):
            pytest.skip(f"needs `{tool}` (util-linux)")
    mounted = run(["unshare", "-m", "--propagation", "private", "sh", "-c",
                   'd=$(mktemp -d) && mount -t tmpfs -o size=1m tmpfs "$d" && umount "$d" && rmdir "$d"'],
                  timeout=30)
    if mounted.returncode != 0:
        pytest.skip(f"`unshare -m` + a tmpfs mount is refused here: {mounted.stderr.strip()}")
    other = run([*NOBODY, "true"], timeout=30)
    if other.returncode != 0:
        pytest.skip(f"cannot run a process as another uid (setpriv): {other.stderr.strip()}")


def left_in_tmpfs(stdout):
    return stdout.split("--- left:\n", 1)[1].split()


def test_writer_on_a_full_tmpfs_fails_with_no_space_not_sigbus(framering_bin):
    # 8 slots of 640x480x3 (900 KiB each) = 7.0 MiB with the tables, on a 4 MiB tmpfs:
    # posix_fallocate refuses.
    p = in_small_tmpfs(4, f"{probe_bin(framering_bin)} create big 640 480 8")
    assert_no_crash(p)
    assert p.returncode == 4, p.stderr
    assert re.search(r"needs 7\.\d MiB \(\d+ bytes", p.stderr) and "MiB free" in p.stderr and "--slots" in p.stderr, p.stderr
    assert left_in_tmpfs(p.stdout) == [], "the temporary segment is removed"


def test_writer_that_fits_the_same_tmpfs_touches_every_page(framering_bin):
    p = in_small_tmpfs(4, f"{probe_bin(framering_bin)} create small 320 240 8")
    assert p.returncode == 0, p.stderr
    assert "8 frames written" in p.stdout


def test_ingest_checks_the_space_before_creating(framering_bin):
    p = in_small_tmpfs(4, f"{framering_bin} ingest --ring big --source {VTEST} --metrics-addr 0")
    assert_no_crash(p)
    assert p.returncode == 2, p.stderr
    assert "MiB free" in p.stderr and "--slots" in p.stderr
    assert left_in_tmpfs(p.stdout) == []


def test_stopped_writer_still_owns_its_ring(framering_bin, ring_name, procs):
    """SIGSTOP freezes the heartbeat but not the flock: no second writer may take the ring."""
    first = procs.start([framering_bin, "ingest", "--ring", ring_name, "--source", str(VTEST),
                         "--realtime", "--loop", "--metrics-addr", "0"])
    wait_for(lambda: (SHM / f"framering.{ring_name}").exists(), timeout=20, what="the ring")
    os.kill(first.pid, signal.SIGSTOP)
    try:
        # Readers trust a heartbeat for 300 ms: wait until this one is older than that.
        wait_for(lambda: stat_json(framering_bin, ring_name)["heartbeat_age_s"] > 0.5, timeout=30,
                 what="the stopped writer's heartbeat to go stale")
        p = run([framering_bin, "ingest", "--ring", ring_name, "--source", str(VTEST),
                 "--metrics-addr", "0"])
        assert_no_crash(p)
        assert p.returncode == 4, p.stderr
        assert f"writer pid {first.pid}" in p.stderr and "already has a live writer" in p.stderr
    finally:
        os.kill(first.pid, signal.SIGCONT)
    before = stat_json(framering_bin, ring_name)["cursor"]
    wait_for(lambda: stat_json(framering_bin, ring_name)["cursor"] > before, timeout=30,
             what="the first writer to carry on after SIGCONT")


def _root_ring(framering_bin, ring, *args):
    p = run([framering_bin, "ingest", "--ring", ring, "--source", VTEST, "--max-frames", "3",
             "--keep", "--metrics-addr", "0", *args])
    assert p.returncode == 0, p.stderr
    return SHM / f"framering.{ring}"


def test_another_user_cannot_read_a_0600_ring(framering_bin, ring_name):
    seg = _root_ring(framering_bin, ring_name)
    assert seg.stat().st_mode & 0o777 == 0o600 and seg.stat().st_uid == 0
    p = run(NOBODY + [framering_bin, "stat", ring_name])
    assert p.returncode == 4, p.stdout + p.stderr
    assert "Permission denied" in p.stderr and "--shm-mode" in p.stderr
    assert ring_name in p.stderr


def test_a_group_readable_ring_is_readable_by_that_group_only(framering_bin, ring_name):
    _root_ring(framering_bin, ring_name, "--shm-mode", "0640", "--shm-group", "nogroup")
    ok = run(NOBODY + [framering_bin, "stat", ring_name, "--json"])
    assert ok.returncode == 0, ok.stderr
    other = run(DAEMON + [framering_bin, "stat", ring_name])
    assert other.returncode == 4 and "Permission denied" in other.stderr


def test_another_users_ring_is_refused_to_a_writer(framering_bin, ring_name):
    """A dead writer's ring owned by nobody, mode 0600: root could take it over, but an
    unprivileged ingest of a third identity must be refused with a message, not crash."""
    seg = _root_ring(framering_bin, ring_name)
    os.chown(seg, 65534, 65534)  # nobody:nogroup, mode stays 0600
    p = run(DAEMON + [framering_bin, "ingest", "--ring", ring_name, "--source", VTEST,
                      "--max-frames", "1", "--metrics-addr", "0"])
    assert_no_crash(p)
    assert p.returncode == 4, p.stderr
    assert "not accessible to this user" in p.stderr and "remove it as its owner" in p.stderr
    assert seg.stat().st_uid == 65534, "the other user's segment is untouched"


def test_a_worker_maps_the_ring_read_only(framering_bin, ring_name, procs):
    """A real worker's mapping of the segment is r--s: an analytic cannot write to the ring even
    by accident (a stray store faults instead of corrupting what other readers see)."""
    procs.start([framering_bin, "ingest", "--ring", ring_name, "--source", str(VTEST),
                 "--realtime", "--loop", "--metrics-addr", "0"])
    seg = SHM / f"framering.{ring_name}"
    wait_for(lambda: seg.exists(), timeout=20, what="the ring")
    worker = procs.start([framering_bin, "worker", "--ring", ring_name, "--analytic", "checksum",
                          "--events", "-", "--metrics-addr", "0"])
    assert worker.stdout.readline(), "the worker analysed a frame"
    maps = [line for line in pathlib.Path(f"/proc/{worker.pid}/maps").read_text().splitlines()
            if line.endswith(str(seg))]
    assert maps and all(" r--s " in line for line in maps), maps
