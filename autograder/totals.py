"""One total everywhere: automatic points, written answers graded in formgrader, late penalty.

The maximum is the automatic items' points plus the written answers' (nbgrader's
``Assignment.max_score``). What the instructor entered in formgrader comes from the gradebook:
a manual score of a written answer, a manual score that overrides an automatic one, extra credit,
comments; a written answer not graded yet is *awaiting manual grading* and counts 0 until it is.
The late penalty (:mod:`autograder.late`) comes off the sum, never below 0, exactly as
``nbgrader export`` computes ``score = max(0, raw_score - late_submission_penalty)``; so the
feedback, the CSV, the JSON, the report and nbgrader's own export show the same number.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from .course import Assignment
from .grader import SubmissionResult, round_score
from .late import LatePolicy


@dataclass
class Total:
    auto: float  # the trusted grader's points (after any override entered in formgrader)
    manual: float  # written answers graded by hand, extra credit included
    penalty: float  # late penalty, points
    max_score: float  # automatic + written answers' points
    pending: list[str] = field(default_factory=list)  # written answers awaiting manual grading
    comments: dict[str, str] = field(default_factory=dict)  # grade id -> formgrader comment
    overridden: list[str] = field(default_factory=list)  # automatic items scored by hand
    timestamp: datetime | None = None
    seconds_late: float = 0.0
    policy: str = ""  # the late policy, in words, when the submission was late

    @property
    def raw(self) -> float:
        return round_score(self.auto + self.manual)

    @property
    def score(self) -> float:
        return round_score(max(0.0, self.raw - self.penalty))

    def to_json(self) -> dict:
        return {
            "score": self.score,
            "max_score": self.max_score,
            "auto_score": round_score(self.auto),
            "manual_score": round_score(self.manual),
            "late_penalty": self.penalty,
            "seconds_late": round(self.seconds_late),
            "timestamp": self.timestamp.isoformat() if self.timestamp else None,
            "awaiting_manual_grading": self.pending,
        }


def max_score(assignment: Assignment) -> float:
    return round_score(sum(i.points for i in assignment.items.values()))


def apply(
    assignment: Assignment,
    results: list[SubmissionResult],
    manual: dict | None = None,
    times: dict[str, datetime | None] | None = None,
    policy: LatePolicy | None = None,
    kept_penalties: dict[str, float] | None = None,
) -> dict[str, Total]:
    """Each student's :class:`Total`. Fills the written answers' scores from ``manual``
    (:meth:`GradebookWriter.manual_grades`) into ``results`` in place, so that every output
    lists them per item, and sets each result's ``score`` and ``max_score`` to the sum before
    the late penalty and the whole maximum. ``times``: submission times (naive UTC).
    ``kept_penalties``: penalties already in the gradebook, used where ``policy`` has no due
    date (``feedback`` run without the policy keeps what ``grade`` applied)."""
    manual, times = manual or {}, times or {}
    policy = policy or LatePolicy()
    top = max_score(assignment)
    out: dict[str, Total] = {}
    for r in results:
        grades = manual.get(r.student, {})  # as nbgrader export, whatever the grader said
        auto = hand = 0.0
        pending, overridden, comments = [], [], {}
        for item in r.items:
            g = grades.get(item.grade_id)
            if g is not None and g.comment:
                comments[item.grade_id] = g.comment
            extra = g.extra_credit if g is not None else 0.0
            if item.manual:
                item.score = None if g is None or g.score is None else round_score(g.score)
                if item.score is None and not r.error:
                    pending.append(item.grade_id)
                hand += (item.score or 0.0) + extra
            else:
                if g is not None and g.score is not None:  # formgrader's override, as nbgrader
                    item.score = round_score(g.score)
                    overridden.append(item.grade_id)
                auto += (item.score or 0.0) + extra
        total = Total(round_score(auto), round_score(hand), 0.0, top, pending, comments, overridden)
        total.timestamp = times.get(r.student)
        if not r.error:  # nothing handed in is never "late"
            total.seconds_late = policy.seconds_late(total.timestamp)
            total.penalty = policy.penalty(total.seconds_late, total.raw, top)
            if total.seconds_late > 0:
                total.policy = policy.describe()
            kept = (kept_penalties or {}).get(r.student) or 0.0
            if policy.due is None and kept > 0:
                total.penalty = round_score(min(kept, max(total.raw, 0.0)))
                total.policy = "the penalty recorded in the gradebook"
        r.score, r.max_score = total.raw, top
        out[r.student] = total
    return out


def late_words(seconds: float) -> str:
    days, rest = divmod(int(seconds), 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    parts = [f"{days} d"] if days else []
    parts += [f"{hours} h"] if hours or days else []
    parts.append(f"{minutes} min")
    return " ".join(parts)
