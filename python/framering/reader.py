"""Ring: a read-only, zero-copy view of a framering ring (mirrors ringbuf/src/reader.cpp).

Outcomes are result codes, as in the C++ Reader: `read`, `latest` and `wait_next` return a
ReadResult whose `status` is a ReadStatus (OK, NOT_YET, LAPPED, TORN, WRITER_GONE,
EPOCH_CHANGED); only attach failures raise (RingError subclasses, see errors.py). Iterating a
Ring yields only OK frames and handles the other outcomes itself (see Ring.frames).

Memory ordering: the seqlock is read with plain aligned 8-byte loads through a memoryview over
the mapping. On x86-64 (TSO) loads are not reordered with other loads, which is all the reader
side of the protocol needs; on weaker architectures this module is not a correct reader, so
Ring() refuses to attach there (_arch.require_supported_machine).
"""
import dataclasses
import enum
import errno
import mmap
import os
import time

import numpy as np

from . import _arch, _files, _sys
from . import layout as L
from .errors import (BadHeaderError, NoFrameError, NotFoundError, RingError,
                     RingPermissionError, RingSystemError, TornError)
from .group import Member
from .header import parse_header

_CURSOR_WORD = L.hdr.CURSOR // 8
_HEARTBEAT_WORD = L.hdr.HEARTBEAT_NS // 8
_STATE_WORD32 = L.hdr.STATE // 4
_PROBE_INTERVAL_NS = 50_000_000
_MAX_SLEEP_NS = 100_000_000  # wake at least this often to notice a dead writer
_SUCCESSOR_POLL_NS = 50_000_000  # while the writer is gone, look for a successor this often


class ReadStatus(str, enum.Enum):
    OK = "OK"                        # `frame` is set; re-check frame.valid() after use
    NOT_YET = "NOT_YET"              # that frame has not been published yet
    LAPPED = "LAPPED"                # overwritten before we looked; `missed` lost, resume at `next`
    TORN = "TORN"                    # overwritten while we looked (or slot word inconsistent)
    WRITER_GONE = "WRITER_GONE"      # writer closed or died; keep calling to notice a new writer
    EPOCH_CHANGED = "EPOCH_CHANGED"  # a new writer replaced the ring; re-attached, resume at 0

    def __str__(self):
        return self.value


@dataclasses.dataclass
class ReadResult:
    status: ReadStatus
    frame: "Frame" = None
    missed: int = 0  # frames lost (LAPPED, TORN)
    next: int = 0    # frame number to ask for next

    @property
    def ok(self):
        return self.status is ReadStatus.OK

    def __getattr__(self, name):
        # An OK result stands for its frame (`ring.latest().array`, `.valid()`, `.frame_no`);
        # any other outcome has no frame, and saying which beats a bare AttributeError.
        frame = self.__dict__.get("frame")
        if frame is not None and not name.startswith("__"):
            return getattr(frame, name)
        raise NoFrameError(f"this read returned {self.__dict__.get('status')} (no frame), so it "
                           f"has no '{name}'; check result.ok or result.status first")


@dataclasses.dataclass
class ReaderCounters:
    """What this Ring saw; names match the C++ reader-stats file and worker metrics."""

    frames_read: int = 0
    bytes_in_place: int = 0
    bytes_copied: int = 0
    lapped: int = 0
    torn: int = 0
    skipped: int = 0
    epoch_changes: int = 0


class _Closed:
    """Stands in for the word views of a closed mapping: any access says what happened."""

    def __init__(self, name):
        self.name = name

    def __getitem__(self, index):
        raise RingSystemError(f"ring '{self.name}' was closed; attach a new framering.Ring")


