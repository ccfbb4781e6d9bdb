"""framering ingest npy:<dir or glob>: arrays written by numpy come back bit-exact."""
import subprocess

import numpy as np

from ingest_ring import ENV, RingFile, run_ingest, stat_json, summary


def write_stack(directory, arrays, prefix="f"):
    directory.mkdir(parents=True, exist_ok=True)
    for i, a in enumerate(arrays):
        np.save(directory / f"{prefix}{i:03d}.npy", a)


def read_back(ring_name, frame_no, dtype, shape):
    ring = RingFile(ring_name)
    try:
        return np.frombuffer(ring.payload(frame_no), dtype=dtype).reshape(shape).copy()
    finally:
        ring.close()


def test_uint8_images_round_trip_bit_exact(framering_bin, ring_name, tmp_path):
    rng = np.random.default_rng(3)
    arrays = [rng.integers(0, 256, size=(120, 160, 3), dtype=np.uint8) for _ in range(6)]
    write_stack(tmp_path / "stack", arrays)
    rc, err = run_ingest(framering_bin, ring_name, f"npy:{tmp_path / 'stack'}", "--keep")
    assert rc == 0, err
    st = stat_json(framering_bin, ring_name)
    assert st["cursor"] == 6
    assert st["geometry"]["shape"] == [120, 160, 3]
    assert st["geometry"]["typestr"] == "|u1" and st["geometry"]["pix_fmt"] == "bgr24"
    for i, a in enumerate(arrays):
        assert np.array_equal(read_back(ring_name, i, np.uint8, a.shape), a), f"frame {i}"


def test_other_dtypes_keep_their_geometry(framering_bin, ring_name, tmp_path):
    rng = np.random.default_rng(5)
    arrays = [rng.standard_normal((2, 3, 4, 5)).astype("<f4") for _ in range(3)]
    write_stack(tmp_path / "f32", arrays)
    rc, err = run_ingest(framering_bin, ring_name, f"npy:{tmp_path / 'f32'}/*.npy", "--keep")
    assert rc == 0, err
    st = stat_json(framering_bin, ring_name)
    assert st["geometry"]["typestr"] == "<f4" and st["geometry"]["shape"] == [2, 3, 4, 5]
    assert st["geometry"]["pix_fmt"] == "raw"
    for i, a in enumerate(arrays):
        assert np.array_equal(read_back(ring_name, i, "<f4", a.shape), a)


def test_uint16_frames_with_loop(framering_bin, ring_name, tmp_path):
    arrays = [np.arange(100 * 200, dtype="<u2").reshape(100, 200) * (i + 1) for i in range(3)]
    write_stack(tmp_path / "u16", arrays)
    rc, err = run_ingest(framering_bin, ring_name, f"npy:{tmp_path / 'u16'}", "--keep", "--loop",
                         "--max-frames", "10", "--slots", "4")
    assert rc == 0, err
    ring = RingFile(ring_name)
    assert ring.cursor == 10
    ring.close()
    for n in range(6, 10):
        assert np.array_equal(read_back(ring_name, n, "<u2", (100, 200)), arrays[n % 3])


def test_unusable_files_are_skipped_and_counted(framering_bin, ring_name, tmp_path):
    good = np.full((8, 8, 3), 7, dtype=np.uint8)
    d = tmp_path / "mixed"
    write_stack(d, [good, good])                                       # f000, f001
    np.save(d / "f002.npy", np.zeros((4, 4, 3), dtype=np.uint8))       # other shape
    np.save(d / "f003.npy", np.asfortranarray(np.ones((8, 8, 3), np.uint8)))  # Fortran order
    (d / "f004.npy").write_bytes(b"\x93NUMPY\x01\x00garbage")          # broken header
    (d / "f005.npy").write_bytes((d / "f000.npy").read_bytes()[:150])  # truncated data
    np.save(d / "f006.npy", np.zeros((8, 8, 3), dtype=np.uint8).astype(">u2"))  # big-endian
    np.save(d / "f007.npy", good + 1)
    rc, err = run_ingest(framering_bin, ring_name, f"npy:{d}", "--keep")
    assert rc == 0, err
    frames, errors, _ = summary(err)
    assert (frames, errors) == (3, 5)
    for name in ("f002", "f003", "f004", "f005", "f006"):
        assert name in err
    assert np.array_equal(read_back(ring_name, 2, np.uint8, good.shape), good + 1)


def npy_with_header(text):
    """A version 1.0 .npy file holding only `text` as its header (padded as numpy pads it)."""
    body = text.encode("latin1")
    pad = 64 - (10 + len(body) + 1) % 64
    header = body + b" " * (pad % 64) + b"\n"
    return b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header


def test_sizes_that_overflow_64_bits_are_truncated_files_not_frames(framering_bin, ring_name,
                                                                     tmp_path):
    """A header declaring 2^64-1 bytes: data_offset + data_bytes wraps to a small number, which
    the size check must not be fooled by (it would size the ring from the header). The file
    comes first, so the ring would be made from it."""
    d = tmp_path / "hostile"
    d.mkdir()
    (d / "a000.npy").write_bytes(
        npy_with_header("{'descr': '|u1', 'fortran_order': False, 'shape': (18446744073709551615,), }"))
    good = np.full((8, 8, 3), 9, dtype=np.uint8)
    write_stack(d, [good, good])
    rc, err = run_ingest(framering_bin, ring_name, f"npy:{d}", "--keep", timeout=60)
    assert rc == 0, err
    assert "a000.npy is truncated" in err, err
    assert summary(err)[:2] == (2, 1)
    assert np.array_equal(read_back(ring_name, 1, np.uint8, good.shape), good)


def test_npy_source_that_matches_nothing(framering_bin, ring_name, tmp_path):
    rc, err = run_ingest(framering_bin, ring_name, f"npy:{tmp_path}/*.npy")
    assert rc == 3 and "matches no .npy files" in err
    chk = subprocess.run([framering_bin, "ingest", "--ring", ring_name, "--source",
                          f"npy:{tmp_path}/*.npy", "--check-config"], capture_output=True,
                         text=True, env=ENV)
    assert chk.returncode == 2 and "npy:" in chk.stderr
