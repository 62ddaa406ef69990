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

    gr = sub.add_parser(
        "grade",
        help="grade submissions in isolated workers",
        description="Exit status: 0 graded; 1 a score could not be written to the gradebook; "
        "2 no submissions; 3 some checks could not be graded (check error: a fault of the "
        "checks or the grader, flagged in the summary, JSON, feedback and report).",
    )
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
    gr.add_argument(
        "--timeout", type=float, default=None, help="seconds of CPU time per cell (default 20)"
    )
    gr.add_argument(
        "--submission-budget",
        type=float,
        default=None,
        metavar="SECONDS",
        help="wall-clock seconds for one submission, restarts and replays included (default 900)",
    )
    gr.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="grade on this Dask distributed cluster (e.g. tcp://host:8786) instead of locally",
    )
    gr.add_argument(
        "--regrade",
        action="store_true",
        help="grade again what the gradebook already has with unchanged notebook and checks",
    )
    gr.add_argument("--report", type=Path, help="write the instructor report (HTML) here")
    gr.add_argument("--quiet", action="store_true", help="no progress bar or table")
    col = sub.add_parser(
        "collect", help="import an LMS bulk download into submitted/<student>/<assignment>/"
    )
    col.add_argument("assignment")
    col.add_argument("bulk", type=Path, help="the bulk download: a zip, or a folder")
    col.add_argument("--into", type=Path, default=Path("submitted"), help="default: submitted/")
    col.add_argument(
        "--id-pattern",
        help="regular expression with a group 'student' matched against each entry's name",
    )
    col.add_argument("--json", type=Path, help="write what happened to every entry as JSON")
    col.add_argument(
        "--duplicates",
        choices=("latest", "skip"),
        default="latest",
        help="two notebook entries of one student: keep the latest (default) or skip both",
    )

    rep = sub.add_parser(
        "report", help="instructor report (HTML) and grades CSV from the gradebook's results"
    )
    rep.add_argument("assignment")
    rep.add_argument(
        "--db", default="sqlite:///gradebook.db", help="the gradebook (SQLAlchemy URL)"
    )
    rep.add_argument("--out", type=Path, required=True, help="the report's HTML file")
    rep.add_argument("--csv", type=Path, help="also write the grades CSV")
    pg = sub.add_parser("pages", help="generate the book's assignment pages (book/assignments/)")
    pg.add_argument("--check", action="store_true", help="only report stale pages (exit 1)")
    kit = sub.add_parser(
        "kit",
        help="write the student kit: notebooks, coursekit and public checks, never solutions "
        "or hidden checks (the repository to give students)",
    )
    kit.add_argument("dest", type=Path, help="the folder to write (a new one)")
    kit.add_argument("--force", action="store_true", help="replace an existing folder")
    bk = sub.add_parser(
        "backup",
        help="a consistent copy of the gradebook while formgrader or a grader writes to it "
        "(SQLite's online backup; PostgreSQL: prints the pg_dump command, exit 2)",
    )
    bk.add_argument("file", type=Path, help="the copy to write (replaced atomically)")
    bk.add_argument("--db", default="sqlite:///gradebook.db", help="the gradebook (SQLAlchemy URL)")
    lms = sub.add_parser(
        "lms-export",
        help="the grades as a CSV that the LMS's gradebook imports (Canvas or Moodle)",
    )
    lms.add_argument("results", type=Path, help="the JSON written by grade --json")
    lms.add_argument("out", type=Path, help="the CSV to write")
    lms.add_argument("--format", choices=("canvas", "moodle"), default="canvas")
    lms.add_argument(
        "--roster", type=Path, help="the LMS's class list (CSV with an id column; names, emails)"
    )
    lms.add_argument(
        "--submitted", type=Path, help="the submitted/ folder: names from collect's records"
    )
    lms.add_argument("--title", help="the gradebook column (default: the assignment's name)")
    args = parser.parse_args(argv)
    if args.command == "backup":  # needs no course
        return _backup(args)
    if args.command == "lms-export":
        return _lms_export(args)
    course = Course.load(args.course)
    if args.command == "release":
        return _release(course, args)
    if args.command == "pages":
        return _pages(course, args)
    if args.command == "collect":
        return _collect(course, args)
    if args.command == "report":
        return _report(course, args)
    if args.command == "kit":
        return _kit(course, args)
    return _grade(course, args)


