"""`framering stat` shows a live packet ring under its ring (size, packets and bytes published,
seconds held, writer state) and the recorders reading it with their lag, in JSON and as a
table; a killed recorder shows as dead."""
import json
import signal
import subprocess

from record_helpers import ENV, ingest_cmd, make_h264, record_cmd, wait_for


def stat(framering_bin, ring, *args, check=True):
    p = subprocess.run([framering_bin, "stat", ring, "--window", "0", *args], capture_output=True,
                       text=True, timeout=30, env=ENV)
    if not check and p.returncode != 0:
        return None  # the ingest has not created its ring yet
    assert p.returncode == 0, p.stderr
    return p.stdout


def packet_ring(framering_bin, ring, check=True):
    out = stat(framering_bin, ring, "--json", check=check)
    return json.loads(out)[0]["packet_ring"] if out else None


def test_stat_lists_packet_ring_and_its_recorders(framering_bin, ring_name, procs, tmp_path):
    source = make_h264(tmp_path / "src.mp4", 20, 25, bframes=0)
    ing = procs.start(ingest_cmd(framering_bin, ring_name, source, "--realtime", history="3s"),
                      env=ENV)
    recs = [procs.start(record_cmd(framering_bin, ring_name, tmp_path / f"seg{i}"), env=ENV)
            for i in range(2)]
    pids = {f"record-{r.pid}" for r in recs}

    def recorders_reading():
        assert ing.poll() is None, "the ingest ended before the recorders were seen"
        p = packet_ring(framering_bin, ring_name, check=False)
        if not p or "readers" not in p:
            return None
        readers = {r["reader"]: r for r in p["readers"]}
        if set(readers) != pids or any(r["packets_read"] < 25 for r in readers.values()):
            return None
        return p

    p = wait_for(recorders_reading, 30, "both recorders reading the packet ring")
    assert p["state"] == "LIVE" and p["writer_alive"] and p["writer_pid"] == ing.pid
    assert p["codec"] == "h264" and (p["width"], p["height"]) == (320, 240)
    assert p["capacity_bytes"] >= 1 << 20 and p["history_asked_s"] == 3
    assert p["sized_from"]["basis"] == "measured" and p["sized_from"]["bytes_per_second"] > 0
    assert p["packets_published"] >= 25 and p["bytes_published"] > 0
    # Nothing wrapped yet in the first seconds: the ring holds all it was given, ~1 s or more.
    assert p["history_s"] is not None and p["history_s"] > 0.5
    for r in p["readers"]:
        assert r["status"] == "alive" and r["same_epoch"]
        assert 0 <= r["lag_bytes"] <= p["capacity_bytes"]
        assert r["packets_read"] <= p["packets_published"] and r["lapped_packets"] == 0

    table = stat(framering_bin, ring_name)
    assert "PACKET_RING" in table and "PACKET_READER" in table and "measured" in table
    for name in pids:
        assert name in table

    # A recorder killed outright: its stats file stays, its lock is gone: dead.
    recs[0].send_signal(signal.SIGKILL)
    recs[0].wait(timeout=10)
    dead = f"record-{recs[0].pid}"
    wait_for(lambda: {r["reader"]: r["status"] for r in
                      packet_ring(framering_bin, ring_name)["readers"]}.get(dead) == "dead",
             20, "the killed recorder shown dead")
    recs[1].send_signal(signal.SIGTERM)
    assert recs[1].wait(timeout=20) == 0
    # A recorder that stops cleanly removes its file.
    wait_for(lambda: f"record-{recs[1].pid}" not in
             {r["reader"] for r in packet_ring(framering_bin, ring_name)["readers"]}, 10,
             "the stopped recorder's stats file removed")
    ing.send_signal(signal.SIGTERM)
    assert ing.wait(timeout=20) == 0
