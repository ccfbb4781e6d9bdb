"""deploy/'s images run as the compose pipeline does, with real podman containers: the camera
simulator serving RTSP, a container that only owns the IPC namespace (compose's `shm` service:
`ipc: shareable`, its shm_size), an ingest writing ring cam0 into that /dev/shm, two workers
reading it in the same IPC namespace (each in its own PID namespace), a host Prometheus scraping
every container with the alert rules loaded. The containers run read-only as uid 10001 with
compose's shm_size; the image's health check turns healthy; `podman stop` ends the ingest
cleanly within its grace period while the workers wait for a writer, and they resume on the ring
of a new ingest container; a ring too big for /dev/shm is refused with the sizing message.

Needs root podman (scripts/container-setup.sh) and the images of `make image` (built here if
absent). Each container uses the host's network (free ports), as scripts/container-setup.sh's
notes explain. A module-scoped stack; the tests run in file order and the stop test comes last.
"""
import re
import subprocess
import time

import pytest

from containers import (CAMERA_IMAGE, IMAGE, Prometheus, engine_or_skip, ensure_images, inspect, logs,
                        metric, podman, remove, state, unique, wait_healthy)
from deploy_helpers import compose, framering_services, free_port, parse_size, wait_for

# Small and slow: the people worker (HOG) keeps up on a loaded 2-core machine, so no drop alert.
WIDTH, HEIGHT, FPS = 320, 180, 5
GRACE = int(re.fullmatch(r"(\d+)s", compose()["x-framering"]["stop_grace_period"]).group(1))


def ingest_shm_size():
    """shm_size of the service whose IPC namespace compose's ingest joins (`ipc: service:X`)."""
    services = compose()["services"]
    ingest = next(s for s in framering_services().values() if s["command"][0] == "ingest")
    owner = ingest["ipc"].removeprefix("service:")
    return services[owner]["shm_size"]


class Stack:
    def __init__(self, tmp_path):
        self.tmp_path = tmp_path
        self.prefix = unique()
        self.camera, self.ingest = f"{self.prefix}-camera", f"{self.prefix}-ingest"
        self.shm = f"{self.prefix}-shm"
        self.workers = {"motion": f"{self.prefix}-motion", "people": f"{self.prefix}-people"}
        self.camera_port, self.ingest_port = free_port(), free_port()
        self.worker_ports = {w: free_port() for w in self.workers}
        self.ingests = []

    def names(self):
        return [self.camera, self.shm, *self.ingests, *self.workers.values()]

    def start_shm(self):
        """The IPC namespace's owner, as compose's `shm` service: the image's `sleep` under an
        init that ends it on SIGTERM, no health check (it serves nothing). Its /dev/shm outlives
        every ingest container."""
        podman("run", "-d", "--name", self.shm, "--network", "host", "--read-only", "--init",
               "--no-healthcheck", "--ipc", "shareable", "--shm-size", ingest_shm_size(),
               "--entrypoint", "sleep", IMAGE, "infinity")

    def start_camera(self):
        podman("run", "-d", "--name", self.camera, "--network", "host", CAMERA_IMAGE,
               "--port", self.camera_port, "--path", "/cam0", "--width", WIDTH, "--height", HEIGHT, "--fps", FPS)
        wait_for(lambda: "ready rtsp://" in logs(self.camera), timeout=60, what="the camera container's ready line")

    def framering(self, name, port, *args, extra=()):
        """A framering container as compose.yaml makes one: read-only, the grace period of
        x-framering, metrics on 0.0.0.0:PORT and the health check asking that port."""
        podman("run", "-d", "--name", name, "--network", "host", "--read-only", "--stop-timeout", GRACE,
               "-e", f"FRAMERING_HEALTH_PORT={port}", *extra, IMAGE, *args, "--metrics-addr", f"0.0.0.0:{port}")

    def start_ingest(self):
        """An ingest of ring cam0 in the shm container's IPC namespace (compose: `ipc:
        service:shm`); a later one replaces a stopped one there."""
        name = f"{self.prefix}-ingest{len(self.ingests)}"
        self.ingests.append(name)
        self.ingest = name
        ipc_flags = ["--ipc", f"container:{self.shm}"]
        self.framering(name, self.ingest_port, "ingest", "--ring", "cam0",
                       "--source", f"rtsp://127.0.0.1:{self.camera_port}/cam0", "--width", WIDTH,
                       "--height", HEIGHT, "--pix-fmt", "bgr24", "--slots", "8", extra=ipc_flags)
        return name

    def start_workers(self):
        # The ring is in the shm container's /dev/shm: the workers join its IPC namespace too
        # (compose: `ipc: service:shm`), each in its own PID namespace, so they outlive the ingest.
        for analytic, name in self.workers.items():
            self.framering(name, self.worker_ports[analytic], "worker", "--ring", "cam0", "--analytic", analytic,
                           "--name", analytic, "--events", "-", extra=["--ipc", f"container:{self.shm}"])

    def scrape(self, port):
        from containers import http_get
        return http_get(f"http://127.0.0.1:{port}/metrics")

    def analysed(self, analytic):
        try:
            return metric(self.scrape(self.worker_ports[analytic]), "framering_frames_read_total") or 0
        except OSError:
            return 0


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    engine_or_skip()
    ensure_images()
    s = Stack(tmp_path_factory.mktemp("containers"))
    try:
        s.start_camera()
        s.start_shm()
        s.start_ingest()
        s.start_workers()
        yield s
    finally:
        for name in s.names():
            if podman("container", "exists", name, check=False).returncode == 0:
                (s.tmp_path / f"{name}.log").write_text(logs(name))
        remove(*reversed(s.names()))


