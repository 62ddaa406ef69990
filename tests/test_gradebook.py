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
    # one total: the maximum counts the written answer (1 point), awaiting manual grading
    assert row[2:4] == ["2.66", "7.0"] and row[10:13] == ["1.33", "1.0", "0.33"]
    assert row[5:10] == ["2.66", "0.0", "0.0", "0", "q_why"]
    assert "2.66 / 7" in feedback_html(assignment, raw)
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


def test_manual_grades_timestamps_and_late_penalties_round_trip(assignment, tmp_path):
    """What formgrader saves (manual score, extra credit, comment) is read back per student; the
    submission time and the late penalty land in nbgrader's own fields (export subtracts it)."""
    from datetime import datetime

    from nbgrader.api import Gradebook

    url = f"sqlite:///{tmp_path}/gb.db"
    when = datetime(2026, 10, 3, 2, 0)
    with GradebookWriter(url, assignment) as w:
        w.record(result(assignment, "ann", {"add": 2.0, "row_means": 3.0, "counter": 1.0}))
        w.record(
            result(assignment, "ben", {"add": 0, "row_means": 3.0, "counter": 1.0}), "", False, when
        )
        assert w.manual_grades() == {}
    with Gradebook(url) as gb:
        gb.find_grade("q_why", A, A, "ann").manual_score = 1.0
        gb.find_grade("add", A, A, "ben").extra_credit = 0.5
        gb.find_comment("q_why", A, A, "ann").manual_comment = "good"
        gb.db.commit()
    with GradebookWriter(url, assignment) as w:
        got = w.manual_grades()
        assert (got["ann"]["q_why"].score, got["ann"]["q_why"].comment) == (1.0, "good")
        assert got["ben"]["add"].score is None and got["ben"]["add"].extra_credit == 0.5
        assert w.timestamps() == {"ann": None, "ben": when}
        w.write_late(datetime(2026, 10, 1, 12, 0), {"ben": 1.4, "ann": 0.0})
        assert w.penalties() == {"ann": 0.0, "ben": 1.4}
        # a regrade keeps the manual grade and the time
        w.record(result(assignment, "ann", {"add": 2.0, "row_means": 3.0, "counter": 1.0}))
        assert w.manual_grades()["ann"]["q_why"].score == 1.0
    with Gradebook(url) as gb:
        ben = gb.find_submission(A, "ben")
        assert ben.timestamp == when and ben.late_submission_penalty == 1.4
        assert ben.total_seconds_late == 38 * 3600
        assert gb.find_submission(A, "ann").score == 7.0


def test_students_get_their_names_from_the_lms_download(assignment, tmp_path):
    from nbgrader.api import Gradebook

    from autograder.gradebook import split_name

    assert split_name("Ada King Lovelace") == ("Ada King", "Lovelace")
    assert split_name("plato") == (None, "plato") and split_name("  ") == (None, None)
    url = f"sqlite:///{tmp_path}/gb.db"
    with GradebookWriter(url, assignment) as w:
        w.names = {"ann": "Ann Bell"}
        w.record(result(assignment, "ann", {"add": 2.0, "row_means": 1.5, "counter": 0.0}))
        w.record(result(assignment, "ben", {"add": 2.0, "row_means": 1.5, "counter": 0.0}))
    with Gradebook(url) as gb:
        ann, ben = gb.find_student("ann"), gb.find_student("ben")
        assert (ann.first_name, ann.last_name) == ("Ann", "Bell")
        assert (ben.first_name, ben.last_name) == (None, None)
