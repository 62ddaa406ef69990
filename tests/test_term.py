"""An instructor's term after grading: formgrader works on the trusted grader's course folder, one
total everywhere (automatic + written answers - late penalty), late policies, and a report that
tells untouched stubs from real mistakes.

The end-to-end test grades the tiny course into a course folder and then uses nbgrader's own
API and commands on it: formgrader's list of autograded submissions, a manual grade and comment
saved in the gradebook, ``nbgrader export`` and ``nbgrader generate_feedback``."""

from __future__ import annotations

import copy
import csv
import json
import os
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import nbformat
import pytest
from notebooks import replace_in, solution_notebook

from autograder import totals
from autograder.course import Course
from autograder.formgrader import attempted, item_answers, verdict_text
from autograder.gradebook import ManualGrade
from autograder.grader import CheckResult, ItemResult, SubmissionResult
from autograder.late import LatePolicy, parse_time, policy_for
from autograder.report import report_html

FIXTURE = Path(__file__).parent / "fixtures" / "tiny_course"
A = "t1_tiny"
DUE = "2026-10-01T12:00:00+00:00"
STAMPS = {  # nbgrader's timestamp.txt format, as collect writes it
    "ann": "2026-10-01 10:00:00.000000 UTC",  # on time
    "ben": "2026-10-03 02:00:00.000000 UTC",  # 1 d 14 h late: two started days
    "cat": "2026-10-01 09:00:00.000000 UTC",
}
HIDDEN_WORDS = ("BEGIN HIDDEN TESTS", "hidden=True")


@pytest.fixture(scope="module")
def assignment():
    return Course.load(FIXTURE).assignment(A)


# -- late policy -------------------------------------------------------------------------------
def test_late_policies():
    due = parse_time(DUE)
    per_day = LatePolicy("per-day", due, per_day=0.1, cap=0.25)
    late = per_day.seconds_late(parse_time("2026-10-01T12:01:00Z"))
    assert late == 60 and per_day.penalty(late, 5.0, 10.0) == 1.0  # a minute: a started day
    assert per_day.penalty(2.5 * 86400, 5.0, 10.0) == 2.5  # three days, capped at 25%
    assert per_day.penalty(2.5 * 86400, 1.0, 10.0) == 1.0  # never below 0
    assert per_day.seconds_late(parse_time("2026-10-01T11:00:00Z")) == 0
    assert per_day.seconds_late(None) == 0  # no time known: on time
    graced = LatePolicy("per-day", due, per_day=0.1, grace_minutes=5)
    assert graced.seconds_late(parse_time("2026-10-01T12:04:00Z")) == 0
    assert LatePolicy("zero", due).penalty(10.0, 6.5, 10.0) == 6.5
    assert LatePolicy("none", due).penalty(1e6, 6.5, 10.0) == 0
    assert parse_time("2026-10-01T14:00:00+02:00") == due  # zones become UTC
    with pytest.raises(ValueError, match="needs a due date"):
        LatePolicy("zero")
    with pytest.raises(ValueError, match="one of"):
        LatePolicy("half")


def test_late_policy_per_assignment_in_the_course_config(tmp_path):
    (tmp_path / "pyproject.toml").write_text(
        "[tool.autograder.late.a2]\n"
        'due = "2026-10-09T23:59:00+00:00"\npolicy = "per-day"\nper_day = 0.2\ncap = 0.6\n'
        "[tool.autograder.late.a3]\ndue = 2026-10-16T23:59:00Z\npolicy = 'zero'\n"
    )
    a2 = policy_for(tmp_path, "a2")
    assert (a2.policy, a2.per_day, a2.cap) == ("per-day", 0.2, 0.6)
    assert a2.due == datetime(2026, 10, 9, 23, 59)
    assert policy_for(tmp_path, "a3").policy == "zero"  # a TOML datetime works too
    assert policy_for(tmp_path, "a1").policy == "none"
    assert policy_for(tmp_path, "a2", policy="none").policy == "none"  # the command line wins
    assert policy_for(tmp_path, "a2", cap=0.3).cap == 0.3


# -- one total -----------------------------------------------------------------------------------
def _result(assignment, student, scores, error=None):
    items = [
        ItemResult(
            i.grade_id, i.points, None if i.manual else scores.get(i.grade_id, 0.0), i.manual
        )
        for i in assignment.items.values()
    ]
    auto = sum(i.score or 0.0 for i in items)
    return SubmissionResult(student, "", auto, assignment.max_auto_score, items, error=error)


