"""--packet-history: the ingest shares every demuxed video packet in
/dev/shm/framering.<ring>.packets. An independent reader written from docs/packet-ring.md
(packet_ring_reader.py) reads what a real ingest published and checks it against ffprobe's own
packet list: count, sizes, bytes (MD5), keyframe flags, timestamps, and the stream parameters."""
import hashlib
import json
import subprocess
import time

import pytest

from conftest import wait_for
from ingest_ring import ENV, SHM, VTEST, run_ingest
from packet_ring_reader import FLAG_DISCONTINUITY, PacketRing


def ffprobe_packets(path):
    out = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_packets",
                          "-show_data_hash", "MD5", "-show_streams", "-of", "json", str(path)],
                         capture_output=True, text=True, check=True).stdout
    doc = json.loads(out)
    return doc["packets"], doc["streams"][0]


@pytest.fixture(scope="module")
def h264_mp4(tmp_path_factory):
    """2 s of 320x240 H.264 at 25 fps with a keyframe every 10 frames, in MP4."""
    path = tmp_path_factory.mktemp("media") / "gop10.mp4"
    subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i",
                    "testsrc2=size=320x240:rate=25:duration=2", "-c:v", "libx264", "-preset",
                    "ultrafast", "-g", "10", "-bf", "2", "-pix_fmt", "yuv420p", str(path)],
                   check=True, timeout=60)
    return path


def check_against_ffprobe(ring_name, source, codec):
    ring = PacketRing(SHM / f"framering.{ring_name}.packets")
    try:
        want, stream = ffprobe_packets(source)
        assert ring.mode == 0o600
        assert ring.state == 2, "CLOSED after a graceful exit"
        assert ring.name == ring_name
        assert ring.codec_name == codec == stream["codec_name"]
        assert (ring.width, ring.height) == (stream["width"], stream["height"])
        assert "%d/%d" % ring.time_base == stream["time_base"]
        assert len(ring.extradata) == int(stream.get("extradata_size", 0))
        got = ring.all_packets()
        assert len(got) == len(want)
        assert [len(p["data"]) for p in got] == [int(p["size"]) for p in want]
        assert ["MD5:" + hashlib.md5(p["data"]).hexdigest() for p in got] == \
            [p["data_hash"] for p in want]
        assert [p["keyframe"] for p in got] == ["K" in p["flags"] for p in want]
        assert [p["pts"] for p in got] == [p.get("pts") for p in want]
        assert [p["dts"] for p in got] == [p.get("dts") for p in want]
        assert [p["packet_no"] for p in got] == list(range(len(want)))
        assert got[0]["flags"] & FLAG_DISCONTINUITY and not any(
            p["flags"] & FLAG_DISCONTINUITY for p in got[1:])
        assert got[0]["keyframe"]
        return got
    finally:
        ring.close()


def test_h264_packets_match_ffprobe(framering_bin, ring_name, h264_mp4):
    rc, err = run_ingest(framering_bin, ring_name, h264_mp4, "--keep", "--slots", "4",
                         "--packet-history", "10s")
    assert rc == 0, err
    got = check_against_ffprobe(ring_name, h264_mp4, "h264")
    assert sum(p["keyframe"] for p in got) == 5  # 50 frames, GOP 10
    assert "packet ring" in err and "KiB" in err


def test_msmpeg4_avi_packets_match_ffprobe(framering_bin, ring_name):
    # vtest.avi: MS-MPEG4 v3 ("DivX 3") in AVI, 795 packets at ~820 kbit/s; 60 s of history
    # holds all 79.5 s of it without a wrap.
    rc, err = run_ingest(framering_bin, ring_name, VTEST, "--keep", "--slots", "4",
                         "--packet-history", "60s")
    assert rc == 0, err
    check_against_ffprobe(ring_name, VTEST, "msmpeg4v3")


