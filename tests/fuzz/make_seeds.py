#!/usr/bin/python3
"""Writes the seed corpus of every fuzz target into tests/fuzz/corpus/<target>/.

Seeds are real artefacts: ring segments made by the Python Writer (the same format the C++
writer produces, pinned by tests/python/test_python_layout.py), .npy files made by numpy, the
shipped `framering run` configs; plus a few hand-broken variants of each so the corpus covers
the rejection paths too. The files are committed; rerun this after a format change:

    PYTHONPATH=python /usr/bin/python3 tests/fuzz/make_seeds.py
"""
import io
import os
import pathlib
import shutil
import struct
import sys
import tempfile

import numpy as np

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parents[1]
CORPUS = HERE / "corpus"
sys.path.insert(0, str(ROOT / "python"))


def put(target, name, data):
    d = CORPUS / target
    d.mkdir(parents=True, exist_ok=True)
    (d / name).write_bytes(data)


def ring_segments():
    """{name: bytes} of small rings in several states."""
    import framering

    out = {}
    with tempfile.TemporaryDirectory() as shm:
        os.environ["FRAMERING_SHM_DIR"] = shm
        cases = [
            ("gray-2slots-empty", dict(shape=(4, 4, 1), dtype=np.uint8, slots=2), 0),
            ("u16-4slots-3frames", dict(shape=(2, 3), dtype="<u2", slots=4), 3),
            ("bgr-3slots-wrapped", dict(shape=(8, 8, 3), dtype=np.uint8, slots=3,
                                        pix_fmt="bgr24", rate=(25, 1)), 5),
            ("f4-4d-2slots", dict(shape=(2, 2, 2, 2), dtype="<f4", slots=2), 1),
        ]
        for name, kw, frames in cases:
            w = framering.Writer("seed", keep=True, **kw)
            for i in range(frames):
                w.write(np.full(kw["shape"], i + 1, dtype=kw["dtype"]), pts_ns=i * 40_000_000)
            w.close()  # state CLOSED, kept on disk
            out[name] = (pathlib.Path(shm) / "framering.seed").read_bytes()
            os.unlink(pathlib.Path(shm) / "framering.seed")
        del os.environ["FRAMERING_SHM_DIR"]
    live = bytearray(out["bgr-3slots-wrapped"])
    struct.pack_into("<I", live, 256, 1)  # state LIVE, no flock holder: a dead writer
    out["bgr-3slots-dead-writer"] = bytes(live)
    torn = bytearray(out["u16-4slots-3frames"])
    struct.pack_into("<Q", torn, 4096 + 2 * 128, 5)  # frame 2's seq odd: being written
    out["u16-torn-slot"] = bytes(torn)
    base = out["gray-2slots-empty"]
    out["header-only"] = base[:4096]
    out["wrong-magic"] = b"XMRRING\0" + base[8:]
    bad_stride = bytearray(base)
    struct.pack_into("<Q", bad_stride, 48, 8192)
    out["stride-mismatch"] = bytes(bad_stride)
    out["padded"] = base + b"\0" * 4096
    hostile = bytearray(base)
    struct.pack_into("<Q", hostile, 384, 2**64 - 1)  # cursor 2^64-1, every slot still seq 0
    out["gray-2slots-hostile-cursor"] = bytes(hostile)
    out["tiny"] = base[:100]
    return out


def npy_files():
    out = {}

    def save(name, array, version=None):
        buf = io.BytesIO()
        if version:
            np.lib.format.write_array(buf, array, version=version)
        else:
            np.save(buf, array)
        out[name] = buf.getvalue()

    save("u1-image", np.arange(2 * 3 * 3, dtype=np.uint8).reshape(2, 3, 3))
    save("u2-2d", np.arange(12, dtype="<u2").reshape(3, 4))
    save("f4-1d", np.linspace(0, 1, 5, dtype="<f4"))
    save("f8-0d", np.array(3.5))
    save("i8-4d", np.zeros((1, 2, 1, 2), dtype="<i8"))
    save("v2-header", np.zeros((2, 2), dtype=np.uint8), version=(2, 0))
    save("v3-header", np.zeros((2, 2), dtype=np.uint8), version=(3, 0))
    save("fortran", np.asfortranarray(np.zeros((2, 3), dtype=np.uint8)))
    save("big-endian", np.zeros((2, 2), dtype=">u2"))
    save("structured", np.zeros(2, dtype=[("a", "<u2"), ("b", "<f4")]))
    save("empty-dim", np.zeros((0, 4), dtype=np.uint8))

    def header_only(name, text, major=1):
        body = text.encode()
        pad = (-(10 + len(body) + 1)) % 64
        body += b" " * pad + b"\n"
        out[name] = b"\x93NUMPY" + bytes([major, 0]) + struct.pack("<H", len(body)) + body

    header_only("huge-shape",
                "{'descr': '|u1', 'fortran_order': False, 'shape': (100000, 100000, 3), }")
    header_only("overflow-shape",
                "{'descr': '<u8', 'fortran_order': False, 'shape': (4294967296, 4294967296, 2), }")
    header_only("py2-long", "{'descr': '<u2', 'fortran_order': False, 'shape': (3L, 4L), }")
    header_only("double-quotes", '{"shape": (2,), "descr": "<i4", "fortran_order": False}')
    header_only("unknown-key", "{'descr': '<u2', 'fortran_order': False, 'shape': (2,), 'x': 1}")
    header_only("unterminated", "{'descr': '<u2, 'fortran_order': False, 'shape': (2,)")
    out["short-preamble"] = b"\x93NUMPY\x01"
    out["length-past-end"] = b"\x93NUMPY\x01\x00\xff\xff{'descr'"
    out["v9"] = b"\x93NUMPY\x09\x00\x10\x00" + b" " * 16
    return out


