"""Fixtures for the Python package's tests: run Python snippets as separate processes (a real
writer or reader in another process, as in production) with the package on PYTHONPATH."""
import textwrap

import pytest

from pyhelpers import PYTHON, py_env


@pytest.fixture
def run_py(procs):
    """Starts `code` (dedented) in a new Python process; returns the Popen (reaped by procs)."""

    def start(code, **kw):
        kw.setdefault("env", py_env())
        kw.setdefault("text", True)
        return procs.start([PYTHON, "-c", textwrap.dedent(code)], **kw)

    return start
