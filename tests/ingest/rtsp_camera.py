"""A real RTSP camera for tests: gst-rtsp-server streaming an H.264 test pattern.

Run as a program (the server):  /usr/bin/python3 rtsp_camera.py --port 8554 [--user U --password P]
It serves rtsp://127.0.0.1:PORT/cam and prints "READY" once it listens.

Use from tests through RtspCamera (or the `rtsp_camera` fixture in tests/conftest.py):
    cam = RtspCamera(port); cam.start(); ... cam.url ...; cam.stop(); cam.start()  # same port
"""
import argparse
import os
import signal
import subprocess
import sys
import time

PIPELINE = ("( videotestsrc is-live=true ! video/x-raw,width={w},height={h},framerate={fps}/1 "
            "! x264enc tune=zerolatency key-int-max={fps} ! rtph264pay name=pay0 pt=96 )")


class RtspCamera:
    """Starts/stops the server above as a subprocess (so killing it is a real camera outage)."""

    def __init__(self, port, user=None, password=None, width=640, height=480, fps=25):
        self.port = port
        self.user = user
        self.password = password
        self.size = (width, height, fps)
        self.proc = None

    @property
    def url(self):
        auth = f"{self.user}:{self.password}@" if self.user else ""
        return f"rtsp://{auth}127.0.0.1:{self.port}/cam"

    def start(self, timeout=15.0):
        args = ["/usr/bin/python3", os.path.abspath(__file__), "--port", str(self.port),
                "--width", str(self.size[0]), "--height", str(self.size[1]),
                "--fps", str(self.size[2])]
        if self.user:
            args += ["--user", self.user, "--password", self.password]
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True)
        deadline = time.time() + timeout
        while time.time() < deadline:
            line = self.proc.stdout.readline()
            if line.strip() == "READY":
                return self
            if not line and self.proc.poll() is not None:
                raise RuntimeError(f"RTSP camera exited: {self.proc.stderr.read()}")
        self.stop()
        raise RuntimeError(f"RTSP camera on port {self.port} not ready after {timeout}s")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.proc = None


def serve(port, user, password, width, height, fps):
    import gi
    gi.require_version("Gst", "1.0")
    gi.require_version("GstRtspServer", "1.0")
    from gi.repository import GLib, Gst, GstRtspServer

    Gst.init(None)
    server = GstRtspServer.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service(str(port))
    factory = GstRtspServer.RTSPMediaFactory()
    factory.set_launch(PIPELINE.format(w=width, h=height, fps=fps))
    factory.set_shared(True)
    if user:
        auth = GstRtspServer.RTSPAuth()
        token = GstRtspServer.RTSPToken()
        token.set_string(GstRtspServer.RTSP_TOKEN_MEDIA_FACTORY_ROLE, "user")
        auth.add_basic(GstRtspServer.RTSPAuth.make_basic(user, password), token)
        server.set_auth(auth)
        permissions = GstRtspServer.RTSPPermissions()
        permissions.add_permission_for_role("user", GstRtspServer.RTSP_PERM_MEDIA_FACTORY_ACCESS,
                                            True)
        permissions.add_permission_for_role("user", GstRtspServer.RTSP_PERM_MEDIA_FACTORY_CONSTRUCT,
                                            True)
        factory.set_permissions(permissions)
    server.get_mount_points().add_factory("/cam", factory)
    if server.attach(None) == 0:
        print(f"cannot listen on 127.0.0.1:{port}", file=sys.stderr)
        sys.exit(1)
    loop = GLib.MainLoop()
    signal.signal(signal.SIGTERM, lambda *_: loop.quit())
    print("READY", flush=True)
    loop.run()


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--user")
    ap.add_argument("--password")
    ap.add_argument("--width", type=int, default=640)
    ap.add_argument("--height", type=int, default=480)
    ap.add_argument("--fps", type=int, default=25)
    a = ap.parse_args()
    serve(a.port, a.user, a.password, a.width, a.height, a.fps)
