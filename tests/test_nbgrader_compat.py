"""The same notebooks work with plain nbgrader: validate passes for the solution and fails for the
stub, and ``nbgrader autograde`` (public and hidden checks, in the student's kernel) scores them.
The trusted grader is the one to use for official grades (see README); this only proves that
instructors can keep their usual nbgrader workflow."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from notebooks import copy_attachments, replace_in, solution_notebook

from autograder.course import Course
from autograder.release import generate

pytestmark = [pytest.mark.grader, pytest.mark.slow]

FIXTURE = Path(__file__).parent / "fixtures" / "tiny_course"
A = "t1_tiny"


def _env(course_root=FIXTURE):
    bindir = str(Path(sys.executable).parent)
    return dict(
        os.environ,
        AUTOGRADER_COURSE=str(course_root),
        COURSE_STRICT_DEVICE="1",  # solutions fail here where a GPU would (coursekit.strict_device)
        PATH=f"{bindir}{os.pathsep}{os.environ.get('PATH', '')}",
    )


def _nbgrader(*args, cwd, course_root=FIXTURE):
    return subprocess.run(
        [sys.executable, "-m", "nbgrader", *args],
        cwd=cwd,
        env=_env(course_root),
        capture_output=True,
        text=True,
    )


@pytest.fixture(scope="module")
def course():
    return Course.load(FIXTURE)


def test_validate_solution_passes_and_stub_fails(course, tmp_path):
    sol = tmp_path / "solution.ipynb"
    nbformat.write(solution_notebook(course, A), sol)
    stub = tmp_path / "stub.ipynb"
    stub.write_text(generate(course, A))
    ok = _nbgrader("validate", str(sol), cwd=tmp_path)
    assert "Success! Your notebook passes all the tests." in ok.stdout, ok.stdout + ok.stderr
    bad = _nbgrader("validate", str(stub), cwd=tmp_path)
    assert "VALIDATION FAILED" in bad.stdout, bad.stdout + bad.stderr


def test_plain_nbgrader_autograde(course, tmp_path):
    (tmp_path / "nbgrader_config.py").write_text(
        f"c = get_config()\nc.CourseDirectory.root = {str(tmp_path)!r}\n"
        "c.CourseDirectory.db_url = 'sqlite:///' + c.CourseDirectory.root + '/gradebook.db'\n"
    )
    src = tmp_path / "source" / A
    src.mkdir(parents=True)
    sol = solution_notebook(course, A)
    nbformat.write(sol, src / f"{A}.ipynb")
    gen = _nbgrader("generate_assignment", A, "--create", "--force", cwd=tmp_path)
    assert gen.returncode == 0, gen.stdout + gen.stderr
    for student, nb in [
        ("alice", sol),
        ("bob", replace_in(sol, "add_answer", "return a + b", "return a - b")),
    ]:
        d = tmp_path / "submitted" / student / A
        d.mkdir(parents=True)
        nbformat.write(nb, d / f"{A}.ipynb")
    auto = _nbgrader("autograde", A, "--force", cwd=tmp_path)
    assert auto.returncode == 0, auto.stdout + auto.stderr
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{tmp_path}/gradebook.db") as gb:
        assert gb.find_submission(A, "alice").score == 6.0
        assert gb.find_submission(A, "bob").score == 4.0


@pytest.mark.parametrize("name", Course.load().names())
def test_validate_real_assignments(name, tmp_path):
    """nbgrader validate: the solution passes every check cell, the released stub does not."""
    real = Course.load()
    sol = tmp_path / f"{name}.ipynb"
    nbformat.write(solution_notebook(real, name), sol)
    copy_attachments(real, name, tmp_path)  # a capstone's weights, where its checks read them
    # The course's settings for plain nbgrader (a longer cell limit, for A6's capstone).
    shutil.copy(real.root / "nbgrader_config.py", tmp_path)
    ok = _nbgrader("validate", str(sol), cwd=tmp_path, course_root=real.root)
    assert "Success! Your notebook passes all the tests." in ok.stdout, ok.stdout[-3000:]
    stub = tmp_path / "stub" / f"{name}.ipynb"
    stub.parent.mkdir()
    stub.write_text((real.root / "assignments" / name / f"{name}.ipynb").read_text())
    bad = _nbgrader("validate", str(stub), cwd=tmp_path, course_root=real.root)
    assert "VALIDATION FAILED" in bad.stdout, bad.stdout[-3000:]
