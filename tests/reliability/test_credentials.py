"""An RTSP password never shows in the process table: ingest masks it in its own argv, which
every local user can read from /proc/<pid>/cmdline (and `ps`)."""
import pathlib
import signal

from rel_helpers import stalling_server, start_stalled_ingest  # noqa: F401 (a fixture)


def test_password_is_masked_in_proc_cmdline(framering_bin, ring_name, stalling_server, procs):
    url = f"rtsp://alice:Pw-9f2kQ7x@127.0.0.1:{stalling_server.port}/cam?token=Tk-55"
    p = start_stalled_ingest(procs, framering_bin, ring_name, stalling_server, url)
    # It connected, so it parsed the real URL; what others can read is the masked one.
    cmdline = pathlib.Path(f"/proc/{p.pid}/cmdline").read_bytes().split(b"\0")
    source = cmdline[cmdline.index(b"--source") + 1].decode()
    assert source == f"rtsp://alice:**********@127.0.0.1:{stalling_server.port}/cam?token=*****"
    p.send_signal(signal.SIGTERM)
    _, err = p.communicate(timeout=15)
    assert p.returncode == 0, err
    assert "Pw-9f2kQ7x" not in err and "Tk-55" not in err
