"""Benchmark: does a correct answer ever lose a point on a busy machine?

Grades the solution and every alternative correct implementation (``tests/corpus/<a>.py``) of
each assignment N times, each time in a fresh grading process (a new interpreter: nothing is
warm but what the grader warms itself), with every core kept busy by a CPU hog (one busy-loop
process per core, started here at niceness 0 unless ``--hog-niceness`` says otherwise), and
prints the points lost (the target is 0), the check errors, and the time taken.

    .venv/bin/python bench/fairness.py --n 20                       # every assignment
    .venv/bin/python bench/fairness.py --n 3 --assignments a1_backprop a3_batchnorm

Each run uses another seed, so the hidden inputs differ from run to run.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]


def _hog(niceness: int) -> None:
    try:
        os.setpriority(os.PRIO_PROCESS, 0, niceness)  # may fail to lower it: then inherited
    except OSError:
        pass
    while True:
        pass


def write_batch(name: str, folder: Path) -> list[tuple[str, Path]]:
    """The solution and every alternative of ``name`` as submissions, built as the test suite
    builds them (tests/test_assignments.py)."""
    from mutation import load_corpus
    from notebooks import cell_by_id, copy_attachments, solution_notebook, write_submission

    from autograder.course import Course

    course = Course.load()
    _, alts = load_corpus(name)
    batch = [
        ("solution", write_submission(folder, "solution", name, solution_notebook(course, name)))
    ]
    copy_attachments(course, name, batch[0][1].parent)
    for i, alt in enumerate(alts):
        nb = solution_notebook(course, name)
        cell_by_id(nb, alt.cell).source = alt.source
        path = write_submission(folder, f"alt{i}-{alt.item}", name, nb)
        copy_attachments(course, name, path.parent)
        batch.append((f"alt{i}-{alt.item}", path))
    return batch


def child(name: str, folder: Path, seed: int, workers: int) -> None:
    """One fresh grading process: grade the batch in ``folder``, print what was lost as JSON."""
    from autograder.course import Course
    from autograder.grader import Grader, find_submissions

    a = Course.load().assignment(name)
    subs = find_submissions([folder], a)
    t0 = time.monotonic()
    with Grader(a, workers=workers, seed=seed) as g:
        results = g.grade_all(subs)
    lost = []
    for r in results:
        for i in r.items:
            if not i.manual and (i.score or 0.0) < i.max_score:
                lost.append([r.student, i.grade_id, i.max_score - (i.score or 0.0), i.message])
    print(
        json.dumps(
            {
                "seconds": time.monotonic() - t0,
                "submissions": len(results),
                "lost": lost,
                "check_errors": sum(r.check_errors for r in results),
                # the check whose student code used the most CPU time (what limits count)
                "slowest": max(
                    (
                        (c.cpu_seconds, i.grade_id, c.title)
                        for r in results
                        for i in r.items
                        for c in i.checks
                    ),
                    default=(0.0, "", ""),
                ),
            }
        )
    )


def main() -> int:
    from autograder.course import Course

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=20, help="grading processes per assignment")
    ap.add_argument("--assignments", nargs="*", help="default: every assignment")
    ap.add_argument("--workers", type=int, default=2, help="as the README's grade command")
    ap.add_argument("--hogs", type=int, default=os.cpu_count(), help="busy loops (one a core)")
    ap.add_argument(
        "--hog-niceness", type=int, default=0, help="the hogs' niceness (default 0, as graders)"
    )
    ap.add_argument(
        "--child", nargs=4, metavar=("A", "DIR", "SEED", "WORKERS"), help=argparse.SUPPRESS
    )
    args = ap.parse_args()
    if args.child:
        a, folder, seed, workers = args.child
        child(a, Path(folder), int(seed), int(workers))
        return 0

    names = args.assignments or Course.load().names()
    hogs = [
        multiprocessing.Process(target=_hog, args=(args.hog_niceness,), daemon=True)
        for _ in range(args.hogs)
    ]
    for h in hogs:
        h.start()
    t_all = time.monotonic()
    total_lost, total_errors, total_graded = 0.0, 0, 0
    try:
        with tempfile.TemporaryDirectory(prefix="fairness-") as tmp:
            for name in names:
                folder = Path(tmp) / name
                batch = write_batch(name, folder)
                lost_here, errors_here, times, slowest = 0.0, 0, [], (0.0, "", "")
                for run in range(args.n):
                    proc = subprocess.run(
                        [
                            sys.executable,
                            __file__,
                            "--child",
                            name,
                            str(folder),
                            str(1000 + run),
                            str(args.workers),
                        ],
                        capture_output=True,
                        text=True,
                        cwd=ROOT,
                    )
                    if proc.returncode != 0:
                        print(proc.stderr[-3000:], file=sys.stderr)
                        return 2
                    out = json.loads(proc.stdout.strip().splitlines()[-1])
                    times.append(out["seconds"])
                    errors_here += out["check_errors"]
                    slowest = max(slowest, tuple(out["slowest"]))
                    for student, item, points, message in out["lost"]:
                        lost_here += points
                        print(
                            f"  LOST {points:g} ({name}, run {run}, {student}, {item}): {message[:300]}"
                        )
                    total_graded += out["submissions"]
                print(
                    f"{name}: {args.n} fresh grading processes x {len(batch)} correct submissions "
                    f"(solution + {len(batch) - 1} alternatives), {args.hogs} CPU hogs: "
                    f"points lost {lost_here:g}, check errors {errors_here}; grading "
                    f"{min(times):.1f}-{max(times):.1f} s per process; most CPU in one check "
                    f"{slowest[0]:.2f} s ({slowest[1]}: {slowest[2]})",
                    flush=True,
                )
                total_lost += lost_here
                total_errors += errors_here
    finally:
        for h in hogs:
            h.kill()
    print(
        f"total: {total_graded} gradings of correct submissions, points lost {total_lost:g} "
        f"(target 0), check errors {total_errors}, {time.monotonic() - t_all:.0f} s"
    )
    return 0 if total_lost == 0 and total_errors == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
