"""The grading process's own cost per submission: CPU time (getrusage) and wall time of
``Grader.grade`` on N copies of A1's solution, one grading process, after three warm-up grades.
CPU time hardly moves with the machine's load, so two versions of the grader can be compared on a
busy machine: run it in each checkout (`git worktree add /tmp/old <commit>`), interleaved.

    .venv/bin/python bench/grader_cpu.py --n 40                  # this checkout
    .venv/bin/python bench/grader_cpu.py --n 40 --root /tmp/old  # another one, same venv
    .venv/bin/python bench/grader_cpu.py --n 20 --profile        # and where the time goes

The workers' CPU time is not included (they are the zygote's children): it is the student's.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
from pathlib import Path


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--n", type=int, default=40)
    p.add_argument("--assignment", default="a1_backprop")
    p.add_argument("--root", type=Path, default=Path(__file__).resolve().parent.parent)
    p.add_argument("--profile", action="store_true", help="cProfile, by own time")
    args = p.parse_args()
    root = args.root.resolve()
    sys.path[:0] = [str(root), str(root / "tests")]
    os.chdir(root)
    from notebooks import solution_notebook, write_submission

    import autograder
    from autograder.course import Course
    from autograder.grader import Grader

    assert Path(autograder.__file__).is_relative_to(root), autograder.__file__
    course = Course.load()
    tmp = Path(tempfile.mkdtemp())
    sol = solution_notebook(course, args.assignment)
    subs = [
        (f"s{i}", write_submission(tmp, f"s{i}", args.assignment, sol)) for i in range(args.n + 3)
    ]
    with Grader(course.assignment(args.assignment), workers=1, seed=1) as g:
        for student, path in subs[:3]:
            g.grade(student, path)
        prof = None
        if args.profile:
            import cProfile

            prof = cProfile.Profile()
        usage0, t0 = resource.getrusage(resource.RUSAGE_SELF), time.monotonic()
        if prof:
            prof.enable()
        for student, path in subs[3:]:
            r = g.grade(student, path)
            assert r.score == r.max_score, (student, r.score)
        if prof:
            prof.disable()
        usage1, t1 = resource.getrusage(resource.RUSAGE_SELF), time.monotonic()
    cpu = (usage1.ru_utime + usage1.ru_stime) - (usage0.ru_utime + usage0.ru_stime)
    print(
        f"{root}: {args.n} submissions of {args.assignment}: grading process "
        f"{1000 * cpu / args.n:.0f} ms CPU, {1000 * (t1 - t0) / args.n:.0f} ms wall per submission"
    )
    if prof:
        import pstats

        pstats.Stats(prof).sort_stats("tottime").print_stats(30)
    return 0


if __name__ == "__main__":
    sys.exit(main())
