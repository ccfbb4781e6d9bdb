"""A real mosquitto broker on a free loopback port and a real mosquitto_sub subscriber, for the
MQTT output tests."""
import os
import pathlib
import shutil
import signal
import socket
import subprocess
import threading
import time

from conftest import free_port
from workers_helpers import wait_for


def _accepts(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


class Broker:
    """`mosquitto -c CONF` with `listener PORT 127.0.0.1`. With users={name: password} it needs
    a login (password_file); otherwise anonymous clients are allowed. Persistence keeps retained
    messages and a durable subscriber's session (and its queued messages) across a restart.
    With tls=TlsFiles the listener speaks only TLS (mqtts://) with that server certificate."""

    def __init__(self, tmp_path, users=None, tls=None):
        self.dir = pathlib.Path(tmp_path) / "broker"
        self.dir.mkdir(exist_ok=True)
        self.port = free_port()
        self.proc = None
        self.tls = tls
        lines = [f"listener {self.port} 127.0.0.1", "user root",
                 "persistence true", f"persistence_location {self.dir}/",
                 "log_dest stderr", "log_type error", "log_type warning"]
        if users:
            pw = self.dir / "passwords"
            pw.write_text("")
            os.chmod(pw, 0o600)
            for name, password in users.items():
                subprocess.run(["mosquitto_passwd", "-b", str(pw), name, password], check=True)
            lines += ["allow_anonymous false", f"password_file {pw}"]
        else:
            lines += ["allow_anonymous true"]
        if tls:
            lines += [f"cafile {tls.ca}", f"certfile {tls.cert}", f"keyfile {tls.key}"]
        self.conf = self.dir / "mosquitto.conf"
        self.conf.write_text("\n".join(lines) + "\n")
        self.log = self.dir / "mosquitto.log"

    def url(self, user=None, password=None):
        auth = f"{user}:{password}@" if user else ""
        return f"{'mqtts' if self.tls else 'mqtt'}://{auth}127.0.0.1:{self.port}"

    def start(self):
        with open(self.log, "a") as log:
            self.proc = subprocess.Popen(["mosquitto", "-c", str(self.conf)],
                                         stdout=log, stderr=log)
        wait_for(lambda: _accepts(self.port) or self.proc.poll() is not None, 10,
                 "mosquitto to listen")
        assert self.proc.poll() is None, self.log.read_text()

    def stop(self):
        """SIGTERM: the broker saves its persistence database and exits."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(timeout=10)
        wait_for(lambda: not _accepts(self.port), 5, "the broker port to close")


class Subscriber:
    """`mosquitto_sub -v` on TOPIC; collects (topic, payload) pairs from a reader thread.
    durable=True: a persistent session (clean session off, QoS 1, fixed client id), so messages
    published while it is disconnected (broker restart) are queued for it by the broker."""

    def __init__(self, broker, topic, durable=False, client_id=None):
        args = ["mosquitto_sub", "-h", "127.0.0.1", "-p", str(broker.port), "-v", "-q", "1",
                "-t", topic]
        if durable:
            args += ["-c", "-i", client_id or f"framering-test-{os.getpid()}"]
        if broker.tls:
            args += ["--cafile", str(broker.tls.ca)]
        self.topic, self.broker = topic, broker
        # A topic the filter matches that no worker publishes on (see wait_subscribed).
        self.probe_topic = "/".join("probe" if part in ("+", "#") else part
                                    for part in topic.split("/"))
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                     text=True)
        self.messages = []
        self.lock = threading.Lock()
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def wait_subscribed(self, timeout=30.0):
        """Returns once the subscription is in place at the broker: a probe published on a topic
        the filter matches arrives. mosquitto_sub subscribes some time after it starts (later on a
        loaded machine), and a message published before that is not delivered to it, so the probe
        is published again until one arrives. It is not retained: no later subscriber sees it."""
        probe = self.probe_topic
        args = ["mosquitto_pub", "-h", "127.0.0.1", "-p", str(self.broker.port), "-t", probe,
                "-q", "1", "-m", "probe"]
        if self.broker.tls:
            args += ["--cafile", str(self.broker.tls.ca)]
        deadline = time.time() + timeout
        while time.time() < deadline:
            subprocess.run(args, check=True, timeout=timeout, capture_output=True)
            until = time.time() + 1.0
            while time.time() < until:
                if self.got(probe):
                    return
                time.sleep(0.05)
        raise AssertionError(f"mosquitto_sub on {self.topic} got no probe within {timeout}s")

    def _read(self):
        for line in self.proc.stdout:
            topic, _, payload = line.rstrip("\n").partition(" ")
            with self.lock:
                self.messages.append((topic, payload))

    def got(self, topic=None):
        """Payloads received on TOPIC, or on any topic but the probe's."""
        with self.lock:
            return [p for t, p in self.messages
                    if t == topic or (topic is None and t != self.probe_topic)]

    def close(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=5)


class TlsFiles:
    """A CA and a server certificate for 127.0.0.1 signed by it, made here with the openssl
    command line (EC keys: fast to generate). `other_ca` signed nothing: a client trusting only
    it must refuse the server."""

    def __init__(self, tmp_path):
        d = pathlib.Path(tmp_path) / "tls"
        d.mkdir(exist_ok=True)
        self.ca, self.cert, self.key = d / "ca.pem", d / "server.pem", d / "server.key"
        self.other_ca = d / "other-ca.pem"
        ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]

        def run(*args):
            subprocess.run(["openssl", *args], check=True, capture_output=True)

        for ca, name in ((self.ca, "ca"), (self.other_ca, "other-ca")):
            run("req", "-x509", *ec, "-keyout", str(d / f"{name}.key"), "-out", str(ca),
                "-days", "2", "-subj", f"/CN=framering test {name}")
        run("req", *ec, "-keyout", str(self.key), "-out", str(d / "server.csr"),
            "-subj", "/CN=127.0.0.1")
        ext = d / "server.ext"
        ext.write_text("subjectAltName=IP:127.0.0.1\n")
        run("x509", "-req", "-in", str(d / "server.csr"), "-CA", str(self.ca), "-CAkey",
            str(d / "ca.key"), "-CAcreateserial", "-out", str(self.cert), "-days", "2",
            "-extfile", str(ext))


def have_mosquitto():
    return all(shutil.which(t) for t in ("mosquitto", "mosquitto_sub", "mosquitto_passwd"))


def scrape(port):
    import urllib.request
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
        return r.read().decode()


def sample(text, series):
    for line in text.splitlines():
        if line.startswith(series + " "):
            return float(line.split()[-1])
    return None


def retry_until(fn, timeout, what):
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        try:
            value = fn()
            if value:
                return value
        except OSError as e:  # the endpoint is not up yet
            last = e
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last error: {last})")
