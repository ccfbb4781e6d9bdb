"""Event clips around a real motion event: ingest (vtest.avi, paced), the motion worker writing
its events file, and the recorder cutting a clip from the packet history and announcing it."""
import hashlib
import json
import pathlib
import re
import signal
import time

import pytest

from record_helpers import (ENV, SHM, VTEST, decode_errors, ingest_cmd, make_h264, probe,
                            record_cmd, wait_for)
from packet_ring_reader import LATEST, TAIL_INTENT, BadPacketRing, Lapped, PacketRing


def clip_updates(events):
    if not events.exists():
        return []
    return [json.loads(line) for line in events.read_text().splitlines()
            if line.strip() and "clip" in json.loads(line)]


def test_motion_event_clip_from_packet_history(framering_bin, ring_name, procs, tmp_path):
    events = tmp_path / "events.jsonl"
    events.touch()
    clips = tmp_path / "clips"
    rec = procs.start(record_cmd(framering_bin, ring_name, tmp_path / "segments", "--clips",
                                 str(clips), "--events", str(events), "--pre", "1", "--post",
                                 "1"), env=ENV, text=True)
    # A second recorder that clips only `people` events: the motion events give it nothing.
    other = procs.start(record_cmd(framering_bin, ring_name, tmp_path / "segments2", "--clips",
                                   str(tmp_path / "people-clips"), "--events", str(events),
                                   "--clip-kinds", "people,tamper"), env=ENV, text=True)
    ing = procs.start(ingest_cmd(framering_bin, ring_name, VTEST, "--realtime", "--max-frames",
                                 "40"), env=ENV)
    wait_for(lambda: (tmp_path / "segments" / ring_name).exists(), 20, "the recorder attached")
    worker = procs.start([framering_bin, "worker", "--ring", ring_name, "--analytic", "motion",
                          "--events", str(events), "--mode", "every", "--metrics-addr", "0",
                          "--param", "min_area=300", "--param", "end_frames=3"], env=ENV)
    assert ing.wait(timeout=60) == 0
    # The worker ends its open lifecycles when it stops.
    worker.send_signal(signal.SIGTERM)
    assert worker.wait(timeout=20) == 0
    update = wait_for(lambda: clip_updates(events), 30, "the clip's update line")[0]
    lines = [json.loads(line) for line in events.read_text().splitlines() if line.strip()]
    first_start = next(e for e in lines if e["type"] == "start")
    # The worker says when its frame was captured: before it wrote the event.
    assert 0 < first_start["capture_ns"] <= first_start["start_time_ns"]
    # The clip is named after the first event and announced as an update of it.
    assert update["id"] == first_start["id"] and update["type"] == "update"
    assert update["camera"] == ring_name and update["kind"] == "motion"
    clip = clips / ring_name / (first_start["id"] + ".mkv")
    assert update["clip"] == str(clip) and clip.exists()
    # Each clip is announced once, as an update of a start (overlapping events sharing one
    # clip: test_clip_bounds_follow_capture_times_and_overlapping_events_make_one_clip).
    ids = [u["id"] for u in clip_updates(events)]
    assert len(ids) == len(set(ids)) and set(ids) <= {e["id"] for e in lines
                                                        if e["type"] == "start"}
    # MS-MPEG4 v3 (vtest.avi's codec) has no MP4 mapping: Matroska, stream-copied.
    stream, packets, fmt = probe(clip)
    src_stream, src_packets, _ = probe(VTEST)
    assert stream["codec_name"] == src_stream["codec_name"] == "msmpeg4v3"
    assert "K" in packets[0]["flags"]
    assert decode_errors(clip) == ""
    # The pre-roll starts at the keyframe at or before the event (frame 0 here), and the clip
    # holds the source's packets byte for byte.
    assert [p["data_hash"] for p in packets] == [p["data_hash"] for p in
                                                src_packets[:len(packets)]]
    assert len(packets) >= 30
    rec.send_signal(signal.SIGTERM)
    assert rec.wait(timeout=20) == 0
    other.send_signal(signal.SIGTERM)
    assert other.wait(timeout=20) == 0
    assert not list((tmp_path / "people-clips").rglob("*.mkv")), "--clip-kinds people,tamper"


