"""framering ingest on real files: frame counts, pixels against the ffmpeg CLI, damaged files."""
import hashlib
import random
import signal
import subprocess
import time

import pytest

from ingest_ring import (ENV, FLAG_DECODE_ERROR, FLAG_RESIZED, OPENCV_DATA, SHM, VTEST,
                         RingFile, ffmpeg_frame_hashes, ffprobe_frame_count, run_ingest,
                         stat_json, summary, wait_for)

MEGAMIND_BUGY = OPENCV_DATA / "Megamind_bugy.avi"


def test_vtest_all_frames_published_and_last_frames_match_ffmpeg(framering_bin, ring_name):
    slots = 64
    rc, err = run_ingest(framering_bin, ring_name, VTEST, "--keep", "--slots", str(slots))
    assert rc == 0, err
    expected = ffprobe_frame_count(VTEST)
    st = stat_json(framering_bin, ring_name)
    assert st["cursor"] == expected
    assert st["geometry"]["shape"] == [576, 768, 3]
    assert st["geometry"]["pix_fmt"] == "bgr24"
    assert st["state"] == "CLOSED"
    ring = RingFile(ring_name)
    held = ring.held()
    assert len(held) == slots
    want = ffmpeg_frame_hashes(VTEST, ring.frame_bytes, held)
    got = {n: hashlib.md5(ring.payload(n)).hexdigest() for n in held}
    assert got == want
    pts = [ring.entry(n)["pts_ns"] for n in held]
    assert pts == sorted(pts) and pts[-1] - pts[0] == (slots - 1) * 100_000_000  # 10 fps
    ring.close()


def test_vtest_first_frames_match_ffmpeg(framering_bin, ring_name):
    n = 24
    rc, err = run_ingest(framering_bin, ring_name, VTEST, "--keep", "--slots", str(n),
                         "--max-frames", str(n))
    assert rc == 0, err
    ring = RingFile(ring_name)
    assert ring.cursor == n
    want = ffmpeg_frame_hashes(VTEST, ring.frame_bytes, range(n))
    assert {i: hashlib.md5(ring.payload(i)).hexdigest() for i in range(n)} == want
    assert ring.entry(0)["flags"] & 1, "frame 0 is a keyframe"
    ring.close()


def test_forced_geometry_scales_and_flags_every_frame(framering_bin, ring_name):
    rc, err = run_ingest(framering_bin, ring_name, VTEST, "--keep", "--width", "320", "--height",
                         "240", "--pix-fmt", "gray8", "--max-frames", "5")
    assert rc == 0, err
    st = stat_json(framering_bin, ring_name)
    assert st["geometry"]["shape"] == [240, 320, 1] and st["geometry"]["pix_fmt"] == "gray8"
    ring = RingFile(ring_name)
    # The ring is created before the first frame but after the source opened: the header
    # carries vtest.avi's 10 fps, not "unknown" (0/1).
    assert ring.rate == (10, 1)
    assert all(ring.entry(i)["flags"] & FLAG_RESIZED for i in range(5))
    assert len(set(ring.payload(4))) > 16, "a real picture, not a constant fill"
    ring.close()


def test_megamind_bugy_decodes_to_the_end(framering_bin, ring_name):
    rc, err = run_ingest(framering_bin, ring_name, MEGAMIND_BUGY)
    assert rc == 0, err
    frames, decode_errors, _ = summary(err)
    assert frames == ffprobe_frame_count(MEGAMIND_BUGY)
    # libavcodec decodes every frame of this sample cleanly (`ffmpeg -err_detect explode` agrees),
    # so ingest must not invent errors; damage that does break frames is the next test's.
    assert decode_errors == 0


def test_corrupted_frames_are_counted_flagged_and_decoding_goes_on(framering_bin, ring_name,
                                                                   tmp_path):
    data = bytearray(VTEST.read_bytes())
    rng = random.Random(7)
    # Damage frame data near the end (not the index after it), where a 64-slot ring still holds it.
    for _ in range(40):
        off = rng.randrange(int(len(data) * 0.93), int(len(data) * 0.985))
        data[off:off + 32] = bytes(rng.randrange(256) for _ in range(32))
    damaged = tmp_path / "damaged.avi"
    damaged.write_bytes(data)
    rc, err = run_ingest(framering_bin, ring_name, damaged, "--keep", "--slots", "64")
    assert rc == 0, err
    frames, decode_errors, _ = summary(err)
    assert frames == ffprobe_frame_count(damaged)
    assert decode_errors > 0
    ring = RingFile(ring_name)
    flagged = [n for n in ring.held() if ring.entry(n)["flags"] & FLAG_DECODE_ERROR]
    assert 0 < len(flagged) <= decode_errors
    ring.close()


