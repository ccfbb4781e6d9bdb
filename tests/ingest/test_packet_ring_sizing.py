"""--packet-history sizes the packet ring from the bit rate the ingest measures over the stream's
first packets, not from a declared one. Two H.264 files four times apart in bit rate get rings
of proportionate sizes, each really holding at least the seconds asked: the oldest and newest
packets still in the ring are read back (with the independent reader of docs/packet-ring.md) and
their timestamps compared."""
import hashlib
import json
import re
import struct
import subprocess

import pytest

from ingest_ring import SHM, run_ingest, stat_json
from packet_ring_reader import PacketRing

HISTORY_S = 2
LATEST = 400
SIZING_BYTES_PER_SECOND, HISTORY_MS, SIZING_BASIS = 192, 200, 208
MEASURED = 1


def make_h264(path, kbit):
    """9 s of 480x270 at 25 fps, keyframe every 25 frames, bit rate held near `kbit` (noise
    gives the encoder something to spend bits on; the VBV keeps it from saving them)."""
    rate = f"{kbit}k"
    subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i",
                    "testsrc2=size=480x270:rate=25:duration=9", "-vf", "noise=alls=40:allf=t",
                    "-c:v", "libx264", "-preset", "ultrafast", "-g", "25", "-bf", "0",
                    "-b:v", rate, "-maxrate", rate, "-minrate", rate, "-bufsize", f"{kbit // 2}k",
                    "-pix_fmt", "yuv420p", "-f", "matroska", str(path)],
                   check=True, timeout=120)
    return path


@pytest.fixture(scope="module")
def media(tmp_path_factory):
    d = tmp_path_factory.mktemp("media")
    return {"low": make_h264(d / "low.mkv", 3000), "high": make_h264(d / "high.mkv", 12000)}


def ffprobe_packets(path):
    out = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_packets",
                          "-show_data_hash", "MD5", "-of", "json", str(path)],
                         capture_output=True, text=True, check=True, timeout=60).stdout
    return json.loads(out)["packets"]


def record_positions(sizes, capacity):
    """Where each packet's record starts (docs/packet-ring.md §4: aligned records, a padding
    record before one that would straddle the wrap)."""
    positions, tail = [], 0
    for n in sizes:
        length = (56 + n + 7) & ~7
        offset = tail & (capacity - 1)
        pad = capacity - offset if offset + length > capacity else 0
        positions.append(tail + pad)
        tail += pad + length
    return positions, tail


def ingest_and_read(framering_bin, ring_name, source):
    rc, err = run_ingest(framering_bin, ring_name, source, "--keep", "--slots", "4",
                         "--packet-history", f"{HISTORY_S}s")
    assert rc == 0, err
    want = ffprobe_packets(source)
    ring = PacketRing(SHM / f"framering.{ring_name}.packets")
    try:
        u64 = lambda off: struct.unpack_from("<Q", ring.map, off)[0]
        u32 = lambda off: struct.unpack_from("<I", ring.map, off)[0]
        sizing = {"bytes_per_second": u64(SIZING_BYTES_PER_SECOND), "history_ms": u64(HISTORY_MS),
                  "basis": u32(SIZING_BASIS)}
        positions, tail = record_positions([int(p["size"]) for p in want], ring.capacity)
        assert ring.tail == tail, "every packet was published, none dropped while measuring"
        assert u64(LATEST) == positions[-1]
        # The oldest record the writer has not overwritten: wholly past tail - capacity.
        oldest_index = next(i for i, pos in enumerate(positions) if pos >= tail - ring.capacity)
        assert oldest_index > 0, "the file is longer than the ring holds: it wrapped"
        oldest, _ = ring.read(positions[oldest_index])
        newest, _ = ring.read(positions[-1])
        for got, index in ((oldest, oldest_index), (newest, len(want) - 1)):
            assert got["packet_no"] == index
            assert "MD5:" + hashlib.md5(got["data"]).hexdigest() == want[index]["data_hash"]
        tb = ring.time_base[0] / ring.time_base[1]
        held_s = (newest["pts"] - oldest["pts"] + newest["duration"]) * tb
        file_s = sum(int(p["duration"]) for p in want) * tb
        file_bytes_per_s = sum(int(p["size"]) for p in want) / file_s
        # `framering stat` reports the same ring: its size, what was published, the seconds it
        # holds (from the writer's `oldest` field, not from our reconstruction) and the sizing.
        st = stat_json(framering_bin, ring_name)["packet_ring"]
        assert st["state"] == "CLOSED" and st["codec"] == "h264"
        assert st["capacity_bytes"] == ring.capacity
        assert st["packets_published"] == len(want) and st["bytes_published"] == tail
        assert st["history_s"] == pytest.approx(held_s, abs=1e-6)
        assert st["history_asked_s"] == HISTORY_S
        assert st["sized_from"] == {"basis": "measured",
                                    "bytes_per_second": sizing["bytes_per_second"]}
        return dict(capacity=ring.capacity, sizing=sizing, held_s=held_s,
                    file_bytes_per_s=file_bytes_per_s, log=err)
    finally:
        ring.close()


def test_packet_ring_sized_from_measured_bit_rate(framering_bin, ring_name, media):
    got = {k: ingest_and_read(framering_bin, f"{ring_name}-{k}", path)
           for k, path in media.items()}
    for k, g in got.items():
        s = g["sizing"]
        assert s["basis"] == MEASURED, k
        assert s["history_ms"] == HISTORY_S * 1000
        # Measured over the first GOP or two: close to the whole file's real rate.
        assert 0.6 < s["bytes_per_second"] / g["file_bytes_per_s"] < 1.6, (k, s, g["file_bytes_per_s"])
        # Capacity = history × measured rate × 2, rounded up to a power of two (floor 1 MiB).
        wanted = max(HISTORY_S * s["bytes_per_second"] * 2, 1 << 20)
        assert g["capacity"] == 1 << (int(wanted) - 1).bit_length(), (k, g["capacity"], wanted)
        assert g["held_s"] >= HISTORY_S, f"{k}: the ring holds only {g['held_s']:.2f} s"
        m = re.search(r"packet ring \S+: h264 480x270, (\d+) KiB for 2 s at a measured (\d+) bit/s",
                      g["log"])
        assert m, g["log"][-2000:]
        assert int(m.group(1)) == g["capacity"] >> 10
        assert int(m.group(2)) == s["bytes_per_second"] * 8
    ratio = got["high"]["capacity"] / got["low"]["capacity"]
    rate_ratio = got["high"]["file_bytes_per_s"] / got["low"]["file_bytes_per_s"]
    assert rate_ratio > 3, "the generated files differ in bit rate as intended"
    assert rate_ratio / 2 <= ratio <= rate_ratio * 2, (ratio, rate_ratio)