class _Mapping:
    """One read-only mapping of one segment (one epoch)."""

    def __init__(self, name):
        _sys.validate_ring_name(name)
        path = _sys.segment_path(name)
        self.path = path
        try:
            fd, st = _files.open_regular(path)
        except FileNotFoundError:
            raise NotFoundError(
                f"no ring '{name}' ({path} does not exist): start "
                f"`framering ingest --ring {name}` (or a Python Writer) first") from None
        except PermissionError as e:
            raise RingPermissionError(
                f"ring '{name}': cannot open {path}: {e.strerror} (the segment's mode/owner does "
                "not allow this user to read it; see --shm-mode)") from None
        except (_files.NotRegularFile, OSError) as e:
            if isinstance(e, _files.NotRegularFile) or e.errno == errno.ELOOP:
                raise BadHeaderError(f"ring '{name}': {path} {_files.describe_open_error(e)}; "
                                     "remove it or choose another ring") from None
            raise RingSystemError(f"ring '{name}': cannot open {path}: {e.strerror}") from None
        self.fd = fd
        self.mm = None
        self.name = name
        self.closed = False
        try:
            if st.st_mode & 0o022:
                raise RingPermissionError(
                    f"ring '{name}': {path} is writable by group or others (refused: readers "
                    "never need write access; see --shm-mode)")
            if st.st_size < L.HEADER_BYTES:
                raise BadHeaderError(f"ring '{name}': not a valid framering ring: {path} is "
                                     f"{st.st_size} bytes, smaller than the 4096-byte header")
            self.size = st.st_size
            self.inode = st.st_ino
            try:
                self.mm = mmap.mmap(fd, self.size, flags=mmap.MAP_SHARED, prot=mmap.PROT_READ)
            except OSError as e:
                raise RingSystemError(f"ring '{name}': mmap: {e.strerror}") from None
            try:
                self.info = parse_header(self.mm, self.size)
            except BadHeaderError as e:
                raise BadHeaderError(f"ring '{name}' ({path}): {e}") from None
            self.u64 = memoryview(self.mm).cast("Q")
            self.u32 = memoryview(self.mm).cast("I")
            self.bytes = np.frombuffer(self.mm, dtype=np.uint8)
            self.address = self.bytes.__array_interface__["data"][0]
            info = self.info
            g = info.geometry
            # Views are made over the np.frombuffer array, whose base is a memoryview holding a
            # buffer export: mmap.close() then refuses to unmap while any view lives.
            # (np.ndarray(buffer=<mmap>) collapses its base to the mmap and holds no export.)
            self.slots_array = np.ndarray(
                shape=(info.slots,) + tuple(g.shape), dtype=g.dtype, buffer=self.bytes,
                offset=info.payload_offset, strides=(info.slot_stride,) + tuple(g.strides))
        except BaseException:
            self.close()
            raise

    def __del__(self):
        # A Ring dropped without close(): the mmap unmaps itself when collected, the fd does not.
        fd = getattr(self, "fd", -1)
        if fd >= 0:
            self.fd = -1
            try:
                os.close(fd)
            except OSError:
                pass

    def close(self):
        # Frames handed out keep the mmap alive through their arrays (no dangling views, unlike
        # C++); the mapping is unmapped when the last of them is garbage collected.
        self.closed = True
        for attr in ("u64", "u32"):
            view = self.__dict__.get(attr)
            if isinstance(view, memoryview):
                view.release()
            setattr(self, attr, _Closed(self.name))
        self.__dict__.pop("bytes", None)
        self.__dict__.pop("slots_array", None)
        if self.mm is not None:
            try:
                self.mm.close()
            except BufferError:
                pass
            self.mm = None
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


class Frame:
    """One frame read in place. `array` is a read-only np.ndarray whose memory is the slot.

    The payload may be overwritten by the writer at any time once the ring laps this reader;
    call valid() after using `array` to know whether what you computed is trustworthy.
    """

    __slots__ = ("_ring", "_map", "array", "slot", "seq", "frame_no", "pts_ns",
                 "capture_realtime_ns", "publish_realtime_ns", "publish_monotonic_ns", "flags")

    @property
    def pts(self):
        """Presentation time in nanoseconds (same as pts_ns)."""
        return self.pts_ns

    @property
    def nbytes(self):
        return self.array.nbytes

    @property
    def keyframe(self):
        return bool(self.flags & L.FLAG_KEYFRAME)

    @property
    def decode_error(self):
        return bool(self.flags & L.FLAG_DECODE_ERROR)

    @property
    def resized(self):
        return bool(self.flags & L.FLAG_RESIZED)

    def valid(self):
        """Re-checks the seqlock: False means the slot was overwritten (TORN) since the read."""
        return self._ring.valid(self)

    def copy(self):
        """A private copy of the payload, verified intact; raises TornError if it was not."""
        out = self.array.copy()
        if not self.valid():
            raise TornError(f"ring '{self._ring.name}': frame {self.frame_no} was overwritten "
                            "while it was copied; read a newer frame")
        self._ring.counters.bytes_copied += out.nbytes
        return out

    def __array__(self, dtype=None):
        return self.array if dtype is None else self.array.astype(dtype)

    def __repr__(self):
        return (f"Frame(frame_no={self.frame_no}, seq={self.seq}, pts_ns={self.pts_ns}, "
                f"flags={self.flags}, shape={self.array.shape})")


