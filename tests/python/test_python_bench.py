"""The pickling vs shared memory vs framering benchmark runs (quick mode) and writes its own
section of a benchmarks document without touching the other sections. No timing assertions."""
import subprocess

from pyhelpers import PYTHON, ROOT, py_env

SECTION = "## Python: pickling vs shared memory vs framering"


def test_quick_benchmark_prints_and_writes_its_section(tmp_path, framering_bin, private_shm):
    doc = tmp_path / "benchmarks.md"
    doc.write_text("# Benchmarks\n\n## Ring publish latency\n\nkept as is\n\n"
                   f"{SECTION}\n\nold numbers\n\n## Later section\n\nalso kept\n")
    run = subprocess.run([PYTHON, str(ROOT / "bench" / "python_copy_vs_shared.py"), "--quick",
                          "--doc", str(doc), "--framering-bin", framering_bin],
                         capture_output=True, text=True, timeout=400, env=py_env(), cwd=tmp_path)  # private_shm: no other test's clean-up can see its rings
    assert run.returncode == 0, run.stderr
    for row in ("| one process", "| pickling: Pool(4)", "| multiprocessing.shared_memory",
                "| framering: Python Writer", "| framering ingest"):
        assert row in run.stdout
    text = doc.read_text()
    assert text.count(SECTION) == 1 and "old numbers" not in text
    assert "## Ring publish latency\n\nkept as is" in text and "## Later section\n\nalso kept" in text
    assert text.index("## Ring publish latency") < text.index(SECTION) < text.index("## Later section")
    assert "bench/python_copy_vs_shared.py --quick" in text and "| pickling: Pool(4)" in text
