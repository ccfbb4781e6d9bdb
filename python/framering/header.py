"""Parsing and validating a ring header from untrusted bytes (mirrors ringbuf/src/header.cpp).

`parse_header` checks every field against the format limits and the segment's real size, in the
same order and with the same messages as the C++ reader; nothing in a header is trusted until it
returns. It raises BadHeaderError, never IndexError or struct.error, whatever the bytes are.
"""
import dataclasses
import struct

import numpy as np

from . import layout as L
from ._sys import validate_ring_name
from .errors import BadHeaderError, InvalidArgumentError

_U64_MAX = (1 << 64) - 1


@dataclasses.dataclass
class Geometry:
    """Frame geometry as NumPy sees it: typestr, shape (C order) and the pixel format tag."""

    typestr: str = "|u1"
    shape: tuple = ()
    pix_fmt: int = L.PIX_RAW
    rate_num: int = 0
    rate_den: int = 1

    @classmethod
    def image(cls, width, height, pix_fmt="bgr24"):
        code = parse_pix_fmt(pix_fmt)
        if code in L.PIX_YUV420:
            if width % 2 or height % 2:
                raise InvalidArgumentError(
                    f"{L.PIX_FMT_NAMES[code]} needs an even width and height, not {width}x{height}")
            return cls("|u1", (height * 3 // 2, width), code)
        return cls("|u1", (height, width, 1 if code == L.PIX_GRAY8 else 3), code)

    @property
    def height(self):
        """The picture's height: for yuv420p/nv12 the first 2/3 of the rows (the Y plane)."""
        if not self.shape:
            return 0
        return self.shape[0] * 2 // 3 if self.pix_fmt in L.PIX_YUV420 else self.shape[0]

    @property
    def width(self):
        return self.shape[1] if len(self.shape) >= 2 else 1

    @property
    def item_bytes(self):
        return L.TYPESTRS.get(self.typestr, 0)

    @property
    def frame_bytes(self):
        """product(shape) * item_bytes, or 0 when a dimension is 0 or the product overflows u64."""
        if not 1 <= len(self.shape) <= L.MAX_DIMS:
            return 0
        total = self.item_bytes
        for dim in self.shape:
            total *= dim
            if dim == 0 or total > _U64_MAX:
                return 0
        return total

    @property
    def strides(self):
        out, step = [], self.item_bytes
        for dim in reversed(self.shape):
            out.append(step)
            step *= dim
        return tuple(reversed(out))

    @property
    def dtype(self):
        return np.dtype(self.typestr)

    @property
    def pix_fmt_name(self):
        return L.PIX_FMT_NAMES.get(self.pix_fmt, "unknown")

    def describe(self):
        return f"{'x'.join(str(d) for d in self.shape)} {self.typestr} {self.pix_fmt_name}"


@dataclasses.dataclass
class RingInfo:
    name: str = ""
    version: int = 0
    slots: int = 0
    slot_table_offset: int = 0
    slot_table_bytes: int = 0
    payload_offset: int = 0
    slot_stride: int = 0
    frame_bytes: int = 0
    segment_bytes: int = 0
    epoch: int = 0
    writer_pid: int = 0
    created_realtime_ns: int = 0
    geometry: Geometry = dataclasses.field(default_factory=Geometry)


def parse_pix_fmt(text):
    """"bgr24" | "rgb24" | "gray8" (or "gray") | "yuv420p" | "nv12" | "raw" -> pix_fmt code."""
    if isinstance(text, int) and text in L.PIX_FMT_NAMES:
        return text
    codes = {name: code for code, name in L.PIX_FMT_NAMES.items()}
    codes["gray"] = L.PIX_GRAY8
    if text not in codes:
        raise InvalidArgumentError(
            f"pix_fmt '{text}' is not one of bgr24, rgb24, gray8, yuv420p, nv12, raw")
    return codes[text]


def image_shape_matches(g):
    """Whether typestr and shape are what an image of g.pix_fmt must have (raw: always)."""
    if g.pix_fmt == L.PIX_RAW:
        return True
    if g.typestr != "|u1":
        return False
    ndim = len(g.shape)
    if g.pix_fmt in L.PIX_YUV420:
        # (H*3/2, W), H and W even: the rows are 3 * (H/2), any multiple of 3.
        return ndim == 2 and g.shape[0] % 3 == 0 and g.shape[1] % 2 == 0
    # 8-bit (height, width, channels) arrays: 3 channels, or 1 (or none) for gray.
    channels = 1 if g.pix_fmt == L.PIX_GRAY8 else 3
    return (ndim == 3 and g.shape[2] == channels) or (ndim == 2 and g.pix_fmt == L.PIX_GRAY8)


def _lay_out(info):
    """Fills the derived sizes from geometry and slots; False on overflow (as the C++ lay_out)."""
    info.frame_bytes = info.geometry.frame_bytes
    if info.frame_bytes == 0:
        return False
    info.slot_table_offset = L.HEADER_BYTES
    info.slot_table_bytes = L.align_up(info.slots * L.SLOT_ENTRY_BYTES, L.PAGE_BYTES)
    info.payload_offset = info.slot_table_offset + info.slot_table_bytes
    info.slot_stride = L.align_up(info.frame_bytes, L.PAGE_BYTES)
    info.segment_bytes = info.payload_offset + info.slot_stride * info.slots
    return info.slot_stride <= _U64_MAX and info.segment_bytes <= _U64_MAX


def plan_layout(name, geometry, slots):
    """Sizes and offsets of a ring with this geometry and slot count (what a writer lays out)."""
    validate_ring_name(name)
    if not 2 <= slots <= L.MAX_SLOTS:
        raise InvalidArgumentError(
            f"ring '{name}': slots must be between 2 and {L.MAX_SLOTS}, got {slots}")
    if geometry.item_bytes == 0:
        raise InvalidArgumentError(f"ring '{name}': unsupported dtype '{geometry.typestr}' "
                                   f"(use one of {', '.join(L.TYPESTRS)})")
    if not 1 <= len(geometry.shape) <= L.MAX_DIMS:
        raise InvalidArgumentError(f"ring '{name}': frames need 1 to 4 dimensions")
    if not image_shape_matches(geometry):
        raise InvalidArgumentError(f"ring '{name}': frame geometry {geometry.describe()} is not a "
                                   f"{geometry.pix_fmt_name} image (4:2:0 formats need an even "
                                   "width and height)")
    info = RingInfo(name=name, version=L.VERSION, slots=slots, geometry=geometry)
    if not _lay_out(info) or info.frame_bytes > L.MAX_FRAME_BYTES:
        raise InvalidArgumentError(f"ring '{name}': frame geometry {geometry.describe()} "
                                   "is empty or larger than 4 GiB per frame")
    return info


def _bad(what):
    raise BadHeaderError("not a valid framering ring: " + what)


def _fixed_string(buf, offset, size):
    raw = bytes(buf[offset:offset + size]).split(b"\0", 1)[0]
    return raw.decode("ascii", errors="replace")


def parse_header(buf, size=None):
    """Validates the header in `buf` (bytes-like: the segment) against `size` (default len(buf)).

    Returns a RingInfo; raises BadHeaderError naming the first bad field.
    """
    size = len(buf) if size is None else size
    if size < L.HEADER_BYTES or len(buf) < L.HEADER_BYTES:
        _bad(f"segment is {size} bytes, smaller than its 4096-byte header")

    def u32(offset):
        return struct.unpack_from("<I", buf, offset)[0]

    def u64(offset):
        return struct.unpack_from("<Q", buf, offset)[0]

    if bytes(buf[L.hdr.MAGIC:L.hdr.MAGIC + 8]) != L.MAGIC_BYTES:
        _bad("wrong magic")
    info = RingInfo(version=u32(L.hdr.VERSION))
    if info.version != L.VERSION:
        _bad(f"format version {info.version}, this build reads version {L.VERSION}")
    if u32(L.hdr.HEADER_BYTES) != L.HEADER_BYTES:
        _bad("header_bytes != 4096")
    if u32(L.hdr.SLOT_ENTRY_BYTES) != L.SLOT_ENTRY_BYTES:
        _bad("slot_entry_bytes != 128")
    info.slots = u32(L.hdr.SLOT_COUNT)
    if not 2 <= info.slots <= L.MAX_SLOTS:
        _bad("slot_count out of range")

    g = info.geometry
    g.typestr = _fixed_string(buf, L.hdr.TYPESTR, L.TYPESTR_BYTES)
    if g.item_bytes == 0:
        _bad("unsupported typestr")
    ndim = u32(L.hdr.NDIM)
    if not 1 <= ndim <= L.MAX_DIMS:
        _bad("ndim out of range")
    g.shape = tuple(u64(L.hdr.SHAPE + 8 * i) for i in range(ndim))
    pix = u32(L.hdr.PIX_FMT)
    if pix > L.PIX_NV12:
        _bad("unknown pix_fmt")
    g.pix_fmt = pix
    if not image_shape_matches(g):
        _bad("pix_fmt does not match the shape/typestr")
    g.rate_num = u32(L.hdr.RATE_NUM)
    g.rate_den = u32(L.hdr.RATE_DEN)
    if g.rate_num != 0 and g.rate_den == 0:
        _bad("rate_den is 0")
    info.name = _fixed_string(buf, L.hdr.NAME, L.NAME_BYTES)

    expected = dataclasses.replace(info)
    if not _lay_out(expected) or expected.frame_bytes > L.MAX_FRAME_BYTES:
        _bad("frame size overflows")
    for i, stride in enumerate(g.strides):
        if u64(L.hdr.STRIDES + 8 * i) != stride:
            _bad("strides are not C-contiguous for the shape")
    for offset, want, field in (
            (L.hdr.SLOT_TABLE_OFFSET, expected.slot_table_offset, "slot_table_offset"),
            (L.hdr.SLOT_TABLE_BYTES, expected.slot_table_bytes, "slot_table_bytes"),
            (L.hdr.PAYLOAD_OFFSET, expected.payload_offset, "payload_offset"),
            (L.hdr.SLOT_STRIDE, expected.slot_stride, "slot_stride"),
            (L.hdr.FRAME_BYTES, expected.frame_bytes, "frame_bytes"),
            (L.hdr.SEGMENT_BYTES, expected.segment_bytes, "segment_bytes")):
        if u64(offset) != want:
            _bad(f"{field} does not match the geometry")
    if expected.segment_bytes != size:
        _bad(f"segment is {size} bytes but its header describes {expected.segment_bytes} "
             "(truncated or padded)")
    info = expected
    info.epoch = u64(L.hdr.EPOCH)
    info.writer_pid = struct.unpack_from("<i", buf, L.hdr.WRITER_PID)[0]
    info.created_realtime_ns = u64(L.hdr.CREATED_REALTIME_NS)
    return info


def write_header(buf, info):
    """Writes the immutable header fields of `info` into a zeroed header page (writable buffer)."""
    g = info.geometry

    def put(fmt, offset, value):
        struct.pack_into(fmt, buf, offset, value)

    buf[L.hdr.MAGIC:L.hdr.MAGIC + 8] = L.MAGIC_BYTES
    put("<I", L.hdr.VERSION, L.VERSION)
    put("<I", L.hdr.HEADER_BYTES, L.HEADER_BYTES)
    put("<Q", L.hdr.SLOT_TABLE_OFFSET, info.slot_table_offset)
    put("<Q", L.hdr.SLOT_TABLE_BYTES, info.slot_table_bytes)
    put("<I", L.hdr.SLOT_ENTRY_BYTES, L.SLOT_ENTRY_BYTES)
    put("<I", L.hdr.SLOT_COUNT, info.slots)
    put("<Q", L.hdr.PAYLOAD_OFFSET, info.payload_offset)
    put("<Q", L.hdr.SLOT_STRIDE, info.slot_stride)
    put("<Q", L.hdr.FRAME_BYTES, info.frame_bytes)
    put("<Q", L.hdr.SEGMENT_BYTES, info.segment_bytes)
    put("<Q", L.hdr.EPOCH, info.epoch)
    put("<i", L.hdr.WRITER_PID, info.writer_pid)
    put("<I", L.hdr.PIX_FMT, g.pix_fmt)
    typestr = g.typestr.encode("ascii")[:L.TYPESTR_BYTES - 1]
    buf[L.hdr.TYPESTR:L.hdr.TYPESTR + L.TYPESTR_BYTES] = typestr.ljust(L.TYPESTR_BYTES, b"\0")
    put("<I", L.hdr.NDIM, len(g.shape))
    for i, (dim, stride) in enumerate(zip(g.shape, g.strides)):
        put("<Q", L.hdr.SHAPE + 8 * i, dim)
        put("<Q", L.hdr.STRIDES + 8 * i, stride)
    put("<Q", L.hdr.CREATED_REALTIME_NS, info.created_realtime_ns)
    put("<I", L.hdr.RATE_NUM, g.rate_num)
    put("<I", L.hdr.RATE_DEN, g.rate_den)
    name = info.name.encode("ascii")[:L.NAME_BYTES - 1]
    buf[L.hdr.NAME:L.hdr.NAME + L.NAME_BYTES] = name.ljust(L.NAME_BYTES, b"\0")
