"""Errors from creating or attaching a ring, one class per C++ ErrorKind (ringbuf/error.hpp).

Every error is a RingError; catch the subclass you can act on. `exit_code` is what the framering
CLI would exit with for the same failure (2 usage/config, 4 ring error). Read outcomes (LAPPED,
TORN, ...) are not errors: they come back as ReadStatus values (see reader.py).
"""


class RingError(Exception):
    """Base class; `kind` is the C++ ErrorKind name, e.g. "bad_header"."""

    kind = "system"

    @property
    def exit_code(self):
        return 2 if self.kind == "invalid_argument" else 4


class InvalidArgumentError(RingError, ValueError):
    """Bad ring name, geometry or slot count."""

    kind = "invalid_argument"


class NotFoundError(RingError):
    """No segment under that name (yet)."""

    kind = "not_found"


class LiveWriterError(RingError):
    """Another writer holds the ring."""

    kind = "live_writer"


class BadHeaderError(RingError):
    """The segment is not a valid ring (the message names the first bad field).

    Raised for any untrusted bytes that fail validation: random data, truncated or padded
    segments, wrong magic or version, geometry that does not match the sizes.
    """

    kind = "bad_header"


class RingPermissionError(RingError):
    """The segment's mode/owner forbids access."""

    kind = "permission"


class NoSpaceError(RingError):
    """The shm directory is too small for the segment."""

    kind = "no_space"


class RingSystemError(RingError):
    """Any other operating-system failure."""

    kind = "system"


class TornError(RingError):
    """Frame.copy(): the slot was overwritten while it was being copied."""

    kind = "torn"


class NoFrameError(RingError, AttributeError):
    """A frame attribute was asked of a ReadResult whose status is not OK (e.g. NOT_YET)."""

    kind = "no_frame"