def yaml_configs():
    out = {}
    for path in sorted((ROOT / "config").rglob("*.yaml")):
        out[path.stem] = path.read_bytes()
    out["minimal"] = b"cameras:\n  cam0:\n    source: testsrc:testsrc2\n"
    out["unknown-key"] = b"cameras:\n  cam0:\n    source: a.avi\n    sorce: b.avi\n"
    out["wrong-type"] = b"cameras:\n  cam0:\n    source: [1, 2]\n    slots: many\n"
    out["group"] = (b"cameras:\n  c:\n    source: testsrc:testsrc2\n    workers:\n"
                    b"      g: {analytic: checksum, mode: every, replicas: 3}\n")
    out["zone"] = (b"cameras:\n  c:\n    source: x.avi\n    workers:\n      motion:\n"
                   b"        zone: [[0, 0], [1, 0], [1, 1]]\n")
    out["substreams"] = (b"cameras:\n  c:\n    detect: rtsp://u:p@cam/sub\n    record:\n"
                         b"      source: rtsp://u:p@cam/main\n      dir: /r\n")
    out["anchors"] = (b"base: &b {source: x.avi}\ncameras:\n  a: *b\n  b: *b\n")
    out["tab-indent"] = b"cameras:\n\tcam0:\n\t\tsource: x\n"
    out["nested"] = b"cameras: " + b"[" * 64 + b"]" * 64 + b"\n"
    out["not-a-map"] = b"- just\n- a list\n"
    out["empty"] = b""
    out["bad-utf8"] = b"cameras:\n  \xff\xfe: {source: x}\n"
    return out


def packet_ring_segments():
    """{name: bytes} of 64 KiB packet rings laid out by docs/packet-ring.md: empty, a few
    packets, wrapped with a padding record, and broken variants."""
    cap = 64 * 1024

    def header(extradata=b"\x01\x64\x00\x1f\xff\xe1", codec=b"h264"):
        h = bytearray(4096)
        h[0:8] = b"FMRPKTS\x00"
        struct.pack_into("<IIQQQQiIIIIIIIIIQ", h, 8, 1, 4096, 4096, cap, 4096 + cap,
                         0x1234, 42, 27, 320, 240, 1, 90000, 25, 1, len(extradata), 0, 1)
        h[96:96 + len(codec)] = codec
        h[128:131] = b"cam"
        h[1024:1024 + len(extradata)] = extradata
        struct.pack_into("<I", h, 256, 1)
        return h

    def ring(sizes):
        seg = header() + bytearray(cap)
        tail = 0
        for no, n in enumerate(sizes):
            length = 56 + n
            aligned = (length + 7) & ~7
            off = tail % cap
            if off + aligned > cap:
                struct.pack_into("<II", seg, 4096 + off, cap - off, 2)
                tail += cap - off
                off = 0
            struct.pack_into("<IIQqqqQII", seg, 4096 + off, length, 1, no, no * 3600, no * 3600,
                             3600, 0, 1 if no % 5 == 0 else 0, n)
            seg[4096 + off + 56:4096 + off + 56 + n] = bytes([no & 0xff]) * n
            tail += aligned
        struct.pack_into("<QQQQ", seg, 384, tail, tail, 0, len(sizes))
        return bytes(seg)

    out = {"empty": ring([]), "three-packets": ring([100, 2000, 7]),
           "wrapped-with-padding": ring([9000] * 9)}
    bad = bytearray(ring([100, 200]))
    struct.pack_into("<I", bad, 4096 + 164, 99)  # second record: unknown type
    out["bad-record-type"] = bytes(bad)
    bad = bytearray(ring([100]))
    struct.pack_into("<I", bad, 4096 + 52, 5000)  # data_bytes disagrees with length
    out["bad-data-bytes"] = bytes(bad)
    bad = bytearray(ring([100]))
    struct.pack_into("<Q", bad, 24, 65537)
    out["bad-capacity"] = bytes(bad)
    out["header-only"] = bytes(header())
    return out


def main():
    for name, data in packet_ring_segments().items():
        put("packet_ring", name, data)
    for target in ("ring_header", "ring_reader", "npy_header", "run_config"):
        shutil.rmtree(CORPUS / target, ignore_errors=True)
    for name, data in ring_segments().items():
        put("ring_header", name, data)
        put("ring_reader", name, data)
    for name, data in npy_files().items():
        put("npy_header", name + ".npy", data)
    for name, data in yaml_configs().items():
        put("run_config", name + ".yaml", data)
    for target in sorted(p.name for p in CORPUS.iterdir()):
        print(f"{target}: {len(list((CORPUS / target).iterdir()))} seeds")


if __name__ == "__main__":
    main()
