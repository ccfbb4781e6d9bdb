"""--packet-history: the ingest shares every demuxed video packet in
/dev/shm/framering.<ring>.packets. An independent reader written from docs/packet-ring.md
(packet_ring_reader.py) reads what a real ingest published and checks it against ffprobe's own
packet list: count, sizes, bytes (MD5), keyframe flags, timestamps, and the stream parameters."""
import hashlib
import json
import subprocess

import pytest

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
