"""MQTT settings are checked before anything else: `framering worker --check-config`, a worker
started before its ring exists, and `framering run --check-config` reject a bad topic prefix,
--mqtt-ca without mqtts://, and a CA file that is missing, unreadable or not a file, with exit
2 naming the flag and the file. No broker is needed: nothing is connected."""
import os
import pathlib
import shutil
import subprocess
import tempfile

import pytest


def worker(bin_, *extra, check=True):
    args = [bin_, "worker", "--ring", "mqtt-config-never-created", "--analytic", "checksum",
            "--metrics-addr", "0", *extra]
    if check:
        args.append("--check-config")
    return subprocess.run(args, capture_output=True, text=True, timeout=30)


def test_worker_check_config_rejects_bad_mqtt_settings_naming_the_flag(framering_bin, tmp_path):
    ca = tmp_path / "ca.pem"
    ca.write_text("-----BEGIN CERTIFICATE-----\n")
    missing = tmp_path / "nowhere" / "ca.pem"
    cases = [
        (["--mqtt", "mqtt://127.0.0.1:1883", "--mqtt-topic-prefix", "site/#"],
         "--mqtt-topic-prefix 'site/#'"),
        (["--mqtt", "mqtt://127.0.0.1:1883", "--mqtt-topic-prefix", "$SYS"],
         "--mqtt-topic-prefix '$SYS'"),
        (["--mqtt", "mqtt://127.0.0.1:1883", "--mqtt-ca", str(ca)],
         f"--mqtt-ca {ca}: a CA file needs an mqtts:// URL"),
        (["--mqtt-ca", str(ca)], f"--mqtt-ca {ca}: a CA file needs an mqtts:// URL (--mqtt is"),
        (["--mqtt", "mqtts://127.0.0.1:8883", "--mqtt-ca", str(missing)],
         f"--mqtt-ca {missing}: cannot read the file (No such file or directory)"),
        (["--mqtt", "mqtts://127.0.0.1:8883", "--mqtt-ca", str(tmp_path)],
         f"--mqtt-ca {tmp_path}: not a regular file"),
        (["--mqtt", "mqtts://127.0.0.1:8883", "--mqtt-ca", "/dev/null"],
         "--mqtt-ca /dev/null: not a regular file"),
    ]
    for extra, message in cases:
        r = worker(framering_bin, *extra)
        assert r.returncode == 2 and message in r.stderr, (extra, r.stderr)
    # The same settings with a readable CA and an mqtts:// URL pass (nothing is connected).
    r = worker(framering_bin, "--mqtt", "mqtts://u:secret@127.0.0.1:8883", "--mqtt-ca", str(ca),
               "--mqtt-topic-prefix", "home/cameras")
    assert r.returncode == 0, r.stderr
    # A worker started without --check-config fails the same way at once, rather than waiting
    # for its ring and only then (or, for the CA file, never) noticing.
    r = worker(framering_bin, "--mqtt", "mqtts://127.0.0.1:8883", "--mqtt-ca", str(missing),
               check=False)
    assert r.returncode == 2 and f"--mqtt-ca {missing}" in r.stderr, r.stderr
    assert "waiting for ring" not in r.stderr


def test_unreadable_ca_file_is_exit_2(framering_bin, tmp_path):
    if os.geteuid() == 0:
        # root reads any file: run the check as nobody (the worker needs nothing else here).
        if not shutil.which("setpriv"):
            pytest.skip("running as root without setpriv (util-linux): cannot drop to nobody")
        runner = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
    else:
        runner = []
    # A directory anyone may enter (pytest's own are private): the file's mode alone refuses.
    home = pathlib.Path(tempfile.mkdtemp(prefix="framering-ca-", dir="/tmp"))
    os.chmod(home, 0o755)
    ca = home / "ca.pem"
    ca.write_text("-----BEGIN CERTIFICATE-----\n")
    os.chmod(ca, 0o000)
    try:
        r = subprocess.run([*runner, framering_bin, "worker", "--ring",
                            "mqtt-config-never-created", "--analytic", "checksum",
                            "--metrics-addr", "0", "--mqtt", "mqtts://127.0.0.1:8883",
                            "--mqtt-ca", str(ca), "--check-config"],
                           capture_output=True, text=True, timeout=30)
    finally:
        shutil.rmtree(home)
    assert r.returncode == 2, r.stderr
    assert f"--mqtt-ca {ca}: cannot read the file (Permission denied)" in r.stderr, r.stderr


RUN_YAML = """
cameras:
  {ring}:
    source: "testsrc:testsrc2=size=320x240:rate=25"
    workers:
      checksum: {{}}
metrics:
  enabled: false
mqtt:
{mqtt}
"""


@pytest.mark.parametrize("mqtt,message", [
    ("  url: mqtts://127.0.0.1:8883\n  ca_file: {missing}",
     "--mqtt-ca {missing}: cannot read the file"),
    ("  url: mqtt://127.0.0.1:1883\n  ca_file: {ca}", "mqtt.ca_file: a CA file needs an mqtts://"),
    ("  url: mqtt://127.0.0.1:1883\n  topic_prefix: \"$SYS\"", "mqtt.topic_prefix"),
], ids=["missing-ca-file", "ca-file-without-mqtts", "reserved-prefix"])
def test_run_check_config_rejects_bad_mqtt_settings(framering_bin, ring_name, tmp_path, mqtt,
                                                    message):
    ca = tmp_path / "ca.pem"
    ca.write_text("-----BEGIN CERTIFICATE-----\n")
    missing = tmp_path / "missing-ca.pem"
    cfg = tmp_path / "run.yaml"
    cfg.write_text(RUN_YAML.format(ring=ring_name,
                                   mqtt=mqtt.format(missing=missing, ca=ca)))
    r = subprocess.run([framering_bin, "run", str(cfg), "--check-config"], capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 2, r.stderr + r.stdout
    assert message.format(missing=missing, ca=ca) in r.stderr + r.stdout, r.stderr + r.stdout