@pytest.fixture(scope="module")
def prometheus(stack, tmp_path_factory):
    procs = _Procs()
    try:
        yield Prometheus(tmp_path_factory.mktemp("prometheus"), {
            "framering-ingest": [f"127.0.0.1:{stack.ingest_port}"],
            "framering-worker": [f"127.0.0.1:{p}" for p in stack.worker_ports.values()]}, procs)
    finally:
        procs.stop_all()


class _Procs:
    def __init__(self):
        self.procs = []

    def start(self, args, **kw):
        p = subprocess.Popen(args, **kw)
        self.procs.append(p)
        return p

    def stop_all(self):
        for p in self.procs:
            p.terminate()
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


def test_workers_analyse_frames_and_report_events(stack):
    for analytic in stack.workers:
        wait_for(lambda: stack.analysed(analytic) >= 10, timeout=180, interval=0.5,
                 what=f"worker container {analytic} to analyse frames of the ingest container's ring")
    # The camera's bouncing ball moves: the motion worker's JSON events reach its stdout.
    wait_for(lambda: re.search(r'"kind":\s*"motion', logs(stack.workers["motion"])), timeout=60,
             what="motion events in the motion container's output")
    ingest = stack.scrape(stack.ingest_port)
    assert metric(ingest, "framering_frames_published_total") >= 10
    assert metric(ingest, "framering_bytes_copied_total") in (None, 0.0)


def test_containers_run_read_only_as_uid_10001_with_composes_shm_size(stack):
    shm = parse_size(ingest_shm_size())
    for name in [stack.ingest, *stack.workers.values()]:
        assert inspect(name)["HostConfig"]["ReadonlyRootfs"] is True
        assert podman("exec", name, "id", "-u").stdout.strip() == "10001"
        out = podman("exec", name, "touch", "/usr/local/bin/x", check=False)
        assert out.returncode != 0 and "Read-only file system" in out.stderr, name
        # One /dev/shm of shm_size for the ingest and its workers: the shm container's.
        size = int(podman("exec", name, "stat", "-f", "-c", "%b %S", "/dev/shm").stdout.split()[0]) * \
            int(podman("exec", name, "stat", "-f", "-c", "%S", "/dev/shm").stdout.split()[0])
        assert size == shm, f"{name}: /dev/shm is {size} B, compose's shm_size is {shm} B"
    ingest_ipc = podman("exec", stack.shm, "readlink", "/proc/self/ns/ipc").stdout
    assert podman("exec", stack.ingest, "readlink", "/proc/self/ns/ipc").stdout == ingest_ipc
    for name in stack.workers.values():
        assert podman("exec", name, "readlink", "/proc/self/ns/ipc").stdout == ingest_ipc
        stat = podman("exec", name, "framering", "stat", "--json").stdout
        assert '"cam0"' in stat, f"{name} does not see ring cam0 in the ingest's /dev/shm:\n{stat}"
    assert podman("exec", stack.camera, "id", "-u").stdout.strip() == "10002"