# --- Clips from events the test writes itself: exact times, real ingest and recorder. ---

@pytest.fixture(scope="module")
def gop10(tmp_path_factory):
    """10 s of 320x240 H.264 at 25 fps, a keyframe every 10 frames (0.4 s), B-frames."""
    return make_h264(tmp_path_factory.mktemp("clips") / "gop10.mp4", 10, 10)


def event(ring, type_, id_, capture_ns, kind="motion"):
    """A worker's event as docs/events.md describes it, written later than its frame was
    captured (the analysis latency): start_time_ns/wall_time_ns are now, capture_ns the frame's."""
    now = time.time_ns()
    return {"schema_version": 1, "id": id_, "type": type_, "camera": ring, "ring": ring,
            "worker": "motion", "analytic": "motion", "kind": kind, "wall_time_ns": now,
            "start_time_ns": now, "capture_ns": capture_ns}


def append(path, *events):
    with open(path, "a") as f:
        for e in events:
            f.write(json.dumps(e) + "\n")


def start_recorder(procs, framering_bin, ring, tmp_path, *args):
    """A recorder making clips from tmp_path/events.jsonl."""
    events = tmp_path / "events.jsonl"
    events.touch()
    rec = procs.start(record_cmd(framering_bin, ring, tmp_path / "segments", "--clips",
                                 str(tmp_path / "clips"), "--events", str(events), *args),
                      env=ENV, text=True)
    return rec, events


def attached(rec, ring):
    """Waits until the recorder reads the packet ring (it publishes its reader stats)."""
    stats = SHM / f"framering.{ring}.packets.reader.record-{rec.pid}"
    wait_for(lambda: stats.exists() or rec.poll() is not None, 30, "the recorder attached")
    assert rec.poll() is None, rec.stderr.read()


def ring_packets(ring):
    """Every packet the packet ring holds so far (it must not have wrapped); [] before the
    ingest has made it."""
    try:
        r = PacketRing(SHM / f"framering.{ring}.packets")
    except (OSError, BadPacketRing):
        return []
    try:
        return r.all_packets()
    finally:
        r.close()


def md5(packet):
    return "MD5:" + hashlib.md5(packet["data"]).hexdigest()


def stop(proc):
    proc.send_signal(signal.SIGTERM)
    out = proc.communicate(timeout=20)[1]
    assert proc.returncode == 0, out
    return out


def test_clip_bounds_follow_capture_times_and_overlapping_events_make_one_clip(
        framering_bin, ring_name, procs, tmp_path, gop10):
    # --post 2: the clip's end lies beyond what the recorder has read when the events arrive.
    rec, events = start_recorder(procs, framering_bin, ring_name, tmp_path, "--pre", "1",
                                 "--post", "2")
    procs.start(ingest_cmd(framering_bin, ring_name, gop10, "--realtime"), env=ENV)
    attached(rec, ring_name)
    # Frames captured at 2.0 s (start) and 2.8 s (end) of the stream; the events about them are
    # written seconds later, as a slow detector would.
    wait_for(lambda: len(ring_packets(ring_name)) > 100, 30, "4 s of packets")
    packets = ring_packets(ring_name)
    c0 = packets[0]["capture_realtime_ns"]
    at = lambda s: next(p for p in packets if p["capture_realtime_ns"] >= c0 + s * 1e9)
    start, end = at(2.0)["capture_realtime_ns"], at(2.8)["capture_realtime_ns"]
    append(events, event(ring_name, "start", "1.000001-aaaaaa", start))
    append(events, event(ring_name, "start", "1.000002-bbbbbb", start + 200_000_000))
    append(events, event(ring_name, "end", "1.000001-aaaaaa", end - 200_000_000),
           event(ring_name, "end", "1.000002-bbbbbb", end))
    update = wait_for(lambda: clip_updates(events), 30, "the clip's update line")[0]
    clip = pathlib.Path(update["clip"])
    assert update["id"] == "1.000001-aaaaaa" and clip.exists()
    # From the keyframe at or before start - pre to the last packet before end + post, by
    # capture time: exactly the ring's packets in between.
    packets = ring_packets(ring_name)
    first = max(i for i, p in enumerate(packets)
                if p["keyframe"] and p["capture_realtime_ns"] <= start - 1e9)
    last = max(i for i, p in enumerate(packets) if p["capture_realtime_ns"] < end + 2e9)
    _, got, _ = probe(clip)
    assert [p["data_hash"] for p in got] == [md5(p) for p in packets[first:last + 1]]
    # The same in the file's time (0 = the first packet): it begins within one GOP (0.4 s, and
    # some capture jitter) before start - pre and covers end + post to within 0.2 s.
    t = lambda ns: (ns - packets[first]["capture_realtime_ns"]) / 1e9
    assert 1.0 <= t(start) < 1.0 + 0.4 + 0.2
    assert max(float(p["pts_time"]) for p in got) + 0.04 >= t(end) + 2.0 - 0.2
    assert decode_errors(clip) == ""
    # The two overlapping events made one clip: one update, for the first.
    time.sleep(0.5)
    assert len(clip_updates(events)) == 1
    stop(rec)
    assert len(clip_updates(events)) == 1