def test_no_packet_ring_unless_asked(framering_bin, ring_name, h264_mp4):
    rc, err = run_ingest(framering_bin, ring_name, h264_mp4, "--keep", "--slots", "4")
    assert rc == 0, err
    assert not (SHM / f"framering.{ring_name}.packets").exists()


@pytest.mark.parametrize("value", ["0s", "-3", "ten", "2h", "4000s"])
def test_bad_packet_history_is_a_usage_error(framering_bin, ring_name, value):
    p = subprocess.run([framering_bin, "ingest", "--ring", ring_name, "--source", str(VTEST),
                        "--packet-history", value], capture_output=True, text=True, env=ENV,
                       timeout=30)
    assert p.returncode == 2
    assert "--packet-history" in p.stderr and "30s" in p.stderr


def test_packets_only_shares_every_packet_and_makes_no_frame_ring(framering_bin, ring_name,
                                                                   h264_mp4):
    """--packets-only: the same packets as with decoding, no frame ring, nothing decoded."""
    rc, err = run_ingest(framering_bin, ring_name, h264_mp4, "--keep", "--packets-only",
                         "--packet-history", "10s")
    assert rc == 0, err
    check_against_ffprobe(ring_name, h264_mp4, "h264")
    assert not (SHM / f"framering.{ring_name}").exists()
    assert "packets only" in err and "shared 50 packets" in err
    assert "published" not in err  # no frame summary: there are no frames


def test_packets_only_realtime_loop_paces_packets(framering_bin, ring_name, h264_mp4, procs):
    """--realtime --loop: the 2 s file (50 packets) is shared at its own pace, so its second pass
    (a discontinuity) is captured no sooner than ~2 s after the first packet; unpaced it would
    take milliseconds. Measured on the packets' own capture times: the ring itself appears only
    once the ingest has measured the stream's bit rate (up to 2 s of it), holding the packets."""
    proc = procs.start([framering_bin, "ingest", "--ring", ring_name, "--source", str(h264_mp4),
                        "--metrics-addr", "0", "--packets-only", "--packet-history", "10s",
                        "--realtime", "--loop"], env=ENV)
    path = SHM / f"framering.{ring_name}.packets"
    wait_for(lambda: path.exists(), timeout=30, what="the packet ring")

    def passes():
        ring = PacketRing(path)
        try:
            got = ring.all_packets()
        finally:
            ring.close()
        return got if sum(bool(p["flags"] & FLAG_DISCONTINUITY) for p in got) >= 2 else None

    got = wait_for(passes, timeout=30, what="a second pass over the file")
    proc.terminate()
    assert proc.wait(timeout=20) == 0
    first_pass = next(i for i, p in enumerate(got[1:], 1) if p["flags"] & FLAG_DISCONTINUITY)
    assert first_pass == 50
    elapsed = (got[first_pass]["capture_realtime_ns"] - got[0]["capture_realtime_ns"]) / 1e9
    assert elapsed >= 1.5, f"second pass captured {elapsed:.2f} s after the first: not paced"
    assert not (SHM / f"framering.{ring_name}").exists()


@pytest.mark.parametrize("flags,named", [
    ([], "--packet-history"),
    (["--packet-history", "5s", "--scale", "64x48"], "--width/--height/--scale"),
    (["--packet-history", "5s", "--fps", "5"], "--fps"),
    (["--packet-history", "5s", "--decode", "keyframes"], "--decode"),
    (["--packet-history", "5s", "--max-frames", "3"], "--max-frames"),
    (["--packet-history", "5s", "--preview-addr", "127.0.0.1:1"], "--preview-addr"),
])
def test_packets_only_rejects_frame_flags(framering_bin, ring_name, flags, named):
    p = subprocess.run([framering_bin, "ingest", "--ring", ring_name, "--source", str(VTEST),
                        "--packets-only", *flags, "--check-config"], capture_output=True,
                       text=True, env=ENV, timeout=30)
    assert p.returncode == 2, p.stderr
    assert named in p.stderr and "--packets-only" in p.stderr, p.stderr
