"""The grader against hostile replies, and a batch that always finishes (issue 16, points 5-7),
on the tiny fixture course, beside the adversarial corpus of test_grader_fixture.py.

A submission's code runs in the worker's own process, so it can rewrite the worker's replies
(here by wrapping ``wire.send``): each such submission must end with exactly the score its
honest part earns, and the honest submissions of the batch keep their exact scores.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from notebooks import cell_by_id, replace_in, solution_notebook, with_sources, write_submission

from autograder import cli, distributed
from autograder.course import Course
from autograder.feedback import feedback_html, hidden_check_detail
from autograder.grader import INTERNAL_ERROR, CheckResult, Grader, SubmissionResult
from autograder.session import HIDDEN_OUTPUT, SessionConfig
from autograder.submission import SubmissionError, build_program

pytestmark = pytest.mark.grader

FIXTURE = Path(__file__).parent / "fixtures" / "tiny_course"
A = "t1_tiny"
FULL = 6.0  # add 2 + row_means 3 + counter 1

# Student code that makes the worker's next reply (or, with once=False, every reply) whatever
# ``change(header)`` returns.
FORGE = """
import sys
def _forge(change, once=True):
    wire = sys.modules["autograder.wire"]
    real = wire.send
    def send(sock, header, blobs=()):
        if once:
            wire.send = real
        header = change(dict(header))
        return real(sock, header, blobs if header.get("ok") else [])
    wire.send = send
