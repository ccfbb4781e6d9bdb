"""deploy/compose.yaml itself, run as a user runs it: Debian's docker-compose (1.29) against
podman's Docker-compatible API (`podman system service`), with deploy/compose.framering-only.yaml
leaving out the Prometheus and Grafana images (no registry here). The camera simulator, the
IPC owner (shm), the ingest and both workers come up on compose's own network with the file's
namespaces, shm_size
and read-only root; a host Prometheus scrapes the targets of deploy/prometheus/prometheus.yml
(service names resolved to the containers' addresses) with the alert rules loaded; `stop` ends
the ingest with exit code 0 within stop_grace_period; `down` removes everything.
"""
import json
import os
import re
import subprocess
import time

import pytest
import yaml

from containers import (Prometheus, engine_or_skip, ensure_images, http_get, inspect, logs, metric, podman,
                        unique, wait_healthy)
from deploy_helpers import DEPLOY, compose, parse_size, wait_for

OVERRIDE = DEPLOY / "compose.framering-only.yaml"
GRACE = int(re.fullmatch(r"(\d+)s", compose()["x-framering"]["stop_grace_period"]).group(1))


class Compose:
    def __init__(self, socket, project):
        self.env = {**os.environ, "DOCKER_HOST": f"unix://{socket}", "COMPOSE_HTTP_TIMEOUT": "300"}
        self.project = project

    def __call__(self, *args, check=True, timeout=600):
        out = subprocess.run(["docker-compose", "-p", self.project, "-f", str(DEPLOY / "compose.yaml"),
                              "-f", str(OVERRIDE), *args], env=self.env, capture_output=True, text=True,
                             timeout=timeout)
        if check:
            assert out.returncode == 0, f"docker-compose {' '.join(args)} failed:\n{out.stdout}\n{out.stderr}"
        return out

    def container(self, service):
        ids = self("ps", "-q", service).stdout.split()
        assert len(ids) == 1, f"service {service}: containers {ids}"
        return ids[0]


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    engine_or_skip()
    ensure_images()
    tmp = tmp_path_factory.mktemp("compose")
    socket = tmp / "podman.sock"
    service = subprocess.Popen(["podman", "system", "service", "--time", "0", f"unix://{socket}"],
                               stdout=subprocess.DEVNULL, stderr=open(tmp / "podman-service.log", "w"))
    c = Compose(socket, unique("frc"))
    try:
        wait_for(socket.exists, timeout=30, what="podman's API socket")
        c("up", "-d", "--no-build", timeout=600)
        yield c
    finally:
        out = c("logs", "--no-color", check=False)
        (tmp / "compose.log").write_text(out.stdout + out.stderr)
        c("down", "-t", "5", check=False)
        # Whatever `down` left (a timeout on a loaded machine), by compose's project label.
        left = podman("ps", "-a", "-q", "--filter", f"label=com.docker.compose.project={c.project}",
                      check=False).stdout.split()
        if left:
            podman("rm", "-f", "-t", "0", *left, check=False, timeout=300)
        service.terminate()
        service.wait(timeout=30)


def container_ip(container):
    networks = inspect(container)["NetworkSettings"]["Networks"]
    assert len(networks) == 1, networks
    return next(iter(networks.values()))["IPAddress"]


def test_compose_runs_the_framering_services_only(stack):
    running = set(stack("ps", "--services", "--filter", "status=running").stdout.split())
    assert running == {"camera", "shm", "ingest", "motion", "people"}


def test_services_get_the_files_namespaces_shm_and_read_only_root(stack):
    services = compose()["services"]
    ingest = inspect(stack.container("ingest"))
    shm = inspect(stack.container("shm"))
    assert shm["HostConfig"]["IpcMode"] == "shareable"
    assert shm["HostConfig"]["ShmSize"] == parse_size(services["shm"]["shm_size"])
    assert ingest["HostConfig"]["IpcMode"] == f"container:{shm['Id']}"
    for name in ("ingest", "motion", "people"):
        info = inspect(stack.container(name))
        assert info["HostConfig"]["ReadonlyRootfs"] is True, name
        assert info["Config"]["User"] == "10001:10001", name
    for name in ("motion", "people"):
        host = inspect(stack.container(name))["HostConfig"]
        assert host["IpcMode"] == f"container:{shm['Id']}", name
        # Their own PID namespaces: liveness is by flock on the shared /dev/shm, not by pid.
        assert not host.get("PidMode", "").startswith("container:"), (name, host.get("PidMode"))


def test_the_ingest_sees_workers_of_other_pid_namespaces_alive(stack):
    """`framering stat` in the ingest's container shows both workers alive: their pids mean
    nothing in its PID namespace, the locks on their stats files do."""
    seen = {}

    def readers():
        out = podman("exec", stack.container("ingest"), "framering", "stat", "--json",
                     "--window", "0", "cam0", check=False)
        if out.returncode != 0:
            return None
        found = {r["reader"]: r for r in json.loads(out.stdout)[0]["readers"]}
        ready = {"motion", "people"} <= set(found) and all(
            found[n]["frames_read"] > 0 for n in ("motion", "people"))
        seen.update(found)
        return ready
    wait_for(readers, timeout=180, interval=1, what="both workers' stats in the ring")
    found = seen
    for name in ("motion", "people"):
        assert found[name]["alive"] is True and found[name]["status"] == "alive", found[name]


def test_workers_analyse_frames_and_prometheus_scrapes_with_rules_quiet(stack, tmp_path):
    # deploy/prometheus/prometheus.yml's own targets, service names replaced by addresses.
    doc = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text())
    targets = {}
    for job in doc["scrape_configs"]:
        if not job["job_name"].startswith("framering-"):
            continue
        for t in job["static_configs"][0]["targets"]:
            service, port = t.split(":")
            targets.setdefault(job["job_name"], []).append(f"{container_ip(stack.container(service))}:{port}")
    worker_targets = targets["framering-worker"]

    def analysed(target):
        try:
            return metric(http_get(f"http://{target}/metrics"), "framering_frames_read_total") or 0
        except OSError:
            return 0

    for target in worker_targets:
        wait_for(lambda: analysed(target) >= 5, timeout=180, interval=1,
                 what=f"the worker at {target} to analyse frames of compose's 1080p camera")

    class Procs:
        procs = []

        def start(self, args, **kw):
            self.procs.append(subprocess.Popen(args, **kw))
            return self.procs[-1]

    procs = Procs()
    try:
        prometheus = Prometheus(tmp_path, targets, procs)
        prometheus.wait_until_scraped_with_rules(timeout=180)
        assert len(prometheus.targets_up()[1]) == 3
        assert len(prometheus.rules()) == 7
        assert prometheus.firing_alerts() == []
    finally:
        for p in procs.procs:
            p.terminate()
            p.wait(timeout=30)


def test_health_checks_turn_healthy(stack):
    for name in ("ingest", "motion", "people"):
        wait_healthy(stack.container(name), timeout=120)


def test_stop_ends_the_ingest_cleanly_within_its_grace_period(stack):
    ingest = stack.container("ingest")
    started = time.monotonic()
    stack("stop", "ingest", timeout=GRACE + 120)
    took = time.monotonic() - started
    assert inspect(ingest)["State"]["ExitCode"] == 0, logs(ingest)
    assert took < GRACE, f"compose stop took {took:.1f} s; the grace period is {GRACE} s"
    assert "closing ring" in logs(ingest).lower() or inspect(ingest)["State"]["ExitCode"] == 0