def test_one_total_with_manual_grades_overrides_and_late_penalty(assignment):
    full = {"add": 2.0, "row_means": 3.0, "counter": 1.0}
    results = [_result(assignment, s, full) for s in ("ann", "ben", "cat")]
    manual = {
        "ann": {"q_why": ManualGrade(0.5, comment="half right")},
        "ben": {"q_why": ManualGrade(1.0), "add": ManualGrade(1.0, extra_credit=0.5)},
    }
    times = {"ben": parse_time("2026-10-02T12:00:01Z")}  # one second into day 2
    policy = LatePolicy("per-day", parse_time(DUE), per_day=0.1, cap=0.5)
    got = totals.apply(assignment, results, manual, times, policy)
    assert totals.max_score(assignment) == 7.0 == assignment.max_auto_score + 1
    ann, ben, cat = got["ann"], got["ben"], got["cat"]
    assert (ann.score, ann.max_score, ann.pending, ann.comments) == (
        6.5,
        7,
        [],
        {"q_why": "half right"},
    )
    # ben: the instructor overrode add (2 -> 1) and gave 0.5 extra credit; two started days late
    assert ben.overridden == ["add"] and ben.auto == 5.5 and ben.manual == 1.0
    assert ben.penalty == 1.4 and ben.score == 5.1
    assert cat.pending == ["q_why"] and cat.score == 6.0  # awaiting manual grading counts 0
    assert results[0].max_score == 7.0 and results[0].items[-1].score == 0.5


def test_feedback_and_csv_show_the_one_total(assignment, tmp_path):
    from autograder.feedback import feedback_html, write_csv

    r = _result(assignment, "ann", {"add": 2.0, "row_means": 3.0})
    page = feedback_html(assignment, copy.deepcopy(r))
    assert "Score: <b>5 / 7</b>" in page and "awaiting manual grading" in page
    policy = LatePolicy("zero", parse_time(DUE))
    found = totals.apply(
        assignment,
        [r],
        {"ann": {"q_why": ManualGrade(1.0, comment="<script>x</script>")}},
        {"ann": parse_time("2026-10-05T00:00:00Z")},
        policy,
    )
    page = feedback_html(assignment, r, found["ann"])
    assert "Score: <b>0 / 7</b>" in page and "late" in page and "-6 points" in page
    assert "&lt;script&gt;" in page and "<script>x" not in page
    assert "awaiting manual grading" not in page
    write_csv(tmp_path / "g.csv", assignment, [r], found)
    (row,) = csv.DictReader((tmp_path / "g.csv").open())
    assert (row["score"], row["max_score"], row["late_penalty"], row["q_why"]) == (
        "0.0",
        "7.0",
        "6.0",
        "1.0",
    )


# -- the report ----------------------------------------------------------------------------------
def test_report_counts_untouched_stubs_apart_from_real_mistakes(assignment, tmp_path):
    stub = nbformat.read(assignment.release_path, as_version=4)
    tried = replace_in(stub, "add_answer", "raise NotImplementedError", "return a - b")
    paths = {}
    for who, nb in {"stub1": stub, "stub2": stub, "tried": tried}.items():
        paths[who] = tmp_path / f"{who}.ipynb"
        nbformat.write(nb, paths[who])
    assert attempted(assignment, paths["stub1"]) == {
        "add": False,
        "row_means": False,
        "counter": False,
        "q_why": False,
    }
    assert attempted(assignment, paths["tried"])["add"] is True
    assert item_answers(assignment)["add"] == ["add_answer"]

    def failing(who, hint):
        r = _result(assignment, who, {})
        r.path = str(paths[who])
        for item in r.items:
            if not item.manual:
                item.checks = [CheckResult(f"{item.grade_id} sign", False, 1.0, False, "no", hint)]
        return r

    results = [failing("stub1", None), failing("stub2", None), failing("tried", "a - b: sign")]
    page = report_html(assignment, results)
    mistakes = page[page.index("Most common mistakes") :]
    assert "add sign" in mistakes and "Hint: a - b: sign" in mistakes
    assert "row_means sign" not in mistakes  # only untouched stubs failed it
    items = page[page.index("<h2>Items") : page.index("Most common mistakes")]
    add_row = items[items.index("<td>add</td>") :].split("</tr>")[0]
    assert "<td class=n>2</td><td class=n>1</td>" in add_row  # 2 not attempted, 1 wrong


