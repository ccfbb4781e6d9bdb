"""Small POSIX helpers shared by the reader and writer (mirrors ringbuf/src/sys.cpp, names.cpp).

Futex: the ring's cursor low 32 bits are a shared futex word. Waiting and waking go through the
raw futex syscall via ctypes (stdlib) where the architecture's syscall number is known; elsewhere
`futex_available` is False and readers poll with short sleeps instead.
"""
import ctypes
import errno
import fcntl
import os
import platform
import re
import time

from .errors import InvalidArgumentError
from .layout import MAX_RING_NAME_LENGTH

PREFIX = "framering."
_NAME_RE = re.compile(r"[A-Za-z0-9_-]+")

_FUTEX_WAIT = 0
_FUTEX_WAKE = 1
_SYS_FUTEX = {"x86_64": 202, "aarch64": 98, "i686": 240, "armv7l": 240}.get(platform.machine())
_INT_MAX = 2**31 - 1


class _Timespec(ctypes.Structure):
    _fields_ = [("tv_sec", ctypes.c_long), ("tv_nsec", ctypes.c_long)]


def _load_syscall():
    if _SYS_FUTEX is None:
        return None
    try:
        fn = ctypes.CDLL(None, use_errno=True).syscall
    except (OSError, AttributeError):
        return None
    fn.restype = ctypes.c_long
    return fn


_syscall = _load_syscall()
futex_available = _syscall is not None


def futex_wait(address, expected, timeout_ns):
    """Sleeps while the u32 at `address` equals `expected`, at most `timeout_ns`.

    Shared (not FUTEX_PRIVATE): writer and readers are different processes. ctypes releases the
    GIL for the call, so other Python threads keep running. Without futex support, sleeps
    min(timeout, 1 ms) so callers re-check the cursor often.
    """
    if not futex_available:
        time.sleep(min(timeout_ns, 1_000_000) / 1e9)
        return
    ts = _Timespec(timeout_ns // 1_000_000_000, timeout_ns % 1_000_000_000)
    _syscall(ctypes.c_long(_SYS_FUTEX), ctypes.c_void_p(address), ctypes.c_int(_FUTEX_WAIT),
             ctypes.c_uint32(expected), ctypes.byref(ts), None, ctypes.c_int(0))


def futex_wake_all(address):
    if futex_available:
        _syscall(ctypes.c_long(_SYS_FUTEX), ctypes.c_void_p(address), ctypes.c_int(_FUTEX_WAKE),
                 ctypes.c_int(_INT_MAX), None, None, ctypes.c_int(0))


def flock_held_elsewhere(fd):
    """True if some other open file description holds an exclusive flock on fd's file."""
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except OSError as e:
        return e.errno in (errno.EWOULDBLOCK, errno.EAGAIN)
    fcntl.flock(fd, fcntl.LOCK_UN)
    return False


def monotonic_ns():
    return time.clock_gettime_ns(time.CLOCK_MONOTONIC)


def realtime_ns():
    return time.clock_gettime_ns(time.CLOCK_REALTIME)


def random_u64():
    return int.from_bytes(os.urandom(8), "little")


def shm_dir():
    """Where rings live: $FRAMERING_SHM_DIR if set and non-empty, else /dev/shm."""
    return os.environ.get("FRAMERING_SHM_DIR") or "/dev/shm"


def validate_ring_name(name):
    if not isinstance(name, str) or len(name) > MAX_RING_NAME_LENGTH or not _NAME_RE.fullmatch(name):
        raise InvalidArgumentError(
            f"ring name '{str(name)[:80]}' is invalid: use 1-48 characters from A-Z a-z 0-9 _ -")


def segment_path(name):
    return os.path.join(shm_dir(), PREFIX + name)


def list_rings():
    """Names of every ring segment in shm_dir() (not temp or reader-stats files), sorted."""
    try:
        entries = os.listdir(shm_dir())
    except OSError:
        return []
    # Only valid ring names: temp and stats files have a ".", and anyone may plant a name with
    # terminal escapes (or, listed as str, undecodable bytes) in a shared /dev/shm.
    names = (e[len(PREFIX):] for e in entries if e.startswith(PREFIX))
    return sorted(n for n in names
                  if len(n) <= MAX_RING_NAME_LENGTH and _NAME_RE.fullmatch(n) and n.isascii())
