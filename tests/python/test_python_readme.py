"""The Python examples in README.md and python/README.md run as written."""
import re
import subprocess

import numpy as np

import framering
from pyhelpers import PYTHON, ROOT, py_env


def python_blocks(path):
    return re.findall(r"```python\n(.*?)```", (ROOT / path).read_text(), re.S)


def run(code, shm_dir):
    return subprocess.run([PYTHON, "-c", code], capture_output=True, text=True, timeout=60,
                          env=py_env(FRAMERING_SHM_DIR=shm_dir))


def test_top_level_readme_example(tmp_path, monkeypatch):
    (code,) = python_blocks("README.md")
    monkeypatch.setenv("FRAMERING_SHM_DIR", str(tmp_path))
    with framering.Writer.image("cam0", 64, 48, "bgr24") as w:
        w.write(np.full((48, 64, 3), 7, np.uint8))
        out = run(code, tmp_path)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["0", "7.0"]


def test_python_readme_examples(tmp_path, monkeypatch):
    reading, writing = python_blocks("python/README.md")
    monkeypatch.setenv("FRAMERING_SHM_DIR", str(tmp_path))
    with framering.Writer.image("cam0", 8, 6, "gray8", keep=True) as w:
        for n in range(3):
            w.write(np.full((6, 8, 1), 10 * n, np.uint8), pts_ns=1000 * n)
    out = run(reading, tmp_path)  # the writer closed: the loop ends after the last frame
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == ["0 0 0.0", "1 1000 10.0", "2 2000 20.0"]
    out = run(writing, tmp_path)
    assert out.returncode == 0, out.stderr
    assert not (tmp_path / "framering.vol0").exists()  # closed and unlinked
    assert framering.Ring("cam9").shape == (720, 1280, 3)  # the process died; the segment stays
