"""Writer: the single writer of a ring, in Python (mirrors ringbuf/src/writer.cpp).

A ring made here is byte-for-byte what the C++ Writer makes, so `framering worker` and
`framering stat` read it like any ingest ring. Creation: temp name + rename, posix_fallocate,
explicit mode (not via umask), exclusive flock held while alive, random nonzero epoch, a
heartbeat thread, state INIT -> LIVE -> CLOSED.

    with Writer("vol0", shape=(64, 256, 256), dtype=np.uint16, slots=4) as w:
        slot = w.claim()
        slot.array[...] = volume       # write straight into shared memory
        w.publish(slot, pts_ns=t)      # or simply: w.write(volume, pts_ns=t)

Publishing order (the seqlock): seq <- 2n+1, payload, metadata, seq <- 2n+2, cursor <- n+1,
heartbeat, futex wake. Each word is one aligned 8-byte store through a memoryview; on x86-64
(TSO) stores become visible in program order, which is the order the protocol requires.
"""
import errno
import fcntl
import grp
import mmap
import os
import threading
import time

import numpy as np

from . import _arch, _files, _sys
from . import layout as L
from .errors import (BadHeaderError, InvalidArgumentError, LiveWriterError, NoSpaceError,
                     RingPermissionError, RingSystemError)
from .header import Geometry, image_shape_matches, parse_pix_fmt, plan_layout, write_header

_CURSOR_WORD = L.hdr.CURSOR // 8
_HEARTBEAT_WORD = L.hdr.HEARTBEAT_NS // 8
_STATE_WORD32 = L.hdr.STATE // 4


def _mib(n):
    return f"{(n + (1 << 20) - 1) >> 20} MiB"


def _lock_existing(name, path):
    """Takes the exclusive lock of the dead writer's segment now at `path` (-1: there is none),
    or reports a live writer.

    The lock only counts on the inode still at `path`: another writer may have replaced (or a
    cleanup removed) the file between our open and our flock, so it is verified against
    os.stat(path) and the step retried when they differ. Readers probe with short shared locks,
    so a busy lock is retried briefly before a live writer is reported.
    """
    for _ in range(100):
        try:
            fd, st = _files.open_regular(path)
        except FileNotFoundError:
            return -1
        except PermissionError as e:
            raise RingPermissionError(
                f"ring '{name}': {path} exists and is not accessible to this user ({e.strerror}); "
                "remove it as its owner or choose another ring name") from None
        except OSError as e:
            if isinstance(e, _files.NotRegularFile) or e.errno == errno.ELOOP:
                raise BadHeaderError(f"ring '{name}': {path} {_files.describe_open_error(e)}; "
                                     "remove it or choose another ring name") from None
            raise RingSystemError(f"ring '{name}': open {path}: {e.strerror}") from None
        locked = False
        for _ in range(40):
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                locked = True
                break
            except OSError as e:
                if e.errno not in (errno.EWOULDBLOCK, errno.EAGAIN):
                    break
            time.sleep(0.005)
        try:
            now = os.stat(path)
            same = (now.st_ino, now.st_dev) == (st.st_ino, st.st_dev)
        except OSError:
            now, same = None, False
        if locked and same:
            return fd
        if locked or (now is not None and not same):
            os.close(fd)  # replaced while we waited: the lock guards nothing, look again
            continue
        owner = ""
        try:
            pid = int.from_bytes(os.pread(fd, 4, L.hdr.WRITER_PID), "little", signed=True)
            if pid > 0:
                owner = f" (writer pid {pid})"
        except OSError:
            pass
        os.close(fd)
        raise LiveWriterError(f"ring '{name}' already has a live writer{owner}; "
                              "stop it first or choose another ring name")
    raise LiveWriterError(f"ring '{name}': {path} keeps being replaced by another process; "
                          "stop the other writer or choose another ring name")


def _install(name, temp, path, previous):
    """Moves the prepared segment `temp` to `path`: over the dead writer's segment whose lock we
    hold (`previous`, re-verified), or, when there was none, only if nobody else created one
    meanwhile (os.link fails on an existing name, atomically). Losing that race means another
    writer won; its segment is locked, and _lock_existing says so. Returns the lock fd still
    held (to close once our segment is in place)."""
    while True:
        if previous >= 0:
            held = os.fstat(previous)
            try:
                now = os.stat(path)
                same = (now.st_ino, now.st_dev) == (held.st_ino, held.st_dev)
            except FileNotFoundError:
                same = False
            if same:
                try:
                    os.rename(temp, path)
                except OSError:
                    os.close(previous)
                    raise
                return previous
            os.close(previous)  # removed or replaced by something that ignored the lock
            previous = -1
        else:
            try:
                os.link(temp, path)
                os.unlink(temp)
                return previous
            except FileExistsError:
                pass
        previous = _lock_existing(name, path)


