"""Files submitted beside the notebook (a capstone's weights): read by the trusted side only, with
limits, and parsed without pickle."""

from __future__ import annotations

import io
import os
import zipfile
from pathlib import Path

import numpy as np
import pytest
from notebooks import solution_notebook, write_submission

from autograder.checking import Check, CheckFailure, expect_close
from autograder.course import Course
from autograder.grader import Grader
from autograder.session import SessionConfig
from autograder.student import LocalStudent
from autograder.submission import read_attachment
from autograder.wire import WireError, load_npz

FIXTURE = Path(__file__).parent / "fixtures" / "tiny_course"
LIMIT = 1 << 20


def _npz(compressed: bool = False, **arrays) -> bytes:
    buf = io.BytesIO()
    (np.savez_compressed if compressed else np.savez)(buf, **arrays)
    return buf.getvalue()


def test_load_npz_round_trips_savez_and_savez_compressed():
    w = np.arange(12, dtype=np.float32).reshape(3, 4)
    for compressed in (False, True):
        got = load_npz(_npz(compressed, **{"fc.weight": w, "fc.bias": np.zeros(3)}), LIMIT)
        assert set(got) == {"fc.weight", "fc.bias"}
        np.testing.assert_array_equal(got["fc.weight"], w)
        assert got["fc.weight"].dtype == np.float32


@pytest.mark.parametrize(
    ("data", "why"),
    [
        (b"not a zip", "not an .npz"),
        (_npz(x=np.array([{"a": 1}], dtype=object)), "not a plain numeric"),  # pickle
        (_npz(compressed=True, big=np.zeros(LIMIT, np.uint8)), "inflate past"),  # a small bomb
    ],
)
def test_load_npz_refuses_what_is_not_plain_arrays(data, why):
    with pytest.raises(WireError, match=why):
        load_npz(data, LIMIT)


def test_load_npz_refuses_members_that_are_not_arrays():
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("../evil.npy", b"x")
    with pytest.raises(WireError, match="unexpected member"):
        load_npz(buf.getvalue(), LIMIT)


def test_read_attachment_limits(tmp_path):
    (tmp_path / "w.npz").write_bytes(b"12345")
    assert read_attachment(tmp_path, "w.npz", 10) == b"12345"
    with pytest.raises(CheckFailure, match="limit"):
        read_attachment(tmp_path, "w.npz", 4)
    with pytest.raises(CheckFailure, match="no file missing.npz"):
        read_attachment(tmp_path, "missing.npz", 10)
    (tmp_path / "link.npz").symlink_to("/etc/passwd")
    with pytest.raises(CheckFailure, match="symbolic link"):
        read_attachment(tmp_path, "link.npz", 10**6)
    os.mkfifo(tmp_path / "fifo.npz")  # opening must not block
    with pytest.raises(CheckFailure, match="not a regular file"):
        read_attachment(tmp_path, "fifo.npz", 10)
    (tmp_path / "dir.npz").mkdir()
    with pytest.raises(CheckFailure):
        read_attachment(tmp_path, "dir.npz", 10)
    for bad in ("../w.npz", "sub/w.npz", ".hidden", ""):
        with pytest.raises(ValueError):
            read_attachment(tmp_path, bad, 10)


def test_local_student_reads_from_the_working_directory(tmp_path, monkeypatch):
    (tmp_path / "w.bin").write_bytes(b"abc")
    monkeypatch.chdir(tmp_path)
    assert LocalStudent({}).attachment("w.bin", 10) == b"abc"
    monkeypatch.chdir(tmp_path.parent)
    assert LocalStudent({}, folder=tmp_path).attachment("w.bin", 10) == b"abc"


def _weights_check(s, rng):
    """Uses the submitted weights in the student's code: add(sum of w, 1) == sum + 1."""
    arrays = load_npz(s.attachment("weights.npz", LIMIT), LIMIT)
    total = float(arrays["w"].sum())
    expect_close(s.call("add", total, 1.0), total + 1.0, "add(sum of w, 1)")


@pytest.mark.grader
def test_grader_reads_each_submission_own_attachment(tmp_path):
    course = Course.load(FIXTURE)
    a = course.assignment("t1_tiny")
    sol = solution_notebook(course, "t1_tiny")
    cases = {
        "good": _npz(w=np.ones((2, 3), np.float32)),
        "missing": None,
        "link": "link",
        "huge": b"\0" * (LIMIT + 1),
        "pickled": _npz(w=np.array([None], dtype=object)),
    }
    paths = {}
    for student, data in cases.items():
        path = write_submission(tmp_path, student, "t1_tiny", sol)
        if data == "link":
            (path.parent / "weights.npz").symlink_to(tmp_path / "good" / "t1_tiny" / "weights.npz")
        elif data is not None:
            (path.parent / "weights.npz").write_bytes(data)
        paths[student] = path
    cfg = SessionConfig(cell_timeout=5.0, check_timeout=5.0)
    with Grader(a, workers=1, seed=1, config=cfg) as g:
        g.checks["add"] = [Check("add", "weights reach the student's code", _weights_check)]
        results = {st: g.grade(st, p) for st, p in paths.items()}

    def add_item(st):
        return next(i for i in results[st].items if i.grade_id == "add")

    assert add_item("good").score == 2.0, add_item("good").checks
    for st, why in [
        ("missing", "no file weights.npz"),
        ("link", "symbolic link"),
        ("huge", "limit"),
        ("pickled", "not a plain numeric"),
    ]:
        item = add_item(st)
        assert item.score == 0.0
        assert why in item.checks[0].message, (st, item.checks[0].message)