def test_open_event_of_a_killed_worker_is_cut_at_max_clip_seconds(framering_bin, ring_name,
                                                                  procs, tmp_path, gop10):
    """A start with no end (its worker was killed with kill -9): the clip is finished at
    --max-clip-seconds while the recorder runs, and a later start makes a clip of its own."""
    rec, events = start_recorder(procs, framering_bin, ring_name, tmp_path, "--pre", "0",
                                 "--post", "0", "--max-clip-seconds", "2")
    procs.start(ingest_cmd(framering_bin, ring_name, gop10, "--realtime", "--loop"), env=ENV)
    attached(rec, ring_name)
    wait_for(lambda: len(ring_packets(ring_name)) > 10, 30, "packets")
    append(events, event(ring_name, "start", "2.000001-dead00", time.time_ns()))
    update = wait_for(lambda: clip_updates(events), 30, "the capped clip")[0]
    assert update["id"] == "2.000001-dead00"
    _, _, fmt = probe(update["clip"])
    assert 1.9 <= float(fmt["duration"]) <= 2.3
    append(events, event(ring_name, "start", "2.000002-later0", time.time_ns()),
           event(ring_name, "end", "2.000002-later0", time.time_ns() + 500_000_000))
    second = wait_for(lambda: clip_updates(events)[1:], 30, "the next event's own clip")[0]
    assert second["id"] == "2.000002-later0"
    assert decode_errors(update["clip"]) == decode_errors(second["clip"]) == ""
    assert "--max-clip-seconds 2" in stop(rec)


def test_clip_starts_at_a_keyframe_when_the_history_holds_none(framering_bin, ring_name, procs,
                                                               tmp_path):
    """A recorder that attaches to a wrapped ring starts reading at its newest packet: in the
    middle of a 3 s GOP its history has no keyframe, and the clip must wait for the next one
    instead of starting with P-frames. --pre beyond the ring's history is warned about."""
    src = make_h264(tmp_path / "gop75.mp4", 9, 75, size="640x480",
                    extra=("-vf", "noise=alls=60:allf=t", "-b:v", "4M"))
    procs.start(ingest_cmd(framering_bin, ring_name, src, "--realtime", "--loop",
                           history="1s"), env=ENV)

    def just_past_a_keyframe():
        try:
            r = PacketRing(SHM / f"framering.{ring_name}.packets")
        except (OSError, BadPacketRing):
            return False
        try:
            if r._u64(TAIL_INTENT) <= r.capacity:
                return False  # not wrapped yet
            p = r.read(r._u64(LATEST))
            return p and not p[0]["keyframe"] and p[0]["packet_no"] % 75 in range(3, 8)
        except Lapped:
            return False
        finally:
            r.close()

    wait_for(just_past_a_keyframe, 30, "a wrapped ring just past a keyframe")
    rec, events = start_recorder(procs, framering_bin, ring_name, tmp_path, "--pre", "5",
                                 "--post", "4")  # the next keyframe comes within the clip
    attached(rec, ring_name)
    append(events, event(ring_name, "start", "3.000001-cccccc", time.time_ns()))
    time.sleep(0.3)
    append(events, event(ring_name, "end", "3.000001-cccccc", time.time_ns()))
    update = wait_for(lambda: clip_updates(events), 30, "the clip's update line")[0]
    _, got, _ = probe(update["clip"])
    assert got and "K" in got[0]["flags"], got[:1]
    assert decode_errors(update["clip"]) == ""
    log = stop(rec)
    assert "--pre 5 s is more than the packet history" in log and "--packet-history 1 s" in log


