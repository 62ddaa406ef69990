"""Command line: ``python -m autograder release ...`` and ``python -m autograder grade ...``."""

from __future__ import annotations

import argparse
import copy
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
    gr.add_argument(
        "--course-dir",
        type=Path,
        help="nbgrader course folder for autograded/<student>/<assignment>/ (formgrader, "
        "generate_feedback; default: the folder holding submitted/)",
    )
    _late_arguments(gr)
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
    _late_arguments(rep)
    fb = sub.add_parser(
        "feedback",
        help="feedback pages, CSV, JSON and report again from the gradebook, with the manual "
        "grades and comments entered in formgrader since",
    )
    fb.add_argument("assignment")
    fb.add_argument("--db", default="sqlite:///gradebook.db", help="the gradebook (SQLAlchemy URL)")
    fb.add_argument(
        "--out", type=Path, required=True, help="the feedback folder (nbgrader's layout)"
    )
    fb.add_argument("--csv", type=Path, help="also write the grades CSV")
    fb.add_argument("--json", type=Path, help="also write the results as JSON (for lms-export)")
    fb.add_argument("--report", type=Path, help="also write the instructor report")
    fb.add_argument(
        "--submitted", type=Path, help="the submitted/ folder: students skipped at collection"
    )
    _late_arguments(fb)
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
    sim = sub.add_parser(
        "similarity",
        help="pairs of submissions whose answer cells share code the course did not give "
        "(winnowing over normalised tokens, as MOSS)",
    )
    sim.add_argument("assignment")
    sim.add_argument("paths", nargs="+", metavar="PATH", help="as for grade")
    sim.add_argument(
        "--threshold", type=float, default=None, help="least score listed (default 0.5)"
    )
    sim.add_argument("--html", type=Path, help="write the pairs' shared code side by side here")
    sim.add_argument("--json", type=Path, help="write the listed pairs as JSON")
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
    if args.command == "feedback":
        return _feedback(course, args)
    if args.command == "kit":
        return _kit(course, args)
    if args.command == "similarity":
        return _similarity(course, args)
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


def _late_arguments(p) -> None:
    """The late policy's options (see autograder/late.py); the course's pyproject.toml gives
    the defaults per assignment, [tool.autograder.late.<assignment>]."""
    p.add_argument("--due", help="due date, ISO 8601 (without a zone: UTC)")
    p.add_argument("--late-policy", choices=("none", "zero", "per-day"))
    p.add_argument(
        "--late-per-day", type=float, help="per-day: share of the maximum lost per day started"
    )
    p.add_argument("--late-cap", type=float, help="per-day: the most lost, share of the maximum")


def _policy(course: Course, args):
    from .late import policy_for

    return policy_for(
        course.root,
        args.assignment,
        due=args.due,
        policy=args.late_policy,
        per_day=args.late_per_day,
        cap=args.late_cap,
    )


def _from_gradebook(course: Course, args, skipped_from: list | None = None):
    """(assignment, results, totals) from the gradebook: the trusted grader's stored results,
    the manual grades and comments entered in formgrader, the submission times, the late
    policy (penalties written back), and the students skipped at collection (0 and why)."""
    from . import totals
    from .gradebook import GradebookWriter
    from .grader import result_from_json

    assignment = course.assignment(args.assignment)
    policy = _policy(course, args)
    with GradebookWriter(args.db, assignment) as gb:
        stored = gb.stored()
        manual = gb.manual_grades()
        times = gb.timestamps()
        kept = gb.penalties() if policy.due is None else {}  # no policy given: keep grade's
        results = [result_from_json(stored[s].result) for s in sorted(stored)]
        results += _skipped_results(assignment, skipped_from or [], {r.student for r in results})
        found = totals.apply(assignment, results, manual, times, policy, kept)
        if stored:
            gb.write_late(policy.due, {s: found[s].penalty for s in stored})
    stale = sum(1 for st in stored.values() if st.checks_version != assignment.checks_version)
    if stale:
        print(
            f"note: {stale} results were graded with an older version of the checks "
            "(grade again to update them)",
            file=sys.stderr,
        )
    return assignment, results, found, bool(stored)


def _skipped_results(assignment, paths: list, graded: set[str]) -> list:
    """A result of 0 with the reason for each student ``collect`` skipped (skipped.json)."""
    from .collect import skipped_students
    from .grader import ItemResult, SubmissionResult

    out = []
    for who, source, why in skipped_students(paths, assignment.name, graded):
        items = [
            ItemResult(i.grade_id, i.points, None if i.manual else 0.0, manual=i.manual)
            for i in assignment.items.values()
        ]
        out.append(SubmissionResult(who, source, 0.0, assignment.max_auto_score, items, error=why))
    return out


