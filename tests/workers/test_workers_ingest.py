"""framering worker against real `framering ingest` processes decoding vtest.avi."""
import json
import os
import pathlib
import signal
import subprocess

import pytest

from workers_helpers import VTEST, ffmpeg_crcs, read_events, wait_for

SHM = pathlib.Path(os.environ.get("FRAMERING_SHM_DIR", "/dev/shm"))


def ingest_cmd(bin_, ring, *extra):
    return [bin_, "ingest", "--ring", ring, "--source", str(VTEST), "--metrics-addr", "0", *extra]


def worker_cmd(bin_, ring, analytic, events, *extra, metrics="0"):
    return [bin_, "worker", "--ring", ring, "--analytic", analytic, "--events", str(events),
            "--metrics-addr", metrics, *extra]


def run(args, timeout=60):
    p = subprocess.run(args, capture_output=True, text=True, timeout=timeout)
    return p.returncode, p.stderr


def start_waiting_worker(procs, framering_bin, ring, events, log, *extra):
    """A checksum worker started before its ring exists, logging to `log`; returns once it says
    it waits for the ring (so an ingest started next cannot finish before it attaches)."""
    with open(log, "w") as log_file:
        worker = procs.start(worker_cmd(framering_bin, ring, "checksum", events, *extra),
                             stderr=log_file, stdout=subprocess.DEVNULL)
    wait_for(lambda: "waiting for ring" in log.read_text(), 30, "the worker to wait for its ring")
    return worker


def test_checksum_of_every_frame_matches_ffmpeg_with_no_drops(framering_bin, ring_name, procs,
                                                              tmp_path):
    want = ffmpeg_crcs()
    events = tmp_path / "events.jsonl"
    log = tmp_path / "worker.log"
    # Started before the ring exists (the ingest starts once it says it waits); the ring holds the
    # whole clip, so nothing can be lapped, and --keep leaves it for the worker even if the ingest
    # is done before the worker's next attach attempt.
    worker = start_waiting_worker(procs, framering_bin, ring_name, events, log, "--mode", "every",
                                  "--max-frames", str(len(want)))
    rc, err = run(ingest_cmd(framering_bin, ring_name, "--slots", str(len(want) + 5), "--keep"))
    assert rc == 0, err
    worker.wait(timeout=60)
    werr = log.read_text()
    assert worker.returncode == 0, werr
    assert "0 lapped, 0 torn, 0 skipped" in werr
    got = read_events(events)
    assert [e["frame_no"] for e in got] == list(range(len(want)))
    assert [e["crc32"] for e in got] == list(want)
    assert all(e["kind"] == "checksum" and e["ring"] == ring_name for e in got)


