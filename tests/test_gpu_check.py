"""The prepared GPU check (scripts/gpu_check.sh) dry-runs on the CPU, so that it cannot rot."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
HEADER = """---
jupytext:
  text_representation:
    extension: .md
    format_name: myst
kernelspec:
  display_name: Python 3
  language: python
  name: python3
---
"""
CHAPTER = """
```{code-cell} ipython3
import torch
from coursekit.device import pick_device

device = pick_device()
x = torch.randn(8, 3).to(device)
print(device, float((x @ x.T).trace()))
```
"""
SOLUTION = """
```{code-cell} ipython3
from pathlib import Path

assert Path("data.txt").read_text() == "beside the notebook"  # its folder's files come along
```
"""
BROKEN = """
```{code-cell} ipython3
raise RuntimeError("this notebook fails on purpose")
```
"""


def _run(args: list[str], tmp: Path) -> dict:
    env = dict(os.environ, COURSE_DEVICE="cpu", PYTHON=sys.executable)
    env.pop("COURSE_STRICT_DEVICE", None)
    proc = subprocess.run(
        ["bash", str(ROOT / "scripts" / "gpu_check.sh"), *args, "--out", str(tmp / "report")],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return json.loads((tmp / "report" / "report.json").read_text())


@pytest.mark.slow
def test_gpu_check_dry_run_on_the_cpu(tmp_path):
    """A tiny chapter, a tiny solution (beside its folder's files), a failing notebook and the
    quick speed run on synthetic data; the real notebooks take minutes on two cores."""
    (tmp_path / "chapter.md").write_text(HEADER + CHAPTER)
    (tmp_path / "broken.md").write_text(HEADER + BROKEN)
    sol = tmp_path / "t1" / "t1.md"
    sol.parent.mkdir()
    sol.write_text(HEADER + SOLUTION)
    (sol.parent / "data.txt").write_text("beside the notebook")
    only = [str(tmp_path / "chapter.md"), str(sol), str(tmp_path / "broken.md"), "speedrun"]
    report = _run(["--quick", "--jobs", "3", "--only", *only], tmp_path)

    for key in ("device", "gpu", "torch", "quick", "total_seconds", "notebooks", "grading"):
        assert key in report
    assert report["device"] == "cpu" and report["gpu"] is None and report["quick"] is True
    by_name = {nb["name"]: nb for nb in report["notebooks"]}
    assert by_name["chapter"]["status"] == "ok" and by_name["chapter"]["kind"] == "chapter"
    assert by_name["t1"]["status"] == "ok" and by_name["t1"]["kind"] == "solution"
    assert by_name["broken"]["status"] == "failed"
    assert "fails on purpose" in by_name["broken"]["error"]
    assert all(nb["seconds"] > 0 for nb in report["notebooks"])
    assert report["grading"] == [] and report["capstone"] is None
    run = report["speedrun"]
    assert run["status"] == "ok" and run["data"].startswith("synthetic") and run["epochs"] == 1
    assert report["failures"] == ["notebook broken: failed"]
    markdown = (tmp_path / "report" / "report.md").read_text()
    assert "| chapter | chapter | ok |" in markdown and "CIFAR-10 speed run" in markdown


def test_gpu_check_reads_the_graders_json(monkeypatch, tmp_path):
    """grade() turns the grader's --json output into the report's entry (no real grading)."""
    sys.path.insert(0, str(ROOT / "scripts"))
    import gpu_check

    def fake_run(cmd, **kwargs):
        out = Path(cmd[cmd.index("--json") + 1])
        items = [
            {"grade_id": "a", "score": 2.0, "max_score": 2.0, "message": ""},
            {"grade_id": "b", "score": 0.0, "max_score": 1.0, "message": "wrong sign"},
            {"grade_id": "essay", "score": None, "max_score": 1.0, "message": "manual"},
        ]
        sub = {"student": "solution", "score": 2.0, "max_score": 4.0, "items": items}
        out.write_text(json.dumps({"sandbox": "namespaces", "submissions": [sub]}))
        return subprocess.CompletedProcess(cmd, 0, "", "")

    monkeypatch.setattr(gpu_check.subprocess, "run", fake_run)
    entry = gpu_check.grade("a1_backprop", timeout=10)
    assert entry["status"] == "lost points" and entry["score"] == 2.0
    assert entry["error"] == "b: wrong sign"