def _report(course: Course, args) -> int:
    from .feedback import write_csv
    from .report import write_report

    try:
        assignment, results, found, any_stored = _from_gradebook(course, args)
    except ValueError as err:
        print(f"report: {err}", file=sys.stderr)
        return 2
    if not any_stored:
        print(f"the gradebook has no results of {assignment.name}", file=sys.stderr)
        return 2
    write_report(args.out, assignment, results, found)
    if args.csv:
        write_csv(args.csv, assignment, results, found)
    print(
        f"{len(results)} results: report {args.out}" + (f", grades {args.csv}" if args.csv else "")
    )
    return 0


def _feedback(course: Course, args) -> int:
    from .feedback import write_csv, write_feedback
    from .report import write_report

    try:
        assignment, results, found, any_stored = _from_gradebook(
            course, args, [args.submitted] if args.submitted else []
        )
    except ValueError as err:
        print(f"feedback: {err}", file=sys.stderr)
        return 2
    if not any_stored:
        print(f"the gradebook has no results of {assignment.name}", file=sys.stderr)
        return 2
    status = _write_output("feedback", lambda: write_feedback(args.out, assignment, results, found))
    if args.csv:
        status |= _write_output(
            "grades CSV", lambda: write_csv(args.csv, assignment, results, found)
        )
    if args.report:
        status |= _write_output(
            "report", lambda: write_report(args.report, assignment, results, found)
        )
    if args.json:
        status |= _write_output(
            "JSON results", lambda: args.json.write_text(_results_json(assignment, results, found))
        )
    pending = sum(1 for t in found.values() if t.pending)
    print(
        f"{len(results)} students: feedback in {args.out}"
        + (f"; {pending} still awaiting manual grading" if pending else "")
    )
    return status


def _results_json(assignment, results, found, **extra) -> str:
    """The grading JSON: each submission's result with the course's total on top (score and
    max_score are the total after the late penalty and the whole maximum, as nbgrader export)."""
    return json.dumps(
        {
            "assignment": assignment.name,
            **extra,
            "submissions": [{**r.to_json(), **found[r.student].to_json()} for r in results],
        },
        indent=1,
    )


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


