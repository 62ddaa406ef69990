"""Importing an LMS bulk download: odd names are understood, malformed entries are skipped with a
clear reason, and nothing is ever written outside the submitted/ folder."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from autograder.collect import (
    MAX_MEMBER_BYTES,
    collect,
    notebook_matches,
    read_skipped,
    student_id,
)

A = "t1_tiny"
FIXTURE = Path(__file__).parent / "fixtures" / "tiny_course"
NB = json.dumps({"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}).encode()


def nb(tag: str) -> bytes:
    return json.dumps(
        {
            "cells": [{"cell_type": "markdown", "metadata": {}, "source": tag}],
            "metadata": {},
            "nbformat": 4,
            "nbformat_minor": 5,
        }
    ).encode()


def zip_of(files: dict[str, bytes], links: dict[str, str] = ()) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in files.items():
            zf.writestr(name, data)
        for name, target in dict(links).items():
            info = zipfile.ZipInfo(name)
            info.external_attr = 0o120777 << 16  # a symbolic link
            zf.writestr(info, target)
    return buf.getvalue()


def test_names_lms_give():
    assert student_id("Jane Doe_123456_assignsubmission_file_")[0] == "123456"
    assert student_id("Jane Doe_123456_assignsubmission_file_t1_tiny.ipynb") == (
        "123456",
        "t1_tiny.ipynb",
    )
    assert student_id("doejane_LATE_4242_991_t1_tiny (2).ipynb") == ("4242", "t1_tiny (2).ipynb")
    assert student_id("jdoe.zip")[0] == "jdoe"
    assert student_id("jane.doe@uni.edu.zip")[0] == "jane.doe@uni.edu"
    for ok in ("t1_tiny.ipynb", "T1_Tiny (2).ipynb", "t1_tiny-1.ipynb", "t1 tiny.ipynb"):
        assert notebook_matches(ok, A), ok
    for bad in ("Untitled.ipynb", "t1_tiny.py", "t1_tiny_old.ipynb", "t1_tiny.ipynb.txt"):
        assert not notebook_matches(bad, A), bad


def test_bulk_download_with_good_and_malformed_entries(tmp_path):
    bomb = b"\0" * (MAX_MEMBER_BYTES + 10)  # deflates to ~50 kB
    entries = {
        # good: Moodle folder, Canvas file, zip with a renamed notebook and clutter
        "Ann Lee_1001_assignsubmission_file_/t1_tiny.ipynb": nb("ann"),
        "leeben_1002_5001_t1_tiny (2).ipynb": nb("ben"),
        "Cat Wu_1003_assignsubmission_file_cat.zip": zip_of(
            {
                "work/T1_Tiny-1.ipynb": nb("cat"),
                "__MACOSX/._x": b"x",
                "notes.txt": b"hi",
                "work/.ipynb_checkpoints/t1_tiny-checkpoint.ipynb": nb("old"),
            }
        ),
        # malformed
        "Dan Ho_1004_assignsubmission_file_d.zip": zip_of({"../../../evil.ipynb": nb("x")}),
        "Eve Ng_1005_assignsubmission_file_e.zip": zip_of(
            {"t1_tiny.ipynb": nb("e")}, links={"data": "/etc/passwd"}
        ),
        "Fay Ox_1006_assignsubmission_file_f.zip": zip_of({"t1_tiny.ipynb": bomb}),
        "Gus Po_1007_assignsubmission_file_g.zip": zip_of({"Untitled.ipynb": nb("g")}),
        "Hal Qi_1008_assignsubmission_file_h.zip": zip_of(
            {"t1_tiny.ipynb": nb("h1"), "t1_tiny (1).ipynb": nb("h2")}
        ),
        "Ivy Ra_1009_assignsubmission_file_i.zip": zip_of({}),
        "Jon Sa_1010_assignsubmission_file_j.zip": b"this is not a zip",
        "Kim Tu_1011_assignsubmission_file_k.zip": zip_of({"t1_tiny.ipynb": b"{not json"}),
        "Lou Vy_1012_assignsubmission_file_/t1_tiny.ipynb": nb("lou1"),
        "lou_1012_77_t1_tiny.ipynb": nb("lou2"),  # the same student twice
        "no id here!.zip": zip_of({"t1_tiny.ipynb": nb("?")}),
        "../escape.zip": zip_of({"t1_tiny.ipynb": nb("esc")}),
    }
    bulk = tmp_path / "bulk.zip"
    with zipfile.ZipFile(bulk, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
    into = tmp_path / "out" / "submitted"
    got = {e.source: e for e in collect(bulk, A, into, duplicates="skip")}

    def status(prefix):
        (e,) = [e for src, e in got.items() if src.startswith(prefix)]
        return e.status, e.message

    for who, tag in (("1001", "ann"), ("1002", "ben"), ("1003", "cat"), ("1007", "g")):
        path = into / who / A / f"{A}.ipynb"
        assert json.loads(path.read_bytes())["cells"][0]["source"] == tag
    assert status("Ann Lee")[0] == status("leeben")[0] == status("Cat Wu")[0] == "imported"
    # the only notebook, under another name: imported, with a warning
    gus = got["Gus Po_1007_assignsubmission_file_g.zip"]
    assert gus.status == "imported" and "'Untitled.ipynb'" in gus.warning
    expect = {
        "Dan Ho": "outside the archive",
        "Eve Ng": "symbolic link",
        "Fay Ox": "zip bomb",
        "Hal Qi": "which one?",
        "Ivy Ra": "empty",
        "Jon Sa": "not a zip archive",
        "Kim Tu": "not a notebook",
        "Lou Vy": "2 entries for student '1012'",
        "lou_1012": "2 entries for student '1012'",
        "no id here": "no student id",
        "../escape.zip": "no student id",
    }
    for prefix, why in expect.items():
        st, msg = status(prefix)
        assert st == "skipped" and why in msg, (prefix, msg)
    # nothing was written but the four notebooks with their records, all inside submitted/,
    # and the list of skipped students beside it
    written = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*") if p.is_file())
    assert written == sorted(
        [Path("bulk.zip"), Path("out/skipped.json")]
        + [
            Path("out/submitted") / w / A / f
            for w in ("1001", "1002", "1003", "1007")
            for f in (f"{A}.ipynb", "collect.json", "timestamp.txt")
        ]
    )
    skipped = {r["student"]: r["reason"] for r in read_skipped(into.parent / "skipped.json", A)}
    assert set(skipped) == {
        "1004", "1005", "1006", "1008", "1009", "1010", "1011", "1012",
        "no id here!.zip", "../escape.zip",
    }  # fmt: skip
    assert "zip bomb" in skipped["1006"]
    # importing again changes nothing; a newer notebook is an update
    again = collect(bulk, A, into, duplicates="skip")
    assert {e.status for e in again if e.student in ("1001", "1002", "1003")} == {"unchanged"}


def test_folder_of_per_student_zips_and_the_command(tmp_path):
    bulk = tmp_path / "download"
    bulk.mkdir()
    (bulk / "amy.zip").write_bytes(zip_of({"t1_tiny.ipynb": nb("amy")}))
    (bulk / "bob.zip").write_bytes(b"")  # an empty file
    (bulk / "cal.zip").symlink_to("/etc/passwd")
    into = tmp_path / "submitted"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "autograder",
            "--course",
            str(FIXTURE),
            "collect",
            A,
            str(bulk),
            "--into",
            str(into),
            "--json",
            str(tmp_path / "c.json"),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "imported 1" in proc.stdout and "skipped 2" in proc.stdout, proc.stdout
    report = {e["source"]: e for e in json.loads((tmp_path / "c.json").read_text())}
    assert report["bob.zip"]["status"] == "skipped" and "empty" in report["bob.zip"]["message"]
    assert "symbolic link" in report["cal.zip"]["message"]
    assert (into / "amy" / A / f"{A}.ipynb").exists()
    from autograder.course import Course
    from autograder.grader import find_submissions

    found = find_submissions([into], Course.load(FIXTURE).assignment(A))
    assert [s for s, _ in found] == ["amy"]


def test_an_unreadable_bulk_download_is_one_clear_error(tmp_path):
    bad = tmp_path / "bulk.zip"
    bad.write_bytes(b"garbage")
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "autograder",
            "--course",
            str(FIXTURE),
            "collect",
            A,
            str(bad),
            "--into",
            str(tmp_path / "s"),
        ],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2 and "not a zip archive" in proc.stderr
    assert not (tmp_path / "s").exists()


@pytest.mark.parametrize(
    "name", ["/abs/t1_tiny.ipynb", "C:/x/t1_tiny.ipynb", "a/../../t1_tiny.ipynb"]
)
def test_unsafe_member_names_inside_a_student_zip(tmp_path, name):
    bulk = tmp_path / "b"
    bulk.mkdir()
    (bulk / "zed.zip").write_bytes(zip_of({name: nb("z")}))
    (e,) = collect(bulk, A, tmp_path / "s")
    assert e.status == "skipped" and "outside the archive" in e.message


def test_attachments_come_with_the_notebook(tmp_path):
    w = "capstone.npz"
    entries = {
        # in the same zip, renamed by the LMS
        "Ann Lee_1001_assignsubmission_file_a.zip": zip_of(
            {"t1_tiny.ipynb": nb("ann"), "Capstone (2).npz": b"ann-w"}
        ),
        # Canvas: one entry per file of the submission
        "leeben_1002_5001_t1_tiny.ipynb": nb("ben"),
        "leeben_1002_5002_capstone-1.npz": b"ben-w",
        # no weights: imported, and said so
        "catwu_1003_5003_t1_tiny.ipynb": nb("cat"),
        # two candidate weight files: which one?
        "Dan Ho_1004_assignsubmission_file_d.zip": zip_of(
            {"t1_tiny.ipynb": nb("dan"), "capstone.npz": b"1", "capstone (1).npz": b"2"}
        ),
        # weights but no notebook
        "eveng_1005_5005_capstone.npz": b"eve-w",
    }
    bulk = tmp_path / "bulk.zip"
    with zipfile.ZipFile(bulk, "w") as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
    into = tmp_path / "submitted"
    got = collect(bulk, A, into, attachments=(w,))
    by = {e.source: e for e in got}
    assert (into / "1001" / A / w).read_bytes() == b"ann-w"
    assert (into / "1002" / A / w).read_bytes() == b"ben-w"
    assert by["leeben_1002_5002_capstone-1.npz"].status == "merged"
    assert by["catwu_1003_5003_t1_tiny.ipynb"].status == "imported"
    assert "(without capstone.npz)" in by["catwu_1003_5003_t1_tiny.ipynb"].message
    assert not (into / "1003" / A / w).exists()
    assert "which one?" in by["Dan Ho_1004_assignsubmission_file_d.zip"].message
    assert "no notebook" in by["eveng_1005_5005_capstone.npz"].message
    assert not (into / "1004").exists() and not (into / "1005").exists()
    again = {e.source: e.status for e in collect(bulk, A, into, attachments=(w,))}
    assert again["Ann Lee_1001_assignsubmission_file_a.zip"] == "unchanged"


def zip_at(entries: dict[str, tuple[bytes, tuple]]) -> bytes:
    """A bulk download whose entries carry the times the LMS stamped on them."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, (data, when) in entries.items():
            zf.writestr(zipfile.ZipInfo(name, date_time=when), data)
    return buf.getvalue()


