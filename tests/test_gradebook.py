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


def test_scores_are_rounded_once_to_two_decimals_everywhere(assignment, tmp_path):
    import csv

    from nbgrader.api import Gradebook

    from autograder.cli import summary_table
    from autograder.feedback import feedback_html, write_csv
    from autograder.grader import round_score

    assert round_score(2 / 3) == 0.67 and round_score(-1e-9) == 0.0
    thirds = {"add": 2 * 2 / 3, "row_means": 3 * 1 / 3, "counter": 1 / 3}
    raw = result(assignment, "ann", thirds)  # raw item scores and their raw sum
    # what the grader stores: each item rounded once, the total as their sum (nbgrader sums the
    # items' grades itself, so any other total would disagree with the gradebook's)
    for i in raw.items:
        if not i.manual:
            i.score = round_score(i.score)
    raw.score = round_score(sum(i.score for i in raw.items if not i.manual))
    assert raw.score == 2.66
    data = raw.to_json()
    assert data["score"] == 2.66
    assert [i["score"] for i in data["items"]] == [1.33, 1.0, 0.33, None]
    path = tmp_path / "g.csv"
    write_csv(path, assignment, [raw])
    row = list(csv.reader(path.open()))[1]
    assert row[2:4] == ["2.66", "6.0"] and row[5:8] == ["1.33", "1.0", "0.33"]
    assert "2.66 / 6" in feedback_html(assignment, raw)
    assert "2.66 / 6" in summary_table(assignment, [raw], 1.0, "x")
    url = f"sqlite:///{tmp_path}/gb.db"
    with GradebookWriter(url, assignment) as w:
        w.record(raw)
        (stored,) = w.stored().values()
    assert stored.score == 2.66 and stored.result["score"] == 2.66
    with Gradebook(url) as gb:
        assert gb.find_grade("add", A, A, "ann").auto_score == 1.33
        assert round(gb.find_submission(A, "ann").score, 9) == 2.66


def test_the_checks_version_covers_every_module_that_decides_a_verdict():
    a = Course.load().assignment("a5_dropout")
    files = a.verdict_files()
    engine = {
        f"autograder.{m}"
        for m in (
            "checking",
            "stats",
            "student",
            "endpoint",
            "wire",
            "submission",
            "session",
            "sandbox",
            "grader",
            "worker",
            "zygote",
            "course",
        )
    }
    assert engine <= set(files), engine - set(files)
    assert {f"autograder.checks.a5_dropout.{m}" for m in ("public", "hidden", "probes")} <= set(
        files
    )
    assert "autograder.checks.a1_backprop.public" not in files  # another assignment's checks
    assert all(p.is_file() and "site-packages" not in p.parts for p in files.values())


def test_the_checks_version_changes_with_a_check_module(tmp_path):
    import shutil

    course = tmp_path / "course"
    shutil.copytree(FIXTURE, course)
    before = Course.load(course).assignment(A).checks_version
    probes = course / "tiny_checks" / "t1_tiny" / "probes.py"
    probes.write_text(probes.read_text() + "\n# a fix\n")
    assert Course.load(course).assignment(A).checks_version != before