def test_looped_source_inside_a_clip_resumes_at_a_keyframe_with_rising_time(
        framering_bin, ring_name, procs, tmp_path):
    """--loop restarts the stream's timestamps (the discontinuity flag) while the clip is open:
    the clip goes on at the next keyframe, its time rising by one frame per packet."""
    src = make_h264(tmp_path / "two.mp4", 2, 10)
    procs.start(ingest_cmd(framering_bin, ring_name, src, "--realtime", "--loop"), env=ENV)
    rec, events = start_recorder(procs, framering_bin, ring_name, tmp_path, "--pre", "0",
                                 "--post", "0")
    attached(rec, ring_name)
    wait_for(lambda: len(ring_packets(ring_name)) > 5, 30, "packets")
    append(events, event(ring_name, "start", "4.000001-dddddd", time.time_ns()))
    time.sleep(3.0)  # the 2 s source wraps at least once inside the clip
    append(events, event(ring_name, "end", "4.000001-dddddd", time.time_ns()))
    update = wait_for(lambda: clip_updates(events), 30, "the clip's update line")[0]
    _, got, _ = probe(update["clip"])
    src_hashes = [p["data_hash"] for p in probe(src)[1]]
    # The source's first packet appears after the clip's first: a wrap is inside.
    assert src_hashes[0] in [p["data_hash"] for p in got[1:]], "no wrap inside the clip"
    dts = [int(p["dts"]) for p in got]
    steps = {b - a for a, b in zip(dts, dts[1:])}
    assert len(steps) == 1, f"dts steps {sorted(steps)}: one frame duration throughout"
    assert decode_errors(update["clip"]) == ""
    stop(rec)


def test_events_file_truncated_or_rotated_is_read_from_its_start(framering_bin, ring_name,
                                                                 procs, tmp_path, gop10):
    rec, events = start_recorder(procs, framering_bin, ring_name, tmp_path, "--pre", "0",
                                 "--post", "0")
    procs.start(ingest_cmd(framering_bin, ring_name, gop10, "--realtime", "--loop"), env=ENV)
    attached(rec, ring_name)
    wait_for(lambda: len(ring_packets(ring_name)) > 5, 30, "packets")
    # Another camera's events make the file long, then it is truncated (logrotate copytruncate).
    append(events, *[event("elsewhere", "start", f"5.{i:06d}-eeeeee", 1) for i in range(40)])
    time.sleep(0.5)
    events.write_text("")
    append(events, event(ring_name, "start", "5.100000-ffffff", time.time_ns()),
           event(ring_name, "end", "5.100000-ffffff", time.time_ns() + 300_000_000))
    wait_for(lambda: clip_updates(events), 30, "a clip from the truncated file")
    # Rotated: renamed away, a new (shorter) file under the name.
    events.rename(tmp_path / "events.jsonl.1")
    append(events, event(ring_name, "start", "5.200000-ababab", time.time_ns()),
           event(ring_name, "end", "5.200000-ababab", time.time_ns() + 300_000_000))
    update = wait_for(lambda: clip_updates(events), 30, "a clip from the new file")[0]
    assert update["id"] == "5.200000-ababab"
    # The events file is looked at every 100 ms, not once per packet (25 a second here):
    # count the recorder's read system calls over 2 s.
    io = pathlib.Path(f"/proc/{rec.pid}/io")
    reads = lambda: int(re.search(r"syscr: (\d+)", io.read_text()).group(1))
    before, t0 = reads(), time.monotonic()
    time.sleep(2.0)
    per_second = (reads() - before) / (time.monotonic() - t0)
    assert per_second < 20, f"{per_second:.0f} reads/s"
    log = stop(rec)
    assert "was truncated" in log and "was replaced (rotated)" in log
