"""Event clips around a real motion event: ingest (vtest.avi, paced), the motion worker writing
its events file, and the recorder cutting a clip from the packet history and announcing it."""
import json
import signal
import subprocess

from record_helpers import (ENV, VTEST, decode_errors, ingest_cmd, probe, record_cmd, wait_for)


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
    # The clip is named after the first event and announced as an update of it.
    assert update["id"] == first_start["id"] and update["type"] == "update"
    assert update["camera"] == ring_name and update["kind"] == "motion"
    clip = clips / ring_name / (first_start["id"] + ".mkv")
    assert update["clip"] == str(clip) and clip.exists()
    # Overlapping events extend a clip instead of making another: fewer clips than starts
    # whenever episodes follow each other within --post.
    assert all(u["id"] in {e["id"] for e in lines if e["type"] == "start"}
               for u in clip_updates(events))
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
