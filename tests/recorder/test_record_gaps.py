"""framering record where footage could be lost, repeated or mixed up: a clips-only recorder, a
recorder killed and restarted on the same history, a packet too large for the ring, an ingest
without room for its packet ring, and the leftovers of failed segments under retention. Real
processes and media; each test is a few seconds."""
import datetime
import json
import re
import signal
import subprocess
import time
import urllib.request

import pytest
from record_helpers import (ENV, SHM, VTEST, decode_errors, ingest_cmd, make_h264, parts, probe,
                            record_cmd, segments, wait_for)
from packet_ring_reader import PacketRing  # noqa: E402  (tests/ingest: record_helpers' path)

NAME_TIME = re.compile(r"-(\d{8}T\d{6}\.\d{3})Z(-\d+)?\.mp4$")


def stop(p, sig=signal.SIGTERM, timeout=20):
    p.send_signal(sig)
    _, err = p.communicate(timeout=timeout)
    return p.returncode, err


def record(framering_bin, *args):
    return subprocess.run([framering_bin, "record", *args], env=ENV, capture_output=True,
                          text=True, timeout=30)


def test_clips_only_recorder_needs_no_dir(framering_bin, ring_name, procs, tmp_path):
    events = tmp_path / "events.jsonl"
    events.touch()
    # Usage: segments need --dir, clips-only needs --clips, and both say what to do.
    p = record(framering_bin, "--ring", ring_name)
    assert p.returncode == 2 and "--dir" in p.stderr and "--no-segments" in p.stderr, p.stderr
    p = record(framering_bin, "--ring", ring_name, "--no-segments")
    assert p.returncode == 2 and "--no-segments" in p.stderr and "--clips" in p.stderr, p.stderr
    p = record(framering_bin, "--ring", ring_name, "--no-segments", "--dir", str(tmp_path / "d"),
               "--clips", str(tmp_path / "c"), "--events", str(events))
    assert p.returncode == 2 and "--dir" in p.stderr and "--no-segments" in p.stderr, p.stderr
    p = record(framering_bin, "--ring", ring_name, "--no-segments", "--clips",
               str(tmp_path / "c"), "--events", str(events), "--check-config")
    assert p.returncode == 0, p.stderr
    # The YAML twin: `segments: false` needs clips, and no dir.
    cfg = tmp_path / "run.yaml"
    cfg.write_text("cameras:\n  c:\n    source: a.mp4\n    record:\n      segments: false\n")
    p = subprocess.run([framering_bin, "run", str(cfg), "--check-config"], env=ENV,
                       capture_output=True, text=True, timeout=30)
    assert p.returncode == 2 and "record.segments" in p.stderr and "record.clips" in p.stderr, \
        p.stderr

    # A real clips-only recorder: a motion event gets its clip, and no segment is written.
    clips = tmp_path / "clips"
    rec = procs.start([framering_bin, "record", "--ring", ring_name, "--no-segments", "--clips",
                       str(clips), "--events", str(events), "--pre", "1", "--post", "1"],
                      env=ENV, text=True)
    ing = procs.start(ingest_cmd(framering_bin, ring_name, VTEST, "--realtime", "--max-frames",
                                 "40"), env=ENV)
    worker = procs.start([framering_bin, "worker", "--ring", ring_name, "--analytic", "motion",
                          "--events", str(events), "--mode", "every", "--metrics-addr", "0",
                          "--param", "min_area=300", "--param", "end_frames=3"], env=ENV)
    assert ing.wait(timeout=60) == 0
    worker.send_signal(signal.SIGTERM)
    assert worker.wait(timeout=20) == 0

    def clip_updates():
        return [json.loads(line) for line in events.read_text().splitlines()
                if line.strip() and "clip" in json.loads(line)]
    update = wait_for(clip_updates, 30, "a clip update")[0]
    rc, err = stop(rec)
    assert rc == 0, err
    assert decode_errors(update["clip"]) == ""
    written = [p for p in tmp_path.rglob("*") if p.is_file() and p not in (events, cfg)]
    assert written and all(clips in p.parents for p in written), f"not only clips: {written}"
    assert "--no-segments" in err


def spans(dir_, camera):
    """(start s, end s, packet hashes) of each finished segment, by the UTC time in its name
    (when its first packet was received) and the stream time it covers."""
    out = []
    for seg in segments(dir_, camera):
        stamp = NAME_TIME.search(seg.name).group(1)
        start = datetime.datetime.strptime(stamp, "%Y%m%dT%H%M%S.%f").replace(
            tzinfo=datetime.timezone.utc).timestamp()
        _, packets, _ = probe(seg)
        dts = [float(p["dts_time"]) for p in packets]
        covered = dts[-1] + float(packets[-1]["duration_time"]) - dts[0]
        assert "K" in packets[0]["flags"] and decode_errors(seg) == "", seg
        out.append((start, start + covered, [p["data_hash"] for p in packets]))
    return sorted(out)


