"""Opening files of the shared directory safely (mirrors ringbuf/src/sys.cpp open_regular).

Anyone can create files in /dev/shm: a FIFO under a ring's name would block a plain open
forever, a symlink could point anywhere. Every opener goes through open_regular.
"""
import errno
import os
import stat as stat_mod


class NotRegularFile(OSError):
    """The name is held by a FIFO, socket, device or directory."""


def open_regular(path, flags=os.O_RDONLY):
    """Returns (fd, stat) of the regular file at `path`: never follows a symlink (OSError ELOOP),
    never blocks, close-on-exec; raises NotRegularFile for anything but a regular file."""
    fd = os.open(path, flags | os.O_NONBLOCK | os.O_NOFOLLOW | os.O_CLOEXEC)
    try:
        st = os.fstat(fd)
    except OSError:
        os.close(fd)
        raise
    if not stat_mod.S_ISREG(st.st_mode):
        os.close(fd)
        raise NotRegularFile(errno.EINVAL, "is not a regular file (a FIFO, socket, device or "
                             "directory)", path)
    return fd, st


def describe_open_error(e):
    if isinstance(e, NotRegularFile):
        return e.strerror
    if e.errno == errno.ELOOP:
        return "is a symbolic link (refused: a ring file is never a link)"
    return e.strerror
