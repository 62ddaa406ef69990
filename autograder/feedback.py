"""Per-student feedback pages and the grades CSV.

The feedback explains every lost point: for each item, each check's title and, when it failed,
the diagnostic message and hint. For a hidden check it shows the title, the hint (the kind of
mistake the check recognised) and the kind of failure in fixed words, never its message, code,
inputs, outputs or expected values, nor what the student's code printed while it ran. Written
answers are marked as graded by hand.
"""

from __future__ import annotations

import builtins
import copy
import csv
import html
import re
from pathlib import Path

from . import totals
from .course import Assignment
from .grader import INTERNAL_ERROR, CheckResult, SubmissionResult, round_score
from .totals import Total

STYLE = """
body{font-family:system-ui,sans-serif;max-width:54rem;margin:2rem auto;padding:0 1rem;color:#222}
h1{font-size:1.5rem} .score{font-size:1.2rem} table{border-collapse:collapse;width:100%}
td,th{border-bottom:1px solid #ddd;padding:.35rem .5rem;text-align:left;vertical-align:top}
.pass{color:#0072B2} .fail{color:#D55E00} .hint{color:#555;font-style:italic} .comment{color:#333;background:#f3f7fb}
pre{background:#f6f6f6;padding:.5rem;white-space:pre-wrap;max-height:20rem;overflow:auto}
"""


def feedback_html(assignment: Assignment, r: SubmissionResult, total: Total | None = None) -> str:
    e = html.escape
    total = total or _plain_total(assignment, r)
    rows = []
    for item in r.items:
        waiting = item.grade_id in total.pending
        if item.manual and item.score is None:
            score = f"{'awaiting manual grading' if waiting else 0} / {item.max_score:g}"
        else:
            score = f"{round_score(item.score or 0.0):g} / {item.max_score:g}"
        rows.append(f"<tr><th>{e(item.grade_id)}</th><th>{score}</th></tr>")
        if item.manual:
            said = (
                "Written answer: awaiting manual grading by the instructor."
                if waiting
                else "Written answer: not graded."
                if item.score is None
                else "Written answer, graded by the instructor."
            )
            rows.append(f"<tr><td colspan=2>{said}</td></tr>")
        elif item.grade_id in total.overridden:
            rows.append("<tr><td colspan=2>Score set by the instructor.</td></tr>")
        if item.grade_id in total.comments:
            rows.append(
                f'<tr><td colspan=2 class="comment">Instructor\'s comment: '
                f"{e(total.comments[item.grade_id])}</td></tr>"
            )
        for c in item.checks:
            mark = (
                '<span class="pass">passed</span>'
                if c.passed
                else '<span class="fail">could not be graded</span>'
                if c.status == "error"
                else '<span class="fail">failed</span>'
            )
            kind = " (hidden check)" if c.hidden else ""
            message = hidden_check_detail(c) if c.hidden else c.message
            detail = "" if c.passed else f"<br>{e(message)}"
            if c.hint and not c.passed:
                detail += f'<br><span class="hint">Hint: {e(c.hint)}</span>'
            rows.append(f"<tr><td>{e(c.title)}{kind}{detail}</td><td>{mark}</td></tr>")
    notes = "".join(f"<li>{e(n)}</li>" for n in r.notes)
    why = r.error
    if why and why.startswith(INTERNAL_ERROR):  # its details are the grader's, for the instructor
        why = "an internal error of the grader (not of your code); your instructor has the details"
    error = f'<p class="fail">Not graded: {e(why)}</p>' if why else ""
    if r.check_errors:
        error += (
            f'<p class="fail">{r.check_errors} checks could not be graded (a fault of the checks, '
            "not of your code): your instructor has been told and will grade them again.</p>"
        )
    output = f"<h2>What your code printed</h2><pre>{e(r.output)}</pre>" if r.output else ""
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{e(assignment.name)}: feedback for {e(r.student)}</title>
<style>{STYLE}</style></head><body>
<h1>{e(assignment.name)}: feedback for {e(r.student)}</h1>
{_score_lines(total)}
{error}{"<h2>Notes</h2><ul>" + notes + "</ul>" if notes else ""}
<table>{"".join(rows)}</table>
{output}
<p><small>Checks run on inputs chosen at grading time; hidden checks use inputs you have not
seen. Warnings and printed output never cost points.</small></p>
</body></html>
"""


_NOT_RUN = "not run: an earlier check of this item timed out"


def _plain_total(assignment: Assignment, r: SubmissionResult) -> Total:
    """The total of a result with nothing from the gradebook (no manual grades, no late policy)."""
    return totals.apply(assignment, [copy.deepcopy(r)])[r.student]


def _score_lines(t: Total) -> str:
    e = html.escape
    parts = [f'<p class="score">Score: <b>{t.score:g} / {t.max_score:g}</b></p><ul>']
    parts.append(f"<li>Automatic checks: {t.auto:g} points</li>")
    if t.manual or t.max_score > t.auto:
        parts.append(f"<li>Written answers: {t.manual:g} points</li>")
    if t.pending:
        parts.append(
            f"<li class=fail>Awaiting manual grading: {e(', '.join(t.pending))} (this score "
            "counts them as 0 until the instructor grades them)</li>"
        )
    if t.seconds_late > 0 or t.penalty > 0:
        how = f"{totals.late_words(t.seconds_late)} " if t.seconds_late > 0 else ""
        parts.append(
            f"<li class=fail>Submitted {how}late ({e(t.policy)}): {-t.penalty:g} points</li>"
        )
    return "".join(parts) + "</ul>"


def hidden_check_detail(c: CheckResult) -> str:
    """What a student reads of a failed hidden check besides its title and hint: the kind of
    failure, in the grader's own fixed words. Never the message itself, which can quote the
    check's inputs and expected values, or whatever the student's code raised or printed with
    them (a student could otherwise resubmit answers computed for exactly those inputs)."""
    m = c.message
    if c.status == "error":
        return "this check could not be graded (a fault of the check, not of your code)"
    if c.timed_out:
        return "your code ran out of time on this check's inputs"
    if m == _NOT_RUN:
        return m
    if m.startswith(("not graded:", "could not be graded")):
        return "not graded (see above)"
    if m.startswith("your code stopped the worker"):
        return "your code stopped the worker (it exited, crashed or hit a resource limit)"
    if m.startswith("the worker's reply was malformed"):
        return "your code sent the grader a malformed reply"
    if " is not implemented yet" in m:
        return "your code is not implemented yet"
    raised = re.search(r" raised ([A-Za-z_][A-Za-z0-9_]{0,80}):", m)
    if raised:  # a builtin exception's name only: a student's class could be named anything
        t = getattr(builtins, raised[1], None)
        kind = raised[1] if isinstance(t, type) and issubclass(t, BaseException) else "an exception"
        return f"your code raised {kind} on inputs you have not seen"
    return "your code's result was wrong on inputs you have not seen"


def write_feedback(
    directory: Path,
    assignment: Assignment,
    results: list[SubmissionResult],
    totals_by_student: dict[str, Total] | None = None,
) -> None:
    """nbgrader's layout: ``<dir>/<student>/<assignment>/<notebook>.html``."""
    for r in results:
        total = (totals_by_student or {}).get(r.student)
        out = (
            Path(directory)
            / _safe(r.student)
            / assignment.name
            / f"{assignment.notebook_name}.html"
        )
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(feedback_html(assignment, r, total), encoding="utf-8", errors="replace")