def test_late_work_duplicates_and_empty_files(tmp_path):
    on_time, later = (2026, 3, 1, 23, 50, 0), (2026, 3, 2, 9, 15, 0)
    entries = {
        # an on-time and a late entry of the same student: the late one is the latest
        "doejane_4242_901_t1_tiny.ipynb": (nb("jane-1"), on_time),
        "doejane_LATE_4242_902_t1_tiny (1).ipynb": (nb("jane-2"), later),
        # a late entry with nothing else
        "roeric_LATE_4343_903_t1_tiny.ipynb": (nb("eric"), later),
        # two entries at the same time, neither late: no way to tell
        "kimkay_4444_904_t1_tiny.ipynb": (nb("kay-1"), on_time),
        "kimkay_4444_905_t1_tiny-1.ipynb": (nb("kay-2"), on_time),
        # an empty file
        "leelou_4545_906_t1_tiny.ipynb": (b"", on_time),
    }
    bulk = tmp_path / "bulk.zip"
    bulk.write_bytes(zip_at(entries))
    into = tmp_path / "submitted"
    by = {e.source: e for e in collect(bulk, A, into)}
    jane = into / "4242" / A
    assert json.loads((jane / f"{A}.ipynb").read_bytes())["cells"][0]["source"] == "jane-2"
    assert by["doejane_LATE_4242_902_t1_tiny (1).ipynb"].status == "imported"
    assert by["doejane_4242_901_t1_tiny.ipynb"].status == "superseded"
    meta = json.loads((jane / "collect.json").read_text())
    assert meta["late"] is True and meta["replaced"] == ["doejane_4242_901_t1_tiny.ipynb"]
    assert meta["submitted_at"] == "2026-03-02T09:15:00+00:00"
    # nbgrader's own record of the time, which it reads back for late penalties
    from nbgrader.utils import parse_utc

    stamp = parse_utc((jane / "timestamp.txt").read_text())
    assert (stamp.month, stamp.day, stamp.hour, stamp.minute) == (3, 2, 9, 15)
    assert by["roeric_LATE_4343_903_t1_tiny.ipynb"].late
    assert json.loads((into / "4343" / A / "collect.json").read_text())["late"] is True
    assert not by["kimkay_4444_904_t1_tiny.ipynb"].late
    for kay in ("kimkay_4444_904_t1_tiny.ipynb", "kimkay_4444_905_t1_tiny-1.ipynb"):
        assert by[kay].status == "skipped" and "cannot tell the latest" in by[kay].message
    lou = by["leelou_4545_906_t1_tiny.ipynb"]
    assert lou.status == "skipped" and "empty" in lou.message and "JSON" not in lou.message
    skipped = {r["student"]: r["reason"] for r in read_skipped(tmp_path / "skipped.json", A)}
    assert set(skipped) == {"4444", "4545"}
    # --duplicates skip: both of Jane's entries are skipped, and she is listed; a later import
    # that brings Kay's notebook takes her off the list
    by = {e.source: e for e in collect(bulk, A, tmp_path / "s2" / "submitted", duplicates="skip")}
    assert by["doejane_4242_901_t1_tiny.ipynb"].status == "skipped"
    assert "4242" in {r["student"] for r in read_skipped(tmp_path / "s2" / "skipped.json", A)}
    fix = tmp_path / "fix.zip"
    fix.write_bytes(zip_at({"kimkay_4444_907_t1_tiny.ipynb": (nb("kay-3"), later)}))
    collect(fix, A, into)
    assert {r["student"] for r in read_skipped(tmp_path / "skipped.json", A)} == {"4545"}


