"""The one architecture check of the pure-Python reader and writer.

The seqlock is read and written with plain aligned 8-byte loads and stores through a memoryview
over the mapping. That is a correct acquire/release protocol only where the hardware keeps loads
in order with loads and stores in order with stores, and 8-byte accesses are single-copy atomic:
x86-64 (TSO). On weaker memory models (ARM, POWER, RISC-V) Python offers no fences, so a reader
could accept a frame that was being overwritten and say it was intact. Refusing is better than
being silently wrong.
"""
import platform

from .errors import RingSystemError

SUPPORTED_MACHINES = ("x86_64", "AMD64", "amd64")


def require_supported_machine(what):
    """Raises RingSystemError naming the machine when this process cannot run `what` correctly."""
    machine = platform.machine()
    if machine in SUPPORTED_MACHINES:
        return
    raise RingSystemError(
        f"{what}: the pure-Python framering reader and writer are correct only on x86-64 "
        f"(this machine is {machine or 'unknown'}): their seqlock needs memory ordering that "
        "Python cannot request on other architectures. Use the C++ tools there "
        "(`framering worker`, `framering ingest`), which use real acquire/release atomics.")
