#!/usr/bin/env python3
"""An RTSP camera for trying framering without one.

GStreamer's RTSP server (gi GstRtspServer) streams H.264 of a moving test pattern, as an IP
camera would: `rtsp_camera.py --port 8554 --path /cam0 --width 1920 --height 1080 --fps 15`
serves rtsp://<host>:8554/cam0. With --user/--password clients must authenticate (to try
framering's credential handling). Prints one "ready <url>" line when it accepts clients and
stops cleanly on SIGINT/SIGTERM.
"""
import argparse
import signal
import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer  # noqa: E402


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--address", default="0.0.0.0", help="address to listen on (default 0.0.0.0)")
    p.add_argument("--port", type=int, default=8554, help="RTSP port (default 8554)")
    p.add_argument("--path", default="/cam0", help="mount path of the stream (default /cam0)")
    p.add_argument("--width", type=int, default=1280, help="frame width in pixels (default 1280)")
    p.add_argument("--height", type=int, default=720, help="frame height in pixels (default 720)")
    p.add_argument("--fps", type=int, default=15, help="frames per second (default 15)")
    p.add_argument("--pattern", default="ball",
                   help="videotestsrc pattern: ball (moving, for motion), smpte, snow, ... (default ball)")
    p.add_argument("--bitrate", type=int, default=0,
                   help="H.264 bitrate in kbit/s (default: about 0.1 bit per pixel per frame)")
    p.add_argument("--user", help="require RTSP basic authentication with this user name")
    p.add_argument("--password", help="password for --user")
    args = p.parse_args(argv)
    if not args.path.startswith("/"):
        p.error(f"--path must start with '/', got {args.path!r}")
    for flag in ("width", "height", "fps"):
        if getattr(args, flag) <= 0:
            p.error(f"--{flag} must be positive, got {getattr(args, flag)}")
    if bool(args.user) != bool(args.password):
        p.error("--user and --password go together: give both or neither")
    return args


def launch_line(args):
    bitrate = args.bitrate or max(100, args.width * args.height * args.fps // 10_000)
    return (
        f"( videotestsrc is-live=true pattern={args.pattern} "
        f"! video/x-raw,width={args.width},height={args.height},framerate={args.fps}/1 "
        f"! videoconvert ! x264enc tune=zerolatency speed-preset=ultrafast bitrate={bitrate} "
        f"key-int-max={2 * args.fps} ! video/x-h264,profile=baseline "
        f"! rtph264pay name=pay0 pt=96 config-interval=1 )"
    )


def add_auth(server, factory, user, password):
    auth = GstRtspServer.RTSPAuth()
    token = GstRtspServer.RTSPToken()
    token.set_string(GstRtspServer.RTSP_TOKEN_MEDIA_FACTORY_ROLE, "viewer")
    auth.add_basic(GstRtspServer.RTSPAuth.make_basic(user, password), token)
    server.set_auth(auth)
    permissions = GstRtspServer.RTSPPermissions()
    permissions.add_permission_for_role("viewer", GstRtspServer.RTSP_PERM_MEDIA_FACTORY_ACCESS, True)
    permissions.add_permission_for_role("viewer", GstRtspServer.RTSP_PERM_MEDIA_FACTORY_CONSTRUCT, True)
    factory.set_permissions(permissions)


def main(argv):
    args = parse_args(argv)
    Gst.init(None)
    if Gst.ElementFactory.find("x264enc") is None:
        sys.exit("rtsp_camera: GStreamer has no x264enc: install gstreamer1.0-plugins-ugly")
    server = GstRtspServer.RTSPServer()
    server.set_address(args.address)
    server.set_service(str(args.port))
    factory = GstRtspServer.RTSPMediaFactory()
    factory.set_launch(launch_line(args))
    # One encoder for all clients, like a camera; ingest reconnects find the stream running.
    factory.set_shared(True)
    if args.user:
        add_auth(server, factory, args.user, args.password)
    server.get_mount_points().add_factory(args.path, factory)
    if server.attach(None) == 0:
        sys.exit(f"rtsp_camera: cannot listen on {args.address}:{args.port}: "
                 "is the port in use? choose another --port")
    loop = GLib.MainLoop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, sig, loop.quit)
    host = "127.0.0.1" if args.address in ("0.0.0.0", "::") else args.address
    print(f"ready rtsp://{host}:{server.get_bound_port()}{args.path}", flush=True)
    loop.run()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
