"""Untrusted segments: random, truncated and corrupted headers raise BadHeaderError (or another
documented RingError), never IndexError, struct.error or a crash - and the Python reader accepts
exactly the headers the C++ reader (`framering stat`) accepts."""
import os
import random
import struct
import subprocess

import numpy as np
import pytest

import framering
from framering import layout as L
from framering.header import Geometry, plan_layout, write_header


def valid_segment(shape=(6, 10, 3), typestr="|u1", slots=3, pix_fmt=L.PIX_BGR24):
    info = plan_layout("fuzz", Geometry(typestr, shape, pix_fmt, 30, 1), slots)
    info.epoch, info.writer_pid, info.created_realtime_ns = 0x1234, 42, 1
    buf = bytearray(info.segment_bytes)
    write_header(buf, info)
    return buf


def test_valid_segment_parses():
    info = framering.parse_header(valid_segment())
    assert (info.slots, info.geometry.shape, info.frame_bytes, info.slot_stride) == (3, (6, 10, 3), 180, 4096)


def test_random_bytes_raise_bad_header():
    rng = random.Random(1)
    for _ in range(400):
        data = rng.randbytes(rng.choice([0, 1, 7, 100, 4095, 4096, 8192, rng.randrange(20000)]))
        if rng.random() < 0.5 and len(data) >= 8:  # get past the magic check
            data = L.MAGIC_BYTES + data[8:]
        with pytest.raises(framering.BadHeaderError, match="not a valid framering ring"):
            framering.parse_header(data)


def test_truncated_or_padded_segments_raise_bad_header():
    seg = bytes(valid_segment())
    rng = random.Random(2)
    for size in [0, 8, 4095] + [rng.randrange(4096, len(seg)) for _ in range(50)] + [len(seg) - 1]:
        with pytest.raises(framering.BadHeaderError, match="truncated|smaller than"):
            framering.parse_header(seg[:size])
    with pytest.raises(framering.BadHeaderError, match="truncated or padded"):
        framering.parse_header(seg + bytes(4096))


# (field offset, struct format, bad value, what the error names)
CORRUPTIONS = [
    (L.hdr.MAGIC, "<Q", 0, "wrong magic"),
    (L.hdr.VERSION, "<I", 2, "format version 2"),
    (L.hdr.HEADER_BYTES, "<I", 8192, "header_bytes"),
    (L.hdr.SLOT_ENTRY_BYTES, "<I", 64, "slot_entry_bytes"),
    (L.hdr.SLOT_COUNT, "<I", 1, "slot_count"),
    (L.hdr.SLOT_COUNT, "<I", 65537, "slot_count"),
    (L.hdr.SLOT_COUNT, "<I", 4, "slot_table|payload|segment"),
    (L.hdr.TYPESTR, "<Q", int.from_bytes(b">f4", "little"), "typestr"),
    (L.hdr.TYPESTR, "<Q", 0xFFFFFFFFFFFFFFFF, "typestr"),
    (L.hdr.NDIM, "<I", 0, "ndim"),
    (L.hdr.NDIM, "<I", 5, "ndim"),
    (L.hdr.NDIM, "<I", 2, "pix_fmt|strides|frame_bytes"),
    (L.hdr.SHAPE, "<Q", 0, "frame size overflows"),
    (L.hdr.SHAPE, "<Q", 1 << 63, "frame size overflows"),
    (L.hdr.SHAPE, "<Q", 1 << 31, "frame size overflows"),
    (L.hdr.SHAPE, "<Q", 7, "frame_bytes"),
    (L.hdr.SHAPE + 8, "<Q", 11, "strides"),
    (L.hdr.STRIDES, "<Q", 31, "strides"),
    (L.hdr.PIX_FMT, "<I", 4, "pix_fmt"),
    (L.hdr.SLOT_TABLE_OFFSET, "<Q", 0, "slot_table_offset"),
    (L.hdr.SLOT_TABLE_BYTES, "<Q", 1 << 62, "slot_table_bytes"),
    (L.hdr.PAYLOAD_OFFSET, "<Q", 4096, "payload_offset"),
    (L.hdr.SLOT_STRIDE, "<Q", 180, "slot_stride"),
    (L.hdr.FRAME_BYTES, "<Q", 181, "frame_bytes"),
    (L.hdr.SEGMENT_BYTES, "<Q", (1 << 64) - 1, "segment_bytes"),
]