def test_grading_lists_the_skipped_students_with_zero(tmp_path):
    """collect -> grade: a student whose entry was skipped is in the CSV, the JSON and the
    report with 0 and the reason, so that nobody silently disappears from the grades."""
    stub = (FIXTURE / "assignments" / A / f"{A}.ipynb").read_bytes()
    bulk = tmp_path / "download"
    bulk.mkdir()
    (bulk / "amy.ipynb").write_bytes(stub)
    (bulk / "bob.ipynb").write_bytes(b"")
    subs = tmp_path / "submitted"
    collect(bulk, A, subs)
    cmd = [sys.executable, "-m", "autograder", "--course", str(FIXTURE), "grade", A, str(subs)]
    out = {k: tmp_path / f"g.{k}" for k in ("csv", "json", "report")}
    cmd += ["--no-db", "--quiet", "--seed", "1", "--workers", "1"]
    cmd += [a for k, p in out.items() for a in (f"--{k}", str(p))]
    subprocess.run(cmd, check=True, cwd=tmp_path, capture_output=True)
    import csv

    rows = {r["student"]: r for r in csv.DictReader(out["csv"].open())}
    assert set(rows) == {"amy", "bob"}
    assert float(rows["bob"]["score"]) == 0 and "skipped at collection" in rows["bob"]["error"]
    assert "empty" in rows["bob"]["error"]
    by = {s["student"]: s for s in json.loads(out["json"].read_text())["submissions"]}
    assert by["bob"]["score"] == 0 and "empty" in by["bob"]["error"]
    report = out["report"].read_text()
    assert "skipped at collection" in report and "every submission was graded" not in report


def test_the_gradebook_names_students_as_the_lms_download_does(tmp_path):
    """collect -> grade --db: nbgrader's student rows carry the names of the Moodle download, so
    formgrader and `nbgrader export` show who each id is."""
    from nbgrader.api import Gradebook

    stub = (FIXTURE / "assignments" / A / f"{A}.ipynb").read_bytes()
    bulk = tmp_path / "download"
    bulk.mkdir()
    (bulk / f"Ada King Lovelace_1815_assignsubmission_file_{A}.ipynb").write_bytes(stub)
    subs = tmp_path / "submitted"
    collect(bulk, A, subs)
    db = f"sqlite:///{tmp_path}/gradebook.db"
    cmd = [sys.executable, "-m", "autograder", "--course", str(FIXTURE), "grade", A, str(subs)]
    cmd += ["--db", db, "--quiet", "--seed", "1", "--workers", "1"]
    subprocess.run(cmd, check=True, cwd=tmp_path, capture_output=True)
    with Gradebook(db) as gb:
        ada = gb.find_student("1815")
        assert (ada.first_name, ada.last_name) == ("Ada King", "Lovelace")
