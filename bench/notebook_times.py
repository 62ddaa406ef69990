"""Do the assignments keep their promises? Execute each solution notebook as a student would (in a
Jupyter kernel, every cell, on this machine's CPU) and compare the time of each statement such as
"The whole notebook runs in about a minute" with the measured time.

    .venv/bin/python bench/notebook_times.py                 # every assignment
    .venv/bin/python bench/notebook_times.py a1_backprop     # one

CLAIMS lists every such statement of solutions/ (tests/test_notebook_claims.py fails when one is
added without an entry here), with the cells it is about and the limit it is held to: "about a
minute" means at most 90 s, "a few seconds" at most 10 s per cell, and so on. The promise is made
for a laptop; the figures recorded in the README come from the 2-core CI machine. Exit status 1
when a promise is broken.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]


@dataclass(frozen=True)
class Claim:
    assignment: str
    phrase: str  # as written in the source notebook (one line of it)
    scope: str  # "notebook"; "cells": the code cells after the phrase's markdown cell, summed;
    # "each": each of those cells; "none": not a run time of the notebook (see `why`)
    limit: float = 0.0  # seconds
    why: str = ""


CLAIMS = [
    Claim("a1_backprop", "The whole notebook runs in well under two minutes", "notebook", 90),
    Claim(
        "a1_backprop",
        "in well under a second",
        "none",
        why="a requirement on make_hard_cases in its docstring, timed by its hidden check",
    ),
    Claim("a2_init", "The whole notebook runs in about a minute", "notebook", 90),
    Claim("a2_init", "takes 10 to 30 seconds on a laptop CPU", "cells", 30),
    Claim("a3_batchnorm", "The whole notebook runs in about a minute", "notebook", 90),
    Claim("a3_batchnorm", "The eight runs take ten to thirty seconds", "cells", 30),
    Claim("a4_optim", "The whole notebook runs in a few minutes", "notebook", 300),
    Claim("a4_optim", "Each run takes a few seconds on a CPU", "each", 10),
    Claim("a5_dropout", "The notebook runs in about two minutes", "notebook", 150),
    Claim("a5_dropout", "each about five seconds on a laptop CPU", "each", 8),
    Claim("a6_training", "The notebook runs in about two minutes", "notebook", 150),
    Claim(
        "a6_training",
        "two minutes on the grader's CPU",
        "none",
        why="the capstone check's limit per check; bench/a6_cost.py measures the evaluation",
    ),
    Claim(
        "a6_training",
        "CPU trains the reference solution in about twenty minutes",
        "none",
        why="TRAIN_CAPSTONE is False in the notebook; bench/capstone.py measures the training",
    ),
    Claim(
        "a6_training",
        "published recipes reach it in a few seconds on one A100",
        "none",
        why="a published record on a GPU, cited in the notebook",
    ),
    Claim(
        "a6_training",
        "the reference takes about twenty minutes on a laptop CPU",
        "none",
        why="as above (bench/capstone.py)",
    ),
]


def cell_seconds(cell) -> float:
    """The execution time nbclient recorded in the cell's metadata (record_timing)."""
    t = cell.metadata.get("execution", {})
    start, end = t.get("iopub.execute_input"), t.get("shell.execute_reply")
    if not (start and end):
        return 0.0
    parse = lambda s: datetime.fromisoformat(s.replace("Z", "+00:00"))  # noqa: E731
    return (parse(end) - parse(start)).total_seconds()


def claimed_cells(nb, phrase: str) -> list:
    """The code cells after the markdown cell holding ``phrase``, up to the next markdown cell."""
    cells, found = [], False
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            if found:
                break
            found = phrase in " ".join(cell.source.split())
        elif found:
            cells.append(cell)
    if not found:
        raise LookupError(f"no markdown cell says {phrase!r}")
    return cells


def run(name: str) -> tuple[int, list[str]]:
    import nbclient
    from notebooks import copy_attachments, solution_notebook

    from autograder.course import Course

    course = Course.load()
    nb = solution_notebook(course, name)
    work = Path(tempfile.mkdtemp(prefix=f"times-{name}-"))
    copy_attachments(course, name, work)
    start = time.monotonic()
    client = nbclient.NotebookClient(
        nb,
        timeout=1800,
        kernel_name="python3",
        record_timing=True,
        resources={"metadata": {"path": str(work)}},
    )
    env = dict(os.environ, AUTOGRADER_COURSE=str(course.root))
    os.environ.update(env)
    client.execute()
    wall = time.monotonic() - start
    shutil.rmtree(work, ignore_errors=True)
    broken, lines = 0, []
    for c in (c for c in CLAIMS if c.assignment == name):
        if c.scope == "none":
            lines.append(f"  - '{c.phrase}': not measured here ({c.why})")
            continue
        if c.scope == "notebook":
            seconds = [wall]
        else:
            seconds = [cell_seconds(cell) for cell in claimed_cells(nb, c.phrase)]
            if c.scope == "cells":
                seconds = [sum(seconds)]
        ok = max(seconds) <= c.limit
        broken += not ok
        shown = ", ".join(f"{s:.1f}" for s in seconds)
        lines.append(
            f"  {'ok ' if ok else 'BROKEN'} '{c.phrase}' ({c.scope}, limit {c.limit:g} s): {shown} s"
        )
    slow = sorted(((cell_seconds(c), i) for i, c in enumerate(nb.cells)), reverse=True)[:3]
    lines.append("  slowest cells: " + ", ".join(f"#{i} {s:.1f} s" for s, i in slow))
    return broken, [f"{name}: {wall:.1f} s for the whole notebook", *lines]


def main() -> int:
    from autograder.course import Course

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("assignments", nargs="*", help="default: every assignment")
    args = parser.parse_args()
    names = args.assignments or Course.load().names()
    print(f"{os.cpu_count()} cores; torch threads as a student's kernel starts them")
    broken = 0
    for name in names:
        b, lines = run(name)
        broken += b
        print("\n".join(lines), flush=True)
    print(f"{broken} promise(s) broken")
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main())
