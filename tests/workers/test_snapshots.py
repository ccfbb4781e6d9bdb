"""framering worker --snapshots: a JPEG of each event's start frame with its boxes and zones
drawn, named after the event id, kept by count."""
import os
import stat
import subprocess
import time

from PIL import Image

from workers_helpers import VTEST, read_events

ZONE = "0.05,0.05;0.95,0.05;0.95,0.95;0.05,0.95"


def run_motion(bin_, ring, events, snapshots, n, *extra, end_frames=3, min_area=300):
    subprocess.run([bin_, "ingest", "--ring", ring, "--source", str(VTEST), "--metrics-addr", "0",
                    "--keep", "--slots", str(n + 16), "--max-frames", str(n)], check=True,
                   capture_output=True)
    p = subprocess.run([bin_, "worker", "--ring", ring, "--analytic", "motion", "--events",
                        str(events), "--metrics-addr", "0", "--mode", "every", "--max-frames",
                        str(n), "--param", f"min_area={min_area}", "--param", f"end_frames={end_frames}",
                        "--snapshots", str(snapshots), "--camera", "lobby", *extra],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    return read_events(events)


def red(px):
    r, g, b = px
    return r > 170 and g < 100 and b < 100


def yellow(px):
    r, g, b = px
    return r > 170 and g > 170 and b < 100


def test_snapshot_is_the_start_frame_with_its_boxes_and_zone_drawn(framering_bin, ring_name,
                                                                   tmp_path):
    snaps = tmp_path / "snaps"
    events = run_motion(framering_bin, ring_name, tmp_path / "ev.jsonl", snaps, 80,
                        "--param", f"zone={ZONE}")
    starts = [e for e in events if e["type"] == "start"]
    assert starts, events
    for e in starts:
        path = e["snapshot"]
        assert path == str(snaps / "lobby" / (e["id"] + ".jpg"))
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
        with Image.open(path) as im:
            assert im.format == "JPEG" and im.size == (768, 576)
            rgb = im.convert("RGB")
            for x, y, w, h in e["boxes"]:
                # Middle of the left and the top edge of each box: red.
                assert red(rgb.getpixel((x, y + h // 2))), (path, (x, y, w, h))
                assert red(rgb.getpixel((x + w // 2, y))), (path, (x, y, w, h))
            # The zone's outline (a rectangle inset 5 %) where no box is near: yellow.
            zone = e["zones"][0]
            assert zone == [[38, 29], [730, 29], [730, 547], [38, 547]]
            near_box = lambda px, py: any(bx - 3 <= px <= bx + bw + 3 and by - 3 <= py <= by + bh + 3
                                          for bx, by, bw, bh in e["boxes"])
            probes = [(38, yy) for yy in range(40, 540, 20)] + [(xx, 547) for xx in range(50, 720, 20)]
            free = [(px, py) for px, py in probes if not near_box(px, py)]
            assert free
            assert all(yellow(rgb.getpixel(p)) for p in free), path
            # Away from any drawing the picture is the video, not a colour fill.
            assert not red(rgb.getpixel((400, 10))) and not yellow(rgb.getpixel((400, 10)))
    # Updates and ends carry their start's snapshot; the end of the episode too.
    for e in events:
        if e["type"] == "end" and "id" in e:
            start = next(s for s in starts if s["id"] == e["id"])
            assert e["snapshot"] == start["snapshot"]


def test_snapshots_are_kept_by_count(framering_bin, ring_name, tmp_path):
    snaps = tmp_path / "snaps"
    events = run_motion(framering_bin, ring_name, tmp_path / "ev.jsonl", snaps, 120,
                        "--snapshot-keep", "2", end_frames=1, min_area=3000)  # short episodes
    starts = [e for e in events if e["type"] == "start"]
    assert len(starts) >= 3, f"need 3 starts to see retention, got {len(starts)}"
    kept = sorted(p.name for p in (snaps / "lobby").iterdir())
    assert kept == sorted(os.path.basename(e["snapshot"]) for e in starts[-2:])


def test_snapshots_older_than_max_age_are_removed(framering_bin, ring_name, tmp_path):
    # Two pictures from an earlier run: one two hours old, one a minute old. With
    # --snapshot-max-age 3600 the first new snapshot removes the old one and keeps the other.
    camera_dir = tmp_path / "snaps" / "lobby"
    camera_dir.mkdir(parents=True, mode=0o700)
    old, recent = camera_dir / "old.jpg", camera_dir / "recent.jpg"
    now = time.time()
    for path, age in ((old, 7200), (recent, 60)):
        path.write_bytes(b"\xff\xd8\xff\xe0 earlier run")
        os.utime(path, (now - age, now - age))
    events = run_motion(framering_bin, ring_name, tmp_path / "ev.jsonl", tmp_path / "snaps", 30,
                        "--snapshot-max-age", "3600")
    starts = [e for e in events if e["type"] == "start"]
    assert starts, events
    kept = sorted(p.name for p in camera_dir.iterdir())
    assert kept == sorted(["recent.jpg"] + [os.path.basename(e["snapshot"]) for e in starts])
