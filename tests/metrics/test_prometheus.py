"""A real Prometheus scraping a real ingest and two real workers on free loopback ports.

The ingest reads y4m from a FIFO the test feeds, so the test decides when the frame count stops
and can compare Prometheus' view with the ring's cursor exactly."""
import json
import re
import subprocess

import pytest

from metrics_helpers import Prometheus, Y4mFeeder, free_port, promtool_check, samples, scrape, wait_for

WORKERS = ("w1", "w2")
# Label names whose values are numbers by design (histogram buckets, quantiles).
NUMERIC_LABELS = {"le", "quantile"}


def stat(framering_bin, ring):
    out = subprocess.run([framering_bin, "stat", "--json", "--window", "0", ring], capture_output=True, text=True,
                         timeout=20)
    return json.loads(out.stdout)[0] if out.returncode == 0 else None


def assert_labels_are_safe(text, forbidden=()):
    for name, labels, _ in samples(text):
        for key, value in labels.items():
            assert "://" not in value and "@" not in value, f"{name}{{{key}={value!r}}} looks like a URL"
            if key not in NUMERIC_LABELS:
                assert not re.fullmatch(r"\d+", value), f"{name}{{{key}={value!r}}}: a number as label value"
            for word in forbidden:
                assert word not in value, f"{name}{{{key}={value!r}}} carries {word!r}"


@pytest.fixture
def pipeline(framering_bin, ring_name, procs, tmp_path):
    """ingest (FIFO source) + two checksum workers, each with metrics on its own free port."""
    fifo = tmp_path / "source.y4m"
    feeder = Y4mFeeder(str(fifo))
    ports = {"ingest": free_port(), "w1": free_port(), "w2": free_port()}
    ingest = procs.start([framering_bin, "ingest", "--ring", ring_name, "--source", str(fifo),
                          "--metrics-addr", f"127.0.0.1:{ports['ingest']}", "--log-level", "warn"])
    wait_for(lambda: stat(framering_bin, ring_name), what="the ring to exist")
    workers = [procs.start([framering_bin, "worker", "--ring", ring_name, "--analytic", "checksum", "--mode", "every",
                            "--name", w, "--events", str(tmp_path / f"{w}.jsonl"),
                            "--metrics-addr", f"127.0.0.1:{ports[w]}", "--log-level", "warn"])
               for w in WORKERS]
    for name, port in ports.items():
        wait_for(lambda: scrape(port), what=f"{name} /metrics on port {port}")
    yield {"ports": ports, "feeder": feeder, "fifo": str(fifo), "ingest": ingest, "workers": workers}
    feeder.close()


def test_real_prometheus_sees_zero_copy_reads_and_every_frame(framering_bin, ring_name, procs, tmp_path, pipeline):
    ports = pipeline["ports"]
    prom = Prometheus(procs, tmp_path, {"framering-ingest": [ports["ingest"]],
                                        "framering-worker": [ports["w1"], ports["w2"]]})

    # Both workers read in place while frames flow.
    def reading_workers():
        got = prom.query("rate(framering_bytes_read_in_place_total[5s]) > 0")
        return {labels["worker"] for labels, _ in got if labels.get("ring") == ring_name} == set(WORKERS)
    wait_for(reading_workers, timeout=30, interval=0.5, what="rate(bytes_read_in_place) > 0 for both workers")
    # Every target scraped successfully (a target's first scrape may still be due on a loaded machine).
    wait_for(lambda: (lambda up: len(up) == 3 and all(v == 1 for _, v in up))(prom.query("up")),
             timeout=30, interval=0.5, what="up == 1 for the ingest and both workers")

    # No copies anywhere: every process exports the series, and it is 0.
    copied = prom.query(f'framering_bytes_copied_total{{ring="{ring_name}"}}')
    assert {labels["component"] for labels, _ in copied} == {"ingest", "worker"}
    assert len(copied) == 3, copied
    assert prom.query(f'framering_bytes_copied_total{{ring="{ring_name}"}} != 0') == []
    assert len(prom.query(f'framering_bytes_copied_total{{ring="{ring_name}"}} == 0')) == 3

    # Stop the frames; Prometheus' count must equal the ring's cursor and what was fed.
    pipeline["feeder"].freeze()
    sent = pipeline["feeder"].sent
    wait_for(lambda: stat(framering_bin, ring_name)["cursor"] == sent, what=f"cursor to reach {sent} frames fed")
    cursor = stat(framering_bin, ring_name)["cursor"]

    def published():
        got = prom.query(f'framering_frames_published_total{{ring="{ring_name}"}}')
        return got and got[0][1] == cursor
    wait_for(published, timeout=30, interval=0.5, what=f"prometheus to see {cursor} frames published")
    bytes_published = prom.query(f'framering_bytes_published_total{{ring="{ring_name}"}}')[0][1]
    assert bytes_published == cursor * 320 * 240 * 3
    assert prom.query(f'framering_ring_slot_bytes{{ring="{ring_name}"}}')[0][1] >= 320 * 240 * 3

    # Histograms got an observation per frame published / per frame analysed.
    count = prom.query(f'framering_publish_duration_seconds_count{{ring="{ring_name}"}}')
    assert count[0][1] == cursor
    latency = prom.query(f'framering_frame_latency_seconds_count{{ring="{ring_name}"}}')
    assert {labels["worker"] for labels, v in latency if v > 0} == set(WORKERS)


