"""`framering record --clips ... ` with a broker: the clip's update (its path) is also published on
<prefix>/<camera>/events, QoS 1, through a real mosquitto broker that requires a login. The URL
with its password reaches the recorder in FRAMERING_MQTT_URL, as `framering run` passes it, and
never shows in its command line or its log."""
import json
import pathlib
import signal
import subprocess
import sys
import threading

from record_helpers import ENV, VTEST, ingest_cmd, record_cmd, wait_for

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "workers"))
from mqtt_helpers import Broker  # noqa: E402

PASSWORD = "rec-s3cret-pw"


class LoggedInSubscriber:
    """mosquitto_sub -v on one topic with a login; collects payloads from a reader thread."""

    def __init__(self, broker, topic):
        self.proc = subprocess.Popen(
            ["mosquitto_sub", "-h", "127.0.0.1", "-p", str(broker.port), "-u", "site", "-P",
             PASSWORD, "-q", "1", "-v", "-t", topic], stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL, text=True)
        self.payloads, self.lock = [], threading.Lock()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            _, _, payload = line.rstrip("\n").partition(" ")
            with self.lock:
                self.payloads.append(payload)

    def clip_updates(self):
        with self.lock:
            docs = [json.loads(p) for p in self.payloads if p.startswith("{")]
        return [d for d in docs if "clip" in d]

    def close(self):
        self.proc.terminate()
        self.proc.wait(timeout=5)


def test_clip_update_is_published_over_mqtt(framering_bin, ring_name, procs, tmp_path):
    broker = Broker(tmp_path, users={"site": PASSWORD})
    broker.start()
    sub = LoggedInSubscriber(broker, f"site/{ring_name}/events")
    try:
        events = tmp_path / "events.jsonl"
        events.touch()
        clips = tmp_path / "clips"
        log = tmp_path / "record.log"
        env = dict(ENV, FRAMERING_MQTT_URL=broker.url("site", PASSWORD))
        with open(log, "w") as err:
            rec = procs.start(record_cmd(framering_bin, ring_name, tmp_path / "segments",
                                         "--clips", str(clips), "--events", str(events), "--pre",
                                         "1", "--post", "1", "--mqtt-topic-prefix", "site"),
                              env=env, stderr=err)
        with open(f"/proc/{rec.pid}/cmdline", "rb") as f:
            assert PASSWORD.encode() not in f.read()
        ing = procs.start(ingest_cmd(framering_bin, ring_name, VTEST, "--realtime",
                                     "--max-frames", "40"), env=ENV)
        wait_for(lambda: (tmp_path / "segments" / ring_name).exists(), 20, "the recorder attached")
        worker = procs.start([framering_bin, "worker", "--ring", ring_name, "--analytic",
                              "motion", "--events", str(events), "--mode", "every",
                              "--metrics-addr", "0", "--param", "min_area=300", "--param",
                              "end_frames=3"], env=ENV)
        assert ing.wait(timeout=60) == 0
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(timeout=20) == 0
        update = wait_for(sub.clip_updates, 30, "the clip update on MQTT")[0]
        lines = [json.loads(line) for line in events.read_text().splitlines() if line.strip()]
        first_start = next(e for e in lines if e["type"] == "start")
        assert update["type"] == "update" and update["id"] == first_start["id"]
        assert update["camera"] == ring_name and update["worker"] == "record"
        clip = pathlib.Path(update["clip"])
        assert clip.parent == clips / ring_name and clip.exists() and clip.stat().st_size > 0
        # The same update went to the events file.
        assert update in [e for e in lines if "clip" in e]
        rec.send_signal(signal.SIGTERM)
        assert rec.wait(timeout=20) == 0
        text = log.read_text()
        assert "clip updates also go to MQTT" in text
        assert PASSWORD not in text
    finally:
        sub.close()
        broker.stop()


def test_record_mqtt_flags_are_checked(framering_bin, tmp_path):
    def check(*args, env=ENV):
        p = subprocess.run([framering_bin, "record", "--ring", "cam", "--dir", str(tmp_path),
                            *args, "--check-config"], capture_output=True, text=True, env=env,
                           timeout=30)
        return p.returncode, p.stderr

    clips = ["--clips", str(tmp_path / "c"), "--events", str(tmp_path / "e.jsonl")]
    rc, err = check(*clips, "--mqtt", "http://u:pw123@broker")
    assert rc == 2 and "--mqtt" in err and "pw123" not in err
    rc, err = check(*clips, "--mqtt-topic-prefix", "a/#", env=dict(ENV, FRAMERING_MQTT_URL="mqtt://b"))
    assert rc == 2 and "--mqtt-topic-prefix" in err
    rc, err = check("--mqtt", "mqtt://broker")
    assert rc != 0 and "--clips" in err, "without clips there is nothing to publish"
    rc, err = check(*clips, "--mqtt", "mqtt://broker:1883")
    assert rc == 0, err
