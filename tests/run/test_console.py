"""`framering run`'s progress line: on a terminal (a real pseudo-terminal here) it is drawn at the
start of the line after erasing it (`\\r` + `ESC[K`) and is never ended by a newline, so every
redraw, log line or final clear overwrites it in place; without a terminal there is no progress
line and no escape sequence, only plain periodic log lines."""
import fcntl
import os
import pty
import re
import select
import struct
import subprocess
import termios
import time

from conftest import free_port

ERASE = b"\r\x1b[K"
ERASE_RE = re.escape(ERASE)
# "[00:02] cam 25.0 fps in: checksum 25.0 | drops 0 | events 50 | restarts 0"
NUMBERS = rb"%s [\d.]+ fps in: checksum [\d.]+ \| drops \d+ \| events \d+ \| restarts 0"
PROGRESS = rb"\[00:(\d\d)\] " + NUMBERS


def write_config(tmp_path, ring):
    cfg = tmp_path / "console.yaml"
    cfg.write_text(f"""
cameras:
  {ring}:
    source: "testsrc:testsrc2=size=160x120:rate=25"
    realtime: true
    workers:
      checksum: {{}}
metrics:
  base_port: {free_port()}
supervisor:
  progress_interval: 1
""")
    return cfg


def run_on_pty(framering_bin, args, tmp_path, columns=300):
    """Runs `framering run` with stderr on a pseudo-terminal `columns` wide; returns (exit code,
    the bytes the terminal received, stdout)."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, columns, 0, 0))
    out_path = tmp_path / "run.out"
    with open(out_path, "w") as out:
        proc = subprocess.Popen([framering_bin, "run", *args], stdin=subprocess.DEVNULL,
                                stdout=out, stderr=slave)
    os.close(slave)
    received = bytearray()
    deadline = time.time() + 60
    try:
        while time.time() < deadline:
            ready, _, _ = select.select([master], [], [], 1.0)
            if not ready:
                continue
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: every holder of the terminal's other end closed it
                break
            if not chunk:
                break
            received += chunk
    finally:
        os.close(master)
        if proc.poll() is None and time.time() >= deadline:
            proc.kill()
    code = proc.wait(timeout=30)
    return code, bytes(received), out_path.read_text()


def test_progress_line_is_redrawn_in_place_on_a_terminal(framering_bin, ring_name, tmp_path,
                                                         private_shm):
    cfg = write_config(tmp_path, ring_name)
    code, tty, summary = run_on_pty(framering_bin, [str(cfg), "--duration", "4"], tmp_path)
    assert code == 0, tty.decode(errors="replace")
    assert "framering run summary" in summary

    draws = list(re.finditer(ERASE_RE + PROGRESS % ring_name.encode(), tty))
    clocks = [int(m.group(1)) for m in draws]
    assert len(draws) >= 2 and clocks == sorted(clocks) and clocks[-1] > clocks[0], tty
    for m in draws:
        # Nothing ends the line: whatever comes next (a redraw, a log line, the final clear)
        # first returns to column 0 and erases it.
        assert tty[m.end():].startswith(ERASE), tty[m.start():m.end() + 80]
    # The log lines still scroll (the terminal turns "\n" into "\r\n"), and the run ends with the
    # progress line erased, after the "stopping" line.
    assert re.search(rb"\[run\] \[info\] started \S+/checksum \(pid \d+\)\r\n", tty), tty
    assert tty.endswith(b"\r\n") and b"stopped (--duration reached)" in tty.splitlines()[-1], tty
    stop = tty.index(b"stopping: --duration reached")
    assert not re.search(PROGRESS % ring_name.encode(), tty[stop:]), "progress after the stop"


def test_narrow_terminal_gets_the_progress_line_cut_to_its_width(framering_bin, ring_name,
                                                                 tmp_path, private_shm):
    cfg = write_config(tmp_path, ring_name)
    code, tty, _ = run_on_pty(framering_bin, [str(cfg), "--duration", "2.5"], tmp_path,
                              columns=40)
    assert code == 0, tty.decode(errors="replace")
    cut = re.findall(ERASE_RE + rb"(\[00:\d\d\] [^\r\n]*)" + ERASE_RE, tty)
    assert cut, tty
    for line in cut:
        text = line.decode()
        assert text.endswith("…") and len(text) == 39, text  # 38 characters and the ellipsis


def test_no_progress_line_without_a_terminal(framering_bin, ring_name, tmp_path, private_shm):
    cfg = write_config(tmp_path, ring_name)
    out = subprocess.run([framering_bin, "run", str(cfg), "--duration", "2.5"],
                         capture_output=True, timeout=60)
    assert out.returncode == 0, out.stderr
    err = out.stderr
    assert b"\x1b" not in err and b"\r" not in err, err
    assert not re.search(rb"\[00:\d\d\]", err), err
    # Instead, the same numbers as plain log lines every progress_interval.
    assert re.search(rb"\[run\] \[info\] " + NUMBERS % ring_name.encode() + rb"\n", err), err
