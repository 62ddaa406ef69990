"""Grading at scale: kill-and-resume, regrading with an audit trail, a Dask cluster, a shared
PostgreSQL gradebook written by two graders at once, and the instructor report.

The PostgreSQL test starts a real server from the Debian packages (``scripts/setup.sh`` installs
them); the Dask test starts a real ``LocalCluster`` with several worker processes.
"""

from __future__ import annotations

import contextlib
import html.parser
import json
import os
import pwd
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from notebooks import replace_in, solution_notebook, with_sources, write_submission

from autograder.course import Course

pytestmark = [pytest.mark.grader, pytest.mark.slow]

FIXTURE = Path(__file__).parent / "fixtures" / "tiny_course"
A = "t1_tiny"
FULL = 6.0


@pytest.fixture(scope="module")
def solution():
    return solution_notebook(Course.load(FIXTURE), A)


def cli(*args, course=FIXTURE, cwd=None, check=True, **kw):
    cmd = [sys.executable, "-m", "autograder", "--course", str(course), *map(str, args)]
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, **kw)
    if check and proc.returncode:
        pytest.fail(f"{' '.join(cmd[2:])} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-5000:]}")
    return proc


def make_batch(solution, root: Path, n: int, slow: float = 0.0) -> dict[str, float]:
    """``n`` submissions: every third one has add() wrong (2 points lost). Returns the scores
    they must get. ``slow`` seconds of sleep in a setup-free answer cell slow each one down."""
    expected = {}
    for i in range(n):
        nb = solution
        if i % 3 == 1:
            nb = replace_in(nb, "add_answer", "return a + b", "return a - b")
        if slow:
            src = f"import time\ntime.sleep({slow!r})\n"
            cell = next(
                c
                for c in nb.cells
                if c.metadata.get("nbgrader", {}).get("grade_id") == "counter_answer"
            )
            nb = with_sources(nb, counter_answer=src + cell.source)
        write_submission(root, f"s{i:03d}", A, nb)
        expected[f"s{i:03d}"] = FULL - 2 if i % 3 == 1 else FULL
    return expected


def results_in(db: Path) -> dict[str, float]:
    with sqlite3.connect(db) as con:
        return dict(con.execute("select student, score from autograder_result"))