def test_verdict_of_a_hidden_check_never_shows_its_message():
    item = ItemResult(
        "add",
        2.0,
        1.0,
        checks=[
            CheckResult("public one", False, 1.0, False, "expected 3, got -1", "sign flipped"),
            CheckResult("secret", True, 1.0, False, "on x=[0.123456] expected 9.87654", "sign"),
        ],
    )
    text = verdict_text(item)
    assert "1 / 2 points" in text and "expected 3, got -1" in text and "Hint: sign" in text
    assert "0.123456" not in text and "9.87654" not in text and "(hidden check)" in text


# -- end to end with nbgrader's own tools -------------------------------------------------------
def _env():
    bindir = str(Path(sys.executable).parent)
    return dict(os.environ, PATH=f"{bindir}{os.pathsep}{os.environ.get('PATH', '')}")


def _run(*args, cwd):
    proc = subprocess.run(args, cwd=cwd, env=_env(), capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc


def make_course(root: Path, assignment) -> None:
    """``root/submitted/<student>/t1_tiny/`` with a correct, a wrong and late, and a stub
    submission, each with its timestamp.txt."""
    sol = solution_notebook(assignment.course, A)
    for cell in sol.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == "q_why":
            cell.source = "Averaging over the features leaves one mean per row."
    stub = nbformat.read(assignment.release_path, as_version=4)
    wrong = replace_in(sol, "add_answer", "return a + b", "return a - b")
    for who, nb in {"ann": sol, "ben": wrong, "cat": stub}.items():
        d = root / "submitted" / who / A
        d.mkdir(parents=True)
        nbformat.write(nb, d / f"{A}.ipynb")
        (d / "timestamp.txt").write_text(STAMPS[who])


LATE = ["--due", DUE, "--late-policy", "per-day", "--late-per-day", "0.1", "--late-cap", "0.5"]


@pytest.fixture(scope="module")
def graded(assignment, tmp_path_factory):
    """A course folder graded by ``python -m autograder grade`` (once per module)."""
    tmp_path = tmp_path_factory.mktemp("term")
    course = tmp_path / "course"
    make_course(course, assignment)
    db = f"sqlite:///{course}/gradebook.db"
    _run(*CLI, "grade", A, str(course / "submitted"), "--db", db,
         "--json", str(tmp_path / "r.json"), "--csv", str(tmp_path / "g.csv"),
         "--seed", "5", "--workers", "1", "--quiet", *LATE, cwd=tmp_path)  # fmt: skip
    return tmp_path, course, db


CLI = [sys.executable, "-m", "autograder", "--course", str(FIXTURE)]


@pytest.mark.grader
@pytest.mark.slow
def test_formgrader_generate_feedback_and_export_after_grade(assignment, graded):
    tmp_path, course, db = graded
    cli = CLI
    by = {s["student"]: s for s in json.loads((tmp_path / "r.json").read_text())["submissions"]}
    assert by["ann"]["max_score"] == 7.0 and by["ann"]["score"] == 6.0
    assert by["ann"]["awaiting_manual_grading"] == ["q_why"]
    assert by["ben"]["auto_score"] == 4.0 and by["ben"]["late_penalty"] == 1.4
    assert by["ben"]["score"] == 2.6

    # autograded/: every nbgrader cell with its metadata, the student's answers, the verdicts.
    release = nbformat.read(assignment.release_path, as_version=4)
    ids = [c.metadata.get("nbgrader", {}).get("grade_id") for c in release.cells]
    hidden_src = (FIXTURE / "tiny_checks" / A / "hidden.py").read_text()
    for who in STAMPS:
        path = course / "autograded" / who / A / f"{A}.ipynb"
        nb = nbformat.read(path, as_version=4)
        assert [c.metadata.get("nbgrader", {}).get("grade_id") for c in nb.cells] == ids
        assert (path.parent / "timestamp.txt").read_text() == STAMPS[who]
        text = json.dumps(nb)
        assert not any(w in text for w in HIDDEN_WORDS)
        for line in hidden_src.splitlines():
            if "s.call" in line:
                assert line.strip() not in text
    ben = nbformat.read(course / "autograded" / "ben" / A / f"{A}.ipynb", as_version=4)
    add = next(c for c in ben.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "add")
    verdict = add.outputs[0]["text"]
    assert verdict.startswith("Trusted grader: 0 / 2 points") and "[FAILED]" in verdict
    assert "(hidden check)" in verdict
    assert (course / "nbgrader_config.py").exists()

    # formgrader's view: every submission autograded, written answers to grade by hand.
    from nbgrader.api import Gradebook
    from nbgrader.apps.api import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory
    from traitlets.config import Config

    cfg = Config()
    cfg.CourseDirectory.root = str(course)
    cfg.CourseDirectory.db_url = db
    api = NbGraderAPI(CourseDirectory(config=cfg), config=cfg)
    assert api.get_autograded_students(A) == set(STAMPS)
    subs = api.get_notebook_submissions(A, A)
    assert {s["student"] for s in subs} == set(STAMPS) and all(
        s["needs_manual_grade"] for s in subs
    )

    # the instructor grades ann's written answer (what formgrader's save does) ...
    with Gradebook(db) as gb:
        gb.find_grade("q_why", A, A, "ann").manual_score = 1.0
        gb.find_comment("q_why", A, A, "ann").manual_comment = "Right: one mean per row."
        gb.db.commit()
    # ... and the feedback, CSV and JSON are made again from the gradebook.
    out = tmp_path / "fb"
    _run(*cli, "feedback", A, "--db", db, "--out", str(out), "--csv", str(tmp_path / "g2.csv"),
         "--json", str(tmp_path / "r2.json"), *LATE, cwd=tmp_path)  # fmt: skip
    page = (out / "ann" / A / f"{A}.html").read_text()
    assert "Score: <b>7 / 7</b>" in page and "Right: one mean per row." in page
    assert "awaiting manual grading" in (out / "cat" / A / f"{A}.html").read_text()
    ours = {r["student"]: r for r in csv.DictReader((tmp_path / "g2.csv").open())}
    assert ours["ann"]["score"] == "7.0" and ours["ben"]["score"] == "2.6"

    # nbgrader's own export and feedback work on the same course, with the same totals.
    _run(sys.executable, "-m", "nbgrader", "export", "--to", str(tmp_path / "nb.csv"), cwd=course)
    theirs = {r["student_id"]: r for r in csv.DictReader((tmp_path / "nb.csv").open())}
    for who in STAMPS:
        assert float(theirs[who]["score"]) == float(ours[who]["score"]), who
        assert float(theirs[who]["max_score"]) == float(ours[who]["max_score"]) == 7.0
    assert float(theirs["ben"]["late_submission_penalty"]) == 1.4
    _run(sys.executable, "-m", "nbgrader", "generate_feedback", A, cwd=course)
    html = (course / "feedback" / "ben" / A / f"{A}.html").read_text()
    assert "Trusted grader: 0 / 2 points" in html
    assert not any(w in html for w in HIDDEN_WORDS)


# -- formgrader in a real browser --------------------------------------------------------------
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("CHROMEDRIVER", "/usr/bin/chromedriver")


@pytest.fixture(scope="module")
def driver():
    import shutil

    if not (shutil.which(CHROMIUM) and shutil.which(CHROMEDRIVER)):
        pytest.skip(f"no {CHROMIUM} and {CHROMEDRIVER}: run scripts/setup.sh (Debian packages)")
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"):
        opts.add_argument(arg)
    drv = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=opts)
    drv.set_page_load_timeout(60)
    yield drv
    drv.quit()