def _similarity(course: Course, args) -> int:
    from .grader import find_submissions
    from .similarity import DEFAULT_THRESHOLD, compare, table, write_html, write_json

    assignment = course.assignment(args.assignment)
    submissions = find_submissions(args.paths, assignment)
    if not submissions:
        print("no submissions found", file=sys.stderr)
        return 2
    threshold = DEFAULT_THRESHOLD if args.threshold is None else args.threshold
    result = compare(assignment, submissions, threshold=threshold)
    print(table(result))
    status = 0
    if args.html:
        status |= _write_output("similarity page", lambda: write_html(args.html, result))
    if args.json:
        status |= _write_output("similarity JSON", lambda: write_json(args.json, result))
    return status


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
    from . import totals
    from .feedback import write_csv, write_feedback
    from .formgrader import course_dir_for, ensure_config, write_autograded
    from .grader import Grader, find_submissions, result_from_json
    from .late import read_timestamp
    from .session import SessionConfig

    assignment = course.assignment(args.assignment)
    try:
        policy = _policy(course, args)
    except ValueError as err:
        print(f"grade: {err}", file=sys.stderr)
        return 2
    submissions = find_submissions(args.paths, assignment)
    if not submissions:
        print("no submissions found", file=sys.stderr)
        return 2
    # nbgrader's timestamp.txt (written by collect): the late policy and formgrader need it.
    times = {
        student: read_timestamp(path.parent) if path.parent.name == assignment.name else None
        for student, path in submissions
    }
    flagged = [st for st, path in submissions if _marked_late(path.parent)]
    if flagged and policy.due is None and not args.quiet:
        print(
            f"note: the LMS marked {len(flagged)} submissions late ({', '.join(flagged[:5])}"
            f"{' ...' if len(flagged) > 5 else ''}) but no due date is set (--due, or "
            f"[tool.autograder.late.{assignment.name}] in pyproject.toml): no penalty applied"
        )
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
        from .lms import names_from_collect

        gradebook.names = {  # the names in the LMS download, for formgrader and nbgrader export
            student: name
            for folder in args.paths
            if Path(folder).is_dir()
            for student, name in names_from_collect(Path(folder), assignment.name).items()
        }
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
                        gradebook.record(
                            result,
                            shas[result.student],
                            forced=args.regrade,
                            timestamp=times.get(result.student),
                        )
                    except Exception as err:  # noqa: BLE001 -- keep grading; report below
                        unsaved.append((copy.deepcopy(result), err))  # as graded: no totals
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
        # One total everywhere: manual grades already entered in formgrader (a regrade keeps
        # them), the whole maximum, the late penalty (also written into the gradebook).
        manual = {}
        if gradebook is not None:
            try:
                manual = gradebook.manual_grades()
            except Exception as err:  # noqa: BLE001 -- the automatic grades still go out
                print(f"could not read the manual grades: {err}", file=sys.stderr)
                status = 1
        found = totals.apply(assignment, results, manual, times, policy)
        if args.json:
            status |= _write_output(
                "JSON results",
                lambda: args.json.write_text(
                    _results_json(
                        assignment,
                        results,
                        found,
                        seed=str(seed),
                        sandbox=mode,
                        checks_version=assignment.checks_version,
                        graded=len(graded),
                        reused=len(reused),
                        late_policy=policy.describe(),
                        due=policy.due.isoformat() if policy.due else None,
                    )
                ),
            )
        if gradebook is not None:
            in_gradebook = {st for st, _ in submissions}
            status |= _write_output(
                "late penalties to the gradebook",
                lambda: gradebook.write_late(
                    policy.due, {s: found[s].penalty for s in in_gradebook}
                ),
            )
            for result, err in unsaved:  # one more try, so a passing lock costs nothing
                try:
                    gradebook.record(
                        result,
                        shas[result.student],
                        forced=args.regrade,
                        timestamp=times.get(result.student),
                    )
                except Exception:  # noqa: BLE001
                    print(
                        f"could not write {result.student}'s scores to the gradebook: {err}",
                        file=sys.stderr,
                    )
                    status = 1
    finally:
        if gradebook is not None:
            gradebook.close()
    # formgrader and nbgrader's commands: autograded/<student>/<assignment>/ in the course folder.
    by_student = dict(submissions)
    written, nowhere = 0, 0
    for r in results:
        path = by_student.get(r.student)
        if path is None:  # skipped at collection: nothing to grade by hand
            continue
        where = args.course_dir or course_dir_for(path, assignment)
        if where is None:
            nowhere += 1
            continue
        status |= _write_output(
            f"autograded notebook of {r.student}",
            lambda r=r, path=path, where=where: write_autograded(where, assignment, r, path),
        )
        written += 1
        if written == 1 and not args.no_db:
            made = ensure_config(where, args.db)
            if made and not args.quiet:
                print(f"wrote {made} (formgrader: `jupyter lab` in {where}, Nbgrader > Formgrader)")
    if nowhere and not args.quiet:
        print(
            f"{nowhere} notebooks are not in a <course>/submitted/<student>/{assignment.name}/ "
            "folder: no autograded/ copy for formgrader (--course-dir names the course folder)"
        )
    # Every output is written whatever happens to another one (a full disk, a bad name).
    if args.report:
        from .report import write_report

        status |= _write_output(
            "report", lambda: write_report(args.report, assignment, results, found)
        )
    if args.feedback:
        status |= _write_output(
            "feedback", lambda: write_feedback(args.feedback, assignment, results, found)
        )
    if args.csv:
        status |= _write_output(
            "grades CSV", lambda: write_csv(args.csv, assignment, results, found)
        )
    if not args.quiet:
        from .wire import safe_text

        print(safe_text(summary_table(assignment, results, elapsed, mode, found)))
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


def _marked_late(folder: Path) -> bool:
    """Whether collect's record beside the notebook says the LMS marked the entry late."""
    from .collect import SIDECAR

    try:
        return json.loads((folder / SIDECAR).read_text(encoding="utf-8")).get("late") is True
    except (OSError, ValueError, AttributeError):
        return False


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


def summary_table(assignment, results, elapsed: float, mode: str, found=None) -> str:
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
            t = (found or {}).get(r.student)
            score = t.score if t else round_score(r.score)
            if t and t.penalty:
                note = f"late: -{t.penalty:g} {note}"
            if t and t.pending:
                note = f"awaiting manual grading: {', '.join(t.pending)} {note}"
            lines.append(f"{r.student[:24]:<24} {score:>6g} / {r.max_score:<4g}  {note[:90]}")
    scores = [found[r.student].score if found else round_score(r.score) for r in results]
    top = max(r.max_score for r in results) if results else assignment.max_auto_score
    lines.append(
        f"mean {statistics.mean(scores):.2f}, median {statistics.median(scores):g}, "
        f"max possible {top:g}; not graded: "
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
