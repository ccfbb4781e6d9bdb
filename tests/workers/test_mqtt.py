"""framering worker --mqtt against a real mosquitto broker (started by the test on a free
loopback port) and a real subscriber (mosquitto_sub): event schema, retained state and
availability for a late subscriber, a broker outage, kill -9, a wrong password, and mqtts://
with a CA made by the test (and a wrong CA)."""
import json
import signal
import subprocess
import time

import pytest

from conftest import free_port
from mqtt_helpers import (Broker, Subscriber, TlsFiles, have_mosquitto, retry_until, sample,
                          scrape)
from workers_helpers import VTEST, read_events, wait_for

pytestmark = pytest.mark.skipif(not have_mosquitto(),
                                reason="mosquitto and mosquitto-clients are not installed")


def ingest_cmd(bin_, ring, *extra):
    return [bin_, "ingest", "--ring", ring, "--source", str(VTEST), "--metrics-addr", "0", *extra]


def worker_cmd(bin_, ring, analytic, events, *extra, metrics="0"):
    return [bin_, "worker", "--ring", ring, "--analytic", analytic, "--events", str(events),
            "--metrics-addr", metrics, *extra]


@pytest.fixture
def broker(tmp_path):
    b = Broker(tmp_path)
    b.start()
    yield b
    b.stop()


