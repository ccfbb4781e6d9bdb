"""Many cameras under one `framering run`: 8 cameras x 2 `every`-mode workers from the shipped
config/cameras-16.yaml (its first 8 cameras) lose no frame over 20 s with every camera and worker
up, `framering stat` lists every ring and reader in order, the progress line and summary stay one
line per camera or less, and each child's metrics keep the same series as frames flow (no label
that grows with frames)."""
import json
import os
import random
import re
import signal
import socket
import subprocess
import time
import urllib.request

import yaml

from conftest import ROOT, wait_for

CAMERAS = 8
WORKERS = 2
CHILDREN = CAMERAS * (1 + WORKERS)  # an ingest and its workers per camera, a metrics port each
SECONDS = 20  # with every camera and worker attached
FPS = 10


def free_port_block(count):
    """A base port below the ephemeral range whose `count` ports all bind now (the run hands its
    children base_port, base_port + 1, ...)."""
    for _ in range(200):
        base = random.randrange(20000, 32000 - count)
        socks = []
        try:
            for port in range(base, base + count):
                s = socket.socket()
                socks.append(s)
                s.bind(("127.0.0.1", port))
            return base
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    raise AssertionError(f"no {count} free consecutive ports")


def series(port):
    """The metric series a child serves: its sample lines' names and labels."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as r:
        text = r.read().decode()
    return {line.rsplit(" ", 1)[0] for line in text.splitlines() if line and line[0] != "#"}


def test_eight_cameras_two_workers_each_drop_nothing(framering_bin, private_shm, tmp_path):
    shipped = yaml.safe_load((ROOT / "config" / "cameras-16.yaml").read_text())
    assert len(shipped["cameras"]) == 16
    names = sorted(shipped["cameras"])[:CAMERAS]
    base_port = free_port_block(CHILDREN)
    config = {"cameras": {n: shipped["cameras"][n] for n in names},
              "metrics": {"enabled": True, "base_port": base_port},
              "events": {"path": str(tmp_path / "events.jsonl")},
              "supervisor": {"progress_interval": 2}}
    path = tmp_path / "cameras-8.yaml"
    path.write_text(yaml.safe_dump(config))
    env = dict(os.environ, FRAMERING_SHM_DIR=str(private_shm))
    # The test stops the run itself once the window is measured; --duration only bounds a hang.
    run = subprocess.Popen([framering_bin, "run", str(path), "--duration", str(SECONDS + 120)],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    try:
        def stat():
            p = subprocess.run([framering_bin, "stat", "--json"], capture_output=True, text=True,
                               timeout=30, env=env)
            return json.loads(p.stdout) if p.returncode == 0 else []

        def all_attached():
            rings = stat()
            return (len(rings) == CAMERAS and all(len(r["readers"]) == WORKERS for r in rings)
                    and all(rd["alive"] and rd["frames_read"] > 0
                            for r in rings for rd in r["readers"]) and rings)

        first = wait_for(all_attached, timeout=90, interval=0.5,
                         what="8 rings with 2 readers each, reading")
        attached = time.monotonic()
        assert [r["ring"] for r in first] == names, "rings listed sorted by name"
        for r in first:
            assert [rd["reader"] for rd in r["readers"]] == ["checksum", "motion"]
        series_first = {port: series(port) for port in range(base_port, base_port + CHILDREN)}

        # The window: from the stat where every reader was reading to one at least 20 s later.
        last = wait_for(lambda: time.monotonic() - attached >= SECONDS and stat(),
                        timeout=SECONDS + 60, interval=1, what=f"{SECONDS} s of running")
        window = time.monotonic() - attached
        series_last = {port: series(port) for port in range(base_port, base_port + CHILDREN)}
        run.send_signal(signal.SIGTERM)
        out, _ = run.communicate(timeout=60)
    finally:
        if run.poll() is None:
            run.kill()
            run.wait()
    assert run.returncode == 0, out

    assert SECONDS <= window < SECONDS + 30, window
    assert [r["ring"] for r in last] == names
    for before, after in zip(first, last):
        assert after["cursor"] - before["cursor"] >= FPS * window * 0.8, (before, after)
        for rb, ra in zip(before["readers"], after["readers"]):
            assert ra["alive"], ra
            assert sum(ra["dropped"].values()) == 0, ra
            # Every frame published in the window was read (up to 2 s of them still in flight).
            assert ra["frames_read"] - rb["frames_read"] >= FPS * (window - 2) * 0.8, (rb, ra)

    # Bounded metrics: each child serves the same series after 20 s of frames as at the start,
    # but for an event kind's counter, which appears with that kind's first event; kinds are
    # names (motion_start, ...), never numbers, so they cannot grow with the frames.
    kind = re.compile(r'kind="([^"]*)"')
    for port, names_first in series_first.items():
        assert any(n.startswith("framering_") for n in names_first), (port, names_first)
        assert all(re.fullmatch(r"[a-z]+(_[a-z]+)*", k)
                   for n in series_last[port] for k in kind.findall(n)), series_last[port]
        fixed_last = {n for n in series_last[port] if not kind.search(n)}
        fixed_first = {n for n in names_first if not kind.search(n)}
        assert fixed_last == fixed_first, (port, sorted(fixed_last ^ fixed_first)[:10])

    progress = [line for line in out.splitlines() if f"{CAMERAS} cameras " in line]
    assert progress, out
    assert re.search(rf"{CAMERAS} cameras [\d.]+ fps in \(slowest cam\d\d [\d.]+\) \| "
                     rf"{WORKERS * CAMERAS} workers [\d.]+ fps \(slowest cam\d\d/\w+ [\d.]+\) \| "
                     r"drops 0 \|", progress[-1]), progress[-1]

    summary = out[out.index("framering run summary"):].splitlines()
    per_camera = [line for line in summary if re.match(r"  cam\d\d: ", line)]
    assert len(per_camera) == CAMERAS, summary
    for line in per_camera:
        m = re.match(r"  cam\d\d: (\d+) frames \([\d.]+ fps\)((?:; \w+ \d+ read, \d+ dropped, "
                     r"\d+ events){2})$", line)
        assert m, line
        published = int(m.group(1))
        workers = re.findall(r"; (\w+) (\d+) read, (\d+) dropped", m.group(2))
        assert sorted(w for w, _, _ in workers) == ["checksum", "motion"], line
        # The cameras are 10 fps test patterns, each up for the whole window (a margin of 20 %
        # for a loaded machine's scheduling).
        assert published >= FPS * window * 0.8, f"{line} ({window:.1f} s with all attached)"
        for worker, read, dropped in workers:
            # Every mode reads all. At the stop the workers go first and their ingest keeps
            # publishing until they are gone: frames nobody was left to read, not drops (up to
            # 2 s of them, at 10 fps, on a loaded machine).
            assert int(dropped) == 0 and 0 <= published - int(read) <= 20, line
    assert summary[len(per_camera) + 1].startswith("  total: ") and " 0 frames dropped" in out
