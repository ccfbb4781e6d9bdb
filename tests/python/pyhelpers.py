"""Helpers for the Python package's tests (imported by the test modules of this directory)."""
import os
import pathlib
import sys
import textwrap

from conftest import wait_for

ROOT = pathlib.Path(__file__).resolve().parents[2]
VTEST = pathlib.Path("/usr/share/doc/opencv-doc/examples/data/vtest.avi")
PYTHON = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable


def py_env(**extra):
    """The environment for a child Python process that imports framering."""
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT / "python") + os.pathsep + env.get("PYTHONPATH", "")
    env.update({k: str(v) for k, v in extra.items()})
    return env


def communicate(proc, timeout=30):
    """Waits for a child started by run_py; fails the test with its output if it failed."""
    out, err = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, f"exit {proc.returncode}\nstdout:\n{out}\nstderr:\n{err}"
    return out


def wait_until(predicate, timeout=10.0, interval=0.02, what="condition"):
    """conftest's wait_for (tests/conftest.py) with the finer polling these tests use."""
    return wait_for(predicate, timeout=timeout, interval=interval, what=what)


def start_py(procs, code, **kw):
    """Starts `code` (dedented) in a new Python process that imports framering; reaped by the
    shared `procs` fixture. (A helper, not a conftest.py: other test directories import the
    top-level conftest by name, which a second conftest.py would shadow.)"""
    kw.setdefault("env", py_env())
    kw.setdefault("text", True)
    return procs.start([PYTHON, "-c", textwrap.dedent(code)], **kw)