def test_events_on_mqtt_match_the_log_and_a_late_subscriber_sees_state_and_availability(
        framering_bin, ring_name, broker, tmp_path):
    n = 80
    rc = subprocess.run(ingest_cmd(framering_bin, ring_name, "--keep", "--slots", "96",
                                   "--max-frames", str(n)), capture_output=True).returncode
    assert rc == 0
    early = Subscriber(broker, "framering/#")
    early.wait_subscribed()
    events = tmp_path / "motion.jsonl"
    p = subprocess.run(worker_cmd(framering_bin, ring_name, "motion", events, "--mode", "every",
                                  "--max-frames", str(n), "--param", "min_area=300", "--param",
                                  "end_frames=3", "--camera", "lobby", "--mqtt", broker.url()),
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    logged = read_events(events)
    assert any(e["type"] == "start" for e in logged), logged
    # Every logged event, in order, on <prefix>/<camera>/events (the worker flushes at exit).
    wait_for(lambda: len(early.got("framering/lobby/events")) >= len(logged), 20,
             "all events on framering/lobby/events")
    published = [json.loads(m) for m in early.got("framering/lobby/events")]
    assert published == logged
    for e in published:
        assert e["schema_version"] == 1 and e["camera"] == "lobby" and e["ring"] == ring_name
        assert e["kind"] == "motion" and e["type"] in ("start", "end")
        assert isinstance(e["id"], str) and e["id"]
        assert isinstance(e["frame_no"], int) and isinstance(e["wall_time_ns"], int)
        assert e["start_time_ns"] <= e["wall_time_ns"]
        assert all(len(b) == 4 for b in e["boxes"])
    # The state followed the lifecycle: ON while an episode was open, OFF at the end.
    states = [json.loads(m) for m in early.got("framering/lobby/motion/state")]
    assert any(s["state"] == "ON" and s["active"] for s in states), states
    assert states[-1] == {"state": "OFF", "active": []}
    assert early.got("framering/lobby/motion/available")[:1] == ["online"]
    early.close()

    # A subscriber that connects afterwards learns the present from the retained messages.
    late = Subscriber(broker, "framering/lobby/#")
    wait_for(lambda: len(late.got()) >= 2, 10, "retained state and availability")
    time.sleep(0.5)  # anything else retained would have arrived with them
    assert json.loads(late.got("framering/lobby/motion/state")[-1])["state"] == "OFF"
    assert late.got("framering/lobby/motion/available") == ["offline"]  # it stopped cleanly
    assert late.got("framering/lobby/events") == []  # events are not retained
    late.close()


def test_broker_outage_loses_no_event_and_connected_goes_0_then_1(framering_bin, ring_name, procs,
                                                                   tmp_path):
    b = Broker(tmp_path)
    b.start()
    try:
        sub = Subscriber(b, "framering/+/events", durable=True, client_id=f"sub-{ring_name}")
        sub.wait_subscribed()
        n = 250  # 25 s at the file's 10 fps: outage and reconnect fit well inside
        metrics = free_port()
        events = tmp_path / "sums.jsonl"
        log = tmp_path / "worker.log"
        with open(log, "w") as err:
            worker = procs.start(worker_cmd(framering_bin, ring_name, "checksum", events,
                                            "--mode", "every", "--max-frames", str(n),
                                            "--mqtt", b.url(), metrics=f"127.0.0.1:{metrics}"),
                                 stdout=subprocess.DEVNULL, stderr=err)
        procs.start(ingest_cmd(framering_bin, ring_name, "--realtime", "--max-frames", str(n),
                               "--wait-for-readers", "1", "--slots", "64"),
                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        connected = lambda: sample(scrape(metrics), 'framering_mqtt_connected{worker="checksum"}')
        retry_until(lambda: connected() == 1, 30, "framering_mqtt_connected 1")
        wait_for(lambda: len(sub.got()) >= 20, 30, "the first events on MQTT")

        b.stop()
        retry_until(lambda: connected() == 0, 10, "framering_mqtt_connected 0 after the broker died")
        during = len(read_events(events))
        time.sleep(5)  # the outage itself
        assert len(read_events(events)) >= during + 20, "the worker must keep analysing"
        text = scrape(metrics)
        assert sample(text, 'framering_mqtt_queue_depth{worker="checksum"}') >= 20
        b.start()
        retry_until(lambda: connected() == 1, 30, "framering_mqtt_connected 1 after the restart")
        retry_until(lambda: sample(scrape(metrics),
                                   'framering_mqtt_queue_depth{worker="checksum"}') == 0,
                    30, "the queue to drain")
        text = scrape(metrics)
        assert sample(text, 'framering_events_dropped_total{reason="queue_full",worker="checksum"}') == 0
        acked = sample(text, 'framering_mqtt_publish_latency_seconds_count{worker="checksum"}')
        assert acked >= during + 20, text
        # The events queued during the outage waited seconds for their acknowledgement.
        within_1s = sample(text, 'framering_mqtt_publish_latency_seconds_bucket{worker="checksum",le="1"}')
        assert acked - within_1s >= 20, text

        assert worker.wait(timeout=60) == 0, log.read_text()
        logged = read_events(events)
        assert [e["frame_no"] for e in logged] == list(range(n))
        want = {e["frame_no"]: e["crc32"] for e in logged}
        wait_for(lambda: {json.loads(m)["frame_no"] for m in sub.got()} >= set(want), 30,
                 "every logged event on MQTT")
        got = [json.loads(m) for m in sub.got()]
        assert all(want[e["frame_no"]] == e["crc32"] for e in got)  # at least once, never altered
        text = log.read_text()
        assert "lost the connection" in text and text.count("connected to") >= 2, text
        sub.close()
    finally:
        b.stop()


def test_kill_9_marks_only_that_worker_offline_via_its_last_will(framering_bin, ring_name, procs,
                                                                 broker, tmp_path):
    procs.start(ingest_cmd(framering_bin, ring_name, "--realtime", "--loop"),
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    workers = {}
    for name in ("sums", "moves"):
        analytic = "checksum" if name == "sums" else "motion"
        workers[name] = procs.start(
            worker_cmd(framering_bin, ring_name, analytic, tmp_path / f"{name}.jsonl", "--name",
                       name, "--camera", "hall", "--mqtt", broker.url()),
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    watcher = Subscriber(broker, "framering/hall/+/available")
    wait_for(lambda: watcher.got("framering/hall/sums/available")[-1:] == ["online"] and
             watcher.got("framering/hall/moves/available")[-1:] == ["online"], 30,
             "both workers online")
    workers["sums"].send_signal(signal.SIGKILL)
    workers["sums"].wait(timeout=10)
    wait_for(lambda: watcher.got("framering/hall/sums/available")[-1:] == ["offline"], 30,
             "the broker to publish the killed worker's will")
    watcher.close()
    late = Subscriber(broker, "framering/hall/+/available")
    wait_for(lambda: len(late.got()) >= 2, 10, "retained availability")
    assert late.got("framering/hall/sums/available") == ["offline"]
    assert late.got("framering/hall/moves/available") == ["online"]
    assert workers["moves"].poll() is None
    late.close()


def test_wrong_password_is_a_clear_error_retried_while_the_worker_keeps_analysing(
        framering_bin, ring_name, procs, tmp_path):
    b = Broker(tmp_path, users={"cam": "right-secret"})
    b.start()
    try:
        procs.start(ingest_cmd(framering_bin, ring_name, "--realtime", "--loop"),
                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        metrics = free_port()
        events = tmp_path / "sums.jsonl"
        log = tmp_path / "worker.log"
        with open(log, "w") as err:
            worker = procs.start(
                worker_cmd(framering_bin, ring_name, "checksum", events, "--log-level", "debug",
                           metrics=f"127.0.0.1:{metrics}"),
                stdout=subprocess.DEVNULL, stderr=err,
                env={"FRAMERING_MQTT_URL": b.url("cam", "wrong-secret"), "PATH": "/usr/bin:/bin"})
        wait_for(lambda: log.read_text().count("refused the connection") >= 3, 30,
                 "three refused attempts (retries)")
        text = log.read_text()
        assert "not authorised" in text and "check the user and password" in text, text
        assert "wrong-secret" not in text and "cam:***@" in text, text
        n = len(read_events(events))
        wait_for(lambda: len(read_events(events)) >= n + 10, 20, "analysis to go on")
        assert sample(scrape(metrics), 'framering_mqtt_connected{worker="checksum"}') == 0
        cmdline = open(f"/proc/{worker.pid}/cmdline", "rb").read()
        assert b"secret" not in cmdline
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(timeout=15) == 0

        # The same broker and user with the right password connects: the failure was the password.
        ok_events = tmp_path / "ok.jsonl"
        ok = procs.start(worker_cmd(framering_bin, ring_name, "checksum", ok_events, "--name",
                                    "ok", metrics=f"127.0.0.1:{metrics}"),
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                         env={"FRAMERING_MQTT_URL": b.url("cam", "right-secret"),
                              "PATH": "/usr/bin:/bin"})
        retry_until(lambda: sample(scrape(metrics), 'framering_mqtt_connected{worker="ok"}') == 1,
                    30, "the right password to connect")
        ok.send_signal(signal.SIGTERM)
        assert ok.wait(timeout=15) == 0
    finally:
        b.stop()


def test_framering_run_mqtt_section_reaches_every_worker_without_argv_credentials(
        framering_bin, ring_name, procs, tmp_path):
    b = Broker(tmp_path, users={"site": "run-secret"})
    b.start()
    try:
        cfg = tmp_path / "run.yaml"
        cfg.write_text(f"""
cameras:
  {ring_name}:
    source: "testsrc:testsrc2=size=320x240:rate=25"
    realtime: true
    slots: 16
    workers:
      checksum:
        mode: every
      moves:
        analytic: motion
metrics:
  enabled: false
mqtt:
  url: {b.url("site", "run-secret")}
  topic_prefix: site7
""")
        watcher_log = tmp_path / "watch.out"
        with open(watcher_log, "w") as out:
            procs.start(["mosquitto_sub", "-h", "127.0.0.1", "-p", str(b.port), "-u", "site", "-P",
                         "run-secret", "-v", "-t", f"site7/{ring_name}/#"],
                        stdout=out, stderr=subprocess.DEVNULL)
        with open(tmp_path / "run.err", "w") as err:
            run = procs.start([framering_bin, "run", str(cfg)], stdout=subprocess.DEVNULL,
                              stderr=err)
        wait_for(lambda: f"site7/{ring_name}/checksum/available online" in watcher_log.read_text()
                 and f"site7/{ring_name}/moves/available online" in watcher_log.read_text(), 60,
                 "both workers of the run online")
        wait_for(lambda: f"site7/{ring_name}/events " in watcher_log.read_text(), 30,
                 "events from the run")
        # No process of the run shows the password on its command line.
        for pid in [run.pid] + [int(p) for p in subprocess.run(
                ["pgrep", "-g", str(run.pid)], capture_output=True, text=True).stdout.split()] + \
                [int(p) for p in subprocess.run(["pgrep", "-P", str(run.pid)], capture_output=True,
                                                text=True).stdout.split()]:
            try:
                assert b"run-secret" not in open(f"/proc/{pid}/cmdline", "rb").read()
            except FileNotFoundError:
                pass
        run.send_signal(signal.SIGTERM)
        assert run.wait(timeout=30) == 0
        assert "run-secret" not in (tmp_path / "run.err").read_text()
        wait_for(lambda: f"site7/{ring_name}/checksum/available offline" in watcher_log.read_text(),
                 20, "offline after the clean stop")
    finally:
        b.stop()


def test_mqtts_with_the_ca_file_delivers_events_and_a_wrong_ca_is_a_clear_error_retried(
        framering_bin, ring_name, procs, tmp_path):
    """A TLS-only listener with a certificate for 127.0.0.1 signed by a CA the test made: the
    worker given that CA (--mqtt-ca) delivers its events; given another CA it refuses the
    broker with a message naming the CA file, retries, and keeps analysing."""
    tls = TlsFiles(tmp_path)
    b = Broker(tmp_path, tls=tls)
    b.start()
    try:
        procs.start(ingest_cmd(framering_bin, ring_name, "--realtime", "--loop"),
                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        sub = Subscriber(b, "framering/#")
        sub.wait_subscribed()
        metrics = free_port()
        events = tmp_path / "sums.jsonl"
        good = procs.start(worker_cmd(framering_bin, ring_name, "checksum", events, "--camera",
                                      "lobby", "--mqtt", b.url(), "--mqtt-ca", str(tls.ca),
                                      metrics=f"127.0.0.1:{metrics}"),
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for(lambda: len(sub.got("framering/lobby/events")) >= 3, 30,
                 "events over mqtts://")
        logged = read_events(events)
        published = [json.loads(m) for m in sub.got("framering/lobby/events")]
        assert published == logged[:len(published)]
        assert sample(scrape(metrics), 'framering_mqtt_connected{worker="checksum"}') == 1
        good.send_signal(signal.SIGTERM)
        assert good.wait(timeout=15) == 0

        log = tmp_path / "wrong-ca.log"
        wrong_events = tmp_path / "wrong.jsonl"
        with open(log, "w") as err:
            wrong = procs.start(worker_cmd(framering_bin, ring_name, "checksum", wrong_events,
                                           "--name", "wrong", "--camera", "lobby", "--mqtt",
                                           b.url(), "--mqtt-ca", str(tls.other_ca),
                                           "--log-level", "debug",
                                           metrics=f"127.0.0.1:{metrics}"),
                                stdout=subprocess.DEVNULL, stderr=err)
        try:
            wait_for(lambda: log.read_text().count("TLS handshake failed") >= 2, 30,
                     "a refused handshake and its retry")
        except AssertionError as e:
            raise AssertionError(f"{e}; rc={wrong.poll()}; log:\n{log.read_text()}")
        text = log.read_text()
        assert f"not signed by the CA in --mqtt-ca {tls.other_ca}" in text, text
        n = len(read_events(wrong_events))
        wait_for(lambda: len(read_events(wrong_events)) >= n + 10, 20, "analysis to go on")
        assert sample(scrape(metrics), 'framering_mqtt_connected{worker="wrong"}') == 0
        assert not [e for e in map(json.loads, sub.got("framering/lobby/events"))
                    if e["worker"] == "wrong"]
        wrong.send_signal(signal.SIGTERM)
        assert wrong.wait(timeout=15) == 0
        sub.close()
    finally:
        b.stop()


def test_queue_overflow_drops_the_oldest_and_delivers_the_newest_after_reconnect(
        framering_bin, ring_name, procs, tmp_path):
    # A durable subscriber is registered, then the broker goes down: the worker starts without a
    # broker, analyses 12 frames into a queue of 5 (7 dropped, the oldest), and once the broker
    # is back the subscriber receives exactly the 5 newest.
    b = Broker(tmp_path)
    b.start()
    try:
        sub = Subscriber(b, "framering/+/events", durable=True, client_id=f"q-{ring_name}")
        sub.wait_subscribed()
        b.stop()
        n, queue = 12, 5
        rc = subprocess.run(ingest_cmd(framering_bin, ring_name, "--keep", "--slots", str(n + 4),
                                       "--max-frames", str(n)), capture_output=True).returncode
        assert rc == 0
        metrics = free_port()
        events = tmp_path / "sums.jsonl"
        worker = procs.start(worker_cmd(framering_bin, ring_name, "checksum", events, "--mode",
                                        "every", "--camera", "q", "--mqtt", b.url(),
                                        "--mqtt-queue", str(queue),
                                        metrics=f"127.0.0.1:{metrics}"),
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        dropped = 'framering_events_dropped_total{reason="queue_full",worker="checksum"}'
        depth = 'framering_mqtt_queue_depth{worker="checksum"}'
        retry_until(lambda: len(read_events(events)) == n, 30, f"{n} events in the log")
        retry_until(lambda: sample(scrape(metrics), dropped) == n - queue, 10,
                    f"{n - queue} events dropped")
        assert sample(scrape(metrics), depth) == queue
        assert sample(scrape(metrics), 'framering_mqtt_connected{worker="checksum"}') == 0

        b.start()
        retry_until(lambda: sample(scrape(metrics), depth) == 0, 30, "the queue to drain")
        want = {e["frame_no"]: e["crc32"] for e in read_events(events)}
        wait_for(lambda: len(sub.got("framering/q/events")) >= queue, 20,
                 "the queued events on MQTT")
        time.sleep(0.5)  # an event that should not be there would arrive with the others
        got = [json.loads(m) for m in sub.got("framering/q/events")]
        assert sorted({e["frame_no"] for e in got}) == list(range(n - queue, n)), got
        assert all(want[e["frame_no"]] == e["crc32"] for e in got)
        assert sample(scrape(metrics), dropped) == n - queue
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(timeout=20) == 0
        sub.close()
    finally:
        b.stop()