@pytest.fixture(scope="module")
def formgrader(graded):
    """``jupyter server`` with nbgrader's formgrader on the graded course (no token: local)."""
    import socket
    import time
    import urllib.request

    _, course, db = graded
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    log = open(course.parent / "formgrader.log", "w")  # noqa: SIM115 -- closed below
    server = subprocess.Popen(
        [sys.executable, "-m", "jupyter", "server", "--no-browser", "--allow-root",
         f"--port={port}", "--ServerApp.ip=127.0.0.1", f"--ServerApp.root_dir={course}",
         "--IdentityProvider.token=", "--ServerApp.password=",
         f"--CourseDirectory.root={course}", f"--CourseDirectory.db_url={db}"],
        cwd=course, env=_env(), stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(240):  # a busy machine takes a while to import the server's extensions
            try:
                urllib.request.urlopen(f"{url}/formgrader/api/assignments", timeout=5)
                break
            except OSError:
                if server.poll() is not None:
                    pytest.fail((course.parent / "formgrader.log").read_text()[-3000:])
                time.sleep(0.5)
        else:
            pytest.fail("formgrader did not start in 2 minutes")
        yield url
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()


def _submissions(url: str) -> dict[str, dict]:
    import urllib.request

    with urllib.request.urlopen(f"{url}/formgrader/api/submitted_notebooks/{A}/{A}") as f:
        return {s["student"]: s for s in json.load(f)}


@pytest.mark.grader
@pytest.mark.slow
def test_formgrader_in_a_browser_grades_a_written_answer(graded, formgrader, driver):
    """Formgrader lists every graded submission, opens one (the trusted grader's verdicts in its
    check cells), saves a manual score typed into the written answer's box, and the new total
    reaches formgrader's list and the course's regenerated feedback and CSV."""
    import time

    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    tmp_path, course, db = graded
    wait = WebDriverWait(driver, 60)
    driver.get(f"{formgrader}/formgrader/gradebook/{A}/{A}")
    wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "tbody tr td.score")) == 3)
    listed = driver.find_element(By.TAG_NAME, "tbody").get_attribute("textContent")  # names hidden
    assert {s for s in STAMPS if s in listed} == set(STAMPS)

    cat = _submissions(formgrader)["cat"]
    assert (cat["score"], cat["max_score"], cat["needs_manual_grade"]) == (0.0, 7.0, True)
    driver.get(f"{formgrader}/formgrader/submissions/{cat['id']}/")
    assert "Trusted grader: 0 / 2 points" in driver.page_source  # why the points were lost
    assert not any(w in driver.page_source for w in HIDDEN_WORDS)
    box = wait.until(ec.element_to_be_clickable((By.CSS_SELECTOR, "input.score#q_why")))
    box.click()
    box.send_keys("0.5", Keys.TAB)  # formgrader saves on change
    for _ in range(120):
        cat = _submissions(formgrader)["cat"]
        if cat["score"] == 0.5:
            break
        time.sleep(0.5)
    assert (cat["score"], cat["written_score"], cat["needs_manual_grade"]) == (0.5, 0.5, False)
    driver.get(f"{formgrader}/formgrader/gradebook/{A}/{A}")
    wait.until(lambda d: "0.5 / 7" in d.find_element(By.TAG_NAME, "tbody").text)  # the total

    out = tmp_path / "fb-browser"
    _run(*CLI, "feedback", A, "--db", db, "--out", str(out), "--csv", str(tmp_path / "g3.csv"),
         *LATE, cwd=tmp_path)  # fmt: skip
    assert "Score: <b>0.5 / 7</b>" in (out / "cat" / A / f"{A}.html").read_text()
    rows = {r["student"]: r for r in csv.DictReader((tmp_path / "g3.csv").open())}
    assert rows["cat"]["score"] == "0.5" and rows["cat"]["awaiting_manual_grading"] == ""


