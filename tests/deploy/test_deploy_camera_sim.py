"""deploy/camera-sim/rtsp_camera.py: a real GStreamer RTSP server that ffprobe (libavformat, as
the ingest uses) can open, with and without authentication."""
import json
import subprocess
import sys

from deploy_helpers import DEPLOY

CAMERA = DEPLOY / "camera-sim" / "rtsp_camera.py"


def start(procs, port, *extra):
    p = procs.start([sys.executable, str(CAMERA), "--address", "127.0.0.1", "--port", str(port),
                     "--width", "320", "--height", "240", "--fps", "10", *extra], text=True)
    line = p.stdout.readline()
    assert line.startswith("ready rtsp://127.0.0.1:"), (line, p.stderr.read() if p.poll() is not None else "")
    return line.split()[1]


def probe(url):
    return subprocess.run(["ffprobe", "-v", "error", "-rtsp_transport", "tcp", "-show_entries",
                           "stream=codec_name,width,height", "-of", "json", url],
                          capture_output=True, text=True, timeout=60)


def test_serves_h264_of_the_requested_size(procs, port):
    url = start(procs, port)
    out = probe(url)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["streams"] == [{"codec_name": "h264", "width": 320, "height": 240}]


def test_requires_credentials_when_asked(procs, port):
    url = start(procs, port, "--user", "cam", "--password", "s3cret")
    denied = probe(url)
    assert denied.returncode != 0 and "401" in denied.stderr
    allowed = probe(url.replace("rtsp://", "rtsp://cam:s3cret@"))
    assert allowed.returncode == 0, allowed.stderr


def test_rejects_bad_arguments():
    out = subprocess.run([sys.executable, str(CAMERA), "--path", "cam0"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 2 and "--path must start with '/'" in out.stderr
