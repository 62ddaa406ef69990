"""Command line: ``python -m autograder release ...`` and ``python -m autograder grade ...``."""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

from .course import Course


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m autograder", description=__doc__)
    parser.add_argument("--course", help="course directory (default: this repository)")
    sub = parser.add_subparsers(dest="command", required=True)

    rel = sub.add_parser("release", help="generate assignments/ from solutions/")
    rel.add_argument("names", nargs="*", help="assignments (default with --all: every one)")
    rel.add_argument("--all", action="store_true")
    rel.add_argument("--check", action="store_true", help="only report stale releases (exit 1)")

    gr = sub.add_parser("grade", help="grade submissions in isolated workers")
    gr.add_argument("assignment")
    gr.add_argument(
        "paths",
        nargs="+",
        metavar="PATH",
        help="a notebook, or a folder laid out as submitted/<student>/<assignment>/",
    )
    gr.add_argument("--workers", type=int, default=2)
    gr.add_argument("--json", type=Path, help="write every result as JSON")
    gr.add_argument(
        "--db",
        default="sqlite:///gradebook.db",
        help="nbgrader gradebook (SQLAlchemy URL; default sqlite:///gradebook.db)",
    )
    gr.add_argument("--no-db", action="store_true", help="do not write a gradebook")
    gr.add_argument("--feedback", type=Path, help="write feedback HTML under this folder")
    gr.add_argument("--csv", type=Path, help="write a grades CSV")
    gr.add_argument(
        "--seed", type=int, help="seed of the hidden inputs (default: random, recorded)"
    )
    gr.add_argument("--timeout", type=float, default=None, help="seconds per cell (default 20)")
    gr.add_argument("--quiet", action="store_true", help="no progress bar or table")
    args = parser.parse_args(argv)
    course = Course.load(args.course)
    if args.command == "release":
        return _release(course, args)
    return _grade(course, args)


def _release(course: Course, args) -> int:
    from .release import release

    names = course.names() if args.all or not args.names else args.names
    stale = []
    for name in names:
        path, fresh = release(course, name, check=args.check)
        state = "up to date" if fresh else ("STALE" if args.check else "written")
        print(f"{name}: {path.relative_to(course.root)} {state}")
        if not fresh:
            stale.append(name)
    if args.check and stale:
        print(
            f"run `python -m autograder release {' '.join(stale)}` to regenerate", file=sys.stderr
        )
        return 1
    return 0


def _grade(course: Course, args) -> int:
    from .feedback import write_csv, write_feedback
    from .grader import Grader, find_submissions
    from .session import SessionConfig

    assignment = course.assignment(args.assignment)
    submissions = find_submissions(args.paths, assignment)
    if not submissions:
        print("no submissions found", file=sys.stderr)
        return 2
    cfg = SessionConfig()
    if args.timeout:
        cfg.cell_timeout = args.timeout
    # Outputs and inputs of the grader are hidden from workers too.
    private = [str(Path(p).resolve()) for p in args.paths]
    private += [str(p.resolve()) for p in (args.json, args.csv, args.feedback) if p]
    if not args.no_db and args.db.startswith("sqlite:///"):
        db_file = str(Path(args.db[len("sqlite:///") :]).resolve())
        private += [db_file, f"{db_file}-wal", f"{db_file}-shm", f"{db_file}-journal"]
    t0 = time.monotonic()
    status = 0
    gradebook, unsaved = None, []
    if not args.no_db:
        from .gradebook import GradebookWriter

        gradebook = GradebookWriter(args.db, assignment)
    try:
        with Grader(
            assignment, workers=args.workers, seed=args.seed, config=cfg, extra_hidden_paths=private
        ) as grader:
            bar = None
            if not args.quiet:
                from tqdm import tqdm

                bar = tqdm(total=len(submissions), unit="nb", desc=f"grading {assignment.name}")

            def arrived(result) -> None:
                # Each result goes into the gradebook as soon as it exists: a grader that is
                # stopped keeps everything it finished.
                if gradebook is not None:
                    try:
                        gradebook.record(result)
                    except Exception as err:  # noqa: BLE001 -- keep grading; report below
                        unsaved.append((result, err))
                if bar:
                    bar.update(1)

            results = grader.grade_all(submissions, progress=arrived)
            if bar:
                bar.close()
            mode = grader.sandbox_mode
            seed = grader.seed
        elapsed = time.monotonic() - t0
        if args.json:
            args.json.write_text(
                json.dumps(
                    {
                        "assignment": assignment.name,
                        "seed": str(seed),
                        "sandbox": mode,
                        "submissions": [r.to_json() for r in results],
                    },
                    indent=1,
                )
            )
        if gradebook is not None:
            for result, err in unsaved:  # one more try, so a passing lock costs nothing
                try:
                    gradebook.record(result)
                except Exception:  # noqa: BLE001
                    print(
                        f"could not write {result.student}'s scores to the gradebook: {err}",
                        file=sys.stderr,
                    )
                    status = 1
    finally:
        if gradebook is not None:
            gradebook.close()
    if args.feedback:
        write_feedback(args.feedback, assignment, results)
    if args.csv:
        write_csv(args.csv, assignment, results)
    if not args.quiet:
        print(summary_table(assignment, results, elapsed, mode))
    return status


def summary_table(assignment, results, elapsed: float, mode: str) -> str:
    lines = [
        f"{assignment.name}: {len(results)} submissions in {elapsed:.1f} s "
        f"({len(results) / max(elapsed, 1e-9):.1f}/s), sandbox: {mode}"
    ]
    if len(results) <= 40:
        lines.append(f"{'student':<24} {'score':>12}  note")
        for r in results:
            note = r.error or ("; ".join(r.notes)[:60] if r.notes else "")
            lines.append(f"{r.student[:24]:<24} {r.score:>6g} / {r.max_score:<4g}  {note}")
    scores = [r.score for r in results]
    lines.append(
        f"mean {statistics.mean(scores):.2f}, median {statistics.median(scores):g}, "
        f"max possible {assignment.max_auto_score:g}; not graded: "
        f"{sum(1 for r in results if r.error)}"
    )
    lines.append(f"{'item':<24} {'points':>6} {'full marks':>11}")
    for gid, item in assignment.items.items():
        if item.manual:
            lines.append(f"{gid:<24} {item.points:>6g} {'by hand':>11}")
            continue
        full = sum(
            1 for r in results for i in r.items if i.grade_id == gid and i.score == i.max_score
        )
        lines.append(f"{gid:<24} {item.points:>6g} {full / len(results):>10.0%}")
    return "\n".join(lines)