def test_the_lms_late_marker_is_read_from_collects_record(tmp_path):
    from autograder.cli import _marked_late

    (tmp_path / "collect.json").write_text(json.dumps({"late": True, "source": "x_LATE_1.zip"}))
    assert _marked_late(tmp_path)
    (tmp_path / "collect.json").write_text(json.dumps({"late": False}))
    assert not _marked_late(tmp_path)
    (tmp_path / "collect.json").write_text("[1]")  # not a record: not late
    assert not _marked_late(tmp_path) and not _marked_late(tmp_path / "missing")


def test_penalties_in_the_gradebook_are_kept_when_no_policy_is_given(assignment):
    """`feedback` run without the late options (and none in pyproject.toml) keeps the penalty
    `grade` recorded instead of silently dropping it; a policy given again recomputes it."""
    r = _result(assignment, "ben", {"add": 2.0, "row_means": 3.0, "counter": 1.0})
    kept = totals.apply(assignment, [copy.deepcopy(r)], kept_penalties={"ben": 1.4})["ben"]
    assert kept.penalty == 1.4 and kept.score == 4.6 and "recorded" in kept.policy
    policy = LatePolicy("none", parse_time(DUE))  # a due date given: the policy decides
    again = totals.apply(assignment, [r], {}, {}, policy, {"ben": 1.4})["ben"]
    assert again.penalty == 0 and again.score == 6.0
