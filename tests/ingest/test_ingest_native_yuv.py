"""framering ingest --pix-fmt yuv420p|nv12: the decoder's own 4:2:0 planes in the ring, frame for
frame what the ffmpeg CLI writes with `-pix_fmt yuv420p|nv12 -f rawvideo`, and the sizes 4:2:0
cannot hold refused with a message naming the flag."""
import hashlib
import subprocess

import pytest

from ingest_ring import (ENV, FLAG_RESIZED, SHM, VTEST, RingFile, ffmpeg_frame_hashes, run_ingest,
                         stat_json)


def _h264(tmp_path, pix_fmt="yuv420p", codec="libx264", name="clip.mp4"):
    """A short generated clip: 320x240 at 25 fps, a keyframe every 10 frames."""
    path = tmp_path / name
    subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25",
                    "-frames:v", "30", "-c:v", codec, "-g", "10", "-pix_fmt", pix_fmt, "-y",
                    str(path)], check=True, timeout=60)
    return path


def _ring_matches_ffmpeg(framering_bin, ring_name, source, pix_fmt, frames, width, height):
    rc, err = run_ingest(framering_bin, ring_name, source, "--keep", "--slots", str(frames),
                         "--max-frames", str(frames), "--pix-fmt", pix_fmt)
    assert rc == 0, err
    st = stat_json(framering_bin, ring_name)
    # The NumPy shape of the stacked planes: H * 3 / 2 rows of W bytes.
    assert st["geometry"]["shape"] == [height * 3 // 2, width]
    assert st["geometry"]["pix_fmt"] == pix_fmt and st["geometry"]["typestr"] == "|u1"
    assert st["frame_bytes"] == width * height * 3 // 2
    ring = RingFile(ring_name)
    assert ring.cursor == frames
    luma = width * height
    want = ffmpeg_frame_hashes(source, ring.frame_bytes, range(frames), pix_fmt=pix_fmt)
    want_y = _ffmpeg_luma_hashes(source, ring.frame_bytes, luma, frames, pix_fmt)
    got = {n: hashlib.md5(ring.payload(n)).hexdigest() for n in range(frames)}
    got_y = {n: hashlib.md5(ring.payload(n)[:luma]).hexdigest() for n in range(frames)}
    assert got_y == want_y, "the Y plane is the decoder's luma, byte for byte"
    assert got == want, "the chroma planes too"
    assert len(set(got.values())) > frames // 2, "real, changing frames"
    assert not any(ring.entry(n)["flags"] & FLAG_RESIZED for n in range(frames))
    ring.close()


def _ffmpeg_luma_hashes(source, frame_bytes, luma_bytes, frames, pix_fmt):
    proc = subprocess.run(["ffmpeg", "-v", "error", "-i", str(source), "-fps_mode", "passthrough",
                           "-frames:v", str(frames), "-pix_fmt", pix_fmt, "-f", "rawvideo", "-"],
                          capture_output=True, check=True, timeout=120)
    return {n: hashlib.md5(proc.stdout[n * frame_bytes:n * frame_bytes + luma_bytes]).hexdigest()
            for n in range(frames)}


@pytest.mark.parametrize("pix_fmt", ["yuv420p", "nv12"])
def test_vtest_planes_match_ffmpeg(framering_bin, ring_name, pix_fmt):
    # vtest.avi decodes to yuv420p: published as decoded (yuv420p) or re-packed (nv12).
    _ring_matches_ffmpeg(framering_bin, ring_name, VTEST, pix_fmt, 24, 768, 576)


@pytest.mark.parametrize("pix_fmt", ["yuv420p", "nv12"])
def test_h264_planes_match_ffmpeg(framering_bin, ring_name, tmp_path, pix_fmt):
    _ring_matches_ffmpeg(framering_bin, ring_name, _h264(tmp_path), pix_fmt, 30, 320, 240)


def test_full_range_source_is_converted_like_ffmpeg_does(framering_bin, ring_name, tmp_path):
    # Motion JPEG decodes to yuvj420p (full range), not the ring's format: sws_scale converts it.
    mjpeg = _h264(tmp_path, pix_fmt="yuvj420p", codec="mjpeg", name="clip.avi")
    probe = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries",
                            "stream=pix_fmt", "-of", "csv=p=0", str(mjpeg)],
                           capture_output=True, text=True, check=True).stdout.strip()
    assert probe == "yuvj420p"
    _ring_matches_ffmpeg(framering_bin, ring_name, mjpeg, "yuv420p", 30, 320, 240)


