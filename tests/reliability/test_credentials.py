"""An RTSP password never shows in the process table: ingest masks it in its own argv, which
every local user can read from /proc/<pid>/cmdline (and `ps`), in the `--source URL` and the
`--source=URL` form; and no error message about the command line echoes it."""
import pathlib
import signal
import subprocess

import pytest

from rel_helpers import stalling_server, start_stalled_ingest, wait_for  # noqa: F401 (a fixture)


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


def test_equals_form_is_masked_in_proc_cmdline(framering_bin, ring_name, stalling_server, procs):
    """`--source=URL` is one argument; its secrets are masked in place like the spaced form."""
    url = f"rtsp://alice:Pw-9f2kQ7x@127.0.0.1:{stalling_server.port}/cam?token=Tk-55"
    p = procs.start([framering_bin, "ingest", "--ring", ring_name, f"--source={url}",
                     "--timeout", "600", "--metrics-addr", "0"], text=True)
    wait_for(lambda: stalling_server.accepted, timeout=20, what="ingest to connect")
    raw = pathlib.Path(f"/proc/{p.pid}/cmdline").read_bytes()
    assert b"Pw-9f2kQ7x" not in raw and b"Tk-55" not in raw, raw
    cmdline = raw.split(b"\0")
    assert (f"--source=rtsp://alice:**********@127.0.0.1:{stalling_server.port}/cam?token=*****"
            .encode() in cmdline), cmdline
    p.send_signal(signal.SIGTERM)
    _, err = p.communicate(timeout=15)
    assert p.returncode == 0, err
    assert "Pw-9f2kQ7x" not in err and "Tk-55" not in err


SECRET_URL = "rtsp://bob:S3cr3t-Pw@10.9.8.7/live?token=T0k-99"
SECRETS = ("S3cr3t-Pw", "T0k-99")


@pytest.mark.parametrize("args", [
    # CLI11 rejects the value and names it: a URL given to a numeric flag.
    ["ingest", "--ring", "r", "--source", "x.mp4", f"--width={SECRET_URL}"],
    ["ingest", "--ring", "r", "--source", "x.mp4", "--width", SECRET_URL],
    # An option CLI11 does not know, in both forms.
    ["ingest", "--ring", "r", "--source", "x.mp4", f"--camera={SECRET_URL}"],
    ["ingest", "--ring", "r", f"--source={SECRET_URL}", "stray", SECRET_URL],
    # A subcommand's own check echoes the value.
    ["ingest", "--ring", "r", "--source", "x.mp4", f"--pix-fmt={SECRET_URL}"],
    ["ingest", "--ring", "r", "--source", "x.mp4", "--shm-mode", SECRET_URL],
    ["ingest", "--ring", SECRET_URL, f"--source={SECRET_URL}", "--check-config"],
    ["ingest", "--ring", SECRET_URL, f"--source={SECRET_URL}"],
    ["worker", "--ring", "r", f"--analytic={SECRET_URL}"],
    ["worker", "--ring", "r", "--analytic", "motion", "--log-level", SECRET_URL],
    ["run", f"--log-level={SECRET_URL}"],
    ["stat", SECRET_URL],
])
def test_error_messages_never_echo_a_secret(framering_bin, args):
    p = subprocess.run([framering_bin, *args], capture_output=True, text=True, timeout=30)
    assert p.returncode in (2, 4), (p.returncode, p.stderr)
    out = p.stdout + p.stderr
    assert out.strip(), "the error must still say something"
    for secret in SECRETS:
        assert secret not in out, f"{args}: {out}"
    # The error still points at the value, redacted.
    assert "***" in out or "10.9.8.7" not in out, out
