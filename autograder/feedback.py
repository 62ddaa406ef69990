"""Per-student feedback pages and the grades CSV.

The feedback explains every lost point: for each item, each check's title and, when it failed,
the diagnostic message and hint. For a hidden check it shows the title and the diagnostic, never
its code or its inputs. Written answers are marked as graded by hand.
"""

from __future__ import annotations

import csv
import html
from pathlib import Path

from .course import Assignment
from .grader import SubmissionResult

STYLE = """
body{font-family:system-ui,sans-serif;max-width:54rem;margin:2rem auto;padding:0 1rem;color:#222}
h1{font-size:1.5rem} .score{font-size:1.2rem} table{border-collapse:collapse;width:100%}
td,th{border-bottom:1px solid #ddd;padding:.35rem .5rem;text-align:left;vertical-align:top}
.pass{color:#0072B2} .fail{color:#D55E00} .hint{color:#555;font-style:italic}
pre{background:#f6f6f6;padding:.5rem;white-space:pre-wrap;max-height:20rem;overflow:auto}
"""


def feedback_html(assignment: Assignment, r: SubmissionResult) -> str:
    e = html.escape
    rows = []
    for item in r.items:
        score = "by hand" if item.manual else f"{item.score:g} / {item.max_score:g}"
        rows.append(f"<tr><th>{e(item.grade_id)}</th><th>{score}</th></tr>")
        if item.manual:
            rows.append("<tr><td colspan=2>Written answer: the instructor grades it.</td></tr>")
        for c in item.checks:
            mark = (
                '<span class="pass">passed</span>'
                if c.passed
                else '<span class="fail">failed</span>'
            )
            kind = " (hidden check)" if c.hidden else ""
            detail = "" if c.passed else f"<br>{e(c.message)}"
            if c.hint and not c.passed:
                detail += f'<br><span class="hint">Hint: {e(c.hint)}</span>'
            rows.append(f"<tr><td>{e(c.title)}{kind}{detail}</td><td>{mark}</td></tr>")
    notes = "".join(f"<li>{e(n)}</li>" for n in r.notes)
    error = f'<p class="fail">Not graded: {e(r.error)}</p>' if r.error else ""
    output = f"<h2>What your code printed</h2><pre>{e(r.output)}</pre>" if r.output else ""
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{e(assignment.name)}: feedback for {e(r.student)}</title>
<style>{STYLE}</style></head><body>
<h1>{e(assignment.name)}: feedback for {e(r.student)}</h1>
<p class="score">Automatic score: <b>{r.score:g} / {r.max_score:g}</b></p>
{error}{"<h2>Notes</h2><ul>" + notes + "</ul>" if notes else ""}
<table>{"".join(rows)}</table>
{output}
<p><small>Checks run on inputs chosen at grading time; hidden checks use inputs you have not
seen. Warnings and printed output never cost points.</small></p>
</body></html>
"""


def write_feedback(
    directory: Path, assignment: Assignment, results: list[SubmissionResult]
) -> None:
    """nbgrader's layout: ``<dir>/<student>/<assignment>/<notebook>.html``."""
    for r in results:
        out = (
            Path(directory)
            / _safe(r.student)
            / assignment.name
            / f"{assignment.notebook_name}.html"
        )
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(feedback_html(assignment, r), encoding="utf-8")


def write_csv(path: Path, assignment: Assignment, results: list[SubmissionResult]) -> None:
    items = list(assignment.items.values())
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(
            ["student", "assignment", "score", "max_score", "error"] + [i.grade_id for i in items]
        )
        for r in results:
            by_id = {i.grade_id: i for i in r.items}
            w.writerow(
                [_cell(r.student), assignment.name, r.score, r.max_score, _cell(r.error or "")]
                + [
                    "" if by_id[i.grade_id].score is None else by_id[i.grade_id].score
                    for i in items
                ]
            )


def _cell(text: str) -> str:
    """Neutralise spreadsheet formulas in free text (CSV injection)."""
    return "'" + text if text[:1] in ("=", "+", "-", "@") else text


def _safe(name: str) -> str:
    keep = "".join(ch if ch.isalnum() or ch in "-_.@" else "_" for ch in name)
    return keep.strip(".") or "student"
