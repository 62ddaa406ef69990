"""The trusted grader on the tiny fixture course: scores, isolation, and an adversarial corpus.

Every adversarial submission must end with exactly the score its honest part earns, in one batch
with honest submissions that must be unaffected.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import tempfile
import threading
import time
import types
import zipfile
from pathlib import Path

import pytest
from notebooks import cell_by_id, replace_in, solution_notebook, with_sources, write_submission

from autograder.checking import Check, expect_equal
from autograder.course import Course
from autograder.grader import Grader, find_submissions, result_from_json
from autograder.release import generate
from autograder.session import RemoteStudent, SessionConfig

pytestmark = pytest.mark.grader

FIXTURE = Path(__file__).parent / "fixtures" / "tiny_course"
A = "t1_tiny"
FULL = 6.0  # add 2 + row_means 3 + counter 1


@pytest.fixture(scope="module")
def course():
    return Course.load(FIXTURE)


@pytest.fixture(scope="module")
def assignment(course):
    return course.assignment(A)


@pytest.fixture(scope="module")
def solution(course):
    return solution_notebook(course, A)


@pytest.fixture(scope="module")
def grader(assignment, tmp_path_factory):
    cfg = SessionConfig(cell_timeout=3.0, check_timeout=3.0)
    secret = tmp_path_factory.mktemp("grader-private")
    with Grader(assignment, workers=2, seed=7, config=cfg, extra_hidden_paths=[str(secret)]) as g:
        g.private_dir = secret
        yield g


def test_items_come_from_the_notebook(assignment):
    assert {k: (v.points, v.manual) for k, v in assignment.items.items()} == {
        "add": (2.0, False),
        "row_means": (3.0, False),
        "counter": (1.0, False),
        "q_why": (1.0, True),
    }
    assert assignment.max_auto_score == FULL


def test_solution_full_marks_and_stub_zero(grader, course, solution, tmp_path):
    sol = write_submission(tmp_path, "sol", A, solution)
    stub = write_submission(tmp_path, "stub", A, generate(course, A))
    r_sol, r_stub = grader.grade_all([("sol", sol), ("stub", stub)])
    assert r_sol.score == FULL, r_sol.to_json()
    assert r_stub.score == 0.0
    assert all(c.passed for i in r_sol.items for c in i.checks)
    msg = r_stub.items[0].checks[0].message
    assert "not implemented yet" in msg and "TODO(t1.add)" in msg


def test_partial_credit_and_hint(grader, solution, tmp_path):
    nb = replace_in(solution, "row_means_answer", "x.mean(axis=1)", "x.mean(axis=0)")
    (r,) = grader.grade_all([("s", write_submission(tmp_path, "s", A, nb))])
    item = {i.grade_id: i for i in r.items}["row_means"]
    assert item.score == 0.0 and r.score == FULL - 3
    assert item.checks[0].hint == "you averaged over the wrong axis"


def test_after_a_timeout_later_checks_get_a_shorter_limit(grader, solution, tmp_path):
    hang = "def {}(*args):\n    while True:\n        pass\n"
    nb = with_sources(
        solution, add_answer=hang.format("add"), row_means_answer=hang.format("row_means")
    )
    (r,) = grader.grade_all([("s", write_submission(tmp_path, "s", A, nb))])
    first, second = ({i.grade_id: i for i in r.items}[k].checks[0] for k in ("add", "row_means"))
    assert first.timed_out and second.timed_out
    # the check's whole limit (3 s of CPU time in these tests), then a shorter one
    assert first.seconds >= first.cpu_seconds >= 2.9
    assert second.cpu_seconds < 2.0 and "a shorter limit applies" in second.message
    assert r.score == 1.0  # counter is honest and unaffected


def test_inputs_depend_on_the_seed_and_are_recorded(grader, solution, tmp_path):
    (r,) = grader.grade_all([("s", write_submission(tmp_path, "s", A, solution))])
    assert r.seed == 7 and r.to_json()["seed"] == "7"


# -- the adversarial corpus -------------------------------------------------------------------

WRONG_ADD = "def add(a, b):\n    return a - b\n"
WRONG_ROWS = "def row_means(x):\n    return x.sum(axis=1)\n"


def _attacks(solution, ctx) -> dict[str, tuple[object, float]]:
    """name -> (notebook, JSON text or None, expected score)."""
    hidden_py = str(FIXTURE / "tiny_checks" / "t1_tiny" / "hidden.py")
    source_md = str(FIXTURE / "solutions" / "t1_tiny" / "t1_tiny.md")
    s = solution
    attacks = {
        "patched_allclose": (
            with_sources(
                s,
                add_answer=(
                    "import numpy as np\nnp.allclose = lambda *a, **k: True\n"
                    "np.testing.assert_allclose = lambda *a, **k: None\n"
                    "np.array_equal = lambda *a, **k: True\n" + WRONG_ADD
                ),
            ),
            FULL - 2,
        ),
        "patched_check_functions": (
            with_sources(
                s,
                row_means_answer=(
                    "import sys\nfor m in list(sys.modules.values()):\n"
                    "    if getattr(m, '__name__', '').startswith('autograder'):\n"
                    "        for n in ('expect_close', 'expect_equal', 'expect'):\n"
                    "            if hasattr(m, n): setattr(m, n, lambda *a, **k: None)\n"
                    + WRONG_ROWS
                ),
            ),
            FULL - 3,
        ),
        "ipython_input_transformer": (
            with_sources(
                s,
                add_answer=(
                    "get_ipython().input_transformers_cleanup.append(\n"
                    "    lambda lines: ['pass\\n'] if any('checker' in l for l in lines) else lines)\n"
                    + WRONG_ADD
                ),
            ),
            FULL - 2,
        ),
        "reads_hidden_checks_and_solutions": (
            with_sources(
                s,
                add_answer=(
                    "def add(a, b):\n"
                    f"    open({hidden_py!r}).read()\n    open({source_md!r}).read()\n"
                    "    return a + b\n"
                ),
            ),
            FULL - 2,
        ),
        "reads_gradebook_and_grader_files": (
            with_sources(
                s,
                row_means_answer=(
                    "import os\n"
                    "def row_means(x):\n"
                    f"    os.listdir({str(ctx['private'])!r})\n"
                    f"    open({str(ctx['secret_file'])!r}).read()\n"
                    "    return x.mean(axis=1)\n"
                ),
            ),
            FULL - 3,
        ),
        "writes_outside_its_folder": (
            with_sources(
                s,
                counter_answer=(
                    "import pathlib\n"
                    f"for p in [{str(ctx['canary'])!r}, '/tmp/canary-from-student', {str(FIXTURE / 'pwned')!r}]:\n"
                    "    try:\n        pathlib.Path(p).write_text('pwned')\n    except OSError:\n        pass\n"
                    + cell_by_id(s, "counter_answer").source
                ),
            ),
            FULL,
        ),
        # -- attacks on the sandbox itself: each succeeds only if add() then returns a + b
        "reads_the_lms_download_beside_the_course": (
            with_sources(
                s,
                add_answer=(
                    "import zipfile\ndef add(a, b):\n"
                    f"    ns = {{}}\n    exec(zipfile.ZipFile({str(ctx['download'])!r}).read('add.py'), ns)\n"
                    "    return ns['add'](a, b)\n"
                ),
            ),
            FULL - 2,
        ),
        "reads_another_students_notebook": (
            with_sources(
                s,
                add_answer=(
                    "import os\ndef add(a, b):\n"
                    f"    os.listdir({str(ctx['submitted'])!r})\n    return a + b\n"
                ),
            ),
            FULL - 2,
        ),
        "unmounts_the_view_then_reads_the_checks": (
            with_sources(
                s,
                add_answer=(
                    "import ctypes\nlibc = ctypes.CDLL(None)\n"
                    "for line in open('/proc/self/mounts').read().splitlines()[::-1]:\n"
                    "    libc.umount2(line.split()[1].encode(), 2)\n"
                    "libc.mount(None, b'/', None, 32, None)\n"
                    "def add(a, b):\n"
                    f"    open({hidden_py!r}).read()\n    return a + b\n"
                ),
            ),
            FULL - 2,
        ),
        "kills_its_process_group_and_everyone": (
            with_sources(
                s,
                add_answer=(
                    cell_by_id(s, "add_answer").source
                    + "\nimport os, signal\nfor pid in (0, -1):\n    try:\n"
                    "        os.kill(pid, signal.SIGKILL)\n    except OSError:\n        pass\n"
                ),
            ),
            FULL,
        ),
        "memory_outside_the_address_space": (
            with_sources(
                s,
                add_answer=(
                    "import os\ndef add(a, b):\n    fd = os.memfd_create('pinned')\n"
                    "    os.write(fd, b'x' * 2**20)\n    return a + b\n"
                ),
            ),
            FULL - 2,
        ),
        "keeps_a_key_in_the_kernel_keyring": (
            with_sources(
                s,
                add_answer=(
                    "import ctypes\ndef add(a, b):\n    libc = ctypes.CDLL(None, use_errno=True)\n"
                    "    key = libc.syscall(248, b'user', b'answer', b'42', 2, -4)\n"
                    "    if key < 0:\n        raise OSError(ctypes.get_errno(), 'add_key')\n"
                    "    return a + b\n"
                ),
            ),
            FULL - 2,
        ),
        "os_exit": (
            with_sources(s, add_answer="import os\ndef add(a, b):\n    os._exit(0)\n"),
            FULL - 2,
        ),
        "sys_exit": (
            with_sources(s, row_means_answer="import sys\ndef row_means(x):\n    sys.exit(1)\n"),
            FULL - 3,
        ),
        "kill_self": (
            with_sources(
                s,
                row_means_answer=(
                    "import os, signal\ndef row_means(x):\n    os.kill(os.getpid(), signal.SIGKILL)\n"
                ),
            ),
            FULL - 3,
        ),
        "infinite_loop_in_cell": (
            with_sources(
                s, add_answer=(cell_by_id(s, "add_answer").source + "\nwhile True:\n    pass\n")
            ),
            FULL - 2,
        ),
        "infinite_loop_in_function": (
            with_sources(
                s, row_means_answer=("def row_means(x):\n    while True:\n        pass\n")
            ),
            FULL - 3,
        ),
        "swallows_keyboard_interrupt": (
            with_sources(
                s,
                counter_answer=(
                    "import time\nclass Counter:\n    def __init__(self):\n        self.value = 0\n"
                    "    def inc(self, step=1):\n        while True:\n            try:\n"
                    "                time.sleep(0.01)\n            except BaseException:\n"
                    "                pass\n"
                ),
            ),
            FULL - 1,
        ),
        "memory_bomb": (
            with_sources(
                s,
                add_answer=(
                    "def add(a, b):\n    hog = []\n    while True:\n        hog.append(bytearray(10**8))\n"
                ),
            ),
            FULL - 2,
        ),
        "fork_bomb": (
            with_sources(
                s,
                add_answer=(
                    cell_by_id(s, "add_answer").source
                    + "\nimport os\nfor _ in range(10000):\n    try:\n        os.fork()\n"
                    "    except OSError:\n        break\n"
                ),
            ),
            FULL,
        ),
        "hundred_megabytes_of_output": (
            with_sources(
                s,
                add_answer=(
                    "import os, sys\nprint('x' * 50_000_000)\nos.write(1, b'y' * 50_000_000)\n"
                    "sys.stderr.write('z' * 1_000_000)\n" + cell_by_id(s, "add_answer").source
                ),
            ),
            FULL,
        ),
        "network_connection": (
            with_sources(
                s,
                add_answer=(
                    "import socket\ndef add(a, b):\n"
                    f"    socket.create_connection(('127.0.0.1', {ctx['port']}), timeout=1).close()\n"
                    "    return a + b\n"
                ),
            ),
            FULL - 2,
        ),
        "deleted_check_cells": (_without(s, {"add", "row_means", "counter"}), FULL),
        "edited_check_cell": (
            with_sources(with_sources(s, row_means="pass"), row_means_answer=WRONG_ROWS),
            FULL - 3,
        ),
        "check_cell_remarked_as_solution": (
            _remark(with_sources(s, add_answer=WRONG_ADD)),
            FULL - 2,
        ),
        "invalid_json": ("{ this is not json", 0.0),
        "missing_notebook": (None, 0.0),
        "warnings_and_stderr": (
            with_sources(
                s,
                add_answer=(
                    "import sys, warnings\ndef add(a, b):\n    warnings.warn('careful with floats')\n"
                    "    print('debug', file=sys.stderr)\n    return a + b\n"
                ),
            ),
            FULL,
        ),
        "stack_frame_inspection": (
            with_sources(
                s,
                add_answer=(
                    "import sys\ndef add(a, b):\n    f = sys._getframe(1)\n    while f is not None:\n"
                    "        for v in list(f.f_locals.values()) + list(f.f_code.co_consts):\n"
                    "            if isinstance(v, int) and not isinstance(v, bool) and v == 5:\n"
                    "                return v\n        f = f.f_back\n    return None\n"
                ),
            ),
            FULL - 2,
        ),
        "lying_return_types": (
            with_sources(
                s,
                add_answer=(
                    "class Liar(float):\n    def __eq__(self, other):\n        return True\n"
                    "    def __ne__(self, other):\n        return False\n"
                    "def add(a, b):\n    return Liar(0.0)\n"
                ),
            ),
            FULL - 2,
        ),
        "subprocess_to_escape": (
            with_sources(
                s,
                add_answer=(
                    "import subprocess\ndef add(a, b):\n"
                    f"    subprocess.run(['cat', {hidden_py!r}], check=True, capture_output=True)\n"
                    "    return a + b\n"
                ),
            ),
            FULL - 2,
        ),
    }
    return attacks


def _without(nb, grade_ids):
    import copy

    nb = copy.deepcopy(nb)
    nb.cells = [
        c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") not in grade_ids
    ]
    return nb


def _remark(nb):
    """The student turns the 'add' check cell into an answer cell holding a correct add."""
    import copy

    nb = copy.deepcopy(nb)
    cell = cell_by_id(nb, "add")
    cell.metadata["nbgrader"].update(grade=False, solution=True, locked=False)
    cell.source = "def add(a, b):\n    return a + b\n"
    return nb


def test_adversarial_corpus(grader, solution, tmp_path):
    private = grader.private_dir
    secret_file = private / "gradebook-secret.txt"
    secret_file.write_text("secret")
    canary = tmp_path / "canary.txt"
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(0.2)
    connections = []

    def accept():
        while not stop.is_set():
            try:
                connections.append(server.accept())
            except OSError:
                pass

    stop = threading.Event()
    t = threading.Thread(target=accept, daemon=True)
    t.start()
    # An LMS bulk download in a folder anyone may read, on no list of hidden paths: only the
    # allowlist view keeps it from the worker.
    downloads = Path(tempfile.mkdtemp(prefix="course-downloads-"))
    os.chmod(downloads, 0o755)
    with zipfile.ZipFile(downloads / "submissions.zip", "w") as z:
        z.writestr("add.py", "def add(a, b):\n    return a + b\n")
    os.chmod(downloads / "submissions.zip", 0o644)
    ctx = {
        "private": private,
        "secret_file": secret_file,
        "canary": canary,
        "port": server.getsockname()[1],
        "download": downloads / "submissions.zip",
        "submitted": tmp_path / "submitted",
    }
    attacks = _attacks(solution, ctx)
    assert len(attacks) >= 20
    subs_root = tmp_path / "submitted"
    batch, expected = [], {}
    for i, (name, (nb, score)) in enumerate(attacks.items()):
        path = write_submission(subs_root, name, A, nb)
        if nb is None:
            path.parent.mkdir(parents=True, exist_ok=True)
        batch.append((name, path))
        expected[name] = score
        batch.append((f"honest{i:02d}", write_submission(subs_root, f"honest{i:02d}", A, solution)))
        expected[f"honest{i:02d}"] = FULL
    try:
        results = grader.grade_all(batch)
    finally:
        shutil.rmtree(downloads, ignore_errors=True)
        stop.set()
        t.join()
        server.close()
    got = {r.student: r.score for r in results}
    wrong = {k: (got[k], v) for k, v in expected.items() if got[k] != v}
    why = {
        r.student: [c.message for i in r.items for c in i.checks if not c.passed]
        for r in results
        if r.student in wrong
    }
    assert not wrong, f"(got, expected) per submission: {wrong}; failures: {why}"
    for r in results:
        if r.student in ("invalid_json", "missing_notebook"):
            assert r.error, r.student
        else:
            assert r.error is None, (r.student, r.error)
    assert not connections, "a submission reached a server on the host"
    assert not canary.exists() and not (FIXTURE / "pwned").exists()
    assert not Path("/tmp/canary-from-student").exists()
    out = {r.student: r for r in results}
    assert len(out["hundred_megabytes_of_output"].output) < 10_000
    assert "careful with floats" in out["warnings_and_stderr"].output


def test_find_submissions_layouts(assignment, solution, tmp_path):
    p1 = write_submission(tmp_path / "submitted", "ann", A, solution)
    (tmp_path / "submitted" / "ben" / A).mkdir(parents=True)
    assert find_submissions([tmp_path / "submitted"], assignment) == [
        ("ann", p1),
        ("ben", tmp_path / "submitted" / "ben" / A / f"{A}.ipynb"),
    ]
    assert find_submissions([p1], assignment) == [("ann", p1)]
    with pytest.raises(ValueError, match="twice"):
        find_submissions([p1, p1], assignment)


def test_cli_writes_json_gradebook_feedback_csv(course, solution, tmp_path):
    import subprocess
    import sys

    subs = tmp_path / "submitted"
    write_submission(subs, "ann", A, solution)
    write_submission(
        subs, "ben", A, replace_in(solution, "add_answer", "return a + b", "return a * b")
    )
    db = tmp_path / "gradebook.db"
    cmd = [
        sys.executable,
        "-m",
        "autograder",
        "--course",
        str(FIXTURE),
        "grade",
        A,
        str(subs),
        "--json",
        str(tmp_path / "r.json"),
        "--db",
        f"sqlite:///{db}",
        "--feedback",
        str(tmp_path / "fb"),
        "--csv",
        str(tmp_path / "g.csv"),
        "--seed",
        "3",
        "--quiet",
    ]
    subprocess.run(cmd, check=True, cwd=tmp_path)
    data = json.loads((tmp_path / "r.json").read_text())
    assert data["assignment"] == A
    by = {s["student"]: s for s in data["submissions"]}
    # one total: the maximum includes the written answer (1 point), awaiting manual grading
    assert by["ann"]["score"] == FULL and by["ann"]["max_score"] == FULL + 1
    assert by["ann"]["awaiting_manual_grading"] == ["q_why"]
    assert by["ben"]["score"] == FULL - 2
    item = next(i for i in by["ben"]["items"] if i["grade_id"] == "add")
    assert set(item) >= {"grade_id", "score", "max_score", "message"} and item["score"] == 0

    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{db}") as gb:
        assert gb.find_submission(A, "ann").score == FULL
        assert gb.find_submission(A, "ben").score == FULL - 2
        assert gb.find_grade("q_why", A, A, "ann").needs_manual_grade

    html = (tmp_path / "fb" / "ben" / A / f"{A}.html").read_text()
    assert "hidden check" in html and "failed" in html
    hidden_src = (FIXTURE / "tiny_checks" / "t1_tiny" / "hidden.py").read_text()
    for line in hidden_src.splitlines():
        if "s.call" in line or "standard_normal" in line:
            assert line.strip() not in html
    rows = (tmp_path / "g.csv").read_text().splitlines()
    assert rows[0].startswith("student,assignment,score,max_score")
    assert any(r.startswith("ben,t1_tiny,4.0,7.0") for r in rows)


def test_fallback_without_namespaces_still_grades(assignment, solution, tmp_path):
    """The documented weaker mode (rlimits, process group, clean environment) grades the same."""
    cfg = SessionConfig(isolate=False, cell_timeout=5.0, check_timeout=5.0)
    sub = write_submission(tmp_path, "s", A, solution)
    bad = write_submission(tmp_path, "b", A, with_sources(solution, add_answer=WRONG_ADD))
    with Grader(assignment, workers=1, seed=1, config=cfg) as g:
        good, wrong = g.grade_all([("s", sub), ("b", bad)])
    assert good.score == FULL and wrong.score == FULL - 2


# -- time limits count the student's code only; check errors are the checks' -----------------


def _spin(seconds: float) -> None:
    """Keep this (the grader's) process busy for ``seconds`` of CPU time."""
    end = time.process_time() + seconds
    while time.process_time() < end:
        pass


def _slow_oracle(s, rng):
    """A check whose own work (sleeping, then computing) takes longer than its 1 s limit."""
    time.sleep(0.7)
    _spin(0.7)
    expect_equal(s.call("add", 2, 3), 5, "add(2, 3)")
    time.sleep(0.3)
    expect_equal(s.call("add", 1, 1), 2, "add(1, 1)")


def _custom_grader(assignment, checks: dict[str, list[Check]], **cfg) -> Grader:
    g = Grader(
        assignment,
        workers=1,
        seed=1,
        config=SessionConfig(cell_timeout=5.0, check_timeout=1.0, **cfg),
    )
    g.checks = checks
    return g


def test_the_oracles_time_is_not_charged_to_the_student(assignment, solution, tmp_path):
    checks = {"add": [Check("add", "slow oracle", _slow_oracle)]}
    spin = "def add(a, b):\n    while True:\n        pass\n"
    fast = write_submission(tmp_path, "fast", A, solution)
    spinning = write_submission(tmp_path, "spin", A, with_sources(solution, add_answer=spin))
    with _custom_grader(assignment, checks) as g:
        ok, slow = g.grade_all([("fast", fast), ("spin", spinning)])
    (good,) = {i.grade_id: i for i in ok.items}["add"].checks
    assert good.passed and good.status == "passed", good
    assert good.seconds > 1.5 and good.cpu_seconds < 0.5  # the grader's 1.7 s cost nothing
    (bad,) = {i.grade_id: i for i in slow.items}["add"].checks
    assert bad.timed_out and bad.status == "failed", bad
    assert "CPU time" in bad.message and bad.cpu_seconds < 1.5  # stopped at the 1 s CPU limit


def test_a_sleeping_student_meets_the_wall_clock_backstop(
    assignment, solution, tmp_path, monkeypatch
):
    monkeypatch.setattr(RemoteStudent, "WALL_EXTRA", 1.0)  # backstop: 3 x 1 s + 1 s
    sleepy = "import time\n\ndef add(a, b):\n    time.sleep(60)\n    return a + b\n"
    sub = write_submission(tmp_path, "z", A, with_sources(solution, add_answer=sleepy))
    checks = {"add": [Check("add", "slow oracle", _slow_oracle)]}
    with _custom_grader(assignment, checks) as g:
        (r,) = g.grade_all([("z", sub)])
    (res,) = r.items[0].checks
    assert res.timed_out and "wall time" in res.message and res.seconds < 10, res


def _buggy_check(s, rng):
    s.call("add", 1, 2)
    return {}["no such key"]  # the check's own bug


def _misspelled_probe(s, rng):
    s.probe("t1_tiny.count_too", 3)


def _unknown_request(s, rng):
    s._request("a request", "frobnicate", "add")


def test_check_errors_are_flagged_never_a_students_lost_point(assignment, solution, tmp_path):
    checks = {
        "add": [
            Check("add", "a check with a bug", _buggy_check),
            Check("add", "add works", lambda s, rng: expect_equal(s.call("add", 2, 3), 5, "a")),
        ],
        "row_means": [Check("row_means", "a misspelled probe", _misspelled_probe)],
        "counter": [Check("counter", "an unknown request", _unknown_request)],
    }
    sub = write_submission(tmp_path, "s", A, solution)
    wrong = write_submission(tmp_path, "w", A, with_sources(solution, add_answer=WRONG_ADD))
    with _custom_grader(assignment, checks) as g:
        r, w = g.grade_all([("s", sub), ("w", wrong)])
    by = {i.grade_id: i for i in r.items}
    assert [c.status for c in by["add"].checks] == ["error", "passed"]
    assert by["row_means"].checks[0].status == "error"
    assert "unknown probe 't1_tiny.count_too'" in by["row_means"].checks[0].message
    assert by["counter"].checks[0].status == "error"
    assert all(i.check_error for i in by.values() if not i.manual)
    assert r.check_errors == 3
    assert by["add"].message.startswith("could not be graded (check error)")
    assert "KeyError" in by["add"].checks[0].message
    data = r.to_json()
    assert data["check_errors"] == 3
    item = next(i for i in data["items"] if i["grade_id"] == "add")
    assert item["check_error"] and item["checks"][0]["status"] == "error"
    assert result_from_json(data).check_errors == 3
    # the student's wrong output stays an ordinary failure beside the check error
    wadd = {i.grade_id: i for i in w.items}["add"]
    assert [c.status for c in wadd.checks] == ["error", "failed"]


def test_old_results_without_a_status_still_load():
    old = {
        "student": "x",
        "score": 1.0,
        "max_score": 2.0,
        "items": [
            {
                "grade_id": "add",
                "score": 1.0,
                "max_score": 2.0,
                "checks": [
                    {"title": "a", "hidden": False, "weight": 1.0, "passed": True},
                    {"title": "b", "hidden": True, "weight": 1.0, "passed": False},
                ],
            }
        ],
    }
    r = result_from_json(old)
    assert [c.status for c in r.items[0].checks] == ["passed", "failed"]
    assert r.check_errors == 0


def test_grade_exits_3_on_a_check_error(assignment, solution, tmp_path, monkeypatch):
    from autograder import cli

    real = Grader.grade_all

    def with_an_error(self, todo, progress=None):
        self.checks = {"add": [Check("add", "a check with a bug", _buggy_check)]}
        return real(self, todo, progress)

    monkeypatch.setattr(Grader, "grade_all", with_an_error)
    sub = write_submission(tmp_path / "submitted", "ann", A, solution)
    argv = ["--course", str(FIXTURE), "grade", A, str(sub), "--no-db", "--quiet", "--workers", "1"]
    assert cli.main([*argv, "--json", str(tmp_path / "r.json")]) == 3
    data = json.loads((tmp_path / "r.json").read_text())
    assert data["submissions"][0]["check_errors"] == 1


def test_a_misspelt_probe_fails_when_the_checks_load(course, tmp_path):
    from autograder.course import _validate_probe_names

    course.checks(A, hidden=True)  # registers the probes; the real modules pass
    src = tmp_path / "public.py"
    src.write_text('def f(s, rng):\n    return s.probe("t1_tiny.count_too", 3)\n')
    with pytest.raises(ValueError, match="public.py:2: unknown probe 't1_tiny.count_too'"):
        _validate_probe_names(types.SimpleNamespace(__file__=str(src)), A)
