"""Grades back to the LMS: CSV files that Canvas's and Moodle's gradebook imports accept.

The scores come from ``python -m autograder grade ... --json FILE`` (one total per student,
rounded to 2 decimals as everywhere else). Names come from a roster CSV the instructor exports
from the LMS, or else from the entry names of the bulk download that ``collect`` kept in each
``collect.json`` (Moodle: "Jane Doe_123456_assignsubmission_file_"; Canvas: "doejane_12345_...").

- **Canvas** ("Grades > Import"): columns ``Student, ID, SIS User ID, SIS Login ID, Section`` and
  one column per assignment, then a ``Points Possible`` row; Canvas matches students by ``ID``
  (the number in the download's entry names, which ``collect`` uses as the student's folder).
- **Moodle** ("Grades > Import > CSV file"): ``ID number, Full name, Email address`` and the
  grade column; map "ID number" (or the email) to the user field of the same name on import.

Students whose submission was skipped at collection are in the grading JSON with 0 and their
reason, so they are exported too.
"""

from __future__ import annotations

import csv
import json
import re
from dataclasses import dataclass
from pathlib import Path

from .collect import ID_PATTERNS, SIDECAR
from .grader import round_score

FORMATS = ("canvas", "moodle")


@dataclass
class Person:
    id: str
    name: str = ""
    email: str = ""
    sis_user_id: str = ""
    sis_login_id: str = ""
    section: str = ""


# Header names (lower case) accepted in a roster, per field: ours, Canvas's and Moodle's exports.
_ROSTER_COLUMNS = {
    "id": ("id", "student id", "id number", "idnumber", "user id"),
    "name": ("name", "student", "full name", "fullname"),
    "email": ("email", "email address"),
    "sis_user_id": ("sis user id",),
    "sis_login_id": ("sis login id", "login id", "username"),
    "section": ("section", "sections"),
}


def read_roster(path: Path) -> dict[str, Person]:
    """Students by id from a CSV with a header row; the id column is required."""
    with open(path, newline="", encoding="utf-8-sig") as f:
        rows = list(csv.reader(f))
    if not rows:
        raise ValueError(f"{path}: the roster is empty")
    header = [h.strip().lower() for h in rows[0]]
    where = {}
    for field, names in _ROSTER_COLUMNS.items():
        for i, h in enumerate(header):
            if h in names:
                where[field] = i
                break
    if "id" not in where:
        raise ValueError(f"{path}: no id column (one of {', '.join(_ROSTER_COLUMNS['id'])})")
    people = {}
    for row in rows[1:]:
        values = {k: row[i].strip() if i < len(row) else "" for k, i in where.items()}
        if values["id"] and values["id"].lower() != "points possible":
            people[values["id"]] = Person(**values)
    return people


def names_from_collect(submitted: Path, assignment: str) -> dict[str, str]:
    """Each student's name as the bulk download spelt it (``collect.json`` beside the notebook)."""
    names = {}
    for sidecar in sorted(Path(submitted).glob(f"*/{assignment}/{SIDECAR}")):
        try:
            source = str(json.loads(sidecar.read_text()).get("source", ""))
        except (OSError, ValueError):
            continue
        for pattern in ID_PATTERNS[:2]:  # Moodle's and Canvas's, which carry a name
            m = pattern.match(source)
            if m and m.groupdict().get("name"):
                names[sidecar.parent.parent.name] = m.group("name")
                break
    return names


def scores_from_json(path: Path) -> tuple[str, dict[str, tuple[float, float]]]:
    """``(assignment, {student: (score, max_score)})`` from a grading JSON file."""
    data = json.loads(Path(path).read_text())
    scores = {
        s["student"]: (round_score(float(s["score"])), float(s["max_score"]))
        for s in data["submissions"]
    }
    return data["assignment"], scores


def export(
    fmt: str,
    out: Path,
    title: str,
    scores: dict[str, tuple[float, float]],
    people: dict[str, Person] | None = None,
    names: dict[str, str] | None = None,
) -> int:
    """Write the import CSV; returns the number of students written. Every student of the roster
    is written (0 for one without a result: nothing was submitted), then any student graded but
    missing from the roster."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}: one of {', '.join(FORMATS)}")
    people = dict(people or {})
    for student in scores:
        if student not in people:
            people[student] = Person(student, (names or {}).get(student, ""))
        elif not people[student].name and names and student in names:
            people[student].name = names[student]
    possible = max((m for _, m in scores.values()), default=0.0)
    rows = []
    for pid in sorted(people, key=lambda p: (people[p].name.lower(), p)):
        p = people[pid]
        score = scores.get(pid, (0.0, possible))[0]
        if fmt == "canvas":
            rows.append([p.name, p.id, p.sis_user_id, p.sis_login_id, p.section, _number(score)])
        else:
            rows.append([p.id, p.name, p.email, _number(score)])
    with open(out, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        if fmt == "canvas":
            w.writerow(["Student", "ID", "SIS User ID", "SIS Login ID", "Section", title])
            w.writerow(["Points Possible", "", "", "", "", _number(possible)])
        else:
            w.writerow(["ID number", "Full name", "Email address", title])
        w.writerows([[_cell(str(v)) for v in row] for row in rows])
    return len(rows)


def _number(x: float) -> str:
    """2 decimals at most, no trailing zeros: 23.0 -> "23", 2.66 -> "2.66"."""
    return re.sub(r"\.?0+$", "", f"{round_score(x):.2f}")


def _cell(text: str) -> str:
    """Neutralise spreadsheet formulas in names (CSV injection); numbers stay numbers."""
    if re.fullmatch(r"-?\d+(\.\d+)?", text):
        return text
    return "'" + text if text[:1] in ("=", "+", "-", "@") else text