def _collect(course: Course, args) -> int:
    from dataclasses import asdict

    from .collect import CollectError, collect

    wanted = tuple(course.assignment(args.assignment).attachments)  # must exist
    try:
        entries = collect(
            args.bulk, args.assignment, args.into, args.id_pattern, wanted, args.duplicates
        )
    except CollectError as err:
        print(f"collect: {err}", file=sys.stderr)
        return 2
    for e in sorted(entries, key=lambda e: (e.status != "skipped", e.source)):
        who = e.student or "?"
        print(
            f"{e.status:<10} {who:<16} {e.source}"
            + (f": {e.message}" if e.status in ("skipped", "merged", "superseded") else "")
            + (e.message[e.message.find(" (without") :] if "(without" in e.message else "")
            + (" [LATE]" if e.late else "")
            + (f" warning: {e.warning}" if e.warning else "")
        )
    counts = {
        s: sum(1 for e in entries if e.status == s)
        for s in ("imported", "updated", "unchanged", "superseded", "skipped")
    }
    print(", ".join(f"{k} {v}" for k, v in counts.items()) + f" (into {args.into})")
    if counts["superseded"]:
        print(f"duplicates: kept each student's latest entry (--duplicates {args.duplicates})")
    if any(e.status == "skipped" for e in entries):
        print(f"skipped students are listed in {args.into.parent / 'skipped.json'}")
    if args.json:
        args.json.write_text(json.dumps([asdict(e) for e in entries], indent=1))
    return 0


def _lms_export(args) -> int:
    from . import lms

    try:
        assignment, scores = lms.scores_from_json(args.results)
        people = lms.read_roster(args.roster) if args.roster else None
    except (OSError, ValueError, KeyError) as err:
        print(f"lms-export: {err}", file=sys.stderr)
        return 2
    names = lms.names_from_collect(args.submitted, assignment) if args.submitted else None
    n = lms.export(args.format, args.out, args.title or assignment, scores, people, names)
    print(f"lms-export: {n} students -> {args.out} ({args.format})")
    return 0


def _backup(args) -> int:
    from .backup import BackupError, backup_sqlite, pg_dump_advice, sqlite_path

    try:
        source = sqlite_path(args.db)
        if source is None:
            print(f"backup: {pg_dump_advice(args.db, args.file)}", file=sys.stderr)
            return 2
        pages = backup_sqlite(source, args.file)
    except (BackupError, ValueError) as err:  # ValueError: a malformed URL
        print(f"backup: {err}", file=sys.stderr)
        return 1
    print(f"backup: {source} -> {args.file} ({pages} pages, integrity ok)")
    return 0


def _report(course: Course, args) -> int:
    from .feedback import write_csv
    from .gradebook import GradebookWriter
    from .grader import result_from_json
    from .report import write_report

    assignment = course.assignment(args.assignment)
    with GradebookWriter(args.db, assignment) as gb:
        stored = gb.stored()
    if not stored:
        print(f"the gradebook has no results of {assignment.name}", file=sys.stderr)
        return 2
    results = [result_from_json(stored[s].result) for s in sorted(stored)]
    stale = sum(1 for st in stored.values() if st.checks_version != assignment.checks_version)
    if stale:
        print(
            f"note: {stale} results were graded with an older version of the checks "
            "(grade again to update them)",
            file=sys.stderr,
        )
    write_report(args.out, assignment, results)
    if args.csv:
        write_csv(args.csv, assignment, results)
    print(
        f"{len(results)} results: report {args.out}" + (f", grades {args.csv}" if args.csv else "")
    )
    return 0


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


def _pages(course: Course, args) -> int:
    from .pages import write_pages

    stale = [path for path, fresh in write_pages(course, check=args.check) if not fresh]
    for path in stale:
        print(f"{path.relative_to(course.root)} {'STALE' if args.check else 'written'}")
    if args.check and stale:
        print("run `python -m autograder pages` to regenerate", file=sys.stderr)
        return 1
    return 0


def _kit(course: Course, args) -> int:
    from .kit import KitError, write_kit

    try:
        files = write_kit(course, args.dest, force=args.force)
    except KitError as err:
        print(f"kit: {err}", file=sys.stderr)
        return 1
    print(f"student kit: {len(files)} files in {args.dest}")
    return 0


