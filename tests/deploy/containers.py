"""Helpers for the tests that run deploy/'s images: the container engine (podman, as set up by
scripts/container-setup.sh), the images `make image` builds, and a host Prometheus that scrapes
containers with the project's alert rules loaded."""
import datetime
import json
import os
import re
import pathlib
import shutil
import subprocess
import time
import urllib.parse
import urllib.request
import uuid

import pytest
import yaml

from deploy_helpers import DEPLOY, ROOT, free_port, wait_for

VERSION = next(line.split()[2] for line in (ROOT / "CMakeLists.txt").read_text().splitlines()
               if line.startswith("project(framering VERSION"))
IMAGE = os.environ.get("FRAMERING_IMAGE", f"framering:{VERSION}")
CAMERA_IMAGE = os.environ.get("FRAMERING_CAMERA_IMAGE", f"framering-camera-sim:{VERSION}")
RULES = DEPLOY / "prometheus" / "rules" / "framering.yml"


def engine_or_skip():
    """podman, usable; skips naming what is missing where it is not (no engine, not root)."""
    podman = shutil.which("podman")
    if podman is None:
        pytest.skip("podman is not installed (as root, scripts/container-setup.sh installs it)")
    out = subprocess.run([podman, "info", "--format", "{{.Host.OCIRuntime.Name}}"], capture_output=True,
                         text=True, timeout=60)
    if out.returncode != 0:
        pytest.skip(f"podman cannot run containers here: {out.stderr.strip()[:300]}")
    if os.geteuid() != 0:
        pytest.skip("these tests use root podman (rootless needs subuid ranges and user namespaces)")
    return podman


def ensure_images():
    """The images of `make image`; built here (scripts/image.sh) when absent, e.g. a first run."""
    missing = [i for i in (IMAGE, CAMERA_IMAGE) if podman("image", "exists", i, check=False).returncode != 0]
    if missing:
        out = subprocess.run([str(ROOT / "scripts" / "image.sh")], cwd=ROOT, capture_output=True, text=True,
                             timeout=3600)
        assert out.returncode == 0, f"make image failed:\n{out.stdout}\n{out.stderr}"


def podman(*args, check=True, timeout=120):
    out = subprocess.run(["podman", *map(str, args)], capture_output=True, text=True, timeout=timeout)
    if check:
        assert out.returncode == 0, f"podman {' '.join(map(str, args))} failed ({out.returncode}):\n{out.stderr}"
    return out


def unique(prefix="frt"):
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def inspect(name):
    return json.loads(podman("inspect", name).stdout)[0]


def state(name):
    return inspect(name)["State"]


def logs(name):
    out = podman("logs", name, check=False)
    return out.stdout + out.stderr


def remove(*names):
    for n in names:
        podman("rm", "-f", "-t", "0", n, check=False, timeout=300)


def http_get(url, timeout=5):
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return r.read().decode()


def metric(text, name, **labels):
    """Sum of the samples of NAME (with these labels) in a Prometheus text exposition."""
    total, found = 0.0, False
    for line in text.splitlines():
        if not line.startswith(name) or line.startswith("#"):
            continue
        head, _, value = line.rpartition(" ")
        if head.split("{")[0] != name or not all(f'{k}="{v}"' in head for k, v in labels.items()):
            continue
        total, found = total + float(value), True
    return total if found else None


class Prometheus:
    """Debian's prometheus on the host: scrapes TARGETS (job -> ["host:port"]) every second
    and evaluates deploy/prometheus/rules/framering.yml every second."""

    def __init__(self, tmp_path, targets, procs):
        self.port = free_port()
        rules = tmp_path / "rules"
        rules.mkdir(exist_ok=True)
        shutil.copy(RULES, rules / RULES.name)
        config = {"global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
                  "rule_files": [str(rules / "*.yml")],
                  "scrape_configs": [{"job_name": job, "static_configs": [{"targets": t}]}
                                     for job, t in targets.items()]}
        (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))
        self.proc = procs.start(["prometheus", f"--config.file={tmp_path / 'prometheus.yml'}",
                                 f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                                 f"--web.listen-address=127.0.0.1:{self.port}"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def api(self, path, **params):
        query = f"?{urllib.parse.urlencode(params)}" if params else ""
        answer = json.loads(http_get(f"http://127.0.0.1:{self.port}/api/v1/{path}{query}"))
        assert answer["status"] == "success", answer
        return answer["data"]

    def ready(self):
        try:
            return "Ready" in http_get(f"http://127.0.0.1:{self.port}/-/ready")
        except OSError:
            return False

    def targets_up(self):
        active = self.api("targets")["activeTargets"]
        return bool(active) and all(t["health"] == "up" for t in active), active

    def query(self, expr):
        return self.api("query", query=expr)["result"]

    def rules(self):
        return [r for g in self.api("rules")["groups"] for r in g["rules"]]

    def firing_alerts(self):
        """Alerts that fired. A pending one only saw its condition true at one evaluation (a
        busy machine can make a worker's lag grow for a moment); it fires only if the condition
        lasts the rule's `for:` duration, which is what the rules promise to report."""
        return [a for a in self.api("alerts")["alerts"] if a["state"] == "firing"]

    def wait_until_scraped_with_rules(self, timeout=90):
        wait_for(self.ready, timeout=timeout, interval=0.5, what="prometheus to be ready")
        wait_for(lambda: self.targets_up()[0], timeout=timeout, interval=0.5,
                 what="every target up in prometheus")
        # Rates need two samples of each process; then let the rules run on them a few times.
        wait_for(lambda: len(self.query("rate(framering_frames_published_total[10s]) > 0")) > 0,
                 timeout=timeout, interval=0.5, what="prometheus to see frames published")
        evaluated_after = time.time() + 3
        wait_for(lambda: all(_timestamp(r["lastEvaluation"]) > evaluated_after for r in self.rules()),
                 timeout=timeout, interval=0.5, what="the alert rules evaluated on the scraped data")


def _timestamp(rfc3339):
    """Seconds since the epoch of Prometheus' RFC 3339 times (nanoseconds cut to micro)."""
    text = re.sub(r"(\.\d{6})\d+", r"\1", rfc3339).replace("Z", "+00:00")
    return datetime.datetime.fromisoformat(text).timestamp()


def wait_healthy(name, timeout=90):
    """Runs the image's HEALTHCHECK (podman without systemd has no timer to run it) until the
    container reports healthy."""
    def healthy():
        podman("healthcheck", "run", name, check=False, timeout=30)
        return inspect(name)["State"]["Health"]["Status"] == "healthy"

    wait_for(healthy, timeout=timeout, interval=1, what=f"{name} to turn healthy")