@pytest.mark.parametrize("offset,fmt,value,what", CORRUPTIONS)
def test_each_corrupt_field_is_named(offset, fmt, value, what):
    seg = valid_segment()
    struct.pack_into(fmt, seg, offset, value)
    with pytest.raises(framering.BadHeaderError, match=what):
        framering.parse_header(seg)


def mutate(seg, rng):
    """Overwrites one header field (or a few random bytes) with an interesting value."""
    seg = bytearray(seg)
    if rng.random() < 0.3:
        for _ in range(rng.randrange(1, 4)):
            seg[rng.randrange(256)] = rng.randrange(256)
        return seg
    offset = rng.choice([o for o in vars(L.hdr).values() if isinstance(o, int) and o < 256])
    value = rng.choice([0, 1, 2, 3, 4, 5, 128, 4096, 8192, 65536, 1 << 31, 1 << 32, 1 << 63,
                        rng.getrandbits(32), rng.getrandbits(64)])
    size = 4 if offset in (L.hdr.VERSION, L.hdr.HEADER_BYTES, L.hdr.SLOT_ENTRY_BYTES,
                           L.hdr.SLOT_COUNT, L.hdr.WRITER_PID, L.hdr.PIX_FMT, L.hdr.NDIM,
                           L.hdr.RATE_NUM, L.hdr.RATE_DEN) else 8
    seg[offset:offset + size] = (value & ((1 << (8 * size)) - 1)).to_bytes(size, "little")
    return seg


def test_mutated_headers_never_raise_anything_but_bad_header():
    base = bytes(valid_segment(shape=(5, 7), typestr="<u2", slots=4, pix_fmt=L.PIX_RAW))
    rng = random.Random(3)
    accepted = 0
    for _ in range(2000):
        try:
            framering.parse_header(mutate(base, rng))
            accepted += 1
        except framering.BadHeaderError:
            pass
    assert 0 < accepted < 2000  # both paths exercised


def attach_outcome(name):
    try:
        framering.Ring(name).close()
        return "ok"
    except framering.BadHeaderError:
        return "bad"


def test_python_and_cpp_readers_accept_the_same_headers(framering_bin, tmp_path, monkeypatch):
    monkeypatch.setenv("FRAMERING_SHM_DIR", str(tmp_path))
    base = bytes(valid_segment(shape=(4, 6, 1), slots=2, pix_fmt=L.PIX_GRAY8))
    rng = random.Random(4)
    seen = {"ok": 0, "bad": 0}
    for i in range(24):
        name = f"fz{i}"
        seg = mutate(base, rng) if i % 8 else base[:rng.randrange(len(base))]
        (tmp_path / f"framering.{name}").write_bytes(seg)
        py = attach_outcome(name)
        cpp = subprocess.run([framering_bin, "stat", "--json", name], capture_output=True, text=True,
                             env=dict(os.environ), timeout=20)
        assert cpp.returncode in (0, 4), cpp.stderr
        assert py == ("ok" if cpp.returncode == 0 else "bad"), (seg[:256].hex(), cpp.stderr)
        if cpp.returncode == 4:
            assert "not a valid framering ring" in cpp.stderr
        seen[py] += 1
        os.unlink(tmp_path / f"framering.{name}")
    assert seen["ok"] > 0 and seen["bad"] > 0


def test_attach_to_files_that_are_not_rings(tmp_path, monkeypatch):
    monkeypatch.setenv("FRAMERING_SHM_DIR", str(tmp_path))
    (tmp_path / "framering.empty").write_bytes(b"")
    (tmp_path / "framering.small").write_bytes(b"x" * 100)
    (tmp_path / "framering.noise").write_bytes(np.random.default_rng(5).bytes(3 * 4096))
    (tmp_path / "framering.dir").mkdir()
    os.symlink(tmp_path / "framering.noise", tmp_path / "framering.link")
    for name, error, words in [("empty", framering.BadHeaderError, "smaller than the 4096-byte header"),
                               ("small", framering.BadHeaderError, "100 bytes"),
                               ("noise", framering.BadHeaderError, "wrong magic"),
                               ("dir", framering.RingError, "framering.dir"),
                               ("link", framering.RingError, "framering.link"),
                               ("missing", framering.NotFoundError, "does not exist")]:
        with pytest.raises(error, match=words) as caught:
            framering.Ring(name)
        assert f"ring '{name}'" in str(caught.value)
        assert caught.value.exit_code == 4
    with pytest.raises(framering.InvalidArgumentError) as caught:
        framering.Ring("../etc/passwd")
    assert caught.value.exit_code == 2
