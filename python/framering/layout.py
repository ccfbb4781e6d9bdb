"""The ring's byte layout, mirrored from ringbuf/include/framering/ringbuf/layout.hpp.

That header is the protocol; this module only repeats its constants so the Python reader and
writer touch exactly the same offsets. tests/python/test_layout.py compares every constant here
with the C++ header, so the two cannot drift apart silently.

All integers are little-endian; offsets are from the start of the segment (header fields) or of
one slot table entry (slot fields).
"""

MAGIC_BYTES = b"FMRRING\0"
MAGIC = 0x00474E4952524D46
VERSION = 1

PAGE_BYTES = 4096
CACHE_LINE = 64
HEADER_BYTES = PAGE_BYTES
SLOT_ENTRY_BYTES = 128
MAX_DIMS = 4
TYPESTR_BYTES = 8
NAME_BYTES = 64

# Limits every reader enforces before trusting a header (untrusted input).
MAX_SLOTS = 1 << 16
MAX_FRAME_BYTES = 1 << 32
MAX_RING_NAME_LENGTH = 48


class hdr:  # noqa: N801 - mirrors the C++ namespace framering::ring::hdr
    MAGIC = 0
    VERSION = 8
    HEADER_BYTES = 12
    SLOT_TABLE_OFFSET = 16
    SLOT_TABLE_BYTES = 24
    SLOT_ENTRY_BYTES = 32
    SLOT_COUNT = 36
    PAYLOAD_OFFSET = 40
    SLOT_STRIDE = 48
    FRAME_BYTES = 56
    SEGMENT_BYTES = 64
    EPOCH = 72
    WRITER_PID = 80
    PIX_FMT = 84
    TYPESTR = 88
    NDIM = 96
    SHAPE = 104
    STRIDES = 136
    CREATED_REALTIME_NS = 168
    RATE_NUM = 176
    RATE_DEN = 180
    NAME = 184
    STATE = 256
    HEARTBEAT_NS = 320
    CURSOR = 384
    CONTROL_END = 448


class slot:  # noqa: N801 - mirrors the C++ namespace framering::ring::slot
    SEQ = 0
    FRAME_NO = 8
    PTS_NS = 16
    CAPTURE_REALTIME_NS = 24
    PUBLISH_REALTIME_NS = 32
    FLAGS = 40
    PUBLISH_MONOTONIC_NS = 48


# The reader stats file, framering.<ring>.reader.<id> (docs/ring-format.md section 8). Version 2:
# the reader holds an exclusive flock on the file for its whole life; that lock is its liveness.
STATS_MAGIC_BYTES = b"FMRREADR"
STATS_VERSION = 2
STATS_BYTES = PAGE_BYTES


class stats:  # noqa: N801 - mirrors the C++ namespace framering::ring::stats
    MAGIC = 0
    VERSION = 8
    PID = 12
    RING = 16
    READER = 80
    HEARTBEAT_NS = 192
    POSITION = 200
    FRAMES_READ = 208
    BYTES_IN_PLACE = 216
    LAPPED = 224
    TORN = 232
    SKIPPED = 240
    BYTES_COPIED = 248
    EPOCH = 256
    END = 264


# Writer state (header word at hdr.STATE).
STATE_INIT = 0
STATE_LIVE = 1
STATE_CLOSED = 2
STATE_NAMES = {STATE_INIT: "INIT", STATE_LIVE: "LIVE", STATE_CLOSED: "CLOSED"}

# Pixel formats; RAW means "an array described only by typestr/shape" (npy, imaging volumes).
PIX_RAW = 0
PIX_BGR24 = 1
PIX_RGB24 = 2
PIX_GRAY8 = 3
# The decoder's own 4:2:0 planes, stacked into one (H*3//2, W) uint8 array: Y (H rows of W),
# then U and V (H/2 rows of W/2 each) for yuv420p, or interleaved UV (H/2 rows of W) for nv12.
PIX_YUV420P = 4
PIX_NV12 = 5
PIX_FMT_NAMES = {PIX_RAW: "raw", PIX_BGR24: "bgr24", PIX_RGB24: "rgb24", PIX_GRAY8: "gray8",
                 PIX_YUV420P: "yuv420p", PIX_NV12: "nv12"}
PIX_YUV420 = (PIX_YUV420P, PIX_NV12)

# Slot flags (bit set).
FLAG_KEYFRAME = 1 << 0
FLAG_DECODE_ERROR = 1 << 1
FLAG_RESIZED = 1 << 2

# NumPy typestrs a ring may carry, with their item sizes (geometry.cpp's table).
TYPESTRS = {
    "|u1": 1, "|i1": 1, "<u2": 2, "<i2": 2, "<u4": 4,
    "<i4": 4, "<f4": 4, "<f8": 8, "<u8": 8, "<i8": 8,
}


def align_up(value, alignment):
    return (value + alignment - 1) // alignment * alignment


def seq_writing(frame_no):
    """Sequence word while frame `frame_no` is being written (odd)."""
    return 2 * frame_no + 1


def seq_committed(frame_no):
    """Sequence word once frame `frame_no` is committed (even, never 0)."""
    return 2 * frame_no + 2
