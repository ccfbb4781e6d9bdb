"""Many cameras under one `framering run`: 8 cameras x 2 `every`-mode workers from the shipped
config/cameras-16.yaml (its first 8 cameras) for 20 s lose no frame, `framering stat` lists every
ring and reader in order, and the progress line and summary stay one line per camera or less."""
import json
import os
import re
import subprocess
import time

import yaml

from conftest import ROOT, wait_for

CAMERAS = 8
SECONDS = 20


def test_eight_cameras_two_workers_each_drop_nothing(framering_bin, private_shm, tmp_path):
    shipped = yaml.safe_load((ROOT / "config" / "cameras-16.yaml").read_text())
    assert len(shipped["cameras"]) == 16
    names = sorted(shipped["cameras"])[:CAMERAS]
    config = {"cameras": {n: shipped["cameras"][n] for n in names},
              "metrics": {"enabled": False},
              "events": {"path": str(tmp_path / "events.jsonl")},
              "supervisor": {"progress_interval": 2}}
    path = tmp_path / "cameras-8.yaml"
    path.write_text(yaml.safe_dump(config))
    env = dict(os.environ, FRAMERING_SHM_DIR=str(private_shm))
    run = subprocess.Popen([framering_bin, "run", str(path), "--duration", str(SECONDS)],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    try:
        def stat():
            p = subprocess.run([framering_bin, "stat", "--json"], capture_output=True, text=True,
                               timeout=30, env=env)
            return json.loads(p.stdout) if p.returncode == 0 else []

        def all_attached():
            rings = stat()
            return len(rings) == CAMERAS and all(len(r["readers"]) == 2 for r in rings) and rings

        rings = wait_for(all_attached, timeout=SECONDS, what="8 rings with 2 readers each")
        attached = time.monotonic()
        assert [r["ring"] for r in rings] == names, "rings listed sorted by name"
        for r in rings:
            assert [rd["reader"] for rd in r["readers"]] == ["checksum", "motion"]
            assert all(rd["alive"] for rd in r["readers"])
        out, _ = run.communicate(timeout=SECONDS + 60)
        running = time.monotonic() - attached  # every camera and worker was up at least this long
    finally:
        if run.poll() is None:
            run.kill()
            run.wait()
    assert run.returncode == 0, out

    progress = [line for line in out.splitlines() if f"{CAMERAS} cameras " in line]
    assert progress, out
    assert re.search(rf"{CAMERAS} cameras [\d.]+ fps in \(slowest cam\d\d [\d.]+\) \| "
                     rf"{2 * CAMERAS} workers [\d.]+ fps \(slowest cam\d\d/\w+ [\d.]+\) \| "
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
        # The cameras are 10 fps test patterns; each ran at least `running` seconds (a margin of
        # 20 % for a loaded machine's scheduling).
        assert published >= 10 * running * 0.8, f"{line} ({running:.1f} s with all attached)"
        for worker, read, dropped in workers:
            # Every mode reads all. At the stop the workers go first and their ingest keeps
            # publishing until they are gone: frames nobody was left to read, not drops (up to
            # 2 s of them, at 10 fps, on a loaded machine).
            assert int(dropped) == 0 and 0 <= published - int(read) <= 20, line
    assert summary[len(per_camera) + 1].startswith("  total: ") and " 0 frames dropped" in out
