"""What grading A6 costs beside what its model costs.

Grading an A6 submission is mostly its capstone: the submitted network classifies the 10,000
Fashion-MNIST test images (the three accuracy tiers share one evaluation), 2,000 of them shifted by
one pixel (hidden check), and 32 images twice, in one batch and one by one (hidden check). This
script prints, in one run:

1. the **bare cost**: the reference model (solutions/a6_training) classifying exactly those
   images in this process, under ``torch.inference_mode``, at the best batch size and thread
   count a grading process may use on this machine (each of ``--workers`` grading processes gets
   ``cores / workers`` of them), per submission;
2. the **grading cost**: ``--n`` copies of the reference submission (notebook + capstone.npz)
   graded by the trusted grader with ``--workers`` processes, sandbox on, per submission (wall
   time of the batch / n; the zygotes' start-up included);
3. the overhead: grading / bare - 1 (target: under 20%);
4. with ``--dask``: the same batch on a Dask ``LocalCluster`` of 1 and 2 worker processes, and
   the time 1000 submissions would take on 16 and 64 cores at the measured cost per core.

    .venv/bin/python bench/a6_cost.py --n 4 --workers 2 --dask
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from notebooks import cell_by_id, copy_attachments, solution_notebook  # noqa: E402

from autograder.checks.a6_training import capstone  # noqa: E402
from autograder.checks.a6_training.hidden import shift_one_pixel  # noqa: E402
from autograder.course import Course  # noqa: E402
from autograder.grader import Grader  # noqa: E402

NAME = "a6_training"


def reference_model(course: Course) -> nn.Module:
    """build_capstone_model() of the solution, with the solution's capstone.npz loaded."""
    ns = {"torch": torch, "nn": nn, "np": np}
    cell = cell_by_id(solution_notebook(course, NAME), "capstone_model_answer")
    exec(compile(cell.source, "capstone_model_answer", "exec"), ns)  # the course's own code
    model = ns["build_capstone_model"]()
    state = capstone.load_state((course.root / "solutions" / NAME / capstone.FILE).read_bytes())
    model.load_state_dict({k: torch.from_numpy(v) for k, v in state.items()}, strict=True)
    return model.eval()


def graded_images() -> list[tuple[np.ndarray, int]]:
    """The image sets one grading classifies, with the batch size the probe uses for each."""
    images, labels = capstone._test_split()
    rng = np.random.default_rng(0)
    shifted = shift_one_pixel(
        images[rng.choice(len(labels), capstone.SHIFTED_N, replace=False)], rng
    )
    pick = images[rng.choice(len(images), size=32, replace=False)]
    return [(images, 0), (shifted, 0), (pick, 32), (pick, 1)]  # 0: the batch size being tried


def bare_seconds(model: nn.Module, sets, batch_size: int, threads: int) -> float:
    """One pass over every image set, best of two (the first also warms the kernels up)."""
    torch.set_num_threads(threads)
    best = float("inf")
    for _ in range(2):
        start = time.perf_counter()
        with torch.inference_mode():
            for images, fixed in sets:
                b = fixed or batch_size
                x = torch.from_numpy(images).float().div_(255.0).unsqueeze(1)
                for i in range(0, len(x), b):
                    model(x[i : i + b])
        best = min(best, time.perf_counter() - start)
    return best


def submissions(course: Course, n: int) -> tuple[Path, list[tuple[str, Path]]]:
    import nbformat

    root = Path(tempfile.mkdtemp(prefix="a6-cost-"))
    sol = solution_notebook(course, NAME)
    out = []
    for i in range(n):
        folder = root / f"s{i}" / NAME
        folder.mkdir(parents=True)
        nbformat.write(sol, folder / f"{NAME}.ipynb")
        copy_attachments(course, NAME, folder)
        out.append((f"s{i}", folder / f"{NAME}.ipynb"))
    return root, out


def grade_locally(course: Course, subs, workers: int) -> tuple[float, list]:
    start = time.monotonic()
    with Grader(course.assignment(NAME), workers=workers, seed=1) as g:
        results = g.grade_all(subs)
    return time.monotonic() - start, results


def grade_on_dask(course: Course, subs, processes: int) -> float:
    from distributed import LocalCluster

    from autograder.distributed import grade_on_cluster

    with LocalCluster(
        n_workers=processes, threads_per_worker=1, processes=True, dashboard_address=None
    ) as cluster:
        grader = Grader(course.assignment(NAME), workers=1, seed=1)
        start = time.monotonic()
        results = grade_on_cluster(cluster.scheduler_address, grader, subs)
        seconds = time.monotonic() - start
    bad = [r.student for r in results if r.score != r.max_score]
    assert not bad, f"reference copies lost points on Dask: {bad}"
    return seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=4, help="copies of the reference submission")
    parser.add_argument("--workers", type=int, default=2, help="grading processes")
    parser.add_argument("--dask", action="store_true", help="also a LocalCluster of 1 and 2")
    args = parser.parse_args()
    course = Course.load()
    cores = len(os.sched_getaffinity(0))
    model = reference_model(course)
    sets = graded_images()
    n_images = sum(len(images) for images, _ in sets)

    # 1. Bare cost per submission with `workers` submissions at once, each on cores/workers threads.
    per_process = max(1, cores // args.workers)
    trials = {
        (b, t): bare_seconds(model, sets, b, t)
        for b in (100, 250, 500, 1000, 2000)
        for t in sorted({1, per_process})
    }
    # `workers` such passes run side by side, one per grading process: the bare cost per
    # submission is the best pass / workers (perfect scaling: a lower bound of the cost).
    bare = min(trials.values()) / args.workers
    print(f"{cores} cores, {args.workers} grading processes, {per_process} thread(s) each")
    print(f"images per submission: {n_images:,} (10,000 test, 2,000 shifted, 32 x 2)")
    for (b, t), s in sorted(trials.items()):
        print(f"  bare pass, batch {b:5d}, {t} thread(s): {s:6.2f} s")
    print(f"bare cost per submission ({args.workers} at once): {bare:.2f} s")

    # 2. Grading cost per submission.
    root, subs = submissions(course, args.n)
    try:
        wall, results = grade_locally(course, subs, args.workers)
        lost = [r.student for r in results if r.score != r.max_score]
        per_sub = wall / args.n
        cap = [
            sum(c.seconds for c in i.checks)
            for r in results
            for i in r.items
            if i.grade_id == "capstone"
        ]
        print(
            f"grading: {args.n} submissions in {wall:.1f} s = {per_sub:.2f} s per submission "
            f"(capstone checks {min(cap):.1f}-{max(cap):.1f} s each; points lost: {len(lost)})"
        )
        print(
            f"grading overhead beyond the bare cost: {100 * (per_sub / bare - 1):.0f}% (target < 20%)"
        )
        if args.dask:
            one_proc = grade_on_dask(course, subs, 1)
            two_proc = grade_on_dask(course, subs, 2)
            print(f"Dask LocalCluster, 1 process: {one_proc:.1f} s ({args.n / one_proc:.3f}/s)")
            print(
                f"Dask LocalCluster, 2 processes: {two_proc:.1f} s ({args.n / two_proc:.3f}/s, "
                f"{one_proc / two_proc:.2f}x)"
            )
            core_seconds = two_proc * 2 / args.n  # per submission, on one core
            for c in (16, 64):
                print(
                    f"projected, 1000 submissions on {c} cores: {1000 * core_seconds / c / 60:.1f} min"
                )
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
