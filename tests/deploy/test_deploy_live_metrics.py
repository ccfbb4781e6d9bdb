"""The dashboard and the alerts against live processes: an ingest (test pattern) and a worker
are started with --metrics-addr on free ports; every metric name the dashboard and the alert
rules use must be in their scrapes, and a real Prometheus scraping them must answer every
dashboard query with data. Also checks the /dev/shm formula of deploy/README.md against the
segment a real ingest creates."""
import json
import os
import pathlib
import subprocess
import urllib.parse
import urllib.request

import pytest
import yaml

from deploy_helpers import (alert_rules, dashboard_exprs, free_port, grafana_to_promql, metric_names,
                            ring_bytes, wait_for)

SHM = pathlib.Path(os.environ.get("FRAMERING_SHM_DIR", "/dev/shm"))
SOURCE = "testsrc:testsrc2=size=320x240:rate=30"


def scrape(port):
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as r:
            return r.read().decode()
    except OSError:
        return ""


def sample_names(text):
    return {line.split("{")[0].split(" ")[0] for line in text.splitlines() if line and not line.startswith("#")}


def sample_value(text, name):
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name + "{") or line.startswith(name + " "):
            total += float(line.rsplit(" ", 1)[1])
    return total


def start_pipeline(framering_bin, ring, procs, tmp_path):
    ingest_port, worker_port = free_port(), free_port()
    procs.start([framering_bin, "ingest", "--ring", ring, "--source", SOURCE, "--realtime",
                 "--metrics-addr", f"127.0.0.1:{ingest_port}"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for(lambda: (SHM / f"framering.{ring}").exists(), timeout=30, what=f"ring {ring}")
    procs.start([framering_bin, "worker", "--ring", ring, "--analytic", "checksum", "--name", "chk",
                 "--events", str(tmp_path / "events.jsonl"), "--metrics-addr", f"127.0.0.1:{worker_port}"],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for(lambda: sample_value(scrape(worker_port), "framering_frames_read_total") > 0, timeout=30,
             what="the worker to read frames")
    return ingest_port, worker_port


def used_metric_names():
    used = {}
    for title, expr in dashboard_exprs():
        for name in metric_names(expr):
            used.setdefault(name, f"dashboard panel '{title}'")
    for rule in alert_rules():
        for name in metric_names(rule["expr"]):
            used.setdefault(name, f"alert {rule['alert']}")
    return used


def test_every_metric_in_dashboard_and_alerts_is_exposed(framering_bin, ring_name, procs, tmp_path):
    ingest_port, worker_port = start_pipeline(framering_bin, ring_name, procs, tmp_path)
    exposed = sample_names(scrape(ingest_port)) | sample_names(scrape(worker_port))
    used = used_metric_names()
    assert len(used) >= 12
    missing = {name: where for name, where in used.items() if name not in exposed}
    assert not missing, f"not in a live scrape of ingest and worker: {missing}"


def prometheus_query(port, expr):
    url = f"http://127.0.0.1:{port}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            return json.load(r)
    except OSError:
        return None


def test_prometheus_answers_every_dashboard_query(framering_bin, ring_name, procs, tmp_path):
    ingest_port, worker_port = start_pipeline(framering_bin, ring_name, procs, tmp_path)
    prom_port = free_port()
    config = {"global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
              "scrape_configs": [
                  {"job_name": "framering-ingest", "static_configs": [{"targets": [f"127.0.0.1:{ingest_port}"]}]},
                  {"job_name": "framering-worker", "static_configs": [{"targets": [f"127.0.0.1:{worker_port}"]}]}]}
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))
    procs.start(["prometheus", f"--config.file={tmp_path / 'prometheus.yml'}",
                 f"--storage.tsdb.path={tmp_path / 'tsdb'}", f"--web.listen-address=127.0.0.1:{prom_port}"],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    queries = [(t, grafana_to_promql(e)) for t, e in dashboard_exprs() if not e.startswith("label_values(")]
    empty = {}

    def all_answered():
        empty.clear()
        for title, expr in queries:
            answer = prometheus_query(prom_port, expr)
            if answer is None:
                empty[title] = "prometheus not up"
                return False
            assert answer["status"] == "success", (title, expr, answer)
            if not answer["data"]["result"]:
                empty[title] = expr
        return not empty

    try:
        wait_for(all_answered, timeout=30, interval=1.0, what="every dashboard query to return data")
    except AssertionError:
        pytest.fail(f"dashboard queries without data from live processes: {empty}")
    answer = prometheus_query(prom_port, "group by (ring) (framering_frames_published_total)")
    assert [r["metric"]["ring"] for r in answer["data"]["result"]] == [ring_name], "the ring variable's source"


def test_ring_size_formula_matches_a_real_segment(framering_bin, ring_name, procs):
    # Odd sizes: the frame is not a multiple of 4096 and the slot table spans two pages.
    width, height, slots = 330, 250, 40
    procs.start([framering_bin, "ingest", "--ring", ring_name, "--source", SOURCE, "--width", str(width),
                 "--height", str(height), "--pix-fmt", "gray8", "--slots", str(slots), "--realtime",
                 "--metrics-addr", "0"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    segment = SHM / f"framering.{ring_name}"
    wait_for(segment.exists, timeout=30, what=f"ring {ring_name}")
    assert segment.stat().st_size == ring_bytes(width, height, "gray8", slots)
