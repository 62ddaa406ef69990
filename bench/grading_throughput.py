"""Benchmark: the trusted grader against plain ``nbgrader autograde`` on the same submissions.

Generates N submissions of one assignment (correct ones, realistic bugs from the mutation corpus,
released stubs, and adversarial ones: a hang, os._exit, a memory bomb, patched np.allclose,
megabytes of output), grades all N with ``python -m autograder grade`` (isolation on: namespaces,
rlimits, unprivileged uid) and a proportional sample with ``nbgrader autograde`` in the same run,
and prints submissions per second for each and the ratio.

    .venv/bin/python bench/grading_throughput.py --n 1000 --nbgrader-sample 12

nbgrader executes each notebook start to finish in a fresh kernel, which is how it works; the
sample keeps its share of the run short, and its rate is what is compared.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests"), str(ROOT / "bench")]

from mutation import load_corpus  # noqa: E402
from notebooks import replace_in, solution_notebook, with_sources, write_submission  # noqa: E402

from autograder.course import Course  # noqa: E402
from autograder.release import generate, tool_env  # noqa: E402

ADVERSARIAL = {
    "hang": ("relu_answer", "def relu_forward(x):\n    while True:\n        pass\n"),
    "os_exit": ("sigmoid_answer", "import os\ndef sigmoid_forward(x):\n    os._exit(1)\n"),
    "memory_bomb": (
        "tanh_answer",
        "def tanh_forward(x):\n    hog = []\n    while True:\n"
        "        hog.append(bytearray(10**8))\n",
    ),
    "patched_allclose": (
        "mse_answer",
        "import numpy as np\nnp.allclose = lambda *a, **k: True\n"
        "def mse_loss(pred, target):\n    return 0.0, pred * 0\n",
    ),
    "output_flood": ("l1_answer", None),  # prepends prints to the correct cell
}


def make_submissions(
    course: Course, name: str, n: int, out: Path, rng: random.Random, mix: dict[str, float]
) -> dict[str, str]:
    sol = solution_notebook(course, name)
    stub = generate(course, name)
    mutants, _ = load_corpus(name)
    kinds = {}
    for i in range(n):
        kind = rng.choices(list(mix), weights=list(mix.values()))[0]
        student = f"s{i:05d}"
        if kind == "correct":
            nb = sol
        elif kind == "buggy":
            m = rng.choice(mutants)
            nb = replace_in(sol, m.cell, m.old, m.new)
        elif kind == "stub":
            write_submission(out, student, name, stub)
            kinds[student] = kind
            continue
        else:
            attack = rng.choice(sorted(ADVERSARIAL))
            cell, src = ADVERSARIAL[attack]
            if src is None:
                from notebooks import cell_by_id

                src = "print('spam ' * 2_000_000)\n" + cell_by_id(sol, cell).source
            nb = with_sources(sol, **{cell: src})
            kind = f"adversarial:{attack}"
        write_submission(out, student, name, nb)
        kinds[student] = kind
    return kinds


def run_ours(
    course_root: Path,
    name: str,
    subs: Path,
    workers: int,
    tmp: Path,
    *,
    db: bool = True,
    quiet: bool = False,
    on_start=None,
) -> tuple[float, dict]:
    """Grade ``subs`` with ``python -m autograder grade``; (wall seconds, its --json output).
    ``on_start(pid)`` is called once the command runs (the scale benchmark samples its memory)."""
    out = tmp / f"ours-{name}-{workers}-{time.monotonic_ns()}.json"
    cmd = [
        sys.executable,
        "-m",
        "autograder",
        "--course",
        str(course_root),
        "grade",
        name,
        str(subs),
        "--workers",
        str(workers),
        "--json",
        str(out),
        *(["--db", f"sqlite:///{tmp}/ours.db"] if db else ["--no-db"]),
        *(["--quiet"] if quiet else []),
        "--seed",
        "1",
    ]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=tmp)
    if on_start is not None:
        on_start(proc.pid)
    if proc.wait() != 0:
        raise SystemExit(f"grading failed: {' '.join(cmd)}")
    return time.perf_counter() - t0, json.loads(out.read_text())


def run_nbgrader(course: Course, name: str, subs: Path, students: list[str], tmp: Path) -> float:
    root = tmp / "nbgrader-course"
    (root / "source" / name).mkdir(parents=True)
    import nbformat

    nbformat.write(solution_notebook(course, name), root / "source" / name / f"{name}.ipynb")
    (root / "nbgrader_config.py").write_text(
        f"c = get_config()\nc.CourseDirectory.root = {str(root)!r}\n"
        f"c.CourseDirectory.db_url = 'sqlite:///{root}/gradebook.db'\n"
        "c.ExecutePreprocessor.timeout = 60\n"
    )
    env = tool_env()
    subprocess.run(
        [sys.executable, "-m", "nbgrader", "generate_assignment", name, "--create", "--force"],
        cwd=root,
        env=env,
        check=True,
        capture_output=True,
    )
    for s in students:
        dest = root / "submitted" / s / name
        dest.mkdir(parents=True)
        shutil.copy(subs / s / name / f"{name}.ipynb", dest)
    t0 = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "nbgrader", "autograde", name, "--force"],
        cwd=root,
        env=env,
        capture_output=True,
    )
    return time.perf_counter() - t0


def main() -> None:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--assignment", default="a1_backprop")
    p.add_argument("--n", type=int, default=1000)
    p.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    p.add_argument("--nbgrader-sample", type=int, default=12)
    p.add_argument("--mix", default="correct=0.6,buggy=0.25,stub=0.1,adversarial=0.05")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--sandbox-cost",
        type=int,
        default=20,
        metavar="N",
        help="also measure the sandbox's setup cost per submission over N workers, as this user "
        "and (when root) as an ordinary user; 0 skips it",
    )
    args = p.parse_args()
    mix = {k: float(v) for k, v in (kv.split("=") for kv in args.mix.split(","))}
    course = Course.load()
    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory(prefix="bench-") as tmpdir:
        tmp = Path(tmpdir)
        subs = tmp / "submitted"
        kinds = make_submissions(course, args.assignment, args.n, subs, rng, mix)
        counts = {}
        for k in kinds.values():
            counts[k.split(":")[0]] = counts.get(k.split(":")[0], 0) + 1
        print(
            f"{args.n} submissions of {args.assignment}: {counts}; {os.cpu_count()} cores, "
            f"{args.workers} workers"
        )
        ours_s, data = run_ours(course.root, args.assignment, subs, args.workers, tmp)
        sample = rng.sample(sorted(kinds), min(args.nbgrader_sample, len(kinds)))
        nbg_s = run_nbgrader(course, args.assignment, subs, sample, tmp) if sample else 0.0
    ours_rate = args.n / ours_s
    per = sorted(s["seconds"] for s in data["submissions"])
    print(
        f"trusted grader ({data['sandbox']}): {args.n} in {ours_s:.1f} s = {ours_rate:.2f} "
        f"submissions/s (median {per[len(per) // 2]:.2f} s, max {per[-1]:.1f} s per submission)"
    )
    if args.sandbox_cost:
        import sandbox_cost

        mine = sandbox_cost.measure(args.sandbox_cost)
        sandbox_cost.show("root" if os.geteuid() == 0 else "this user", mine)
        if os.geteuid() == 0 and (other := sandbox_cost.as_ordinary_user(args.sandbox_cost)):
            sandbox_cost.show("ordinary user", other)
    if not sample:
        return
    nbg_rate = len(sample) / nbg_s
    print(f"nbgrader autograde: {len(sample)} in {nbg_s:.1f} s = {nbg_rate:.3f} submissions/s")
    print(
        f"ratio: {ours_rate / nbg_rate:.1f}x; 1000 submissions would take "
        f"{1000 / ours_rate:.0f} s with the trusted grader and {1000 / nbg_rate:.0f} s with nbgrader"
    )


if __name__ == "__main__":
    main()