def _grade(course: Course, args) -> int:
    from .feedback import write_csv, write_feedback
    from .grader import Grader, find_submissions, result_from_json
    from .session import SessionConfig

    assignment = course.assignment(args.assignment)
    submissions = find_submissions(args.paths, assignment)
    if not submissions:
        print("no submissions found", file=sys.stderr)
        return 2
    cfg = SessionConfig()
    if args.timeout:
        cfg.cell_timeout = args.timeout
    if args.submission_budget:
        cfg.submission_budget = args.submission_budget
    # Outputs and inputs of the grader are hidden from workers too.
    private = [str(Path(p).resolve()) for p in args.paths]
    private += [str(p.resolve()) for p in (args.json, args.csv, args.feedback, args.report) if p]
    if not args.no_db and args.db.startswith("sqlite:///"):
        db_file = str(Path(args.db[len("sqlite:///") :]).resolve())
        private += [db_file, f"{db_file}-wal", f"{db_file}-shm", f"{db_file}-journal"]
    t0 = time.monotonic()
    status = 0
    gradebook, unsaved, reused = None, [], {}
    if not args.no_db:
        from .gradebook import GradebookWriter

        gradebook = GradebookWriter(args.db, assignment)
    shas = {student: _sha256(path) for student, path in submissions}
    seed = args.seed
    student_seeds: dict[str, int] = {}
    if gradebook is not None:
        # Resume: what the gradebook already holds for the same notebook and the same checks is
        # not graded again (a killed batch goes on where it stopped).
        stored = gradebook.stored()
        if seed is None and stored:  # one batch, one seed: a resumed or regraded batch keeps it
            seed = batch_seed(stored)
        student_seeds = seeds_of_regrades(stored, shas, seed)
        if not args.regrade:
            for student, _ in submissions:
                st = stored.get(student)
                if (
                    st
                    and st.checks_version == gradebook.version
                    and (st.notebook_sha256 == shas[student])
                ):
                    old = result_from_json(st.result)
                    if not old.check_errors:  # a check error is graded again, never kept
                        reused[student] = old
    todo = [(st, p) for st, p in submissions if st not in reused]
    if reused and not args.quiet:
        print(
            f"{len(reused)} of {len(submissions)} submissions are already in the gradebook with "
            "the same notebook and checks: not graded again (--regrade grades them anyway)"
        )
    try:
        with Grader(
            assignment, workers=args.workers, seed=seed, config=cfg, extra_hidden_paths=private
        ) as grader:
            grader.student_seeds.update(student_seeds)
            bar = None
            if not args.quiet and todo:
                from tqdm import tqdm

                bar = tqdm(total=len(todo), unit="nb", desc=f"grading {assignment.name}")

            def arrived(result) -> None:
                # Each result goes into the gradebook as soon as it exists: a grader that is
                # stopped keeps everything it finished.
                if gradebook is not None:
                    try:
                        gradebook.record(result, shas[result.student], forced=args.regrade)
                    except Exception as err:  # noqa: BLE001 -- keep grading; report below
                        unsaved.append((result, err))
                if bar:
                    bar.update(1)

            if args.scheduler:
                from .distributed import grade_on_cluster

                graded = grade_on_cluster(args.scheduler, grader, todo, progress=arrived)
            else:
                graded = grader.grade_all(todo, progress=arrived)
            if bar:
                bar.close()
            mode = grader.sandbox_mode if todo else "none needed"
            seed = grader.seed
        elapsed = time.monotonic() - t0
        fresh = {r.student: r for r in graded}
        results = [reused.get(st) or fresh[st] for st, _ in submissions]
        # Students that collect skipped (skipped.json beside submitted/) get 0 and the reason in
        # every output but the gradebook: they handed in nothing gradable.
        from .collect import skipped_students
        from .grader import SubmissionResult

        graded_students = {r.student for r in results}
        for who, source, why in skipped_students(args.paths, assignment.name, graded_students):
            items = grader._empty_items()
            grader._fail_all(items, f"not graded: {why}")  # the student's loss, no check error
            results.append(
                SubmissionResult(
                    who, source, 0.0, assignment.max_auto_score, items, error=why, seed=seed
                )
            )
        if args.json:
            status |= _write_output(
                "JSON results",
                lambda: args.json.write_text(
                    json.dumps(
                        {
                            "assignment": assignment.name,
                            "seed": str(seed),
                            "sandbox": mode,
                            "checks_version": assignment.checks_version,
                            "graded": len(graded),
                            "reused": len(reused),
                            "submissions": [r.to_json() for r in results],
                        },
                        indent=1,
                    )
                ),
            )
        if gradebook is not None:
            for result, err in unsaved:  # one more try, so a passing lock costs nothing
                try:
                    gradebook.record(result, shas[result.student], forced=args.regrade)
                except Exception:  # noqa: BLE001
                    print(
                        f"could not write {result.student}'s scores to the gradebook: {err}",
                        file=sys.stderr,
                    )
                    status = 1
    finally:
        if gradebook is not None:
            gradebook.close()
    # Every output is written whatever happens to another one (a full disk, a bad name).
    if args.report:
        from .report import write_report

        status |= _write_output("report", lambda: write_report(args.report, assignment, results))
    if args.feedback:
        status |= _write_output(
            "feedback", lambda: write_feedback(args.feedback, assignment, results)
        )
    if args.csv:
        status |= _write_output("grades CSV", lambda: write_csv(args.csv, assignment, results))
    if not args.quiet:
        from .wire import safe_text

        print(safe_text(summary_table(assignment, results, elapsed, mode)))
    errored = [r for r in results if r.check_errors]
    if errored:
        # Exit status 3: some checks could not be graded (a fault of the checks or the grader,
        # never the students'): those points are withheld until the checks are fixed.
        print(
            f"{len(errored)} submissions have checks that could not be graded (check error): "
            f"{', '.join(r.student for r in errored[:20])}{' ...' if len(errored) > 20 else ''}; "
            "see their items' messages, fix the checks and grade again",
            file=sys.stderr,
        )
        status = status or 3
    return status