@pytest.mark.parametrize("ring", ["holds_everything", "wrapped"])
def test_restarted_recorder_neither_repeats_nor_loses_footage(framering_bin, ring_name, procs,
                                                             tmp_path, ring):
    """kill -9 mid-segment, then a new recorder on the same packet ring — one that still holds
    the whole history, or one that has gone round: it must write neither the history again nor
    leave more than a GOP out."""
    if ring == "wrapped":  # ~600 kB/s: --packet-history 1s makes a 2 MiB ring, round in ~3.5 s
        gop, history = 10, "1s"
        src = make_h264(tmp_path / "src.mp4", seconds=8, gop=gop, size="640x480", bframes=0,
                        extra=("-qp", "0"))
    else:
        gop, history = 25, "30s"
        src = make_h264(tmp_path / "src.mp4", seconds=7, gop=gop, bframes=0)
    ing = procs.start(ingest_cmd(framering_bin, ring_name, src, "--realtime", history=history),
                      env=ENV)
    out = tmp_path / "rec"
    rec = procs.start(record_cmd(framering_bin, ring_name, out, "--segment-seconds", "2"),
                      env=ENV)
    wait_for(lambda: segments(out, ring_name) and
             [p for p in parts(out, ring_name) if p.stat().st_size > 10000], 30,
             "a finished segment and the next one under way")
    if ring == "wrapped":
        packets = PacketRing(SHM / f"framering.{ring_name}.packets")
        wait_for(lambda: packets.tail > packets.capacity, 30, "the writer round the ring")
        packets.close()
    rec.send_signal(signal.SIGKILL)
    rec.wait()
    rec2 = procs.start(record_cmd(framering_bin, ring_name, out, "--segment-seconds", "2"),
                       env=ENV, text=True)
    assert ing.wait(timeout=60) == 0
    wait_for(lambda: not parts(out, ring_name), 20, "the last segment closed")
    rc, err = stop(rec2)
    assert rc == 0, err

    got = spans(out, ring_name)
    assert len(got) >= 3
    for (s0, e0, _), (s1, e1, _) in zip(got, got[1:]):
        # A start is when the ingest received the packet, an end adds stream time: the ingest's
        # pacing delays on a loaded machine show between the two, hence 0.2 s of slack here;
        # the packet hashes below are the exact check.
        assert s1 >= e0 - 0.2, f"segments overlap: {s0:.3f}-{e0:.3f} and {s1:.3f}-{e1:.3f}"
        assert s1 - e0 <= gop / 25 + 0.5, f"more than a GOP missing between {e0:.3f} and {s1:.3f}"
    # Every packet at most once, in source order, and at most one GOP missing.
    _, src_packets, _ = probe(src)
    want = [p["data_hash"] for p in src_packets]
    recorded = [h for _, _, hashes in got for h in hashes]
    assert len(recorded) == len(set(recorded)), "a packet recorded twice"
    index = [want.index(h) for h in recorded]
    assert index == sorted(index)
    assert len(want) - len(recorded) <= gop, f"{len(want) - len(recorded)} packets missing"
    assert "resuming after it" in err