def write_csv(
    path: Path,
    assignment: Assignment,
    results: list[SubmissionResult],
    totals_by_student: dict[str, Total] | None = None,
) -> None:
    """One row per student: the total after the late penalty (``score``, what nbgrader export
    calls score), the whole maximum, its parts, the written answers still awaiting manual
    grading, and each item's points (empty: awaiting manual grading)."""
    items = list(assignment.items.values())
    with open(path, "w", newline="", encoding="utf-8", errors="replace") as f:
        w = csv.writer(f)
        w.writerow(
            ["student", "assignment", "score", "max_score", "error"]
            + ["auto_score", "manual_score", "late_penalty", "seconds_late"]
            + ["awaiting_manual_grading"]
            + [i.grade_id for i in items]
        )
        for r in results:
            t = (totals_by_student or {}).get(r.student) or _plain_total(assignment, r)
            by_id = {i.grade_id: i for i in r.items}
            why = r.error or (
                f"{r.check_errors} checks could not be graded (check error)"
                if r.check_errors
                else ""
            )
            w.writerow(
                [_cell(r.student), assignment.name, t.score, t.max_score, _cell(why)]
                + [t.auto, t.manual, t.penalty, round(t.seconds_late)]
                + [" ".join(t.pending)]
                + [
                    "" if by_id[i.grade_id].score is None else round_score(by_id[i.grade_id].score)
                    for i in items
                ]
            )


def _cell(text: str) -> str:
    """Neutralise spreadsheet formulas in free text (CSV injection)."""
    return "'" + text if text[:1] in ("=", "+", "-", "@") else text


def _safe(name: str) -> str:
    keep = "".join(ch if ch.isalnum() or ch in "-_.@" else "_" for ch in name)
    return keep.strip(".") or "student"