def _random_file(tmp_path, name):
    path = tmp_path / name
    path.write_bytes(random.Random(11).randbytes(200_000))
    return path


@pytest.mark.parametrize("make", [
    lambda tmp: _random_file(tmp, "random.avi"),
    lambda tmp: _random_file(tmp, "random.bin"),
    lambda tmp: (tmp / "header-cut.avi").write_bytes(VTEST.read_bytes()[:1500]) and
    tmp / "header-cut.avi",
    lambda tmp: tmp / "missing.avi",
], ids=["random-bytes", "random-bytes-bin", "cut-in-header", "missing"])
def test_unopenable_file_exits_3_naming_it(framering_bin, ring_name, tmp_path, make):
    path = make(tmp_path)
    rc, err = run_ingest(framering_bin, ring_name, path)
    assert rc == 3, err
    assert str(path) in err
    assert not list(SHM.glob(f"framering.{ring_name}")), "no ring for a source that never opened"


def test_file_cut_mid_stream_publishes_what_it_has(framering_bin, ring_name, tmp_path):
    cut = tmp_path / "cut.avi"
    cut.write_bytes(VTEST.read_bytes()[:4_000_000])
    rc, err = run_ingest(framering_bin, ring_name, cut)
    assert rc == 0, err
    frames, decode_errors, _ = summary(err)
    assert frames == ffprobe_frame_count(cut)
    assert 0 < frames < ffprobe_frame_count(VTEST)
    assert "truncated" in err and str(cut) in err
    assert decode_errors >= 1


def test_resolution_change_is_scaled_and_flagged(framering_bin, ring_name, tmp_path):
    parts = []
    for i, size in enumerate(["320x240", "160x96"]):
        part = tmp_path / f"part{i}.ts"
        subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i",
                        f"testsrc2=size={size}:rate=25", "-frames:v", "10", "-c:v", "libx264",
                        "-pix_fmt", "yuv420p", "-y", str(part)], check=True)
        parts.append(part)
    listing = tmp_path / "list.txt"
    listing.write_text("".join(f"file '{p}'\n" for p in parts))
    joined = tmp_path / "joined.ts"
    subprocess.run(["ffmpeg", "-v", "error", "-f", "concat", "-safe", "0", "-i", str(listing),
                    "-c", "copy", "-y", str(joined)], check=True)
    rc, err = run_ingest(framering_bin, ring_name, joined, "--keep", "--slots", "32")
    assert rc == 0, err
    st = stat_json(framering_bin, ring_name)
    assert st["geometry"]["shape"] == [240, 320, 3]
    ring = RingFile(ring_name)
    assert ring.cursor == 20
    flags = [bool(ring.entry(n)["flags"] & FLAG_RESIZED) for n in range(20)]
    assert flags == [False] * 10 + [True] * 10
    assert err.count("source frame size changed from 320x240 to 160x96") == 1
    assert len(set(ring.payload(15))) > 16, "the scaled frame holds a picture"
    ring.close()


def test_testsrc_graph(framering_bin, ring_name):
    rc, err = run_ingest(framering_bin, ring_name, "testsrc:testsrc2=size=320x240:rate=30",
                         "--keep", "--max-frames", "30")
    assert rc == 0, err
    st = stat_json(framering_bin, ring_name)
    assert st["cursor"] == 30 and st["geometry"]["shape"] == [240, 320, 3]


def test_loop_keeps_timestamps_increasing(framering_bin, ring_name):
    total = 800  # vtest has 795 frames: the last 5 come from the second pass
    rc, err = run_ingest(framering_bin, ring_name, VTEST, "--keep", "--loop", "--slots", "16",
                         "--max-frames", str(total))
    assert rc == 0, err
    ring = RingFile(ring_name)
    assert ring.cursor == total
    pts = [ring.entry(n)["pts_ns"] for n in ring.held()]
    assert all(b - a == 100_000_000 for a, b in zip(pts, pts[1:])), pts
    ring.close()