# -- kill and resume ---------------------------------------------------------------------------
def test_killed_batch_resumes_without_losing_or_repeating(solution, tmp_path):
    subs, db = tmp_path / "submitted", tmp_path / "gb.db"
    expected = make_batch(solution, subs, 12, slow=0.4)
    cmd = [
        sys.executable,
        "-m",
        "autograder",
        "--course",
        str(FIXTURE),
        "grade",
        A,
        str(subs),
        "--workers",
        "1",
        "--db",
        f"sqlite:///{db}",
        "--quiet",
    ]
    proc = subprocess.Popen(
        cmd,
        cwd=tmp_path,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 240
    try:
        while time.monotonic() < deadline:
            if db.exists() and len(_safe_results(db)) >= 4:
                break
            assert proc.poll() is None, "the batch finished before it could be killed"
            time.sleep(0.05)
        else:
            pytest.fail("the grader wrote nothing in 4 minutes")
    finally:
        with contextlib.suppress(ProcessLookupError):  # the grader and all it started
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    done = results_in(db)
    assert 4 <= len(done) < 12
    assert all(done[s] == expected[s] for s in done), done

    out = cli(
        "grade",
        A,
        subs,
        "--workers",
        "2",
        "--db",
        f"sqlite:///{db}",
        "--json",
        tmp_path / "r.json",
        "--quiet",
        cwd=tmp_path,
    )
    data = json.loads((tmp_path / "r.json").read_text())
    assert data["reused"] == len(done) and data["graded"] == 12 - len(done), out.stdout
    assert {s["student"]: s["score"] for s in data["submissions"]} == expected
    assert results_in(db) == expected
    with sqlite3.connect(db) as con:
        (subs_rows,) = con.execute("select count(*) from submitted_assignment").fetchone()
        per_student = con.execute(
            "select student_id, count(*) from submitted_assignment group by student_id"
        ).fetchall()
        audit = con.execute("select student, reason from autograder_audit").fetchall()
    assert subs_rows == 12 and all(k == 1 for _, k in per_student)
    assert sorted(audit) == sorted((s, "first grade") for s in expected)  # each graded once
    # and the batch seed is kept: the second run used the first run's seed
    seeds = {s["seed"] for s in data["submissions"]}
    assert len(seeds) == 1


def _safe_results(db: Path) -> dict:
    try:
        return results_in(db)
    except sqlite3.OperationalError:  # the tables are not created yet
        return {}


# -- regrading after a fixed check ---------------------------------------------------------------
def test_regrading_after_a_check_is_fixed_keeps_an_audit_trail(solution, tmp_path):
    course = tmp_path / "course"
    shutil.copytree(FIXTURE, course, ignore=shutil.ignore_patterns("__pycache__"))
    subs, db = tmp_path / "submitted", tmp_path / "gb.db"
    make_batch(solution, subs, 3)
    # a bug in the instructor's check: one of row_means's two checks expects the wrong values
    public = course / "tiny_checks" / A / "public.py"
    good = public.read_text()
    public.write_text(good.replace("x.mean(axis=1),", "x.mean(axis=1) + 1,"))
    grade = ["grade", A, subs, "--db", f"sqlite:///{db}", "--quiet", "--seed", "5"]
    cli(*grade, course=course, cwd=tmp_path)
    before = results_in(db)
    assert before == {"s000": FULL - 1.5, "s001": FULL - 3.5, "s002": FULL - 1.5}
    out = cli(*grade, "--json", tmp_path / "same.json", course=course, cwd=tmp_path)
    assert json.loads((tmp_path / "same.json").read_text())["graded"] == 0, out.stdout

    public.write_text(good)  # the fix: a new checks version
    cli(*grade, "--json", tmp_path / "fixed.json", course=course, cwd=tmp_path)
    data = json.loads((tmp_path / "fixed.json").read_text())
    assert data["graded"] == 3 and data["reused"] == 0
    after = results_in(db)
    assert after == {"s000": FULL, "s001": FULL - 2, "s002": FULL}
    with sqlite3.connect(db) as con:
        trail = con.execute(
            "select student, reason, old_score, new_score, old_checks_version, checks_version, at"
            " from autograder_audit where reason = 'checks changed' order by student"
        ).fetchall()
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{db}") as gb:
        gb_score = gb.find_grade("row_means", A, A, "s000").auto_score
    assert [(s, o, n) for s, _, o, n, *_ in trail] == [
        ("s000", FULL - 1.5, FULL),
        ("s001", FULL - 3.5, FULL - 2),
        ("s002", FULL - 1.5, FULL),
    ]
    assert all(old != new and at for *_, old, new, at in trail)
    assert gb_score == 3.0  # nbgrader's gradebook has the corrected score too
    with sqlite3.connect(db) as con:  # a regrade for fixed checks keeps the hidden inputs
        kept = con.execute(
            "select distinct hidden_inputs, seed from autograder_audit"
            " where reason = 'checks changed'"
        ).fetchall()
    assert kept == [("same seed", "5")]


# -- instructor report -------------------------------------------------------------------------
class _Parser(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)

    def handle_data(self, data):
        self.text.append(data)


def test_report_and_grades_csv_from_the_gradebook(solution, tmp_path):
    subs, db = tmp_path / "submitted", tmp_path / "gb.db"
    make_batch(solution, subs, 5)
    wrong_axis = replace_in(
        solution, "row_means_answer", "x.mean(axis=1)", "x.mean(axis=0)[:x.shape[0]]"
    )
    write_submission(subs, "t100", A, wrong_axis)
    write_submission(subs, "t101", A, "this is not a notebook")
    cli(
        "grade",
        A,
        subs,
        "--db",
        f"sqlite:///{db}",
        "--quiet",
        "--report",
        tmp_path / "g.html",
        cwd=tmp_path,
    )
    cli(
        "report",
        A,
        "--db",
        f"sqlite:///{db}",
        "--out",
        tmp_path / "r.html",
        "--csv",
        tmp_path / "grades.csv",
        cwd=tmp_path,
    )
    for page in ("g.html", "r.html"):
        text = (tmp_path / page).read_text()
        p = _Parser()
        p.feed(text)
        body = " ".join(p.text)
        assert "svg" in p.tags and "rect" in p.tags  # the histogram
        assert "7 submissions" in body and "not graded 1" in body
        for item in ("add", "row_means", "counter", "q_why"):
            assert f">{item}<" in text
        assert "you averaged over the wrong axis" in body  # the recognised mistake
        assert "t101" in body and "Median" in body
    rows = (tmp_path / "grades.csv").read_text().splitlines()
    assert rows[0].startswith("student,assignment,score,max_score") and len(rows) == 8


# -- Dask ----------------------------------------------------------------------------------------
def test_grading_on_a_dask_cluster(solution, tmp_path):
    from distributed import Client, LocalCluster

    subs = tmp_path / "submitted"
    expected = make_batch(solution, subs, 6)
    # the trust boundary holds on every worker: patching np.allclose changes nothing
    cheat = with_sources(
        solution,
        row_means_answer="import numpy as np\nnp.allclose = lambda *a, **k: True\n"
        "def row_means(x):\n    return x.sum(axis=1)\n",
    )
    write_submission(subs, "cheat", A, cheat)
    expected["cheat"] = FULL - 3
    crash = with_sources(solution, add_answer="import os\ndef add(a, b):\n    os._exit(3)\n")
    write_submission(subs, "crash", A, crash)
    expected["crash"] = FULL - 2
    with (
        LocalCluster(
            n_workers=3,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            silence_logs=50,
        ) as cluster,
        Client(cluster) as client,
    ):
        cli(
            "grade",
            A,
            subs,
            "--scheduler",
            cluster.scheduler_address,
            "--no-db",
            "--json",
            tmp_path / "r.json",
            "--quiet",
            "--seed",
            "11",
            cwd=tmp_path,
        )
        graders = client.run(
            lambda: __import__("autograder.distributed", fromlist=["_GRADERS"])._GRADERS.__len__()
        )
        pids = client.run(os.getpid)
    data = json.loads((tmp_path / "r.json").read_text())
    assert {s["student"]: s["score"] for s in data["submissions"]} == expected
    assert sum(graders.values()) >= 2, graders  # the work was spread over the cluster
    assert len(set(pids.values())) == 3


# -- PostgreSQL ----------------------------------------------------------------------------------
def _pg_bin() -> Path | None:
    for d in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True):
        if (d / "initdb").exists() and (d / "postgres").exists():
            return d
    return None


