"""Helpers for the metrics tests: HTTP scrapes, exposition parsing, a real Prometheus server, and a
y4m feeder that lets a test decide exactly how many frames an ingest publishes.

(Own module rather than `from conftest import ...`: several test dirs have a conftest.py.)"""
import json
import os
import re
import subprocess
import threading
import time
import urllib.parse
import urllib.request

PROMETHEUS = "/usr/bin/prometheus"
PROMTOOL = "/usr/bin/promtool"


from conftest import free_port  # noqa: E402,F401  (shared helpers, tests/conftest.py)
from conftest import wait_for as _wait_for


def wait_for(predicate, timeout=15.0, interval=0.1, what="condition"):
    """conftest's wait_for with the longer default these scrape-driven tests need."""
    return _wait_for(predicate, timeout=timeout, interval=interval, what=what)


def http_get(url, timeout=3):
    """(status, body bytes); status 0 when nothing answers."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()
    except OSError:
        return 0, b""


def scrape(port):
    status, body = http_get(f"http://127.0.0.1:{port}/metrics")
    return body.decode() if status == 200 else ""


SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def samples(text):
    """[(name, {label: value}, float)] of an exposition text."""
    out = []
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = SAMPLE.match(line)
        assert m, f"not an exposition sample line: {line!r}"
        out.append((m.group(1), dict(LABEL.findall(m.group(2) or "")), float(m.group(3))))
    return out


def promtool_check(text):
    """(exit code, findings) of `promtool check metrics` on an exposition text."""
    p = subprocess.run([PROMTOOL, "check", "metrics"], input=text, capture_output=True, text=True, timeout=30)
    return p.returncode, (p.stdout + p.stderr).strip()


class Prometheus:
    """A real Prometheus server scraping `jobs` ({job: [port, ...]}) every second."""

    def __init__(self, procs, tmp_path, jobs):
        self.port = free_port()
        config = ["global:", "  scrape_interval: 1s", "  scrape_timeout: 1s", "  evaluation_interval: 1s",
                  "scrape_configs:"]
        for job, ports in jobs.items():
            targets = ", ".join(f'"127.0.0.1:{p}"' for p in ports)
            config += [f"  - job_name: {job}", "    static_configs:", f"      - targets: [{targets}]"]
        cfg = tmp_path / "prometheus.yml"
        cfg.write_text("\n".join(config) + "\n")
        self.proc = procs.start([PROMETHEUS, f"--config.file={cfg}", f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                                 f"--web.listen-address=127.0.0.1:{self.port}", "--log.level=warn"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        wait_for(lambda: self.proc.poll() is not None or http_get(self.url("/-/ready"))[0] == 200,
                 timeout=30, what="prometheus to be ready")
        assert self.proc.poll() is None, self.proc.stderr.read().decode()

    def url(self, path):
        return f"http://127.0.0.1:{self.port}{path}"

    def query(self, expr):
        """The instant-vector result of `expr`: [(labels, value)]."""
        status, body = http_get(self.url("/api/v1/query?" + urllib.parse.urlencode({"query": expr})))
        assert status == 200, f"{expr}: HTTP {status} {body[:300]!r}"
        data = json.loads(body)
        assert data["status"] == "success", data
        return [(r["metric"], float(r["value"][1])) for r in data["data"]["result"]]


class Y4mFeeder:
    """Writes 320x240 y4m frames into a FIFO an ingest reads as its file source, at ~30 fps until
    freeze(); then holds the FIFO open (the ingest waits, alive, with its cursor frozen) until
    close(). So the test knows exactly when the frame count stops moving: freeze() returns once
    the frame being written (a write blocks until the ingest reads it) is done, so `sent` is
    final then."""

    W, H = 320, 240

    def __init__(self, path):
        self.path = path
        os.mkfifo(path)
        self.sent = 0
        self._freeze = threading.Event()
        self._frozen = threading.Event()
        self._close = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        with open(self.path, "wb", buffering=0) as f:  # blocks until the ingest opens it
            f.write(b"YUV4MPEG2 W320 H240 F30:1 Ip A1:1 C420jpeg\n")
            chroma = bytes([128]) * (self.W * self.H // 2)
            while not self._freeze.is_set() and not self._close.is_set():
                f.write(b"FRAME\n" + bytes([self.sent % 256]) * (self.W * self.H) + chroma)
                self.sent += 1
                time.sleep(1 / 30)
            self._frozen.set()
            self._close.wait()

    def freeze(self, timeout=60):
        self._freeze.set()
        assert self._frozen.wait(timeout), f"the y4m feeder did not stop writing within {timeout} s"

    def close(self):
        self._close.set()
        if self._thread.is_alive():
            try:  # unblock a writer still waiting in open() for a reader
                os.close(os.open(self.path, os.O_RDONLY | os.O_NONBLOCK))
            except OSError:
                pass
        self._thread.join(timeout=5)
