"""The instructor's report of a graded batch: one self-contained HTML page per assignment.

It shows the score distribution, how hard each item was (mean score, full and zero marks, and
how well the item separates strong from weak submissions), the most common mistakes (the
failing checks and the hints the checks matched), what could not be graded and why, and the
grading time per submission. Unlike the students' feedback it names hidden checks: it is for the
instructor. No JavaScript and no external files, so it can be mailed or archived as it is.
"""

from __future__ import annotations

import copy
import html
import math
import statistics
from collections import Counter
from pathlib import Path

from . import totals
from .course import Assignment
from .formgrader import attempted
from .grader import SubmissionResult, round_score
from .similarity import SECTION_STYLE, report_section
from .totals import Total

STYLE = """
body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#222}
h1{font-size:1.5rem} h2{font-size:1.2rem;margin-top:2rem}
table{border-collapse:collapse;width:100%} caption{text-align:left;color:#555;padding:.3rem 0}
td,th{border-bottom:1px solid #ddd;padding:.3rem .5rem;text-align:left;vertical-align:top}
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}
.bar{fill:#0072B2} .axis{stroke:#444} .lbl{font-size:11px;fill:#333}
.hint{color:#555;font-style:italic} .warn{color:#D55E00}
"""


def report_html(
    assignment: Assignment,
    results: list[SubmissionResult],
    totals_by_student: dict[str, Total] | None = None,
    attempts: dict[str, dict[str, bool] | None] | None = None,
) -> str:
    """``totals_by_student``: the course's totals (:mod:`autograder.totals`; default: automatic
    points only, written answers awaiting grading); ``attempts``: per student, which items'
    answer cells differ from the released stub (default: read from each result's notebook)."""
    e = html.escape
    n = len(results)
    if totals_by_student is None:
        results = copy.deepcopy(results)
        totals_by_student = totals.apply(assignment, results)
    if attempts is None:
        attempts = {r.student: None if r.error else attempted(assignment, r.path) for r in results}
    tots = [totals_by_student[r.student] for r in results]
    scores = [t.score for t in tots]
    max_score = totals.max_score(assignment)
    late = [t for t in tots if t.seconds_late > 0 or t.penalty > 0]
    pending = sum(1 for t in tots if t.pending)
    parts = [
        f"<h1>{e(assignment.name)}: grading report</h1>",
        f"<p>{n} submissions; points out of {max_score:g} "
        f"({assignment.max_auto_score:g} automatic, "
        f"{max_score - assignment.max_auto_score:g} written answers graded by hand). "
        f"Awaiting manual grading: {pending:d} submissions. "
        f"Late: {len(late):d} (penalties {sum(t.penalty for t in late):g} points in all). "
        f"Mean {_mean(scores):.2f}, median {_median(scores):g}, "
        f"full marks {sum(1 for s in scores if s >= max_score):d}, "
        f"zero {sum(1 for s in scores if s <= 0):d}, "
        f"not graded {sum(1 for r in results if r.error):d}, "
        f"with check errors {sum(1 for r in results if r.check_errors):d}.</p>",
        "<h2>Checks that could not be graded (check errors)</h2>",
        _check_errors_table(results),
        "<h2>Score distribution</h2>",
        _histogram_svg(scores, max_score),
        "<h2>Items</h2>",
        _items_table(assignment, results, attempts),
        "<h2>Most common mistakes</h2>",
        _mistakes_table(results, attempts),
        "<h2>Submissions that could not be graded</h2>",
        _errors_table(results),
        "<h2>Grading time per submission</h2>",
        _timing(results),
        "<h2>Similar submissions</h2>",
        report_section(assignment, results),
    ]
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{e(assignment.name)}: grading report</title><style>{STYLE}{SECTION_STYLE}</style></head>"
        f"<body>{''.join(parts)}</body></html>\n"
    )


def write_report(
    path: Path,
    assignment: Assignment,
    results: list[SubmissionResult],
    totals_by_student: dict[str, Total] | None = None,
) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    page = report_html(assignment, results, totals_by_student)
    path.write_text(page, encoding="utf-8", errors="replace")


