"""The objects throughput section of `make bench` in its quick mode: bench/run_all.py --only
objects runs the real `objects` analytic on 1080p frames with the generated detector for 1 and 2
consumer-group members, and bench/report.py writes the section from those results. No timing is
asserted; the detector's FLOPs are checked against a count made here by hand."""
import json
import pathlib
import subprocess
import sys

from pyhelpers import PYTHON, ROOT, py_env

sys.path.insert(0, str(ROOT / "bench"))
import report  # noqa: E402


def test_quick_objects_section_measures_both_group_sizes(tmp_path, framering_bin, private_shm):
    build_dir = pathlib.Path(framering_bin).resolve().parents[1]
    run = subprocess.run([PYTHON, str(ROOT / "bench" / "run_all.py"), "--build-dir", str(build_dir),
                          "--quick", "--only", "objects", "--out", str(tmp_path)],
                         capture_output=True, text=True, timeout=300, env=py_env(), cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    res = json.loads((tmp_path / "results.json").read_text())["objects"]
    # 640x640 outputs: Conv 3→16 (27 weights per output), two Conv 16→16 (144 each), 2 FLOPs per
    # weight; one per element for the three ReLUs and the pooling over the last; the 1x1 head
    # Conv 16→(4+80)x16 on the pooled 1x1 map.
    pixels = 640 * 640 * 16
    assert res["flops"] == 2 * pixels * (27 + 144 + 144) + 4 * pixels + 2 * (84 * 16) * 16
    assert [r["members"] for r in res["runs"]] == [1, 2]
    for r in res["runs"]:
        assert r["rc"] == 0 and r["fps"] > 0, r
        assert r["analysing_s"] > 0 and 0 <= r["ring_share"] < 1, r
    text = "\n".join(report.section_objects(res))
    assert "## 7. Objects throughput" in text and f"{res['flops'] / 1e9:.2f} GFLOPs" in text
    assert text.count("\n| 1 | 4 |") == 1 and text.count("\n| 2 | 4 |") == 1