def test_packet_too_large_for_the_ring_ends_the_segment(framering_bin, ring_name, procs,
                                                        tmp_path):
    """A scene whose keyframes exceed a quarter of the (1 MiB) packet ring: the ingest drops
    them, the readers see the gap in packet_no, and the recorder resumes at the next keyframe
    that arrives instead of muxing P-frames without theirs."""
    noise = tmp_path / "noise.png"
    subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i",
                    "nullsrc=s=640x480,geq=random(1)*255:random(2)*255:random(3)*255",
                    "-frames:v", "1", str(noise)], check=True, timeout=60)
    src = tmp_path / "scenes.mp4"
    # 3 s gray (small: sizes the ring at its 1 MiB floor), 2 s of a still noise picture (each
    # lossless keyframe ~ 460 kB > 256 KiB; its P-frames small), 2 s gray again. 1 s GOP.
    subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i",
                    "color=c=gray:s=640x480:r=25:d=3", "-loop", "1", "-framerate", "25", "-t",
                    "2", "-i", str(noise), "-f", "lavfi", "-i", "color=c=gray:s=640x480:r=25:d=2",
                    "-filter_complex",
                    "[1:v]format=yuv420p,setsar=1[n];[0:v][n][2:v]concat=n=3:v=1[v]", "-map",
                    "[v]", "-c:v", "libx264", "-preset", "ultrafast", "-qp", "0", "-g", "25",
                    "-keyint_min", "25", "-sc_threshold", "0", "-bf", "0", "-pix_fmt", "yuv420p",
                    str(src)], check=True, timeout=120)
    _, src_packets, _ = probe(src)
    big = [i for i, p in enumerate(src_packets) if int(p["size"]) > 262144 - 56]
    assert big and all("K" in src_packets[i]["flags"] for i in big), "the test's premise"
    ing = subprocess.run(ingest_cmd(framering_bin, ring_name, src, "--keep", history="1s"),
                         env=ENV, capture_output=True, text=True, timeout=60)
    assert ing.returncode == 0, ing.stderr
    assert "exceeds a quarter of the packet ring" in ing.stderr
    out = tmp_path / "rec"
    rec = procs.start(record_cmd(framering_bin, ring_name, out, "--segment-seconds", "60"),
                      env=ENV, text=True)
    wait_for(lambda: len(segments(out, ring_name)) >= 2 and not parts(out, ring_name), 20,
             "the segments before and after the dropped keyframes")
    rc, err = stop(rec)
    assert rc == 0, err
    assert "dropped by the ingest" in err
    want = [p["data_hash"] for p in src_packets]
    total = 0
    for seg in segments(out, ring_name):
        _, packets, _ = probe(seg)
        assert "K" in packets[0]["flags"] and decode_errors(seg) == "", seg
        got = [p["data_hash"] for p in packets]
        # A segment is a run of consecutive source packets: nothing missing inside it. (Hashes
        # repeat — gray frames are alike — so compare whole runs, not single packets.)
        assert any(want[k:k + len(got)] == got for k in range(len(want))), seg
        total += len(got)
    # Lost: the dropped keyframes' GOPs, from the first to the next keyframe that fitted.
    resumed = next(i for i, p in enumerate(src_packets) if i > big[-1] and "K" in p["flags"])
    assert total == len(want) - (resumed - big[0])


def test_ingest_without_room_for_its_packet_ring_keeps_publishing_frames(framering_bin,
                                                                         ring_name, port):
    """A 1 MiB tmpfs (a private mount namespace) holds the small frame ring but not the packet
    ring (at least 1 MiB + its header): the ingest says so, counts the packets it cannot share,
    and goes on publishing frames."""
    script = ('d=$(mktemp -d) && mount -t tmpfs -o size=1m tmpfs "$d" && '
              f'FRAMERING_SHM_DIR="$d" exec {framering_bin} ingest --ring {ring_name} '
              f'--source {VTEST} --width 160 --height 120 --slots 4 --realtime --max-frames 40 '
              f'--packet-history 30s --metrics-addr 127.0.0.1:{port}')
    ing = subprocess.Popen(["unshare", "-m", "--propagation", "private", "sh", "-c", script],
                           stderr=subprocess.PIPE, text=True)
    try:
        def scrape():
            try:
                text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics",
                                              timeout=2).read().decode()
            except OSError:
                return None
            m = re.search(rf'^framering_packets_dropped_total{{reason="no_ring",'
                          rf'ring="{ring_name}"}} (\S+)$', text, re.M)
            f = re.search(rf'^framering_frames_published_total{{ring="{ring_name}"}} (\S+)$',
                          text, re.M)
            return text if m and f and float(m.group(1)) > 0 and float(f.group(1)) > 0 else None
        text = wait_for(scrape, 30, "frames published and packets counted as not shared")
        assert re.search(rf'^framering_packet_ring_bytes{{ring="{ring_name}"}} 0$', text, re.M)
        _, err = ing.communicate(timeout=60)
    finally:
        if ing.poll() is None:
            ing.kill()
            ing.wait()
    assert ing.returncode == 0, err
    assert "packet ring:" in err and "packets are not shared" in err, err
    assert re.search(r"published 40 frames", err), err


def test_retention_counts_and_removes_failed_segment_leftovers(framering_bin, ring_name, procs,
                                                               tmp_path):
    cam = tmp_path / ring_name
    cam.mkdir()
    broken = cam / f"{ring_name}-20200101T000000.000Z.mp4.part.broken"
    remux = cam / f"{ring_name}-20200101T000001.000Z.mp4.part.remux"
    kept = cam / f"{ring_name}-20200101T000002.000Z.mp4"
    for p in (broken, remux, kept):
        p.write_bytes(b"\0" * 400_000)
    rec = procs.start(record_cmd(framering_bin, ring_name, tmp_path, "--retain-gb", "0.0005",
                                 "--retain-hours", "0"), env=ENV, text=True)
    wait_for(lambda: not broken.exists() and not remux.exists(), 20,
             "the leftovers removed, oldest first")
    assert kept.exists(), "500 kB allows the newest 400 kB one"
    rc, err = stop(rec)
    assert rc == 0, err
    assert "retention: removed" in err and ".broken" in err
