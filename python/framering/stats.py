"""Per-reader stats file, so `framering stat` shows Python readers next to C++ workers
(mirrors ringbuf/src/reader_stats.cpp; byte layout in layout.py's `stats`, the twin of
ringbuf/include/framering/ringbuf/layout.hpp, and docs/ring-format.md section 8).

/dev/shm/framering.<ring>.reader.<id>, 4096 B little-endian. The publishing reader holds an
exclusive flock on the file from before it appears under its name until the process ends: a
reader is alive exactly while that lock is held (reader_alive), never judged by its pid, which
another pid namespace or a reused pid makes meaningless.
"""
import fcntl
import mmap
import os
import stat as stat_mod

from . import _sys
from . import layout as L
from .errors import RingSystemError

_COUNTERS = ("heartbeat_ns", "position", "frames_read", "bytes_in_place", "lapped", "torn",
             "skipped", "bytes_copied", "epoch")
_NAME_CHARS = frozenset(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-")


def reader_stats_path(ring, reader_id):
    return _sys.segment_path(ring) + ".reader." + reader_id


def reader_alive(fd):
    """Whether the reader publishing the stats file open at `fd` is alive: some open file
    description holds an exclusive flock on it (the C++ ring::reader_alive, same probe)."""
    return _sys.flock_held_elsewhere(fd)


def _name_field(data, offset):
    raw = data[offset:offset + L.NAME_BYTES].split(b"\0", 1)[0]
    # Whoever wrote the file chose these bytes: anything outside the name alphabet becomes '?'.
    return "".join(chr(c) if c in _NAME_CHARS else "?" for c in raw)


def stats_file_problem(data, ring):
    """Why `data` (the file's 4096 bytes) is not a stats file of `ring` this package reads, or
    None when it is (the checks and wording of the C++ stats_file_problem)."""
    if data[L.stats.MAGIC:L.stats.MAGIC + 8] != L.STATS_MAGIC_BYTES:
        return "not a framering reader stats file (no FMRREADR magic)"
    version = int.from_bytes(data[L.stats.VERSION:L.stats.VERSION + 4], "little")
    if version != L.STATS_VERSION:
        return (f"stats format version {version} (this framering reads {L.STATS_VERSION}; "
                "restart that reader with this framering)")
    named = data[L.stats.RING:L.stats.RING + L.NAME_BYTES].split(b"\0", 1)[0]
    if named != ring.encode():
        return f"names ring '{_name_field(data, L.stats.RING)}', not '{ring}'"
    return None


def inspect_reader_stats_file(path, ring, owners=None):
    """(snapshot dict or None, reason it was rejected or None). The file is untrusted: read
    into a private copy (never mapped), only a regular file of exactly 4096 bytes owned by one of
    `owners` (default: this process's effective uid). The snapshot's "alive" is reader_alive."""
    owners = [os.geteuid()] if not owners else owners
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError as e:
        return None, e.strerror
    try:
        st = os.fstat(fd)
        if not stat_mod.S_ISREG(st.st_mode):
            return None, "is not a regular file (a FIFO, socket, device or directory)"
        if st.st_size != L.STATS_BYTES:
            return None, f"{st.st_size} bytes, not {L.STATS_BYTES}"
        if st.st_uid not in owners:
            return None, f"owned by uid {st.st_uid}, not a trusted user"
        data = os.pread(fd, L.STATS_BYTES, 0)
        if len(data) != L.STATS_BYTES:
            return None, "short read (the file shrank while it was read)"
        problem = stats_file_problem(data, ring)
        if problem:
            return None, problem
        snapshot = {"ring": _name_field(data, L.stats.RING),
                    "reader": _name_field(data, L.stats.READER),
                    "uid": st.st_uid,
                    "pid": int.from_bytes(data[L.stats.PID:L.stats.PID + 4], "little", signed=True),
                    "alive": reader_alive(fd)}
        for i, name in enumerate(_COUNTERS):
            offset = L.stats.HEARTBEAT_NS + 8 * i
            snapshot[name] = int.from_bytes(data[offset:offset + 8], "little")
        return snapshot, None
    finally:
        os.close(fd)


def reader_stats_files(ring):
    """Paths of the stats files that name `ring` (sorted; not yet validated)."""
    prefix = f"framering.{ring}.reader."
    try:
        names = os.listdir(_sys.shm_dir())
    except OSError:
        return []
    return sorted(os.path.join(_sys.shm_dir(), n) for n in names
                  if n.startswith(prefix) and not n.endswith(".tmp"))


def read_reader_stats(ring, owners=None):
    """Snapshots of every valid stats file of `ring` (each with "alive"); others are skipped."""
    out = []
    for path in reader_stats_files(ring):
        snapshot, _ = inspect_reader_stats_file(path, ring, owners)
        if snapshot is not None:
            out.append(snapshot)
    return out


class ReaderStatsPublisher:
    """Creates (or replaces) the stats file of reader `reader_id` of `ring` and holds its
    liveness lock; close() unlinks the file, then releases the lock."""

    def __init__(self, ring, reader_id, mode=0o600):
        _sys.validate_ring_name(ring)
        _sys.validate_ring_name(reader_id)
        self.path = reader_stats_path(ring, reader_id)
        self.displaced = ""  # why the file is not at its usual name, when it is not
        self._fd = None
        # A random part keeps anyone from planting a file under the name we create; the ".tmp"
        # end keeps readers from listing it before it is complete.
        temp = f"{self.path}.{_sys.random_u64():016x}.tmp"
        try:
            fd = os.open(temp, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC | os.O_NOFOLLOW, mode)
            try:
                # Locked before it gets its name: nobody sees a live reader's file unlocked.
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                os.fchmod(fd, mode)
                os.ftruncate(fd, L.STATS_BYTES)
                self._mm = mmap.mmap(fd, L.STATS_BYTES, flags=mmap.MAP_SHARED,
                                     prot=mmap.PROT_READ | mmap.PROT_WRITE)
            except OSError:
                os.close(fd)
                raise
            self._fd = fd
            self._mm[L.stats.MAGIC:L.stats.MAGIC + 8] = L.STATS_MAGIC_BYTES
            self._mm[L.stats.VERSION:L.stats.VERSION + 4] = L.STATS_VERSION.to_bytes(4, "little")
            self._mm[L.stats.PID:L.stats.PID + 4] = os.getpid().to_bytes(4, "little")
            self._mm[L.stats.RING:L.stats.RING + len(ring)] = ring.encode()
            self._mm[L.stats.READER:L.stats.READER + len(reader_id)] = reader_id.encode()
        except OSError as e:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None
            try:
                os.unlink(temp)
            except OSError:
                pass
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
            os.close(self._fd)
            self._fd = None
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
        base = L.stats.HEARTBEAT_NS // 8
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
                os.unlink(self.path)  # still locked: never seen as a dead reader's file
            except OSError:
                pass
            os.close(self._fd)  # releases the lock
            self._fd = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
