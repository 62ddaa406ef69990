"""Late work: the policy, how late a submission is, and the penalty.

A policy is one of ``none`` (late work counts in full), ``zero`` (late work scores 0, as
nbgrader's ``LateSubmissionPlugin.penalty_method = 'zero'``) or ``per-day``: a share of the
assignment's maximum per day or part of a day late, up to a cap (``per_day=0.1, cap=0.5``: one
minute late costs 10% of the maximum, three days 30%, a week 50%). The penalty is taken from the
maximum, not from the score, so a penalty computed when the automatic grade is done stays right
when the written answers are graded later; it never takes a total below 0.

Per assignment in the course's ``pyproject.toml`` (the command line overrides it)::

    [tool.autograder.late.a2_activations]
    due = "2026-10-09T23:59:00+00:00"   # ISO 8601; without a zone: UTC
    policy = "per-day"                  # none | zero | per-day
    per_day = 0.1
    cap = 0.5
    grace_minutes = 5                   # submissions this close to the due time are on time

How late: nbgrader's ``timestamp.txt`` beside the notebook (``collect`` writes the time the LMS
stamped on the entry) against the due date; a submission without a time is on time.
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

POLICIES = ("none", "zero", "per-day")
DAY = 86400.0


@dataclass
class LatePolicy:
    policy: str = "none"
    due: datetime | None = None  # naive UTC, as nbgrader stores it
    per_day: float = 0.0  # share of the maximum per (started) day late
    cap: float = 1.0  # the most a late submission can lose, as a share of the maximum
    grace_minutes: float = 0.0

    def __post_init__(self) -> None:
        self.policy = self.policy.replace("_", "-")
        if self.policy not in POLICIES:
            raise ValueError(f"late policy {self.policy!r}: one of {', '.join(POLICIES)}")
        if not (0 <= self.per_day <= 1 and 0 <= self.cap <= 1 and self.grace_minutes >= 0):
            raise ValueError("late policy: per_day and cap are shares of the maximum, in [0, 1]")
        if self.policy != "none" and self.due is None:
            raise ValueError(f"late policy {self.policy!r} needs a due date")

    def describe(self) -> str:
        if self.policy == "none":
            return "late work counts in full"
        if self.policy == "zero":
            return "late work scores 0"
        return (
            f"{self.per_day:.0%} of the maximum per day or part of a day late, "
            f"at most {self.cap:.0%}"
        )

    def seconds_late(self, timestamp: datetime | None) -> float:
        if self.due is None or timestamp is None:
            return 0.0
        late = (timestamp - self.due).total_seconds()
        return late if late > self.grace_minutes * 60 else 0.0

    def penalty(self, seconds_late: float, total: float, max_score: float) -> float:
        """Points taken from ``total`` (never more than ``total``)."""
        if seconds_late <= 0 or self.policy == "none":
            return 0.0
        if self.policy == "zero":
            return max(total, 0.0)
        share = min(self.cap, math.ceil(seconds_late / DAY) * self.per_day)
        return round(min(max(total, 0.0), share * max_score), 2) + 0.0


def parse_time(text: str) -> datetime:
    """An ISO 8601 time as naive UTC (a time without a zone is read as UTC)."""
    t = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    return t.astimezone(UTC).replace(tzinfo=None) if t.tzinfo else t


def course_policy(root: Path, assignment: str) -> dict:
    """The ``[tool.autograder.late.<assignment>]`` table of the course's ``pyproject.toml``."""
    path = Path(root) / "pyproject.toml"
    if not path.exists():
        return {}
    with open(path, "rb") as f:
        cfg = tomllib.load(f).get("tool", {}).get("autograder", {}).get("late", {})
    return dict(cfg.get(assignment, {}))


def policy_for(root: Path, assignment: str, **overrides) -> LatePolicy:
    """The course's policy for ``assignment``, with command-line values (not None) on top."""
    cfg = course_policy(root, assignment)
    cfg.update({k: v for k, v in overrides.items() if v is not None})
    due = cfg.get("due")
    if isinstance(due, datetime):  # TOML has its own datetimes
        due = due.astimezone(UTC).replace(tzinfo=None) if due.tzinfo else due
    elif due is not None:
        due = parse_time(str(due))
    return LatePolicy(
        policy=str(cfg.get("policy", "none")),
        due=due,
        per_day=float(cfg.get("per_day", 0.0)),
        cap=float(cfg.get("cap", 1.0)),
        grace_minutes=float(cfg.get("grace_minutes", 0.0)),
    )


def read_timestamp(folder: Path) -> datetime | None:
    """nbgrader's ``timestamp.txt`` in a submission's folder, as naive UTC (nbgrader's parser)."""
    path = Path(folder) / "timestamp.txt"
    try:
        if path.is_symlink() or not path.is_file():
            return None
        text = path.read_text(encoding="utf-8", errors="replace")[:200].strip()
        from nbgrader.utils import parse_utc

        return parse_utc(text) if text else None
    except (OSError, ValueError, OverflowError):
        return None
