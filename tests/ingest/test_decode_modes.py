"""framering ingest's decode modes on real files: --decode keyframes, --fps N and --scale WxH."""
import os
import subprocess

import pytest

from framering import parse_header
from ingest_ring import FLAG_RESIZED, SHM, RingFile, run_ingest, summary

FPS = 30
SECONDS = 4
GOP = 15  # a keyframe every half second


@pytest.fixture(scope="module")
def h264_file(tmp_path_factory):
    """4 s of 320x240 H.264 at 30 fps with a keyframe every 15 frames (no scene-cut extras)."""
    path = tmp_path_factory.mktemp("decode_modes") / "gop15.mp4"
    subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i",
                    f"testsrc2=size=320x240:rate={FPS}", "-t", str(SECONDS), "-c:v", "libx264",
                    "-preset", "ultrafast", "-g", str(GOP), "-keyint_min", str(GOP),
                    "-sc_threshold", "0", "-pix_fmt", "yuv420p", str(path)], check=True)
    return path


def ffprobe_keyframe_pts_ns(path):
    """The timestamps of the frames `ffprobe -skip_frame nokey` decodes, in ns."""
    out = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v:0", "-skip_frame",
                          "nokey", "-show_entries", "frame=pts_time", "-of", "csv=p=0",
                          str(path)], capture_output=True, text=True, check=True).stdout
    return [round(float(t.strip(",")) * 1e9) for t in out.split()]


def header_rate(ring):
    """(rate_num, rate_den) from the ring's header, as any reader sees it."""
    path = SHM / f"framering.{ring}"
    with open(path, "rb") as f:
        geometry = parse_header(f.read(), os.path.getsize(path)).geometry
    return geometry.rate_num, geometry.rate_den


def test_keyframes_mode_publishes_exactly_the_keyframes_ffprobe_decodes(framering_bin,
                                                                       ring_name, h264_file):
    keyframes = ffprobe_keyframe_pts_ns(h264_file)
    assert len(keyframes) == FPS * SECONDS // GOP, "the file has the GOP it was made with"
    rc, err = run_ingest(framering_bin, ring_name, h264_file, "--keep", "--decode", "keyframes",
                         "--slots", "16")
    assert rc == 0, err
    assert "decoding keyframes only" in err
    frames, _, _ = summary(err)
    assert frames == len(keyframes)
    ring = RingFile(ring_name)
    try:
        assert ring.cursor == len(keyframes), "frame numbers stay dense: 0..K-1"
        entries = [ring.entry(n) for n in range(ring.cursor)]
        assert all(e["flags"] & 1 for e in entries), "every published frame is flagged keyframe"
        # pts_ns tells the real time: the keyframes' own timestamps, relative to the first.
        got = [e["pts_ns"] - entries[0]["pts_ns"] for e in entries]
        want = [t - keyframes[0] for t in keyframes]
        assert all(abs(g - w) < 1_000_000 for g, w in zip(got, want)), (got, want)
    finally:
        ring.close()
    assert header_rate(ring_name)[0] == 0, "keyframe spacing is the GOP's: the rate is unknown"


def test_fps_publishes_n_per_second_of_source_and_of_wall_time(framering_bin, ring_name,
                                                               h264_file):
    want_fps = 5
    rc, err = run_ingest(framering_bin, ring_name, h264_file, "--keep", "--fps", str(want_fps),
                         "--realtime", "--slots", "32")
    assert rc == 0, err
    frames, _, _ = summary(err)
    # Source time: one frame per 1/5 s of a 4 s file.
    assert abs(frames - want_fps * SECONDS) <= 1, frames
    ring = RingFile(ring_name)
    try:
        entries = [ring.entry(n) for n in range(ring.cursor)]
    finally:
        ring.close()
    pts = [e["pts_ns"] for e in entries]
    steps = {round((b - a) / 1e6) for a, b in zip(pts, pts[1:])}
    assert steps == {200}, f"published frames are 1/5 s of source time apart, got {steps} ms"
    # Wall time (--realtime): the frames published in each full second after the first one,
    # by the clock they were published at (start-up before the first frame is not counted).
    published = [(e["publish_ns"] - entries[0]["publish_ns"]) / 1e9 for e in entries]
    full_seconds = int(published[-1])
    per_second = [sum(1 for t in published if i <= t < i + 1) for i in range(full_seconds)]
    assert full_seconds >= SECONDS - 1, published
    assert all(want_fps - 1 <= n <= want_fps + 1 for n in per_second), (per_second, published)
    num, den = header_rate(ring_name)
    assert num / den == want_fps, "the header's rate is the rate frames arrive in the ring"


def test_fps_and_decode_are_checked_with_the_flag_named(framering_bin, ring_name, h264_file):
    for args, needle in [(["--fps", "0.01"], "--fps"), (["--fps", "5000"], "--fps"),
                         (["--decode", "some"], "--decode 'some'"),
                         (["--scale", "640"], "--scale '640'"),
                         (["--scale", "640x360", "--width", "320", "--height", "240"],
                          "disagree")]:
        p = subprocess.run([framering_bin, "ingest", "--ring", ring_name, "--source",
                            str(h264_file), "--check-config", *args],
                           capture_output=True, text=True, timeout=30)
        assert p.returncode == 2 and needle in p.stderr, (args, p.stderr)


def test_scale_decodes_at_a_lower_resolution_where_the_decoder_can(framering_bin, ring_name,
                                                                   tmp_path):
    vtest = "/usr/share/doc/opencv-doc/examples/data/vtest.avi"  # MPEG-4 (msmpeg4v3), 768x576
    rc, err = run_ingest(framering_bin, ring_name, vtest, "--keep", "--scale", "384x288",
                         "--max-frames", "3")
    assert rc == 0, err
    assert "decoder lowres 1" in err, err
    ring = RingFile(ring_name)
    try:
        # The decoder delivered 384x288 itself: nothing was scaled, so no frame says resized.
        assert not any(ring.entry(n)["flags"] & FLAG_RESIZED for n in range(3))
        got = ring.payload(2)
    finally:
        ring.close()
    # The same picture as ffmpeg's own downscale of frame 2, within what two methods differ by.
    want = subprocess.run(["ffmpeg", "-v", "error", "-i", vtest, "-vf", "select=eq(n\\,2),"
                           "scale=384:288", "-frames:v", "1", "-pix_fmt", "bgr24", "-f", "rawvideo",
                           "-"], capture_output=True, check=True).stdout
    assert len(want) == len(got) == 384 * 288 * 3
    mean_abs = sum(abs(a - b) for a, b in zip(got[::97], want[::97])) / len(got[::97])
    assert mean_abs < 12, f"mean absolute difference {mean_abs:.1f} of 255"


def test_scale_of_h264_scales_after_decoding(framering_bin, ring_name, h264_file):
    rc, err = run_ingest(framering_bin, ring_name, h264_file, "--keep", "--scale", "160x120",
                         "--max-frames", "2")
    assert rc == 0, err
    assert "lowres" not in err, "H.264 decoders cannot decode at a lower resolution"
    ring = RingFile(ring_name)
    try:
        assert all(ring.entry(n)["flags"] & FLAG_RESIZED for n in range(2))
    finally:
        ring.close()
