"""framering ingest against a real RTSP camera (gst-rtsp-server): reconnects and redaction."""
import re
import signal
import subprocess
import urllib.request

from ingest_ring import ENV, free_port, run_ingest, stat_json, wait_for
from rtsp_camera import RtspCamera


def scrape(metrics_port):
    with urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5) as r:
        return r.read().decode()


def metric(text, name, ring):
    m = re.search(rf'^{name}{{[^}}]*ring="{ring}"[^}}]*}} (\S+)$', text, re.M)
    return float(m.group(1)) if m else None


def cursor(framering_bin, ring):
    try:
        return stat_json(framering_bin, ring)["cursor"]
    except AssertionError:
        return 0  # not created yet


def start_ingest(procs, framering_bin, ring, url, metrics_port, *args):
    return procs.start([framering_bin, "ingest", "--ring", ring, "--source", url,
                        "--metrics-addr", f"127.0.0.1:{metrics_port}" if metrics_port else "0",
                        *args], env=ENV)


def test_rtsp_reconnects_after_the_camera_restarts(framering_bin, ring_name, procs, rtsp_camera):
    mport = free_port()
    p = start_ingest(procs, framering_bin, ring_name, rtsp_camera.url, mport)
    wait_for(lambda: cursor(framering_bin, ring_name) >= 100, timeout=40, interval=0.5,
             what="100 frames from the camera")
    assert metric(scrape(mport), "framering_source_up", ring_name) == 1

    rtsp_camera.stop()
    wait_for(lambda: metric(scrape(mport), "framering_source_up", ring_name) == 0, timeout=30,
             interval=0.2, what="source_up to drop to 0")
    down_at = cursor(framering_bin, ring_name)
    assert stat_json(framering_bin, ring_name)["writer_alive"], "the ring outlives the outage"

    rtsp_camera.start()
    wait_for(lambda: cursor(framering_bin, ring_name) >= down_at + 25, timeout=60, interval=0.5,
             what="frames again after the camera came back")
    text = scrape(mport)
    assert metric(text, "framering_source_up", ring_name) == 1
    assert metric(text, "framering_source_reconnects_total", ring_name) >= 1
    published = metric(text, "framering_frames_published_total", ring_name)
    assert published >= down_at + 25
    assert metric(text, "framering_bytes_published_total", ring_name) == published * 640 * 480 * 3
    assert metric(text, "framering_ring_slots", ring_name) == 8
    assert metric(text, "framering_ring_slot_bytes", ring_name) == 640 * 480 * 3  # 4 KiB multiple

    p.send_signal(signal.SIGTERM)
    _, err = p.communicate(timeout=15)
    assert p.returncode == 0, err
    assert "reconnected to rtsp://127.0.0.1" in err.decode()


def test_rtsp_password_is_never_shown(framering_bin, ring_name, procs, port):
    password = "Pw-7f3kQz9"
    cam = RtspCamera(port, user="alice", password=password).start()
    try:
        mport = free_port()
        p = start_ingest(procs, framering_bin, ring_name, cam.url, mport)
        wait_for(lambda: cursor(framering_bin, ring_name) >= 10, timeout=40, interval=0.5,
                 what="frames from the authenticated camera")
        for args in (["--json"], []):
            out = subprocess.run([framering_bin, "stat", ring_name, *args], capture_output=True,
                                 text=True, timeout=30, env=ENV)
            assert out.returncode == 0 and password not in out.stdout + out.stderr
        assert password not in scrape(mport)
        p.send_signal(signal.SIGTERM)
        _, err = p.communicate(timeout=15)
        err = err.decode()
        assert p.returncode == 0, err
        assert password not in err
        assert "rtsp://alice:***@127.0.0.1" in err

        # A rejected password: libav's own log lines and the final error stay redacted too.
        wrong = cam.url.replace(password, "Wrong-9x2Lm")
        rc, err = run_ingest(framering_bin, ring_name + "x", wrong, "--max-retries", "1",
                             timeout=60)
        assert rc == 3, err
        assert "Wrong-9x2Lm" not in err and password not in err
        assert "401" in err and "rtsp://alice:***@127.0.0.1" in err
    finally:
        cam.stop()


def test_rtsp_gives_up_after_max_retries_with_exit_3(framering_bin, ring_name, procs,
                                                     rtsp_camera):
    p = start_ingest(procs, framering_bin, ring_name, rtsp_camera.url, 0, "--max-retries", "2")
    wait_for(lambda: cursor(framering_bin, ring_name) >= 10, timeout=40, interval=0.5,
             what="frames from the camera")
    rtsp_camera.stop()
    _, err = p.communicate(timeout=60)
    err = err.decode()
    assert p.returncode == 3, err
    assert "giving up after 2 retries" in err and "rtsp://127.0.0.1" in err
