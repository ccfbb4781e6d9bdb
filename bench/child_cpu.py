"""The CPU time a child process used, read from wait4 when it exits (shared by the bench drivers)."""
import os
import time


def wait_with_rusage(p, deadline):
    """(exit code or "timeout", user + sys CPU seconds) of child `p`; kills it at `deadline`
    (time.monotonic()) and still reports what it used."""
    while True:
        pid, status, usage = os.wait4(p.pid, os.WNOHANG)
        if pid == p.pid:
            p.returncode = os.waitstatus_to_exitcode(status)
            return p.returncode, usage.ru_utime + usage.ru_stime
        if time.monotonic() > deadline:
            p.kill()
            _, _, usage = os.wait4(p.pid, 0)
            p.returncode = -9
            return "timeout", usage.ru_utime + usage.ru_stime
        time.sleep(0.01)