def test_scaled_yuv_ring_is_flagged_and_holds_a_picture(framering_bin, ring_name):
    rc, err = run_ingest(framering_bin, ring_name, VTEST, "--keep", "--width", "320", "--height",
                         "240", "--pix-fmt", "nv12", "--max-frames", "5")
    assert rc == 0, err
    st = stat_json(framering_bin, ring_name)
    assert st["geometry"]["shape"] == [360, 320] and st["geometry"]["pix_fmt"] == "nv12"
    ring = RingFile(ring_name)
    assert all(ring.entry(i)["flags"] & FLAG_RESIZED for i in range(5))
    frame = ring.payload(4)
    assert len(set(frame[:320 * 240])) > 16, "a real picture in the Y plane"
    # vtest.avi is nearly grey: its chroma sits close to the neutral 128.
    chroma = frame[320 * 240:]
    assert len(chroma) == 320 * 120 and abs(sum(chroma) / len(chroma) - 128) < 16
    ring.close()


def test_stat_table_shows_the_format(framering_bin, ring_name):
    rc, err = run_ingest(framering_bin, ring_name, VTEST, "--keep", "--pix-fmt", "yuv420p",
                         "--max-frames", "2")
    assert rc == 0, err
    out = subprocess.run([framering_bin, "stat", ring_name], capture_output=True, text=True,
                         env=ENV, timeout=30)
    assert out.returncode == 0, out.stderr
    assert "864x768 yuv420p" in out.stdout, out.stdout


@pytest.mark.parametrize("pix_fmt", ["yuv420p", "nv12"])
def test_odd_width_or_height_is_refused_naming_the_flags(framering_bin, ring_name, pix_fmt):
    for size in (("321", "240"), ("320", "241")):
        for extra in ([], ["--check-config"]):
            rc, err = run_ingest(framering_bin, ring_name, VTEST, "--width", size[0], "--height",
                                 size[1], "--pix-fmt", pix_fmt, *extra)
            assert rc == 2, err
            assert f"--pix-fmt {pix_fmt}" in err and "even width and height" in err, err
            assert f"{size[0]}x{size[1]}" in err and "--width" in err, err
    assert not list(SHM.glob(f"framering.{ring_name}"))


def test_odd_source_size_is_refused_naming_the_flags(framering_bin, ring_name):
    source = "testsrc:testsrc=size=321x241:rate=25"  # RGB: odd sizes stay odd
    rc, err = run_ingest(framering_bin, ring_name, source, "--pix-fmt", "yuv420p",
                         "--max-frames", "3")
    assert rc == 2, err
    assert "--pix-fmt yuv420p" in err and "321x241" in err and "source's frames" in err, err
    assert "--width" in err and "--height" in err, err
    # The same source scaled to an even size is fine.
    rc, err = run_ingest(framering_bin, ring_name, source, "--pix-fmt", "yuv420p", "--width",
                         "320", "--height", "240", "--max-frames", "3")
    assert rc == 0, err


def test_npy_source_refuses_yuv(framering_bin, ring_name, tmp_path):
    rc, err = run_ingest(framering_bin, ring_name, f"npy:{tmp_path}", "--pix-fmt", "nv12",
                         "--check-config")
    assert rc == 2 and "--pix-fmt nv12 does not apply" in err, err