def test_realtime_publishes_at_stream_timestamps(framering_bin, ring_name):
    # vtest is 10 fps: with pacing, frame 10 cannot be published before 1 s after frame 0, so the
    # run cannot be shorter (a lower bound only: a loaded machine makes it longer, never shorter).
    t0 = time.monotonic()
    rc, err = run_ingest(framering_bin, ring_name, VTEST, "--keep", "--realtime",
                         "--max-frames", "11")
    elapsed = time.monotonic() - t0
    assert rc == 0, err
    assert elapsed >= 1.0
    ring = RingFile(ring_name)
    assert ring.cursor == 11
    ring.close()


@pytest.mark.parametrize("signo", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_stop_signal_closes_the_ring_and_exits_0(framering_bin, ring_name, procs, signo):
    p = procs.start([framering_bin, "ingest", "--ring", ring_name, "--source", str(VTEST),
                     "--realtime", "--loop", "--metrics-addr", "0"], env=ENV)
    seg = SHM / f"framering.{ring_name}"
    wait_for(lambda: seg.exists() and stat_json(framering_bin, ring_name)["cursor"] >= 3,
             timeout=20, what="frames in the ring")
    p.send_signal(signo)
    assert p.wait(timeout=10) == 0
    assert not seg.exists(), "the ring is unlinked on a graceful exit without --keep"


def test_absurd_geometry_is_refused_before_allocating(framering_bin, ring_name):
    rc, err = run_ingest(framering_bin, ring_name, VTEST, "--width", "100000", "--height",
                         "100000")
    assert rc == 2
    assert "--width" in err and "100000" in err
    assert not list(SHM.glob(f"framering.{ring_name}"))


def test_check_config(framering_bin, ring_name, tmp_path):
    ok = subprocess.run([framering_bin, "ingest", "--ring", ring_name, "--source", str(VTEST),
                         "--check-config"], capture_output=True, text=True, env=ENV)
    assert ok.returncode == 0, ok.stderr
    missing = tmp_path / "nope.avi"
    bad = subprocess.run([framering_bin, "ingest", "--ring", ring_name, "--source", str(missing),
                          "--check-config"], capture_output=True, text=True, env=ENV)
    assert bad.returncode == 2 and str(missing) in bad.stderr
    fmt = subprocess.run([framering_bin, "ingest", "--ring", ring_name, "--source", str(VTEST),
                          "--pix-fmt", "yuv9"], capture_output=True, text=True, env=ENV)
    assert fmt.returncode == 2 and "--pix-fmt" in fmt.stderr
    assert not list(SHM.glob(f"framering.{ring_name}"))


def test_check_config_refuses_the_slot_counts_the_ring_refuses(framering_bin, ring_name):
    def ingest(slots, *extra):
        return subprocess.run([framering_bin, "ingest", "--ring", ring_name, "--source", str(VTEST),
                               "--slots", str(slots), "--metrics-addr", "0", *extra],
                              capture_output=True, text=True, env=ENV, timeout=60)
    for slots in (0, 1, 65537):
        checked = ingest(slots, "--check-config")
        assert checked.returncode == 2 and "--slots" in checked.stderr, (slots, checked.stderr)
    run = ingest(1, "--max-frames", "1")  # what --check-config predicts is what a run does
    assert run.returncode == 2 and "--slots" in run.stderr
    for slots in (2, 65536):
        assert ingest(slots, "--check-config").returncode == 0
    assert not list(SHM.glob(f"framering.{ring_name}"))


def test_live_writer_refuses_second_ingest_with_exit_4(framering_bin, ring_name, procs):
    first = procs.start([framering_bin, "ingest", "--ring", ring_name, "--source", str(VTEST),
                         "--realtime", "--loop", "--metrics-addr", "0"], env=ENV)
    wait_for(lambda: (SHM / f"framering.{ring_name}").exists(), timeout=20, what="first ring")
    rc, err = run_ingest(framering_bin, ring_name, VTEST)
    assert rc == 4, err
    assert first.poll() is None


def test_help_lists_every_contract_flag(framering_bin):
    out = subprocess.run([framering_bin, "ingest", "--help"], capture_output=True, text=True)
    assert out.returncode == 0
    for flag in ("--ring", "--source", "--width", "--height", "--pix-fmt", "--slots",
                 "--realtime", "--loop", "--max-frames", "--max-retries", "--decode-threads",
                 "--metrics-addr", "--shm-mode", "--shm-group", "--keep", "--check-config",
                 "--log-level", "testsrc:", "npy:", "rtsp://"):
        assert flag in out.stdout, flag
