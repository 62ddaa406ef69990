"""The gradebook writer creates exactly the rows nbgrader creates, updates in place, and keeps
what the instructor graded by hand."""

from __future__ import annotations

from pathlib import Path

import pytest

from autograder.course import Course
from autograder.gradebook import GradebookWriter
from autograder.grader import ItemResult, SubmissionResult

FIXTURE = Path(__file__).parent / "fixtures" / "tiny_course"
A = "t1_tiny"


@pytest.fixture(scope="module")
def assignment():
    return Course.load(FIXTURE).assignment(A)


def result(assignment, student: str, scores: dict[str, float]) -> SubmissionResult:
    items = [
        ItemResult(i.grade_id, i.points, None if i.manual else scores[i.grade_id], manual=i.manual)
        for i in assignment.items.values()
    ]
    total = sum(i.score or 0.0 for i in items)
    return SubmissionResult(student, "x.ipynb", total, assignment.max_auto_score, items)


def rows(gb, student: str) -> tuple[set, set]:
    sub = gb.find_submission(A, student)
    (nb,) = sub.notebooks
    grades = {(g.cell.name, g.cell.cell_type) for g in nb.grades}
    comments = {c.cell.name for c in nb.comments}
    return grades, comments


# nbgrader's own add_submission (the reference here) triggers SQLAlchemy autoflush warnings.
@pytest.mark.filterwarnings("ignore:Object of type")
def test_rows_match_nbgraders_own(assignment, tmp_path):
    from nbgrader.api import Gradebook

    url = f"sqlite:///{tmp_path}/gb.db"
    with GradebookWriter(url, assignment) as w:
        w.record(result(assignment, "ann", {"add": 2.0, "row_means": 1.5, "counter": 0.0}))
    with Gradebook(url) as gb:
        gb.add_student("ben")
        gb.add_submission(A, "ben")  # nbgrader's own way of creating a submission
        assert rows(gb, "ann") == rows(gb, "ben")
        assert {name for name, _ in rows(gb, "ann")[0]} == {"add", "row_means", "counter", "q_why"}
        sub = gb.find_submission(A, "ann")
        assert sub.score == 3.5 and sub.max_score == 7.0
        assert gb.find_grade("add", A, A, "ann").auto_score == 2.0
        assert gb.find_grade("q_why", A, A, "ann").needs_manual_grade
        assert not gb.find_grade("counter", A, A, "ann").needs_manual_grade


def test_regrading_updates_in_place_and_keeps_manual_grades(assignment, tmp_path):
    from nbgrader.api import Gradebook, SubmittedAssignment

    url = f"sqlite:///{tmp_path}/gb.db"
    with GradebookWriter(url, assignment) as w:
        w.record(result(assignment, "ann", {"add": 0.0, "row_means": 0.0, "counter": 0.0}))
    with Gradebook(url) as gb:  # the instructor grades the written answer in formgrader
        grade = gb.find_grade("q_why", A, A, "ann")
        grade.manual_score = 1.0
        gb.db.commit()
    with GradebookWriter(url, assignment) as w:
        w.record(result(assignment, "ann", {"add": 2.0, "row_means": 3.0, "counter": 1.0}))
    with Gradebook(url) as gb:
        assert gb.db.query(SubmittedAssignment).count() == 1
        assert gb.find_submission(A, "ann").score == 7.0
        assert not gb.find_grade("q_why", A, A, "ann").needs_manual_grade


def test_a_failed_write_leaves_nothing_half_written(assignment, tmp_path):
    from nbgrader.api import Gradebook, MissingEntry

    url = f"sqlite:///{tmp_path}/gb.db"
    bad = result(assignment, "ann", {"add": 2.0, "row_means": 3.0, "counter": 1.0})
    bad.items.append(ItemResult("no_such_cell", 1.0, 1.0))
    with GradebookWriter(url, assignment) as w:
        with pytest.raises(MissingEntry, match="no_such_cell"):
            w.record(bad)
        w.record(result(assignment, "ben", {"add": 2.0, "row_means": 0.0, "counter": 0.0}))
    with Gradebook(url) as gb:
        assert [s.id for s in gb.students] == ["ben"]
        assert gb.find_submission(A, "ben").score == 2.0