def test_consumer_group_of_three_splits_the_stream_disjointly(framering_bin, ring_name, procs,
                                                              tmp_path):
    n, members = 150, 3
    want = ffmpeg_crcs()
    workers = []
    for m in range(members):
        ev = tmp_path / f"member{m}.jsonl"
        p = procs.start(worker_cmd(framering_bin, ring_name, "checksum", ev, "--mode", "every",
                                   "--group", "g", "--member", str(m), "--members", str(members),
                                   "--max-frames", str(n // members)), text=True)
        workers.append((p, ev))
    # --keep: the ingest may publish all frames and exit before a member's next attach attempt;
    # the kept (CLOSED) ring still holds every frame for members that attach late.
    rc, err = run(ingest_cmd(framering_bin, ring_name, "--slots", str(n + 10), "--max-frames", str(n),
                             "--keep"))
    assert rc == 0, err
    seen = []
    for m, (p, ev) in enumerate(workers):
        _, werr = p.communicate(timeout=60)
        assert p.returncode == 0, werr
        frames = [e["frame_no"] for e in read_events(ev)]
        assert all(f % members == m for f in frames)
        assert all(e["worker"] == f"checksum-{m}" for e in read_events(ev))
        assert all(e["crc32"] == want[e["frame_no"]] for e in read_events(ev))
        seen.append(set(frames))
    assert set.union(*seen) == set(range(n))
    assert sum(len(s) for s in seen) == n  # disjoint


def test_worker_waits_for_ingest_and_resumes_after_sigkill_restart(framering_bin, ring_name, procs,
                                                                   tmp_path):
    want = ffmpeg_crcs()
    events = tmp_path / "events.jsonl"
    log = tmp_path / "worker.log"
    worker = start_waiting_worker(procs, framering_bin, ring_name, events, log, "--mode", "every")
    first = procs.start(ingest_cmd(framering_bin, ring_name, "--realtime", "--loop", "--slots", "16"))
    wait_for(lambda: len(read_events(events)) >= 5, 30, "frames of the first ingest")
    first.send_signal(signal.SIGKILL)
    first.wait()
    wait_for(lambda: "is gone" in log.read_text(), 30, "the worker to notice the dead writer")
    assert worker.poll() is None, "the worker must survive its writer"
    before = len(read_events(events))

    second = procs.start(ingest_cmd(framering_bin, ring_name, "--realtime", "--max-frames", "20",
                                    "--slots", "32"))
    wait_for(lambda: len(read_events(events)) >= before + 20, 30, "frames of the restarted ingest")
    assert second.wait(timeout=30) == 0
    after = read_events(events)[before:]
    assert [e["frame_no"] for e in after] == list(range(20))  # the new stream, from its start
    assert all(e["crc32"] == want[e["frame_no"]] for e in after)
    assert worker.poll() is None
    worker.send_signal(signal.SIGTERM)
    assert worker.wait(timeout=10) == 0
    text = log.read_text()
    assert "new writer; resuming" in text
    epochs = [line.split("epoch ")[1].split(",")[0] for line in text.splitlines() if "epoch " in line]
    assert len(set(epochs)) == 2, text


def test_people_finds_pedestrians_in_most_frames(framering_bin, ring_name, tmp_path):
    n = 24  # HOG is the slow analytic (~12 fps on a free core); a second of video is enough
    rc, err = run(ingest_cmd(framering_bin, ring_name, "--keep", "--slots", "32", "--max-frames", str(n)))
    assert rc == 0, err
    events = tmp_path / "people.jsonl"
    rc, err = run(worker_cmd(framering_bin, ring_name, "people", events, "--mode", "every",
                             "--max-frames", str(n)), timeout=120)
    assert rc == 0, err
    got = read_events(events)
    # Pedestrians are in view all along: one occupancy lifecycle (start, updates when the count
    # changes, end when the worker stops), not one line per frame.
    assert got[0]["type"] == "start" and got[0]["frame_no"] <= 5, got[0]
    assert got[-1]["type"] == "end" and got[-1]["end_reason"] == "stopped", got[-1]
    assert all(e["type"] == "update" for e in got[1:-1]), got
    assert len({e["id"] for e in got}) == 1, got
    assert len(got) < n, f"{len(got)} events for {n} frames: per-frame lines are back"
    for e in got:
        assert e["kind"] == "people" and e["schema_version"] == 1
        assert len(e["boxes"]) == len(e["scores"])
        if e["type"] != "end":
            assert len(e["boxes"]) == e["count"] > 0
        for x, y, w, h in e["boxes"]:
            assert 0 <= x and 0 <= y and w > 0 and h > w and x + w <= 768 and y + h <= 576


def test_motion_emits_motion_events(framering_bin, ring_name, tmp_path):
    n = 80
    rc, err = run(ingest_cmd(framering_bin, ring_name, "--keep", "--slots", "96", "--max-frames", str(n)))
    assert rc == 0, err
    events = tmp_path / "motion.jsonl"
    rc, err = run(worker_cmd(framering_bin, ring_name, "motion", events, "--mode", "every",
                             "--max-frames", str(n), "--param", "min_area=300", "--param",
                             "end_frames=3"))
    assert rc == 0, err
    got = read_events(events)
    starts = [e for e in got if e["type"] == "start"]
    assert starts, got
    ends = [e for e in got if e["type"] == "end"]
    assert [e["id"] for e in starts] == [e["id"] for e in ends], "each start ends, in order"
    for e in got:
        assert e["kind"] == "motion" and e["type"] in ("start", "end")
        for x, y, w, h in e["boxes"]:
            assert 0 <= x and 0 <= y and w > 0 and h > 0 and x + w <= 768 and y + h <= 576


def scrape(port):
    import urllib.request
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
        text = r.read().decode()
    samples = {}
    for line in text.splitlines():
        if line.startswith("framering_"):
            name, value = line.rsplit(" ", 1)
            samples[name] = float(value)
    return samples


def test_stat_and_metrics_show_the_worker_reading_in_place(framering_bin, ring_name, procs,
                                                           tmp_path, port):
    n, fb = 10, 768 * 576 * 3
    worker = procs.start(worker_cmd(framering_bin, ring_name, "checksum", tmp_path / "e.jsonl",
                                    "--name", "crc-live", "--mode", "every",
                                    metrics=f"127.0.0.1:{port}"))
    # More slots than frames: however late the worker attaches (it retries every 200 ms), the
    # ring still holds frame 0, so it reads all n.
    procs.start(ingest_cmd(framering_bin, ring_name, "--realtime", "--keep", "--slots", str(n + 6),
                           "--max-frames", str(n)))

    def reader():
        p = subprocess.run([framering_bin, "stat", "--json", ring_name], capture_output=True,
                           text=True)
        if p.returncode != 0:
            return None
        readers = [r for r in json.loads(p.stdout)[0]["readers"] if r["reader"] == "crc-live"]
        return readers[0] if readers and readers[0]["position"] == n else None

    r = wait_for(reader, 30, "the worker in framering stat at the end of the stream")
    assert r["same_epoch"] and r["lag"] == 0
    assert r["frames_read"] == n and r["dropped"] == {"lapped": 0, "torn": 0, "skipped": 0}
    assert r["bytes_copied"] == 0
    assert r["bytes_in_place"] == r["frames_read"] * fb
    m = scrape(port)
    labels = f'ring="{ring_name}",worker="crc-live"'
    assert m[f"framering_frames_read_total{{{labels}}}"] == r["frames_read"]
    assert m[f"framering_bytes_read_in_place_total{{{labels}}}"] == r["bytes_in_place"]
    assert m[f'framering_bytes_copied_total{{component="worker",ring="{ring_name}"}}'] == 0
    assert m[f'framering_events_total{{kind="checksum",{labels}}}'] == r["frames_read"]
    assert m[f"framering_frame_latency_seconds_count{{{labels}}}"] == r["frames_read"]
    worker.send_signal(signal.SIGTERM)
    assert worker.wait(timeout=10) == 0


def test_config_errors_exit_2_and_a_non_ring_segment_exits_4(framering_bin, ring_name, tmp_path):
    rc, err = run(worker_cmd(framering_bin, ring_name, "motion", "-", "--param", "min_aera=5"))
    assert rc == 2 and "min_aera" in err and "min_area" in err
    rc, err = run(worker_cmd(framering_bin, ring_name, "checksum", "-", "--group", "g", "--member",
                             "3", "--members", "3"))
    assert rc == 2 and "--member 3" in err
    (SHM / f"framering.{ring_name}").write_bytes(b"not a ring" * 1000)
    rc, err = run(worker_cmd(framering_bin, ring_name, "checksum", "-"))
    assert rc == 4 and "not a valid framering ring" in err, err


def stat_reader(framering_bin, ring, worker, position):
    """The worker's entry in `framering stat --json` once it has reached `position`, else None."""
    p = subprocess.run([framering_bin, "stat", "--json", ring], capture_output=True, text=True)
    if p.returncode != 0:
        return None
    readers = [r for r in json.loads(p.stdout)[0]["readers"] if r["reader"] == worker]
    return readers[0] if readers and readers[0]["position"] == position else None


@pytest.mark.parametrize("analytic", ["motion", "tamper"])
def test_grey_ring_is_analysed_in_place_with_no_copy(framering_bin, ring_name, procs, tmp_path,
                                                     port, analytic):
    # A gray8 ring no wider than the analytic's processing width: the frame needs neither a
    # downscale nor a conversion, so the analytic reads the slot itself; nothing may be copied.
    n, fb = 12, 320 * 240
    worker = procs.start(worker_cmd(framering_bin, ring_name, analytic, tmp_path / "e.jsonl",
                                    "--name", "grey", "--mode", "every", "--param", "width=320",
                                    metrics=f"127.0.0.1:{port}"))
    procs.start(ingest_cmd(framering_bin, ring_name, "--pix-fmt", "gray8", "--width", "320",
                           "--height", "240", "--keep", "--slots", str(n + 6), "--max-frames",
                           str(n)))
    r = wait_for(lambda: stat_reader(framering_bin, ring_name, "grey", n), 30,
                 "the worker in framering stat at the end of the stream")
    assert r["frames_read"] == n and r["dropped"] == {"lapped": 0, "torn": 0, "skipped": 0}
    assert r["bytes_in_place"] == n * fb
    assert r["bytes_copied"] == 0
    m = scrape(port)
    labels = f'ring="{ring_name}",worker="grey"'
    assert m[f"framering_bytes_read_in_place_total{{{labels}}}"] == n * fb
    assert m[f'framering_bytes_copied_total{{component="worker",ring="{ring_name}"}}'] == 0
    worker.send_signal(signal.SIGTERM)
    assert worker.wait(timeout=10) == 0
