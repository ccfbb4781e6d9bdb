"""framering ingest against broken and hostile inputs: each ends with a defined exit code and a
message naming the input, never a crash or a hang (every run has a hard timeout), and never
leaves a ring behind. tests/ingest covers random bytes, a header cut at 1500 B, a cut mid-stream,
a missing file, Megamind_bugy.avi and --width/--height 100000; these are the other cases."""
import signal

import pytest

from rel_helpers import (VTEST, assert_no_crash, ffmpeg, ffprobe_frame_count, free_port,
                         make_clip, run, shm_leftovers, stalling_server, start_stalled_ingest,
                         summary, truncated_copy, wait_for)  # noqa: F401 (stalling_server)


def ingest(framering_bin, ring, source, *args, timeout=60):
    p = run([framering_bin, "ingest", "--ring", ring, "--source", source, "--metrics-addr", "0",
             *args], timeout=timeout)
    assert_no_crash(p)
    return p


def test_empty_file_exits_3_naming_it(framering_bin, ring_name, tmp_path):
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    p = ingest(framering_bin, ring_name, empty)
    assert p.returncode == 3, p.stderr
    assert str(empty) in p.stderr
    assert shm_leftovers(ring_name) == []


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    d = tmp_path_factory.mktemp("clips")
    return {
        # moov (the index) after the media data: ffmpeg's default for mp4.
        "moov-last": make_clip(d / "moov-last.mp4"),
        # moov first: a cut file still has its index.
        "faststart": make_clip(d / "faststart.mp4", extra=("-movflags", "+faststart")),
        "avi": make_clip(d / "clip.avi"),
    }


@pytest.mark.parametrize("fraction", [0.1, 0.5, 0.9])
def test_mp4_cut_before_its_index_cannot_open(framering_bin, ring_name, clips, tmp_path,
                                              fraction):
    src = clips["moov-last"]
    cut = truncated_copy(src, tmp_path / "cut.mp4", int(src.stat().st_size * fraction))
    p = ingest(framering_bin, ring_name, cut)
    assert p.returncode == 3, p.stderr
    assert str(cut) in p.stderr
    assert shm_leftovers(ring_name) == []


@pytest.mark.parametrize("fraction", [0.3, 0.6, 0.95])
def test_faststart_mp4_cut_mid_data_publishes_what_it_has(framering_bin, ring_name, clips,
                                                          tmp_path, fraction):
    src = clips["faststart"]
    cut = truncated_copy(src, tmp_path / "cut.mp4", int(src.stat().st_size * fraction))
    p = ingest(framering_bin, ring_name, cut)
    assert p.returncode == 0, p.stderr
    frames, _, _ = summary(p.stderr)
    assert 0 < frames < ffprobe_frame_count(src)
    assert shm_leftovers(ring_name) == [], "unlinked at exit"


@pytest.mark.parametrize("keep", [12, 200, 2048])
def test_avi_cut_in_its_headers_exits_3(framering_bin, ring_name, clips, tmp_path, keep):
    cut = truncated_copy(clips["avi"], tmp_path / "cut.avi", keep)
    p = ingest(framering_bin, ring_name, cut)
    assert p.returncode == 3, p.stderr
    assert str(cut) in p.stderr


@pytest.mark.parametrize("fraction", [0.5, 0.97])
def test_avi_cut_mid_data_publishes_what_it_has(framering_bin, ring_name, clips, tmp_path,
                                                fraction):
    src = clips["avi"]
    cut = truncated_copy(src, tmp_path / "cut.avi", int(src.stat().st_size * fraction))
    p = ingest(framering_bin, ring_name, cut)
    assert p.returncode == 0, p.stderr
    frames, _, _ = summary(p.stderr)
    assert 0 < frames < ffprobe_frame_count(src)


@pytest.mark.parametrize("ext", ["wav", "mka"])
def test_audio_only_container_exits_3_no_video_stream(framering_bin, ring_name, tmp_path, ext):
    audio = tmp_path / f"sine.{ext}"
    ffmpeg("-f", "lavfi", "-i", "sine=frequency=440:duration=1", audio)
    p = ingest(framering_bin, ring_name, audio)
    assert p.returncode == 3, p.stderr
    assert "no decodable video stream" in p.stderr and str(audio) in p.stderr
    assert shm_leftovers(ring_name) == []