"""
COLLIDING = (
    "{'ok': True, 'value': {'$dict': [[{'$int': str((2**61 - 1) * i + 1)}, None]"
    " for i in range(30000)]}, 'output': ''}"
)


@pytest.fixture(scope="module")
def course():
    return Course.load(FIXTURE)


@pytest.fixture(scope="module")
def assignment(course):
    return course.assignment(A)


@pytest.fixture(scope="module")
def solution(course):
    return solution_notebook(course, A)


def _attacks(s) -> dict[str, tuple[object, float]]:
    add, rows = cell_by_id(s, "add_answer").source, cell_by_id(s, "row_means_answer").source
    counter = cell_by_id(s, "counter_answer").source
    return {
        # a reply whose `error` is a list (it crashed Session.start, and --workers 1 batches)
        "error_is_a_list": (
            with_sources(
                s,
                add_answer=FORGE + "def add(a, b):\n"
                "    _forge(lambda h: {'ok': False, 'error': ['boom'], 'output': ''})\n"
                "    return a + b\n",
            ),
            FULL - 2,
        ),
        # 30,000 integer keys with one hash (68 s of decoding for one 5 s check)
        "colliding_keys": (
            with_sources(
                s,
                row_means_answer=FORGE + "def row_means(x):\n"
                f"    _forge(lambda h: {COLLIDING})\n    return x.mean(axis=1)\n",
            ),
            FULL - 3,
        ),
        # 8 MB of output in every reply, correct answers (3.3 GB in the grader)
        "megabytes_of_output_per_reply": (
            with_sources(
                s,
                counter_answer=FORGE + "_forge(lambda h: {**h, 'output': 'x' * 8_000_000}, "
                "once=False)\n" + counter,
            ),
            FULL,
        ),
        # a 2 MB exception message (a 158 MB gradebook row for one student)
        "two_megabyte_messages": (
            with_sources(
                s,
                add_answer=FORGE + "def add(a, b):\n    _forge(lambda h: {'ok': False, 'error': "
                "{'type': 'ValueError', 'message': 'm' * 2_000_000}, 'output': ''})\n"
                "    return a + b\n",
            ),
            FULL - 2,
        ),
        # lone surrogates printed by a cell and by a function, and in a cell's exception (the
        # feedback writer crashed and the batch wrote no CSV)
        "prints_lone_surrogates": (
            with_sources(
                s,
                add_answer="print('cell', chr(0xD800))\n"
                + add.replace("return a + b", "print(chr(0xDFFF) + 'x')\n    return a + b"),
                row_means_answer=rows + "\nraise ValueError('broken ' + chr(0xDC00))\n",
            ),
            FULL,
        ),
        # prints its inputs: those of public checks may be shown, those of hidden ones never
        "prints_its_inputs": (
            with_sources(
                s,
                row_means_answer="def row_means(x):\n    print('SHAPE', x.shape)\n"
                "    return x.mean(axis=1)\n",
            ),
            FULL,
        ),
        "wrong_rows": (
            with_sources(s, row_means_answer="def row_means(x):\n    return x.sum(axis=1)\n"),
            FULL - 3,
        ),
    }


def test_hostile_replies_cost_only_their_check(assignment, solution, tmp_path):
    cfg = SessionConfig(cell_timeout=5.0, check_timeout=5.0)
    batch, expected = [], {}
    for i, (name, (nb, score)) in enumerate(_attacks(solution).items()):
        batch.append((name, write_submission(tmp_path, name, A, nb)))
        expected[name] = score
        if i % 3 == 0:
            honest = f"honest{i}"
            batch.append((honest, write_submission(tmp_path, honest, A, solution)))
            expected[honest] = FULL
    with Grader(assignment, workers=2, seed=11, config=cfg) as g:
        results = g.grade_all(batch)
    by = {r.student: r for r in results}
    got = {k: by[k].score for k in expected}
    assert got == expected
    assert all(r.error is None for r in results), [(r.student, r.error) for r in results]

    def messages(student: str, item: str) -> list[str]:
        return [c.message for i in by[student].items if i.grade_id == item for c in i.checks]

    assert all("the worker's reply was malformed" in m for m in messages("error_is_a_list", "add"))
    assert all("malformed" in m for m in messages("colliding_keys", "row_means"))
    slow = [c.seconds for i in by["colliding_keys"].items for c in i.checks]
    assert max(slow) < 5.0  # refused at once, not decoded for a minute
    # what is kept per submission is bounded, whatever the replies held
    for name in ("megabytes_of_output_per_reply", "two_megabyte_messages"):
        stored = json.dumps(by[name].to_json())
        assert len(stored) < 60_000, (name, len(stored))
    assert any("not kept" in m for m in messages("two_megabyte_messages", "add"))
    # text is made safe: every field is writable as UTF-8
    r = by["prints_lone_surrogates"]
    json.dumps(r.to_json(), ensure_ascii=False).encode("utf-8")
    assert "cell \ufffd" in r.output and "\ufffdx" in r.output
    assert any("broken \ufffd" in n for n in r.notes)
    feedback_html(assignment, r).encode("utf-8")
    # printed output: a public check's inputs may show, a hidden check's never
    out = by["prints_its_inputs"].output
    assert "SHAPE (5, 3)" in out and "(1, 40)" not in out and HIDDEN_OUTPUT in out
    # the feedback shows a failed hidden check's title, never its message (inputs, values)
    wrong = by["wrong_rows"]
    hidden = [c for i in wrong.items for c in i.checks if c.hidden and not c.passed]
    assert hidden and all(c.message for c in hidden)
    html = feedback_html(assignment, wrong)
    for c in hidden:
        assert c.title in html and c.message not in html
        assert "got" not in hidden_check_detail(c)


def test_hidden_check_detail_uses_fixed_words_only():
    def res(message: str, **kw) -> CheckResult:
        return CheckResult("t", True, 1.0, False, message, **kw)

    leak = "x = [0.31, -1.2]"
    assert "ran out of time" in hidden_check_detail(res(leak, timed_out=True))
    assert hidden_check_detail(res(f"f(...) raised ValueError: {leak}")) == (
        "your code raised ValueError on inputs you have not seen"
    )
    # an exception class named by the student could carry the inputs: not shown
    assert "an exception" in hidden_check_detail(res(f"f(...) raised X031_12: {leak}"))
    assert "malformed" in hidden_check_detail(res(f"the worker's reply was malformed: {leak}"))
    for m in (f"f(x): got {leak}, expected 1", f"your code stopped the worker: {leak}"):
        assert leak not in hidden_check_detail(res(m))


@pytest.mark.parametrize("workers", [1, 2])
def test_any_grader_exception_is_an_internal_error_and_the_batch_finishes(
    assignment, tmp_path, monkeypatch, workers
):
    real = Grader._grade

    def broken(self, student, path, slot):
        if student == "boom":
            raise RuntimeError("a bug in the grader \ud800")
        if student == "dies":  # the grading process itself dies (a segfault, the OOM killer)
            os._exit(7)
        return real(self, student, path, slot)

    monkeypatch.setattr(Grader, "_grade", broken)
    names = ["boom", "fine", "dies", "fine2"] if workers > 1 else ["boom", "fine"]
    batch = [(n, tmp_path / n / A / f"{A}.ipynb") for n in names]  # no notebooks: quick
    with Grader(assignment, workers=workers, seed=3) as g:
        results = g.grade_all(batch)
    by = {r.student: r for r in results}
    assert [r.student for r in results] == names
    assert by["boom"].error.startswith(INTERNAL_ERROR) and "a bug in the grader" in by["boom"].error
    by["boom"].error.encode("utf-8")  # made safe
    assert all(c.status == "error" for i in by["boom"].items for c in i.checks)
    assert "no notebook" in by["fine"].error
    if workers > 1:
        assert by["dies"].error.startswith(INTERNAL_ERROR) and "died" in by["dies"].error
        assert "no notebook" in by["fine2"].error


def test_the_dask_task_turns_an_exception_into_an_internal_error(assignment, tmp_path, monkeypatch):
    def broken(self, student, path, slot):
        raise ValueError("oracle exploded")

    monkeypatch.setattr(Grader, "_grade", broken)
    monkeypatch.setattr(distributed, "_GRADERS", {})
    r = distributed.grade_task(str(FIXTURE), A, 5, SessionConfig(), [], "ann", str(tmp_path), 99)
    assert isinstance(r, SubmissionResult) and r.error.startswith(INTERNAL_ERROR)
    assert "oracle exploded" in r.error and r.seed == 99


def test_symbolic_links_are_refused(assignment, solution, tmp_path):
    real = write_submission(tmp_path / "submitted", "ann", A, solution)
    linked = tmp_path / "submitted" / "eve" / A / f"{A}.ipynb"
    linked.parent.mkdir(parents=True)
    linked.symlink_to(real)
    (tmp_path / "submitted" / "mal").symlink_to(tmp_path / "submitted" / "ann")
    (tmp_path / "submitted" / "bob" / A).mkdir(parents=True)
    (tmp_path / "submitted" / "bob" / A / f"{A}.ipynb").mkdir()
    assert build_program(real, assignment).cells
    for who, why in (("eve", "symbolic link"), ("mal", "symbolic link"), ("bob", "not a file")):
        with pytest.raises(SubmissionError, match=why):
            build_program(tmp_path / "submitted" / who / A / f"{A}.ipynb", assignment)
    with Grader(assignment, workers=1, seed=1) as g:
        r = g.grade("eve", linked)
    assert r.score == 0 and "symbolic link" in r.error


def test_seeds_of_regrades():
    from datetime import datetime

    from autograder.gradebook import Stored

    def st(sha: str, seed: int, day: int) -> Stored:
        return Stored(sha, "v1", seed, 1.0, datetime(2026, 1, day), {})

    stored = {"ann": st("a", 5, 1), "ben": st("b", 5, 2), "cy": st("c", 77, 3)}
    assert cli.batch_seed(stored) == 5  # most submissions, not the latest fresh seed
    seeds = cli.seeds_of_regrades(stored, {"ann": "a", "ben": "B2", "cy": "c", "dee": "d"}, 5)
    assert seeds["ann"] == 5 and seeds["cy"] == 77  # unchanged notebooks keep theirs
    assert seeds["ben"] not in (5, 77) and "dee" not in seeds  # changed: fresh; new: batch
    again = cli.seeds_of_regrades(stored, {"ben": "B3"}, 5)
    assert again["ben"] != seeds["ben"]  # every new version of the notebook: new inputs


def test_cli_batch_with_hostile_text_writes_every_output_and_fresh_seeds(solution, tmp_path):
    """--workers 1 and 2 on one gradebook: lone surrogates and malformed replies in the batch,
    every output written; then a changed notebook is graded on fresh hidden inputs."""
    attacks = _attacks(solution)
    subs = tmp_path / "submitted"
    for name in ("prints_lone_surrogates", "error_is_a_list"):
        write_submission(subs, name, A, attacks[name][0])
    wrong_add = replace_in(solution, "add_answer", "return a + b", "return a - b")
    write_submission(subs, "ann", A, wrong_add)
    write_submission(subs, "ben", A, solution)
    db, out = tmp_path / "gb.db", tmp_path / "out"
    out.mkdir()

    def grade(workers: int) -> dict:
        cmd = [sys.executable, "-m", "autograder", "--course", str(FIXTURE), "grade", A]
        cmd += [str(subs), "--workers", str(workers), "--db", f"sqlite:///{db}", "--quiet"]
        cmd += ["--json", str(out / "r.json"), "--feedback", str(out / "fb")]
        cmd += ["--csv", str(out / "g.csv"), "--report", str(out / "report.html")]
        if workers == 1:
            cmd += ["--seed", "5"]
        proc = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr[-3000:]
        return {s["student"]: s for s in json.loads((out / "r.json").read_text())["submissions"]}

    first = grade(1)
    assert {k: v["score"] for k, v in first.items()} == {
        "prints_lone_surrogates": FULL,
        "error_is_a_list": FULL - 2,
        "ann": FULL - 2,
        "ben": FULL,
    }
    assert {v["seed"] for v in first.values()} == {"5"}
    csv_rows = (out / "g.csv").read_text(encoding="utf-8").splitlines()
    assert len(csv_rows) == 5 and (out / "report.html").exists()
    for name in first:
        assert (out / "fb" / name / A / f"{A}.html").read_text(encoding="utf-8")
    # ann fixes add: her notebook changed, so she is graded on fresh hidden inputs
    write_submission(subs, "ann", A, solution)
    second = grade(2)
    assert second["ann"]["score"] == FULL and second["ann"]["seed"] != "5"
    assert {second[k]["seed"] for k in second if k != "ann"} == {"5"}  # reused, same batch
    with sqlite3.connect(db) as con:
        rows = con.execute(
            "select student, reason, hidden_inputs, seed from autograder_audit order by id"
        ).fetchall()
    assert [r[2] for r in rows[:4]] == ["batch seed"] * 4  # the first grades
    last = {r[0]: r for r in rows}  # each student's latest row (another edit of the checks
    # between the two runs regrades everyone: then only ann's seed may change)
    assert last["ann"][2:] == ("fresh seed", second["ann"]["seed"])
    assert last["ann"][1] in ("notebook changed", "checks changed")
    assert all(last[k][2] in ("batch seed", "same seed") for k in last if k != "ann")