class WriterSlot:
    """A claimed slot: `array` is writable until the slot is published."""

    __slots__ = ("array", "frame_no", "pts_ns", "capture_realtime_ns", "flags", "_claim_ns")

    def __init__(self, array, frame_no, claim_ns):
        self.array = array
        self.frame_no = frame_no
        self.pts_ns = 0
        self.capture_realtime_ns = 0  # 0: publish() fills in the claim time
        self.flags = 0
        self._claim_ns = claim_ns


class Writer:
    """Creates ring `name` for frames of `shape` and `dtype` (see the module docstring).

    pix_fmt: "raw" (any array; imaging volumes, tiles) or "bgr24"/"rgb24" (shape (H, W, 3),
    uint8) or "gray8" (shape (H, W, 1), uint8), which C++ image workers understand.
    mode: file mode of the segment, applied exactly. group: gid or group name to chgrp to.
    keep: leave the segment in place after close (for inspection).
    Raises InvalidArgumentError, LiveWriterError, RingPermissionError, NoSpaceError,
    RingSystemError with a message that says what to do.
    """

    def __init__(self, name, shape, dtype=np.uint8, slots=8, pix_fmt="raw", rate=(0, 1),
                 mode=0o600, group=None, keep=False, heartbeat_period=0.1):
        _arch.require_supported_machine(f"ring '{name}'")
        typestr = np.dtype(dtype).str
        if typestr not in L.TYPESTRS:
            raise InvalidArgumentError(f"ring '{name}': dtype {np.dtype(dtype)} ({typestr}) is "
                                       f"not supported; use one of {', '.join(L.TYPESTRS)}")
        shape = tuple(int(d) for d in np.atleast_1d(shape))
        geometry = Geometry(typestr, shape, parse_pix_fmt(pix_fmt), int(rate[0]), int(rate[1]))
        if geometry.pix_fmt in L.PIX_YUV420:
            if not image_shape_matches(geometry):
                raise InvalidArgumentError(
                    f"ring '{name}': pix_fmt {geometry.pix_fmt_name} needs shape (height * 3 // 2, "
                    f"width) of uint8 with an even height and width, got {shape} {typestr}")
        elif geometry.pix_fmt != L.PIX_RAW:
            channels = 1 if geometry.pix_fmt == L.PIX_GRAY8 else 3
            if typestr != "|u1" or len(shape) != 3 or shape[2] != channels:
                raise InvalidArgumentError(
                    f"ring '{name}': pix_fmt {geometry.pix_fmt_name} needs shape (height, width, "
                    f"{channels}) of uint8, got {shape} {typestr}; use pix_fmt='raw' for other arrays")
        mode = int(mode)
        if mode & ~0o777 or mode & 0o600 != 0o600:
            raise InvalidArgumentError(f"ring '{name}': mode {mode:04o} must let the owner read and "
                                       "write (e.g. 0o600 or 0o640)")
        if mode & 0o022:
            # Readers never need write access; whoever may write the segment can truncate it
            # under every reader or forge frames.
            raise InvalidArgumentError(f"ring '{name}': mode {mode:04o} lets group or others "
                                       "write the ring: use at most 0o644 (e.g. 0o640)")
        info = plan_layout(name, geometry, int(slots))
        self.name = name
        self.path = _sys.segment_path(name)
        self._keep = keep
        self._closed = False
        self._claimed = False
        self._next_frame = 0
        self.bytes_published = 0

        self._previous = _lock_existing(name, self.path)  # held until our segment replaces it
        try:
            self._create(info, mode, group)
        finally:
            if self._previous >= 0:
                os.close(self._previous)
            self._previous = -1
        self._hb_stop = threading.Event()
        self._hb_thread = threading.Thread(target=self._heartbeat_loop, args=(heartbeat_period,),
                                           name=f"framering-heartbeat-{name}", daemon=True)
        self._hb_thread.start()

    @classmethod
    def image(cls, name, width, height, pix_fmt="bgr24", **kw):
        g = Geometry.image(width, height, pix_fmt)
        return cls(name, g.shape, np.uint8, pix_fmt=pix_fmt, **kw)

    def _create(self, info, mode, group):
        name, path = self.name, self.path
        # A random part, so nobody can plant a file (or a FIFO) under the name we create.
        temp = f"{path}.tmp.{os.getpid()}.{_sys.random_u64():016x}"
        try:
            fd = os.open(temp, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC | os.O_NOFOLLOW, mode)
        except OSError as e:
            cls = RingPermissionError if e.errno == errno.EACCES else RingSystemError
            raise cls(f"ring '{name}': cannot create {temp}: {e.strerror} "
                      f"(is {_sys.shm_dir()} writable?)") from None
        mm = None
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                os.fchmod(fd, mode)
            except OSError as e:
                raise RingSystemError(f"ring '{name}': flock/fchmod: {e.strerror}") from None
            if group is not None:
                gid = grp.getgrnam(group).gr_gid if isinstance(group, str) else int(group)
                try:
                    os.fchown(fd, -1, gid)
                except OSError as e:
                    raise RingPermissionError(
                        f"ring '{name}': cannot give the segment to group {group}: {e.strerror}") from None
            try:
                os.posix_fallocate(fd, 0, info.segment_bytes)
            except OSError as e:
                free = ""
                try:
                    vfs = os.statvfs(_sys.shm_dir())
                    free = f", {_sys.shm_dir()} has {_mib(vfs.f_bavail * vfs.f_frsize)} free"
                except OSError:
                    pass
                if e.errno == errno.ENOSPC:
                    raise NoSpaceError(
                        f"ring '{name}': needs {_mib(info.segment_bytes)} ({info.slots} slots x "
                        f"{info.slot_stride} B + tables){free}: use fewer slots or a smaller frame, "
                        "or enlarge /dev/shm (docker run --shm-size)") from None
                raise RingSystemError(f"ring '{name}': posix_fallocate: {e.strerror}{free}") from None
            try:
                mm = mmap.mmap(fd, info.segment_bytes, flags=mmap.MAP_SHARED,
                               prot=mmap.PROT_READ | mmap.PROT_WRITE)
            except OSError as e:
                raise RingSystemError(f"ring '{name}': mmap: {e.strerror}") from None
            info.epoch = 0
            while info.epoch == 0:
                info.epoch = _sys.random_u64()
            info.writer_pid = os.getpid()
            info.created_realtime_ns = _sys.realtime_ns()
            write_header(mm, info)
            self._mm = mm
            self._u64 = memoryview(mm).cast("Q")
            self._u32 = memoryview(mm).cast("I")
            self.info = info
            self._beat()
            try:
                previous, self._previous = self._previous, -1
                self._previous = _install(name, temp, path, previous)
            except OSError as e:
                cls = RingPermissionError if e.errno in (errno.EPERM, errno.EACCES) else RingSystemError
                raise cls(f"ring '{name}': cannot move the new segment into place at {path}: "
                          f"{e.strerror}") from None
        except BaseException:
            for view in (getattr(self, "_u64", None), getattr(self, "_u32", None)):
                if view is not None:
                    view.release()
            if mm is not None:
                mm.close()
            os.close(fd)
            try:
                os.unlink(temp)
            except OSError:
                pass
            raise
        self._fd = fd
        self._inode = os.fstat(fd).st_ino
        g = info.geometry
        # Views are made over the np.frombuffer array, whose base is a memoryview holding a
        # buffer export: mmap.close() then refuses to unmap while any view lives.
        # (np.ndarray(buffer=<mmap>) collapses its base to the mmap and holds no export.)
        pinned = np.frombuffer(mm, np.uint8)
        self._address = pinned.__array_interface__["data"][0]
        self._slots_array = np.ndarray(
            shape=(info.slots,) + tuple(g.shape), dtype=g.dtype, buffer=pinned,
            offset=info.payload_offset, strides=(info.slot_stride,) + tuple(g.strides))
        self._u32[_STATE_WORD32] = L.STATE_LIVE

    # -- heartbeat --------------------------------------------------------------------------
    def _beat(self):
        self._u64[_HEARTBEAT_WORD] = _sys.monotonic_ns()

    def _heartbeat_loop(self, period):
        while not self._hb_stop.wait(period):
            try:
                self._beat()
            except (ValueError, TypeError):  # released during close
                return

    # -- producing --------------------------------------------------------------------------
    @property
    def shape(self):
        return tuple(self.info.geometry.shape)

    @property
    def dtype(self):
        return self.info.geometry.dtype

    @property
    def cursor(self):
        """Frames published so far."""
        return self._next_frame

    def prefault(self):
        """Touches every payload page once (zeros) before the first frame, so the first lap of
        the ring does not pay page faults on the hot path. Only before the first claim()."""
        if self._next_frame or self._claimed:
            raise RuntimeError(f"ring '{self.name}': prefault() only before the first claim()")
        self._slots_array.fill(0)

    def claim(self):
        """Marks the next slot as being written (seq odd) and returns it, writable."""
        if self._closed:
            raise RuntimeError(f"ring '{self.name}': writer is closed")
        if self._claimed:
            raise RuntimeError(f"ring '{self.name}': claim() called again before publish()")
        n = self._next_frame
        k = n % self.info.slots
        entry = (self.info.slot_table_offset + k * L.SLOT_ENTRY_BYTES) // 8
        self._u64[entry] = L.seq_writing(n)
        self._claimed = True
        return WriterSlot(self._slots_array[k], n, _sys.realtime_ns())

    def publish(self, slot, pts_ns=None, capture_realtime_ns=None, flags=None):
        """Commits the slot (seq even), advances the cursor and wakes waiting readers."""
        if not self._claimed or slot.frame_no != self._next_frame:
            raise RuntimeError(f"ring '{self.name}': publish() of a slot that is not the claimed one")
        if pts_ns is not None:
            slot.pts_ns = pts_ns
        if capture_realtime_ns is not None:
            slot.capture_realtime_ns = capture_realtime_ns
        if flags is not None:
            slot.flags = flags
        n = slot.frame_no
        k = n % self.info.slots
        entry = (self.info.slot_table_offset + k * L.SLOT_ENTRY_BYTES) // 8
        u64 = self._u64
        now_rt = _sys.realtime_ns()
        now_mono = _sys.monotonic_ns()
        u64[entry + 1] = n
        u64[entry + 2] = slot.pts_ns & 0xFFFFFFFFFFFFFFFF
        u64[entry + 3] = slot.capture_realtime_ns or slot._claim_ns
        u64[entry + 4] = now_rt
        u64[entry + 6] = now_mono
        self._u32[(entry + 5) * 2] = slot.flags
        u64[entry] = L.seq_committed(n)
        u64[_CURSOR_WORD] = n + 1
        u64[_HEARTBEAT_WORD] = now_mono
        _sys.futex_wake_all(self._address + L.hdr.CURSOR)
        self._next_frame = n + 1
        self._claimed = False
        self.bytes_published += self.info.frame_bytes
        slot.array = None

    def write(self, array, pts_ns=0, flags=0, capture_realtime_ns=0):
        """Copies `array` (exactly the ring's shape; cast safely to its dtype) into the next
        slot and publishes it. Returns the frame number."""
        array = np.asarray(array)
        if array.shape != self.shape:
            raise ValueError(f"ring '{self.name}': frame shape {array.shape} != ring shape {self.shape}")
        slot = self.claim()
        np.copyto(slot.array, array, casting="same_kind")
        n = slot.frame_no
        self.publish(slot, pts_ns=pts_ns, flags=flags, capture_realtime_ns=capture_realtime_ns)
        return n

    # -- lifetime ---------------------------------------------------------------------------
    def close(self):
        """Sets CLOSED, wakes readers, unlinks the segment unless keep. Idempotent."""
        if self._closed:
            return
        self._closed = True
        self._hb_stop.set()
        self._hb_thread.join()
        self._u32[_STATE_WORD32] = L.STATE_CLOSED
        _sys.futex_wake_all(self._address + L.hdr.CURSOR)
        if not self._keep:
            try:  # unlink only our own segment: a successor may already own the name
                if os.stat(self.path).st_ino == self._inode:
                    os.unlink(self.path)
            except OSError:
                pass
        self._u64.release()
        self._u32.release()
        self._slots_array = None
        try:
            self._mm.close()
        except BufferError:
            pass  # a caller still holds a slot array; unmapped when it is collected
        os.close(self._fd)  # releases the flock
        self._fd = -1

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __repr__(self):
        return (f"Writer({self.name!r}, {self.info.geometry.describe()}, slots={self.info.slots}, "
                f"cursor={self._next_frame}, closed={self._closed})")
