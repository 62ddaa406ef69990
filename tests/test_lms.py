"""Grades back to the LMS: the Canvas and Moodle import CSVs (no grading here: a results JSON)."""

from __future__ import annotations

import csv
import json

from autograder.cli import main


def _results(tmp_path):
    data = {
        "assignment": "a2_init",
        "submissions": [
            {"student": "12345", "score": 23.0001, "max_score": 40.0},
            {"student": "67890", "score": 2.666, "max_score": 40.0},
            {"student": "55555", "score": 0.0, "max_score": 40.0, "error": "skipped"},
        ],
    }
    path = tmp_path / "grades.json"
    path.write_text(json.dumps(data))
    return path


def _rows(path):
    with open(path, newline="") as f:
        return list(csv.reader(f))


def test_canvas_import_layout_with_names_from_collect(tmp_path):
    sub = tmp_path / "submitted"
    for student, source in (("12345", "doejane_12345_111_a2.ipynb"), ("67890", "x.zip")):
        (sub / student / "a2_init").mkdir(parents=True)
        (sub / student / "a2_init" / "collect.json").write_text(json.dumps({"source": source}))
    out = tmp_path / "canvas.csv"
    assert main(["lms-export", str(_results(tmp_path)), str(out), "--submitted", str(sub)]) == 0
    rows = _rows(out)
    assert rows[0] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", "a2_init"]
    assert rows[1] == ["Points Possible", "", "", "", "", "40"]
    by_id = {r[1]: r for r in rows[2:]}
    assert by_id["12345"][0] == "doejane" and by_id["12345"][5] == "23"
    assert by_id["67890"][5] == "2.67"
    assert by_id["55555"][5] == "0"  # skipped at collection: exported with 0


def test_moodle_layout_with_a_roster_lists_everyone(tmp_path):
    roster = tmp_path / "roster.csv"
    roster.write_text(
        "ID number,Full name,Email address\n"
        "12345,Jane Doe,jane@example.org\n67890,=cmd(),x@example.org\n99999,No Show,n@example.org\n"
    )
    out = tmp_path / "moodle.csv"
    args = ["lms-export", str(_results(tmp_path)), str(out), "--format", "moodle"]
    assert main([*args, "--roster", str(roster), "--title", "A2 (init)"]) == 0
    rows = _rows(out)
    assert rows[0] == ["ID number", "Full name", "Email address", "A2 (init)"]
    by_id = {r[0]: r for r in rows[1:]}
    assert by_id["12345"] == ["12345", "Jane Doe", "jane@example.org", "23"]
    assert by_id["67890"][1] == "'=cmd()"  # a formula in a name is neutralised
    assert by_id["99999"][3] == "0"  # on the roster, nothing submitted
    assert by_id["55555"][3] == "0"  # graded but missing from the roster: still exported


def test_roster_without_an_id_column_is_refused(tmp_path, capsys):
    roster = tmp_path / "roster.csv"
    roster.write_text("name\nJane\n")
    out = tmp_path / "x.csv"
    assert main(["lms-export", str(_results(tmp_path)), str(out), "--roster", str(roster)]) == 2
    assert "no id column" in capsys.readouterr().err
