"""Where a benchmark number comes from: the commit it was measured on, when, and how loaded the
machine was. Every generated section of the docs states these next to its figures."""
import datetime
import os
import pathlib
import subprocess

ROOT = pathlib.Path(__file__).resolve().parents[1]


def commit():
    """Short HEAD hash, with "+uncommitted changes" when the work tree differs from it (then
    the figures do not belong to that commit alone)."""
    def git(*args):
        try:
            return subprocess.run(["git", "-C", str(ROOT), *args], capture_output=True,
                                  text=True, timeout=30).stdout.strip()
        except (OSError, subprocess.TimeoutExpired):
            return ""

    head = git("rev-parse", "--short", "HEAD") or "unknown"
    dirty = git("status", "--porcelain", "--untracked-files=no", "--", ".", ":!docs", ":!README.md")
    return f"{head}+uncommitted changes" if dirty else head


def now_utc():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def load1():
    return os.getloadavg()[0]


def replace_block(path, begin, end, text):
    """Replaces what lies between the marker lines `begin` and `end` in `path` (markers kept);
    refuses a file without both markers so a generated block never lands in the wrong place."""
    path = pathlib.Path(path)
    old = path.read_text()
    i, j = old.find(begin + "\n"), old.find("\n" + end)
    if i < 0 or j < i:
        raise SystemExit(f"{path}: needs the lines `{begin}` and `{end}` around the generated block")
    path.write_text(old[:i + len(begin) + 1] + text.rstrip("\n") + old[j:])