class Ring:
    """Attaches read-only to ring `name` (in $FRAMERING_SHM_DIR or /dev/shm).

    start: where iteration and wait_next() begin: "oldest" (the oldest frame still in the
    ring; default), "next" (only frames published after attach) or a frame number.
    stale_after: seconds after which a silent heartbeat makes the reader probe the writer's flock.
    Raises NotFoundError, BadHeaderError, RingPermissionError, InvalidArgumentError.
    """

    def __init__(self, name, start="oldest", stale_after=0.3):
        if start not in ("oldest", "next") and not (isinstance(start, int) and start >= 0):
            raise ValueError(f"start must be 'oldest', 'next' or a frame number, got {start!r}")
        _arch.require_supported_machine(f"ring '{name}'")
        self.name = name
        self._stale_ns = int(stale_after * 1e9)
        self._map = _Mapping(name)
        self._last_probe_ns = 0
        self._writer_gone = False
        self.counters = ReaderCounters()
        cursor = self.cursor
        if start == "oldest":  # the oldest frame certainly intact, as the C++ worker starts
            self.position = self._oldest_intact(cursor)
        elif start == "next":
            self.position = cursor
        else:
            self.position = start

    # -- attributes -------------------------------------------------------------------------
    @property
    def info(self):
        return self._map.info

    @property
    def geometry(self):
        return self._map.info.geometry

    @property
    def shape(self):
        return tuple(self._map.info.geometry.shape)

    @property
    def dtype(self):
        return self._map.info.geometry.dtype

    @property
    def slots(self):
        return self._map.info.slots

    @property
    def epoch(self):
        return self._map.info.epoch

    @property
    def cursor(self):
        """Frames published so far."""
        return self._map.u64[_CURSOR_WORD]

    @property
    def state(self):
        return self._map.u32[_STATE_WORD32]

    @property
    def state_name(self):
        return L.STATE_NAMES.get(self.state, "INVALID")

    @property
    def heartbeat_ns(self):
        return self._map.u64[_HEARTBEAT_WORD]

    def slots_array(self):
        """The whole payload area as one read-only (slots, *shape) array (slot stride apart)."""
        return self._map.slots_array

    # -- liveness ---------------------------------------------------------------------------
    def writer_alive(self):
        """INIT/LIVE and either a fresh heartbeat or (probed at most every 50 ms) a held flock.

        INIT is the moment between rename and LIVE; a writer dying there is caught by the same
        check. CLOSED or an unknown state: gone."""
        state = self.state
        if state not in (L.STATE_LIVE, L.STATE_INIT):
            return False
        now = _sys.monotonic_ns()
        hb = self.heartbeat_ns
        if hb <= now and now - hb < self._stale_ns:
            return True
        if self._writer_gone:
            return False
        if now - self._last_probe_ns < _PROBE_INTERVAL_NS:
            return True
        self._last_probe_ns = now
        self._writer_gone = not _sys.flock_held_elsewhere(self._map.fd)
        return not self._writer_gone

    def _successor_or_gone(self, frame_no):
        gone = ReadResult(ReadStatus.WRITER_GONE, next=frame_no)
        try:
            st = os.stat(_sys.segment_path(self.name))
        except OSError:
            return gone
        if st.st_ino == self._map.inode:
            return gone
        try:
            successor = _Mapping(self.name)
        except RingError:
            return gone  # not (yet) a valid ring under that name; look again later
        if successor.info.epoch == self._map.info.epoch:
            successor.close()
            return gone
        self._map.close()
        self._map = successor
        self._writer_gone = False
        self._last_probe_ns = 0
        self.counters.epoch_changes += 1
        return ReadResult(ReadStatus.EPOCH_CHANGED, next=0)

    def _not_yet(self, frame_no):
        if not self.writer_alive():
            return self._successor_or_gone(frame_no)
        return ReadResult(ReadStatus.NOT_YET, next=frame_no)

    # -- reads ------------------------------------------------------------------------------
    def read(self, frame_no):
        """Frame `frame_no`, in place. Never blocks. Does not move `position`."""
        if frame_no < 0:
            raise ValueError(f"ring '{self.name}': frame numbers start at 0, got {frame_no}")
        m = self._map
        u64 = m.u64
        cursor = u64[_CURSOR_WORD]
        if frame_no >= cursor:
            return self._not_yet(frame_no)
        info = m.info
        slots = info.slots
        k = frame_no % slots
        entry = (info.slot_table_offset + k * L.SLOT_ENTRY_BYTES) // 8
        s1 = u64[entry]
        want = L.seq_committed(frame_no)
        oldest_safe = cursor - slots + 1 if cursor >= slots else 0
        if s1 != want:
            status = ReadStatus.LAPPED if s1 > want else ReadStatus.TORN
            nxt = max(frame_no + 1, oldest_safe)
            return ReadResult(status, missed=nxt - frame_no, next=nxt)
        f = Frame()
        f.frame_no = u64[entry + 1]
        f.pts_ns = u64[entry + 2]
        if f.pts_ns >= 1 << 63:
            f.pts_ns -= 1 << 64
        f.capture_realtime_ns = u64[entry + 3]
        f.publish_realtime_ns = u64[entry + 4]
        f.flags = m.u32[(entry + 5) * 2]
        f.publish_monotonic_ns = u64[entry + 6]
        s2 = u64[entry]
        if s2 != s1 or f.frame_no != frame_no:
            nxt = max(frame_no + 1, oldest_safe)
            return ReadResult(ReadStatus.LAPPED, missed=nxt - frame_no, next=nxt)
        f._ring = self
        f._map = m
        f.slot = k
        f.seq = s1
        f.array = m.slots_array[k]
        return ReadResult(ReadStatus.OK, frame=f, next=frame_no + 1)

    def latest(self):
        """The newest committed frame (NOT_YET when none). Does not move `position`."""
        for _ in range(4):
            cursor = self.cursor
            if cursor == 0:
                return self._not_yet(0)
            r = self.read(cursor - 1)
            if r.status is not ReadStatus.LAPPED:
                return r
        return self.read(self.cursor - 1)

    def wait_next(self, timeout=None, frame_no=None):
        """Blocks until frame `frame_no` (default: `position`) is committed or `timeout` seconds
        pass (None: no limit), then returns its ReadResult (NOT_YET on timeout).

        Sleeps on the cursor futex (woken by every publish; at least every 100 ms to notice a
        dead writer); without futex support polls every 1 ms. While the writer is gone it keeps
        looking for a successor every 50 ms: EPOCH_CHANGED when one appears, WRITER_GONE only at
        the timeout (as the C++ Reader::wait_next). When frame_no is None, `position` advances
        to result.next for OK, LAPPED, TORN and EPOCH_CHANGED.
        """
        return self._wait(timeout, frame_no, until_gone=False)

    def _wait(self, timeout, frame_no, until_gone):
        n = self.position if frame_no is None else frame_no
        deadline = None if timeout is None else _sys.monotonic_ns() + max(0, int(timeout * 1e9))
        while True:
            r = self.read(n)
            if r.status is not ReadStatus.NOT_YET and r.status is not ReadStatus.WRITER_GONE:
                break
            if r.status is ReadStatus.WRITER_GONE and until_gone:
                break
            now = _sys.monotonic_ns()
            if deadline is not None and now >= deadline:
                break
            if r.status is ReadStatus.WRITER_GONE:
                nap = _SUCCESSOR_POLL_NS if deadline is None else \
                    min(deadline - now, _SUCCESSOR_POLL_NS)
                time.sleep(nap / 1e9)
                continue
            cursor = self.cursor
            if cursor > n:
                continue
            budget = _MAX_SLEEP_NS if deadline is None else min(deadline - now, _MAX_SLEEP_NS)
            _sys.futex_wait(self._map.address + L.hdr.CURSOR, cursor & 0xFFFFFFFF, budget)
        if frame_no is None and r.status not in (ReadStatus.NOT_YET, ReadStatus.WRITER_GONE):
            self.position = r.next
        return r

    def valid(self, frame):
        """Re-checks the seqlock after the caller used frame.array: False means TORN."""
        m = self._map
        if frame._map is not m or m.closed or frame.slot >= m.info.slots:
            return False  # a frame from before a re-attach (EPOCH_CHANGED) is never valid
        entry = (m.info.slot_table_offset + frame.slot * L.SLOT_ENTRY_BYTES) // 8
        return m.u64[entry] == frame.seq

    # -- iteration --------------------------------------------------------------------------
    def frames(self, mode="every", member=None, timeout=None, until_gone=True):
        """Yields OK frames from `position` on, handling every other outcome:

        mode "every": each frame in order (LAPPED/TORN skip ahead, counted in `counters`);
        mode "latest": the newest frame whenever one newer than the last yielded exists
        (frames passed over are counted as `skipped`).
        member: a group.Member (or (I, N) tuple) to take only frames with frame_no % N == I.
        timeout: seconds without a new frame after which iteration ends (None: wait forever).
        until_gone: end when the writer is gone and every committed frame was offered; with
        False keep waiting for a successor writer (EPOCH_CHANGED restarts the stream at its
        oldest intact frame in "every" mode, at its newest in "latest" mode).
        """
        if mode not in ("every", "latest"):
            raise ValueError(f"mode must be 'every' or 'latest', got {mode!r}")
        if member is not None and not isinstance(member, Member):
            member = Member(*member)
        c = self.counters

        def owned(lo, hi):  # frames in [lo, hi) this reader is responsible for
            return max(0, hi - lo) if member is None else member.count(lo, hi)

        while True:
            if member is not None:
                self.position = member.next_owned(self.position)
            start = self.position
            r = self._wait(timeout, None, until_gone)
            s = r.status
            if s is ReadStatus.OK and mode == "latest":
                newest = self.cursor - 1
                if member is not None:
                    newest = member.last_owned(newest)
                if newest is not None and newest > r.frame.frame_no:
                    fresher = self.read(newest)
                    if fresher.ok:
                        r = fresher
                        self.position = fresher.next
            if r.ok:
                f = r.frame
                c.skipped += owned(start, f.frame_no)
                c.frames_read += 1
                c.bytes_in_place += f.array.nbytes
                yield f
            elif s is ReadStatus.LAPPED:
                c.lapped += owned(start, r.next)
            elif s is ReadStatus.TORN:
                c.torn += 1
            elif s is ReadStatus.EPOCH_CHANGED:
                self.position = self._stream_start(mode, member)
            else:
                return  # NOT_YET / WRITER_GONE: timed out, or the writer is gone (until_gone)

    def _oldest_intact(self, cursor):
        """The oldest frame certainly intact, as workers/src/follower.cpp computes it: a live
        writer may be overwriting the slot of frame cursor - slots right now; a closed or dead
        one left every slot as it was, so all `slots` frames are intact."""
        held = self.slots - 1 if self.writer_alive() else self.slots
        return cursor - held if cursor > held else 0

    def _stream_start(self, mode, member):
        """Where a stream over a new writer's ring begins, as the C++ worker's follower does:
        every: the oldest frame certainly intact; latest: the newest frame (of this member)."""
        cursor, slots = self.cursor, self.slots
        if mode == "every":
            return self._oldest_intact(cursor)
        newest = cursor - 1 if member is None else member.last_owned(cursor - 1)
        return newest if cursor > 0 and newest is not None else 0

    def __iter__(self):
        return self.frames()

    # -- lifetime ---------------------------------------------------------------------------
    def close(self):
        if self._map is not None:
            self._map.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __repr__(self):
        return (f"Ring({self.name!r}, {self.geometry.describe()}, slots={self.slots}, "
                f"cursor={self.cursor}, state={self.state_name})")