# -- sections -----------------------------------------------------------------------------------
def _histogram_svg(scores: list[float], max_score: float, bins: int = 20) -> str:
    """Counts of scores in ``bins`` equal bins over [0, max]; the last bin holds full marks."""
    if not scores:
        return "<p>No submissions.</p>"
    bins = max(1, min(bins, int(max_score) + 1 if max_score >= 1 else bins))
    width = max_score / bins if max_score > 0 else 1.0
    counts = [0] * bins
    for s in scores:
        counts[min(bins - 1, max(0, int(s // width)))] += 1
    w, h, left, bottom = 640, 220, 48, 36
    plot_w, plot_h = w - left - 10, h - bottom - 10
    top = max(counts)
    bar_w = plot_w / bins
    out = [
        f'<svg role="img" width="{w}" height="{h}" viewBox="0 0 {w} {h}" '
        'xmlns="http://www.w3.org/2000/svg"><title>Histogram of scores</title>'
        f"<desc>Number of submissions per score bin, from 0 to {max_score:g} points; the "
        f"tallest bin holds {top} submissions.</desc>"
    ]
    for i, c in enumerate(counts):
        bh = plot_h * c / top if top else 0
        x, y = left + i * bar_w, 10 + plot_h - bh
        lo, hi = i * width, (i + 1) * width
        out.append(
            f'<rect class="bar" x="{x + 1:.1f}" y="{y:.1f}" width="{bar_w - 2:.1f}" '
            f'height="{bh:.1f}"><title>{lo:g} to {hi:g} points: {c}</title></rect>'
        )
    y0 = 10 + plot_h
    out.append(f'<line class="axis" x1="{left}" y1="{y0}" x2="{w - 10}" y2="{y0}"/>')
    out.append(f'<line class="axis" x1="{left}" y1="10" x2="{left}" y2="{y0}"/>')
    for k in range(5):
        v = max_score * k / 4
        x = left + plot_w * k / 4
        out.append(f'<text class="lbl" x="{x:.1f}" y="{y0 + 14}" text-anchor="middle">{v:g}</text>')
    out.append(f'<text class="lbl" x="{left - 6}" y="16" text-anchor="end">{top}</text>')
    out.append(f'<text class="lbl" x="{left - 6}" y="{y0}" text-anchor="end">0</text>')
    out.append(
        f'<text class="lbl" x="{left + plot_w / 2:.0f}" y="{h - 4}" text-anchor="middle">'
        "score (points)</text>"
    )
    out.append(
        f'<text class="lbl" transform="translate(12 {10 + plot_h / 2:.0f}) rotate(-90)" '
        'text-anchor="middle">submissions</text></svg>'
    )
    return "".join(out)


def _items_table(
    assignment: Assignment, results: list[SubmissionResult], attempts: dict | None = None
) -> str:
    e = html.escape
    attempts = attempts or {}
    rows = []
    overall = [r.score for r in results]
    for gid, item in assignment.items.items():
        if item.manual:
            marks = [i.score for r in results for i in r.items if i.grade_id == gid and not r.error]
            graded = [m for m in marks if m is not None]
            mean = f"{_mean(graded) / item.points:.0%}" if graded and item.points else ""
            rows.append(
                f"<tr><td>{e(gid)}</td><td class=n>{item.points:g}</td><td class=n>{mean}</td>"
                f"<td colspan=5>written answer, graded by hand in formgrader: {len(graded)} "
                f"graded, {len(marks) - len(graded)} awaiting manual grading</td></tr>"
            )
            continue
        got = [_item_score(r, gid) for r in results]
        frac = [g / item.points for g in got] if item.points else [0.0 for _ in got]
        rest = [t - g for t, g in zip(overall, got, strict=True)]
        disc = _correlation(got, rest)
        tried = [_tried(attempts, r, gid) for r in results]
        untouched = sum(1 for t in tried if t is False)
        wrong = sum(1 for t, f in zip(tried, frac, strict=True) if t is not False and f < 1)
        share = max(len(frac), 1)
        rows.append(
            f"<tr><td>{e(gid)}</td><td class=n>{item.points:g}</td>"
            f"<td class=n>{_mean(frac):.0%}</td>"
            f"<td class=n>{sum(1 for f in frac if f >= 1) / share:.0%}</td>"
            f"<td class=n>{sum(1 for f in frac if f <= 0) / share:.0%}</td>"
            f"<td class=n>{untouched}</td><td class=n>{wrong}</td>"
            f"<td class=n>{'' if disc is None else f'{disc:.2f}'}</td></tr>"
        )
    return (
        "<table><caption>Mean: average fraction of the item's points. Not attempted: the answer "
        "cells are the released stub, unchanged (or missing); attempted, not full marks: the "
        "students who tried and lost points. Separation: correlation between the item's score "
        "and the rest of the score (near 0: the item does not follow overall ability; negative: "
        "look at the item).</caption>"
        "<tr><th>item</th><th class=n>points</th><th class=n>mean</th>"
        "<th class=n>full marks</th><th class=n>zero</th><th class=n>not attempted</th>"
        "<th class=n>attempted, not full marks</th><th class=n>separation</th></tr>"
        + "".join(rows)
        + "</table>"
    )


def _tried(attempts: dict, r: SubmissionResult, gid: str) -> bool | None:
    """Whether the student changed the item's answer cells (None: not known, counted as tried)."""
    if r.error:
        return False
    known = attempts.get(r.student)
    return None if known is None else known.get(gid)


def _mistakes_table(
    results: list[SubmissionResult], attempts: dict | None = None, top: int = 20
) -> str:
    """The mistakes to re-teach: failing checks among the students who attempted the item (an
    untouched stub fails every check and says nothing), counted once per student, with the
    hints the checks recognised; mistakes with a recognised hint first at equal counts."""
    e = html.escape
    attempts = attempts or {}
    counts: Counter = Counter()
    tried: Counter = Counter()
    for r in results:
        if r.error:
            continue
        for item in r.items:
            if item.manual or _tried(attempts, r, item.grade_id) is False:
                continue
            tried[item.grade_id] += 1
            seen = set()
            for c in item.checks:
                if not c.passed and c.status != "error":
                    seen.add((item.grade_id, c.title, c.hidden, c.hint or ""))
            counts.update(seen)
    if not counts:
        return "<p>No check failed on an attempted answer.</p>"
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], not kv[0][3], kv[0]))[:top]
    rows = [
        f"<tr><td>{e(gid)}</td><td>{e(title)}{' (hidden)' if hidden else ''}"
        f"{f'<br><span class=hint>Hint: {e(hint)}</span>' if hint else ''}</td>"
        f"<td class=n>{k}</td><td class=n>{k / max(tried[gid], 1):.0%}</td></tr>"
        for (gid, title, hidden, hint), k in ranked
    ]
    return (
        "<table><caption>Failing checks among the students who attempted the item, most "
        "frequent first; the hint is the known mistake the check recognised in the output. "
        "Untouched stubs are counted apart (Items: not attempted).</caption>"
        "<tr><th>item</th><th>check and recognised mistake</th><th class=n>students</th>"
        "<th class=n>share of attempts</th></tr>" + "".join(rows) + "</table>"
    )


def _check_errors_table(results: list[SubmissionResult]) -> str:
    """Checks whose own code (or the grader) failed: no student lost these points by a mistake of
    theirs; they are withheld until the check is fixed and the submissions regraded."""
    e = html.escape
    counts: Counter = Counter()
    students: dict[tuple[str, str], list[str]] = {}
    for r in results:
        for item in r.items:
            for c in item.checks:
                if c.status == "error":
                    key = (item.grade_id, c.title)
                    counts[key] += 1
                    students.setdefault(key, []).append(r.student)
    if not counts:
        return "<p>None: every check could be graded.</p>"
    rows = "".join(
        f"<tr><td>{e(gid)}</td><td>{e(title)}</td><td class=n>{k}</td>"
        f"<td>{e(', '.join(students[gid, title][:10]))}</td></tr>"
        for (gid, title), k in counts.most_common()
    )
    return (
        '<p class="warn">These checks failed by a fault of their own code or of the grader: '
        "fix them and grade again (the exit status of <code>grade</code> was 3).</p>"
        "<table><tr><th>item</th><th>check</th><th class=n>submissions</th><th>students</th>"
        f"</tr>{rows}</table>"
    )


def _errors_table(results: list[SubmissionResult]) -> str:
    e = html.escape
    bad = [r for r in results if r.error]
    if not bad:
        return "<p>None: every submission was graded.</p>"
    reasons = Counter(r.error for r in bad)
    rows = "".join(
        f"<tr><td>{e(str(why))}</td><td class=n>{k}</td></tr>" for why, k in reasons.most_common()
    )
    students = ", ".join(e(r.student) for r in bad[:50]) + (" ..." if len(bad) > 50 else "")
    return (
        f"<table><tr><th>reason</th><th class=n>submissions</th></tr>{rows}</table>"
        f'<p class="warn">Students: {students}</p>'
    )


def _timing(results: list[SubmissionResult]) -> str:
    secs = sorted(r.seconds for r in results)
    if not secs:
        return "<p>No submissions.</p>"
    slow = sorted(results, key=lambda r: -r.seconds)[:5]
    slow_list = ", ".join(f"{html.escape(r.student)} ({r.seconds:.1f} s)" for r in slow)
    return (
        f"<p>Median {_quantile(secs, 0.5):.2f} s, 90th percentile {_quantile(secs, 0.9):.2f} s, "
        f"slowest {secs[-1]:.2f} s; {sum(secs):.0f} s of grading in all (across parallel "
        f"workers). Slowest: {slow_list}.</p>"
    )


# -- small statistics ---------------------------------------------------------------------------
def _item_score(r: SubmissionResult, gid: str) -> float:
    for i in r.items:
        if i.grade_id == gid:
            return round_score(i.score or 0.0)
    return 0.0


def _mean(xs: list[float]) -> float:
    return statistics.fmean(xs) if xs else 0.0


def _median(xs: list[float]) -> float:
    return statistics.median(xs) if xs else 0.0


def _quantile(sorted_xs: list[float], q: float) -> float:
    k = min(len(sorted_xs) - 1, max(0, math.ceil(q * len(sorted_xs)) - 1))
    return sorted_xs[k]


def _correlation(a: list[float], b: list[float]) -> float | None:
    if len(a) < 3:
        return None
    try:
        return statistics.correlation(a, b)
    except statistics.StatisticsError:  # constant: every submission got the same
        return None
