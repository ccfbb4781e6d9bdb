"""Shared parsing for the deploy/ tests: compose services, kustomize output, ring sizing,
PromQL metric names."""
import json
import pathlib
import re
import socket
import subprocess
import time

import pytest
import yaml

import kustomize_lite

ROOT = pathlib.Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
PAGE = 4096
SLOT_ENTRY_BYTES = 128
BYTES_PER_PIXEL = {"bgr24": 3, "rgb24": 3, "gray8": 1}
# Docker's default /dev/shm.
DOCKER_DEFAULT_SHM = 64 * 1024 * 1024
# Reader-stats pages (4 KiB per reader) and temporary files next to the ring.
SHM_HEADROOM = 1024 * 1024


def align(value, to=PAGE):
    return (value + to - 1) // to * to


def ring_bytes(width, height, pix_fmt, slots):
    """Segment size of a ring, as deploy/README.md documents it (docs: ring format)."""
    slot = align(width * height * BYTES_PER_PIXEL[pix_fmt])
    return slots * slot + PAGE + align(slots * SLOT_ENTRY_BYTES)


def shm_needed(ring):
    """/dev/shm for one ring: room for a restarted ingest's new segment beside the old one."""
    return 2 * ring + SHM_HEADROOM


def option(args, flag, default=None):
    """Value of `--flag VALUE` or `--flag=VALUE` in an argument list."""
    for i, a in enumerate(args):
        if a == flag and i + 1 < len(args):
            return args[i + 1]
        if a.startswith(flag + "="):
            return a.split("=", 1)[1]
    return default


def ingest_ring_bytes(args, where):
    width, height = option(args, "--width"), option(args, "--height")
    if width is None or height is None:
        pytest.fail(f"{where}: the ingest needs --width and --height so /dev/shm can be sized")
    return ring_bytes(int(width), int(height), option(args, "--pix-fmt", "bgr24"), int(option(args, "--slots", "8")))


def parse_size(text):
    """Docker (200m, 1g, bytes) or Kubernetes (200Mi, 1G) quantity in bytes."""
    m = re.fullmatch(r"(\d+(?:\.\d+)?)\s*([A-Za-z]*)", str(text).strip())
    assert m, f"cannot parse size {text!r}"
    units = {"": 1, "b": 1, "k": 1024, "kb": 1024, "m": 1024**2, "mb": 1024**2, "g": 1024**3, "gb": 1024**3,
             "Ki": 1024, "Mi": 1024**2, "Gi": 1024**3, "K": 1000, "M": 1000**2, "G": 1000**3}
    unit = m.group(2)
    factor = units.get(unit, units.get(unit.lower()))
    assert factor is not None, f"unknown unit in size {text!r}"
    return int(float(m.group(1)) * factor)


def compose():
    return yaml.safe_load((DEPLOY / "compose.yaml").read_text())


def framering_services(doc=None):
    """Compose services that run framering (the image's entrypoint), name -> service. The
    image's other use, the IPC namespace owner (`entrypoint: sleep`), is ipc_owners()'."""
    doc = doc or compose()
    return {n: s for n, s in doc["services"].items()
            if str(s.get("image", "")).startswith("framering:") and "entrypoint" not in s}


def ipc_owners(doc=None):
    """Compose services that only own an IPC namespace (`ipc: shareable`) for others to join."""
    doc = doc or compose()
    return {n: s for n, s in doc["services"].items()
            if s.get("ipc") == "shareable" and "entrypoint" in s}


def kubectl_too_old(kubectl):
    """The reason this kubectl cannot build deploy/k8s, or None. `labels:` in a kustomization needs
    kustomize 4, which kubectl bundles from 1.24 on; Debian 12's kubernetes-client is 1.20."""
    out = subprocess.run([kubectl, "version", "--client", "-o", "json"], capture_output=True,
                         text=True, timeout=60)
    try:
        client = json.loads(out.stdout)["clientVersion"]
        major, minor = int(client["major"]), int(re.match(r"\d+", client["minor"]).group())
    except (ValueError, KeyError, TypeError, AttributeError):
        return f"cannot tell the version of {kubectl}: {out.stderr.strip() or out.stdout.strip()}"
    if (major, minor) < (1, 24):
        return f"kubectl {major}.{minor} is too old to build deploy/k8s (kustomize labels need 1.24+)"
    return None


def kustomize(path):
    """deploy/k8s rendered by kustomize_lite (plain Python: runs wherever the tests run, with no
    kubectl); test_deploy_k8s.py compares it with a real kustomize where one is installed."""
    try:
        return kustomize_lite.render(path)
    except kustomize_lite.KustomizeError as e:
        pytest.fail(str(e))


def expand_k8s_args(container, config_maps):
    """A container's args with $(VAR) replaced from its envFrom ConfigMaps, as the kubelet does."""
    env = {}
    for ref in container.get("envFrom", []):
        env.update(config_maps[ref["configMapRef"]["name"]]["data"])
    for e in container.get("env", []):
        env[e["name"]] = e.get("value", "")

    def sub(arg):
        return re.sub(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)", lambda m: env.get(m.group(1), m.group(0)), arg)

    return [sub(a) for a in container.get("args", [])]


METRIC_RE = re.compile(r"\b(framering_[a-z0-9_]+)\b")


def dashboard():
    return json.loads((DEPLOY / "grafana" / "dashboards" / "framering.json").read_text())


def dashboard_exprs():
    exprs = []
    for panel in dashboard()["panels"]:
        for t in panel.get("targets", []):
            exprs.append((panel["title"], t["expr"]))
    for var in dashboard()["templating"]["list"]:
        exprs.append((f"variable {var['name']}", var["definition"]))
    return exprs


def alert_rules():
    doc = yaml.safe_load((DEPLOY / "prometheus" / "rules" / "framering.yml").read_text())
    return [r for g in doc["groups"] for r in g["rules"]]


def metric_names(expr):
    return set(METRIC_RE.findall(expr))


def grafana_to_promql(expr):
    """Replace Grafana's variables with values Prometheus accepts."""
    return (expr.replace("$__rate_interval", "1m").replace("$__range", "5m").replace("$__interval", "15s")
            .replace("$ring", ".*"))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(predicate, timeout, interval=0.1, what="condition"):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")
