"""framering for Python: zero-copy NumPy access to framering shared-memory rings.

    import framering
    with framering.Ring("cam0") as ring:
        for frame in ring:                 # OK frames only; LAPPED/TORN counted in ring.counters
            mean = frame.array.mean()      # frame.array IS the slot (read-only, no copy)
            if frame.valid():              # seqlock re-check: was it overwritten meanwhile?
                print(frame.frame_no, frame.pts, mean)

Pure Python (stdlib + NumPy). The ring format is ringbuf/include/framering/ringbuf/layout.hpp
(prose: docs/ring-format.md); python/README.md describes the outcomes and their handling.
"""
from .errors import (BadHeaderError, InvalidArgumentError, LiveWriterError, NoFrameError,
                     NoSpaceError, NotFoundError, RingError, RingPermissionError, RingSystemError,
                     TornError)
from .group import Member, split
from .header import Geometry, RingInfo, parse_header
from .layout import FLAG_DECODE_ERROR, FLAG_KEYFRAME, FLAG_RESIZED
from ._sys import futex_available, list_rings, segment_path, shm_dir
from .reader import Frame, ReaderCounters, ReadResult, ReadStatus, Ring
from .stats import ReaderStatsPublisher, read_reader_stats, reader_alive
from .writer import Writer, WriterSlot

__all__ = [
    "BadHeaderError", "InvalidArgumentError", "LiveWriterError", "NoFrameError", "NoSpaceError",
    "NotFoundError",
    "RingError", "RingPermissionError", "RingSystemError", "TornError", "Member", "split",
    "Geometry", "RingInfo", "parse_header", "FLAG_DECODE_ERROR", "FLAG_KEYFRAME", "FLAG_RESIZED",
    "futex_available", "list_rings", "segment_path", "shm_dir", "Frame", "ReaderCounters",
    "ReadResult", "ReadStatus", "Ring", "ReaderStatsPublisher", "read_reader_stats", "reader_alive",
    "Writer", "WriterSlot",
]
OK = ReadStatus.OK
NOT_YET = ReadStatus.NOT_YET
LAPPED = ReadStatus.LAPPED
TORN = ReadStatus.TORN
WRITER_GONE = ReadStatus.WRITER_GONE
EPOCH_CHANGED = ReadStatus.EPOCH_CHANGED