def test_every_endpoint_passes_promtool_and_labels_stay_safe(framering_bin, ring_name, pipeline):
    ports = pipeline["ports"]
    wait_for(lambda: all("framering_frames_read_total{" in scrape(ports[w]) for w in WORKERS),
             what="workers to export frames read")
    for name, port in ports.items():
        text = scrape(port)
        code, findings = promtool_check(text)
        assert code == 0 and findings == "", f"{name}: promtool check metrics:\n{findings}"
        assert_labels_are_safe(text, forbidden=(pipeline["fifo"], "source.y4m"))
        names = {n for n, _, _ in samples(text)}
        assert {"process_cpu_seconds_total", "process_resident_memory_bytes",
                "process_start_time_seconds", "framering_build_info"} <= names, f"{name}: {sorted(names)}"


def test_source_credentials_never_reach_metrics(framering_bin, ring_name, procs):
    port, camera = free_port(), free_port()  # nothing listens on `camera`: the source stays down
    ingest = procs.start([framering_bin, "ingest", "--ring", ring_name, "--width", "64", "--height", "48",
                          "--source", f"rtsp://admin:s3cretPW@127.0.0.1:{camera}/stream", "--max-retries", "-1",
                          "--metrics-addr", f"127.0.0.1:{port}", "--log-level", "warn"])
    text = wait_for(lambda: scrape(port), what="ingest /metrics")
    assert ingest.poll() is None
    assert "s3cretPW" not in text and "admin" not in text and "rtsp" not in text
    assert_labels_are_safe(text, forbidden=("s3cretPW", "admin", str(camera)))
    up = [v for n, labels, v in samples(text) if n == "framering_source_up" and labels["ring"] == ring_name]
    assert up == [0.0]
    code, findings = promtool_check(text)
    assert code == 0 and findings == "", findings


def test_busy_metrics_port_is_a_clear_usage_error(framering_bin, ring_name, procs, port):
    holder = procs.start([framering_bin, "ingest", "--ring", ring_name + "a", "--source",
                          "testsrc:testsrc2=size=64x48:rate=5", "--realtime", "--metrics-addr", f"127.0.0.1:{port}",
                          "--log-level", "warn"])
    wait_for(lambda: scrape(port), what="first ingest's /metrics")
    second = subprocess.run([framering_bin, "ingest", "--ring", ring_name, "--source", "testsrc:testsrc2",
                             "--metrics-addr", f"127.0.0.1:{port}"], capture_output=True, text=True, timeout=30)
    assert second.returncode == 2, second.stderr
    assert f"127.0.0.1:{port}" in second.stderr and "--metrics-addr 0" in second.stderr, second.stderr
    assert holder.poll() is None