@pytest.fixture(scope="module")
def postgres():
    """A real PostgreSQL server (Debian's binaries) on a Unix socket in a temporary folder,
    run as the unprivileged ``postgres`` user when we are root (the server refuses root)."""
    bindir = _pg_bin()
    if bindir is None:
        pytest.skip("PostgreSQL is not installed (scripts/setup.sh installs it on Debian)")
    root = Path(tempfile.mkdtemp(prefix="pg-", dir="/tmp"))
    demote = None
    if os.geteuid() == 0:
        pw = pwd.getpwnam("postgres")
        os.chown(root, pw.pw_uid, pw.pw_gid)

        def demote():
            os.setgid(pw.pw_gid)
            os.setuid(pw.pw_uid)

    env = dict(os.environ, LC_ALL="C.UTF-8")
    subprocess.run(
        [bindir / "initdb", "-D", root / "data", "-A", "trust", "-U", "postgres"],
        check=True,
        capture_output=True,
        preexec_fn=demote,
        env=env,
    )
    server = subprocess.Popen(
        [
            bindir / "postgres",
            "-D",
            root / "data",
            "-k",
            root,
            "-c",
            "listen_addresses=",
            "-c",
            "fsync=off",
            "-p",
            "5432",
        ],
        preexec_fn=demote,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        import psycopg

        for _ in range(300):
            try:
                with psycopg.connect(
                    host=str(root), user="postgres", dbname="postgres", autocommit=True
                ) as con:
                    con.execute("CREATE DATABASE gradebook")
                break
            except psycopg.OperationalError:
                assert server.poll() is None, "the PostgreSQL server stopped"
                time.sleep(0.1)
        else:
            pytest.fail("PostgreSQL did not start in 30 s")
        yield f"postgresql+psycopg://postgres@/gradebook?host={root}"
    finally:
        server.send_signal(signal.SIGINT)  # fast shutdown
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
        shutil.rmtree(root, ignore_errors=True)


def test_two_graders_share_a_postgresql_gradebook(solution, postgres, tmp_path):
    first, second = tmp_path / "first", tmp_path / "second"
    exp1 = make_batch(solution, first, 10)
    exp2 = make_batch(solution, second, 16)  # s000-s009 again (the same notebooks), and more
    expected = {**exp1, **exp2}
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "autograder",
                "--course",
                str(FIXTURE),
                "grade",
                A,
                str(p),
                "--workers",
                "1",
                "--db",
                postgres,
                "--seed",
                "2",
                "--quiet",
            ],
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for p in (first, second)
    ]
    outs = [p.communicate(timeout=600)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs

    from nbgrader.api import Gradebook
    from sqlalchemy import text

    with Gradebook(postgres) as gb:  # nbgrader itself reads the shared gradebook
        assert sorted(s.id for s in gb.students) == sorted(expected)
        for student, score in expected.items():
            assert gb.find_submission(A, student).score == score
        db = gb.db
        assert db.execute(text("select count(*) from submitted_assignment")).scalar() == 16
        assert db.execute(text("select count(*) from grade")).scalar() == 16 * 4
        assert db.execute(text("select count(*) from autograder_result")).scalar() == 16
        dup = db.execute(
            text(
                "select count(*) from (select student_id from submitted_assignment "
                "group by student_id having count(*) > 1) d"
            )
        ).scalar()
        assert dup == 0

    # nbgrader's own command line, pointed at the same database
    course_dir = tmp_path / "nbgrader-course"
    course_dir.mkdir()
    (course_dir / "nbgrader_config.py").write_text(
        f"c = get_config()\nc.CourseDirectory.root = {str(course_dir)!r}\n"
        f"c.CourseDirectory.db_url = {postgres!r}\n"
    )
    from autograder.release import tool_env

    subprocess.run(
        [sys.executable, "-m", "nbgrader", "export"],
        cwd=course_dir,
        env=tool_env(),
        check=True,
        capture_output=True,
    )
    rows = (course_dir / "grades.csv").read_text().splitlines()
    assert len(rows) == 1 + 16
