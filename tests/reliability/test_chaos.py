"""A short chaos run (20 actions) in `make test`; `make chaos` runs the 100-action version.
chaos.py does the work and the checks; this asserts on its report."""
import json
import subprocess
import sys

import pytest

from rel_helpers import HERE


def worker_available(framering_bin):
    p = subprocess.run([framering_bin, "worker", "--help"], capture_output=True, text=True)
    r = subprocess.run([framering_bin, "run", "--help"], capture_output=True, text=True)
    return p.returncode == 0 and r.returncode == 0 and "--analytic" in p.stdout


def test_short_chaos_run(framering_bin, tmp_path):
    if not worker_available(framering_bin):
        pytest.skip("this build has no `framering worker`/`framering run` yet")
    report_path = tmp_path / "chaos.json"
    p = subprocess.run([sys.executable, str(HERE / "chaos.py"), "--bin", framering_bin,
                        "--actions", "20", "--seed", "20261127", "--report", str(report_path)],
                       capture_output=True, text=True, timeout=240)
    report = json.loads(report_path.read_text()) if report_path.exists() else {}
    assert p.returncode == 0, p.stdout[-6000:] + p.stderr[-3000:]
    assert report["failures"] == []
    assert sum(report["actions"].values()) == 20
    frames = report["frames"]
    assert frames["checksum events with a wrong crc32 (undetected torn)"] == 0
    assert frames["probe frames valid, crc32 wrong (undetected torn)"] == 0
    assert sum(frames["checksum events verified"].values()) > 100
    # Tears were forced and caught, so the two zeros above mean something.
    assert frames["probe frames invalid, crc32 wrong (torn, detected)"] > 0, frames
    worker_drops = {w: r["lapped"] + r["torn"] for w, r in report["recoveries"].items()
                    if isinstance(r, dict)}
    assert sum(worker_drops.values()) > 0, report["recoveries"]
    assert report["leaks"] == {"shm files left": 0, "processes left": 0}