def test_health_check_turns_healthy(stack):
    assert inspect(stack.ingest)["Config"]["Healthcheck"]["Test"][0] == "CMD-SHELL", \
        "the image lost its HEALTHCHECK (build with --format docker)"
    for name in [stack.ingest, *stack.workers.values()]:
        wait_healthy(name)


def test_prometheus_scrapes_every_container_and_no_alert_fires(stack, prometheus):
    prometheus.wait_until_scraped_with_rules()
    up, targets = prometheus.targets_up()
    assert up and {t["labels"]["job"] for t in targets} == {"framering-ingest", "framering-worker"}
    assert len(targets) == 3
    rules = prometheus.rules()
    assert len(rules) == 7 and all(r["health"] == "ok" for r in rules), rules
    assert prometheus.firing_alerts() == []
    analysed = prometheus.query('sum by (worker) (framering_frames_read_total{job="framering-worker"})')
    assert len(analysed) == 2


def test_too_big_a_ring_for_dev_shm_exits_2_with_the_sizing_message(stack):
    name = f"{stack.prefix}-toobig"
    stack.ingests.append(name)  # removed with the stack
    stack.framering(name, free_port(), "ingest", "--ring", "big", "--source",
                    f"rtsp://127.0.0.1:{stack.camera_port}/cam0", "--width", "1920", "--height", "1080",
                    "--slots", "16", extra=["--ipc", "shareable", "--shm-size", "64m"])
    wait_for(lambda: state(name)["Status"] == "exited", timeout=60, what="the oversized ingest to exit")
    out = logs(name)
    # deploy/README.md: the ingest checks the ring against /dev/shm before decoding and exits 2.
    assert state(name)["ExitCode"] == 2, out
    assert re.search(r"needs 94\.9 MiB \(99557376 bytes\) but /dev/shm has 6\d\.\d MiB free", out) and "--slots" in out, out


def test_stopping_the_ingest_is_clean_and_workers_resume_on_a_new_ingest_container(stack):
    old = stack.ingest
    started = time.monotonic()
    out = podman("stop", old, timeout=GRACE + 60, check=False)
    took = time.monotonic() - started
    assert out.returncode == 0, out.stderr
    assert state(old)["ExitCode"] == 0, logs(old)
    assert took < GRACE, f"podman stop took {took:.1f} s, the grace period is {GRACE} s (then SIGKILL)"
    # The workers keep running and wait for the writer (their own PID namespaces).
    for analytic, name in stack.workers.items():
        wait_for(lambda: "waiting for ingest to restart it" in logs(name), timeout=30,
                 what=f"worker {analytic} to notice the writer is gone")
        assert state(name)["Status"] == "running"
    before = {a: stack.analysed(a) for a in stack.workers}
    # A new ingest container in the same IPC namespace (the shm container's /dev/shm is still
    # there): the workers attach to its ring, a new epoch, and analyse its frames.
    stack.start_ingest()
    for analytic, name in stack.workers.items():
        wait_for(lambda: "new writer; resuming" in logs(name), timeout=90,
                 what=f"worker {analytic} to resume on the new ingest's ring")
        wait_for(lambda: stack.analysed(analytic) >= before[analytic] + 5, timeout=120,
                 interval=0.5, what=f"worker {analytic} to analyse frames of the new ring")
        assert state(name)["Status"] == "running"


def test_the_release_image_stays_under_350_mb(stack):
    """The runtime image holds the binary and the libraries it loads, nothing else: 350 MB is the
    budget deploy/README.md measures against (Debian's library packages would make it ~935 MB)."""
    size = int(podman("image", "inspect", "--format", "{{.Size}}", IMAGE).stdout.strip())
    assert size < 350 * 1000 * 1000, f"{IMAGE} is {size / 1e6:.0f} MB"
    listed = podman("run", "--rm", "--entrypoint", "cat", IMAGE,
                    "/usr/local/share/framering/runtime-libs.txt").stdout.split("\n")
    assert any(" libopencv-core" in line for line in listed), "the list names each package"
    assert not any(" libllvm" in line or " libgl1-mesa-dri" in line for line in listed)