def _y4m(path, width, height, frames):
    """A raw YUV4MPEG2 stream declaring width x height (4:2:0), with `frames` black frames."""
    frame = b"FRAME\n" + bytes(width * height * 3 // 2)
    path.write_bytes(b"YUV4MPEG2 W%d H%d F25:1 Ip A1:1 C420jpeg\n" % (width, height) +
                     frame * frames)
    return path


def test_video_declaring_100000x100000_is_refused_with_libavs_reason(framering_bin, ring_name,
                                                                     tmp_path):
    # The header claims 10^10 pixels; the file holds 1 KB. Nothing may be allocated for it.
    huge = tmp_path / "huge.y4m"
    huge.write_bytes(b"YUV4MPEG2 W100000 H100000 F25:1 Ip A1:1 C420jpeg\nFRAME\n" + bytes(1000))
    p = ingest(framering_bin, ring_name, huge)
    assert p.returncode == 3, p.stderr
    # The reason, not just libav's vague return code (EBUSY).
    assert f"cannot open {huge}: Picture size 100000x100000 is invalid" in p.stderr, p.stderr
    assert summary(p.stderr)[0] == 0
    assert shm_leftovers(ring_name) == []


def test_video_wider_than_the_ring_limit_is_refused_and_says_what_to_do(framering_bin, ring_name,
                                                                        tmp_path):
    wide = _y4m(tmp_path / "wide.y4m", 20000, 16, 2)  # valid for libav, too wide for a ring
    p = ingest(framering_bin, ring_name, wide)
    assert p.returncode == 2, p.stderr
    assert f"frame size 20000x16 from {wide} exceeds 16384 pixels per side" in p.stderr
    assert "--width/--height" in p.stderr
    assert shm_leftovers(ring_name) == []
    # The advice works: scaled into a ring of a size the user chooses, both frames arrive.
    p = ingest(framering_bin, ring_name, wide, "--width", "2000", "--height", "16")
    assert p.returncode == 0, p.stderr
    assert summary(p.stderr)[0] == 2


def _npy_header(shape, descr="|u1"):
    body = f"{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}".encode()
    body += b" " * ((-(10 + len(body) + 1)) % 64) + b"\n"
    return b"\x93NUMPY\x01\x00" + len(body).to_bytes(2, "little") + body


def test_npy_claiming_a_huge_shape_with_the_bytes_present_is_refused_before_allocating(
        framering_bin, ring_name, tmp_path):
    # 100000 x 100000 x 3 = 30 GB of (sparse) array data: the file really is that long, so only
    # the geometry limit stops it, before any ring is created.
    d = tmp_path / "huge"
    d.mkdir()
    f = d / "frame.npy"
    header = _npy_header((100000, 100000, 3))
    f.write_bytes(header)
    with open(f, "r+b") as fh:
        fh.truncate(len(header) + 100000 * 100000 * 3)
    p = ingest(framering_bin, ring_name, f"npy:{d}")
    assert p.returncode == 2, p.stderr
    assert "100000x100000x3" in p.stderr and "at most 4096.0 MiB per frame" in p.stderr
    assert "save smaller arrays" in p.stderr and "--width" not in p.stderr
    assert shm_leftovers(ring_name) == []


def test_npy_claiming_a_huge_shape_without_the_bytes_is_skipped(framering_bin, ring_name,
                                                                tmp_path):
    d = tmp_path / "short"
    d.mkdir()
    (d / "frame.npy").write_bytes(_npy_header((100000, 100000, 3)) + b"\0" * 1000)
    p = ingest(framering_bin, ring_name, f"npy:{d}")
    assert p.returncode == 3, p.stderr
    assert "truncated" in p.stderr and "frame.npy" in p.stderr
    assert shm_leftovers(ring_name) == []


def test_rtsp_to_a_closed_port_gives_up_after_its_retries(framering_bin, ring_name):
    url = f"rtsp://viewer:Secret-42@127.0.0.1:{free_port()}/cam"
    p = ingest(framering_bin, ring_name, url, "--max-retries", "1", timeout=60)
    assert p.returncode == 3, p.stderr
    assert "rtsp://viewer:***@127.0.0.1" in p.stderr and "Secret-42" not in p.stderr
    assert "refused" in p.stderr.lower()
    assert shm_leftovers(ring_name) == []


def test_rtsp_server_that_stalls_hits_the_io_deadline(framering_bin, ring_name, stalling_server):
    url = f"rtsp://127.0.0.1:{stalling_server.port}/cam"
    p = ingest(framering_bin, ring_name, url, "--timeout", "1", "--max-retries", "1", timeout=60)
    assert p.returncode == 3, p.stderr
    assert url in p.stderr
    # The server's accept thread may lag behind the kernel's accepted connections.
    wait_for(lambda: len(stalling_server.accepted) >= 2, timeout=30, what="two connections accepted")
    assert len(stalling_server.accepted) == 2, "one attempt and one retry, each timed out"
    assert shm_leftovers(ring_name) == []


def test_sigterm_interrupts_a_stalled_rtsp_handshake(framering_bin, ring_name, stalling_server,
                                                     procs):
    url = f"rtsp://127.0.0.1:{stalling_server.port}/cam"
    p = start_stalled_ingest(procs, framering_bin, ring_name, stalling_server, url)
    p.send_signal(signal.SIGTERM)
    _, err = p.communicate(timeout=15)  # would hang for 600 s if the stop did not interrupt
    assert p.returncode == 0, err
    assert shm_leftovers(ring_name) == []


def test_vtest_still_ingests_fine(framering_bin, ring_name):
    """The control case of this file: the same command line on a good file succeeds."""
    p = ingest(framering_bin, ring_name, VTEST, "--max-frames", "5")
    assert p.returncode == 0, p.stderr
    assert summary(p.stderr)[0] == 5
