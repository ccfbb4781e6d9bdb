"""Per-reader stats file, so `framering stat` shows Python readers next to C++ workers
(mirrors ringbuf/src/reader_stats.cpp; layout in ringbuf/include/framering/ringbuf/reader_stats.hpp).

/dev/shm/framering.<ring>.reader.<id>, 4096 B little-endian: 0 magic "FMRREADR" · 8 version u32 = 1
· 12 pid u32 · 16 ring char[64] · 80 reader char[64] · u64 from 192: heartbeat_ns (monotonic),
position, frames_read, bytes_in_place, lapped, torn, skipped, bytes_copied, epoch.
"""
import mmap
import os

from . import _sys
from .errors import RingSystemError

_BYTES = 4096
_MAGIC = b"FMRREADR"
_FIELDS = ("heartbeat_ns", "position", "frames_read", "bytes_in_place", "lapped", "torn",
           "skipped", "bytes_copied", "epoch")
_FIRST_FIELD = 192


def reader_stats_path(ring, reader_id):
    return _sys.segment_path(ring) + ".reader." + reader_id


class ReaderStatsPublisher:
    """Creates (or replaces) the stats file of reader `reader_id` of `ring`; close() unlinks it."""

    def __init__(self, ring, reader_id, mode=0o600):
        _sys.validate_ring_name(ring)
        _sys.validate_ring_name(reader_id)
        self.path = reader_stats_path(ring, reader_id)
        self.displaced = ""  # why the file is not at its usual name, when it is not
        # A random part keeps anyone from planting a file under the name we create; the ".tmp"
        # end keeps readers from listing it before it is complete.
        temp = f"{self.path}.{_sys.random_u64():016x}.tmp"
        try:
            fd = os.open(temp, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC | os.O_NOFOLLOW, mode)
            try:
                os.fchmod(fd, mode)
                os.ftruncate(fd, _BYTES)
                self._mm = mmap.mmap(fd, _BYTES, flags=mmap.MAP_SHARED,
                                     prot=mmap.PROT_READ | mmap.PROT_WRITE)
            finally:
                os.close(fd)
            self._mm[0:8] = _MAGIC
            self._mm[8:12] = (1).to_bytes(4, "little")
            self._mm[12:16] = os.getpid().to_bytes(4, "little")
            self._mm[16:16 + len(ring)] = ring.encode()
            self._mm[80:80 + len(reader_id)] = reader_id.encode()
        except OSError as e:
            raise RingSystemError(f"reader stats {temp}: {e.strerror}") from None
        # Another user's file under our name (the sticky /dev/shm keeps us from replacing it)
        # must not fail every start: publish as "<id>.<pid>" instead, as the C++ reader does.
        error = None
        for target in (self.path, f"{self.path}.{os.getpid()}"):
            try:
                os.rename(temp, target)
            except OSError as e:
                error = e
                continue
            if target != self.path:
                self.displaced = (f"reader stats {self.path} is held by a file this user cannot "
                                  f"replace ({error.strerror}); publishing as {target} instead")
                self.path = target
            break
        else:
            self._mm.close()
            try:
                os.unlink(temp)
            except OSError:
                pass
            raise RingSystemError(f"reader stats: cannot move {temp} into place at {self.path}: "
                                  f"{error.strerror} (remove that file or choose another reader "
                                  "id)")
        self._u64 = memoryview(self._mm).cast("Q")

    def update(self, ring):
        """Copies a Ring's position and counters into the file (call every frame or so)."""
        c = ring.counters
        u = self._u64
        base = _FIRST_FIELD // 8
        u[base + 0] = _sys.monotonic_ns()
        u[base + 1] = ring.position
        u[base + 2] = c.frames_read
        u[base + 3] = c.bytes_in_place
        u[base + 4] = c.lapped
        u[base + 5] = c.torn
        u[base + 6] = c.skipped
        u[base + 7] = c.bytes_copied
        u[base + 8] = ring.epoch

    def close(self):
        if self._u64 is not None:
            self._u64.release()
            self._u64 = None
            self._mm.close()
            try:
                os.unlink(self.path)
            except OSError:
                pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