def _write_output(what: str, write) -> int:
    """Run ``write``; on failure say so and return exit status 1, so the other outputs still
    get written."""
    try:
        write()
    except Exception as err:  # noqa: BLE001 -- reported; the batch's other outputs go on
        print(f"could not write the {what}: {type(err).__name__}: {err}", file=sys.stderr)
        return 1
    return 0


def batch_seed(stored: dict) -> int:
    """The batch's seed from the gradebook: the one most submissions were graded with (fresh
    seeds of changed notebooks are each used once), the latest on a tie."""
    from collections import Counter

    counts = Counter(st.seed for st in stored.values())
    last: dict[int, object] = {}
    for st in stored.values():
        last[st.seed] = max(last.get(st.seed, st.graded_at), st.graded_at)
    return max(counts, key=lambda s: (counts[s], last[s]))


def seeds_of_regrades(stored: dict, shas: dict[str, str], seed: int | None) -> dict[str, int]:
    """The seed of each submission the gradebook already has. Its notebook unchanged (a regrade
    because the checks changed, or forced): the seed it was graded with, so that only the fix
    moves scores. Its notebook changed: a fresh seed, derived from the batch's and the new
    notebook's SHA-256, so that answers computed for the hidden inputs it was shown before are
    worth nothing. (A first grade uses the batch's seed.)"""
    from .checking import seed_for

    seeds = {}
    for student, sha in shas.items():
        st = stored.get(student)
        if st is None:
            continue
        if st.notebook_sha256 == sha:
            seeds[student] = st.seed
        else:
            seeds[student] = seed_for(seed, "changed notebook", sha) >> 1  # 63 bits, as others
    return seeds


def _sha256(path: Path) -> str:
    """The notebook's fingerprint ("" when there is none to read)."""
    import hashlib

    try:
        return hashlib.sha256(Path(path).read_bytes()).hexdigest()
    except OSError:
        return ""


def summary_table(assignment, results, elapsed: float, mode: str) -> str:
    from .grader import round_score

    lines = [
        f"{assignment.name}: {len(results)} submissions in {elapsed:.1f} s "
        f"({len(results) / max(elapsed, 1e-9):.1f}/s), sandbox: {mode}"
    ]
    if len(results) <= 40:
        lines.append(f"{'student':<24} {'score':>12}  note")
        for r in results:
            note = r.error or ("; ".join(r.notes)[:60] if r.notes else "")
            if r.check_errors:
                note = f"CHECK ERROR ({r.check_errors} checks could not be graded) {note}"
            score = round_score(r.score)
            lines.append(f"{r.student[:24]:<24} {score:>6g} / {r.max_score:<4g}  {note}")
    scores = [round_score(r.score) for r in results]
    lines.append(
        f"mean {statistics.mean(scores):.2f}, median {statistics.median(scores):g}, "
        f"max possible {assignment.max_auto_score:g}; not graded: "
        f"{sum(1 for r in results if r.error)}; with check errors: "
        f"{sum(1 for r in results if r.check_errors)}"
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
