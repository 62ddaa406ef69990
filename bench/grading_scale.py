"""Benchmark: grading at scale, across several assignments, against the number of workers.

Generates N submissions spread over several assignments (correct ones, realistic bugs from each
assignment's mutation corpus, released stubs, and a few that hang or kill their worker), then

1. grades all of them with ``python -m autograder grade`` at ``--workers W`` (the headline
   figure: total time, submissions per second);
2. grades a sample per assignment at each worker count of ``--curve`` (the scaling curve);
3. measures the memory of the grading process tree while it runs (peak PSS of the whole tree and
   per grading process, its zygote and its sandboxed worker);
4. runs ``nbgrader autograde`` on a small sample of the same notebooks for the ratio.

    .venv/bin/python bench/grading_scale.py --n 2000 --workers 2 --curve 1,2,4 --curve-n 60

Every figure is printed; the README's "Measured" table records them.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import threading
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "bench"), str(ROOT / "tests")]

from grading_throughput import run_nbgrader, run_ours  # noqa: E402
from mutation import load_corpus  # noqa: E402
from notebooks import replace_in, solution_notebook, with_sources, write_submission  # noqa: E402

from autograder.course import Course  # noqa: E402
from autograder.release import generate  # noqa: E402

MIX = {"correct": 0.6, "buggy": 0.27, "stub": 0.1, "hostile": 0.03}


def make_batch(course: Course, name: str, n: int, out: Path, rng: random.Random) -> dict:
    sol = solution_notebook(course, name)
    stub = generate(course, name)
    mutants, _ = load_corpus(name)
    answers = [
        c.metadata["nbgrader"]["grade_id"]
        for c in sol.cells
        if c.cell_type == "code" and c.metadata.get("nbgrader", {}).get("solution")
    ]
    kinds = {}
    for i in range(n):
        kind = rng.choices(list(MIX), weights=list(MIX.values()))[0]
        student = f"{name[:2]}s{i:05d}"
        if kind == "correct":
            nb = sol
        elif kind == "buggy":
            m = rng.choice(mutants)
            nb = replace_in(sol, m.cell, m.old, m.new)
        elif kind == "stub":
            nb = stub
        else:  # a hang or a killed worker in one answer cell, the rest honest
            cell = rng.choice(answers)
            src = next(
                c.source
                for c in sol.cells
                if c.metadata.get("nbgrader", {}).get("grade_id") == cell
            )
            attack = rng.choice(["import os\nos._exit(1)\n", "while True:\n    pass\n"])
            nb = with_sources(sol, **{cell: attack + src})
        write_submission(out, student, name, nb)
        kinds[student] = kind
    return kinds


class TreeMemory:
    """Samples the PSS of a process and all its descendants every ``every`` seconds."""

    def __init__(self, pid: int, every: float = 0.5):
        self.root = psutil.Process(pid)
        self.every = every
        self.peak_total = 0
        self.peak_by_kind: dict[str, int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                procs = [self.root, *self.root.children(recursive=True)]
            except psutil.Error:
                return
            total, by_kind = 0, {}
            for p in procs:
                try:
                    mem = p.memory_full_info()
                    cmd = " ".join(p.cmdline())
                except psutil.Error:
                    continue
                pss = getattr(mem, "pss", mem.rss)
                total += pss
                kind = (
                    "zygote"
                    if "autograder.zygote" in cmd
                    else "main"
                    if p.pid == self.root.pid
                    else "grading process"
                    if "autograder" in cmd
                    else "sandboxed worker"
                )
                by_kind[kind] = max(by_kind.get(kind, 0), pss)
            self.peak_total = max(self.peak_total, total)
            for k, v in by_kind.items():
                self.peak_by_kind[k] = max(self.peak_by_kind.get(k, 0), v)
            self._stop.wait(self.every)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


def grade(course_root: Path, name: str, subs: Path, workers: int, tmp: Path, memory=False):
    watch: list[TreeMemory] = []
    seconds, data = run_ours(
        course_root,
        name,
        subs,
        workers,
        tmp,
        db=False,
        quiet=True,
        on_start=(lambda pid: watch.append(TreeMemory(pid))) if memory else None,
    )
    for mem in watch:
        mem.stop()
    return seconds, data, watch[0] if watch else None


def main() -> None:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--assignments", default="a1_backprop,a2_init,a3_batchnorm")
    p.add_argument("--n", type=int, default=2000, help="submissions in all, spread evenly")
    p.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    p.add_argument("--curve", default="1,2,4", help="worker counts of the scaling curve")
    p.add_argument("--curve-n", type=int, default=60, help="submissions per assignment per point")
    p.add_argument("--nbgrader-sample", type=int, default=3, help="notebooks per assignment")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    course = Course.load()
    names = args.assignments.split(",")
    rng = random.Random(args.seed)
    per = {name: args.n // len(names) + (i < args.n % len(names)) for i, name in enumerate(names)}
    print(f"{os.cpu_count()} cores; {args.n} submissions over {', '.join(names)}")
    with tempfile.TemporaryDirectory(prefix="bench-scale-") as tmpdir:
        tmp = Path(tmpdir)
        batches = {}
        for name in names:
            batches[name] = make_batch(course, name, per[name], tmp / name / "submitted", rng)
        # 1. the headline: everything at --workers
        total_s, total_n, mems = 0.0, 0, []
        for name in names:
            s, data, mem = grade(
                course.root, name, tmp / name / "submitted", args.workers, tmp, True
            )
            n = len(data["submissions"])
            secs = sorted(r["seconds"] for r in data["submissions"])
            total_s += s
            total_n += n
            mems.append(mem)
            print(
                f"  {name}: {n} in {s:.1f} s = {n / s:.2f}/s (median {secs[len(secs) // 2]:.2f} s "
                f"per submission, sandbox {data['sandbox']})"
            )
        print(
            f"ALL: {total_n} submissions in {total_s:.1f} s = {total_n / total_s:.2f}/s with "
            f"{args.workers} workers"
        )
        peak = max(m.peak_total for m in mems)
        kinds = {}
        for m in mems:
            for k, v in m.peak_by_kind.items():
                kinds[k] = max(kinds.get(k, 0), v)
        print(
            f"memory: peak PSS of the whole grading tree {peak / 2**20:.0f} MiB; largest "
            + ", ".join(f"{k} {v / 2**20:.0f} MiB" for k, v in sorted(kinds.items()))
        )
        # 2. the scaling curve on a sample of each assignment
        print(f"scaling curve ({args.curve_n} submissions of each assignment per point):")
        base = None
        for w in [int(x) for x in args.curve.split(",")]:
            s_all, n_all = 0.0, 0
            for name in names:
                sample = tmp / f"curve-{name}"
                if not sample.exists():
                    sample.mkdir()
                    for student in sorted(batches[name])[: args.curve_n]:
                        (sample / student).symlink_to(tmp / name / "submitted" / student)
                s, data, _ = grade(course.root, name, sample, w, tmp)
                s_all += s
                n_all += len(data["submissions"])
            rate = n_all / s_all
            base = base or rate
            print(f"  workers={w}: {n_all} in {s_all:.1f} s = {rate:.2f}/s ({rate / base:.2f}x)")
        # 3. nbgrader autograde on a sample
        if not args.nbgrader_sample:
            return
        nb_s, nb_n = 0.0, 0
        for name in names:
            students = rng.sample(sorted(batches[name]), args.nbgrader_sample)
            nb_s += run_nbgrader(
                course, name, tmp / name / "submitted", students, tmp / f"nbg-{name}"
            )
            nb_n += len(students)
        nb_rate = nb_n / nb_s
        ours = total_n / total_s
        print(
            f"nbgrader autograde: {nb_n} in {nb_s:.1f} s = {nb_rate:.3f}/s; the trusted grader "
            f"is {ours / nb_rate:.0f}x faster ({total_n} would take nbgrader "
            f"{total_n / nb_rate / 60:.0f} min)"
        )


if __name__ == "__main__":
    main()
