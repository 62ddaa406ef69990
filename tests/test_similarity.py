"""The similarity check: planted copies are found, the course's independent answers are not."""

from __future__ import annotations

import ast
import functools
import re
import shutil
from pathlib import Path
from types import SimpleNamespace

import pytest
from mutation import load_corpus
from notebooks import solution_notebook, with_sources, write_submission

from autograder import similarity
from autograder.cli import main
from autograder.course import Course

COURSE = Course.load()


@functools.cache
def assignment(name: str):
    return COURSE.assignment(name)


def answers(name: str) -> dict[str, str]:
    a = assignment(name)
    return {c.grade_id: c.source for c in a.cells if c.kind == "answer" and c.cell_type == "code"}


def disguise(source: str) -> str:
    """What a student who copies does: rename every variable, parameter and function, put the
    top-level definitions in another order, rewrite the comments and docstrings."""
    tree = ast.parse(source)
    names = {
        n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)
    }
    names |= {n.arg for n in ast.walk(tree) if isinstance(n, ast.arg)} - {"self"}
    names |= {n.name for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.ClassDef)}
    for i, name in enumerate(sorted(names)):
        source = re.sub(rf"\b{re.escape(name)}\b(?![\"'])", f"my_var{i}", source)
    source = re.sub(r"#[^\n]*", "# I wrote this myself", source)
    source = re.sub(r'"""[\s\S]*?"""', '"""Does the thing."""', source)
    lines = source.splitlines()
    chunks = [
        "\n".join(lines[node.lineno - 1 - len(node.decorator_list) : node.end_lineno])
        if isinstance(node, ast.FunctionDef | ast.ClassDef)
        else "\n".join(lines[node.lineno - 1 : node.end_lineno])
        for node in ast.parse(source).body
    ]
    return "\n\n\n".join(reversed(chunks)) + "\n"


def alternative_cells(name: str) -> dict[str, str]:
    """One alternative correct answer for every answer cell the corpus has one for."""
    cells: dict[str, str] = {}
    for alt in load_corpus(name)[1]:
        cells.setdefault(alt.cell, alt.source)
    return cells


@pytest.mark.parametrize("name", COURSE.names())
def test_scores_on_the_course_answers(name: str) -> None:
    a = assignment(name)
    excluded = similarity.excluded_hashes(similarity.course_code(a))
    solution = answers(name)
    alternatives = alternative_cells(name)
    ours = {gid: solution[gid] for gid in alternatives}
    # independent correct answers, all cells together and cell by cell: below the threshold
    assert similarity.pair_score(a, ours, alternatives, excluded) < 0.3
    for gid, source in alternatives.items():
        score = similarity.pair_score(a, {gid: solution[gid]}, {gid: source}, excluded)
        assert score < similarity.DEFAULT_THRESHOLD, gid
    # a disguised copy: found whole
    copy = {gid: disguise(src) for gid, src in solution.items()}
    assert copy != solution
    assert similarity.pair_score(a, solution, copy, excluded) > 0.9
    # the released stubs share nothing once the course's code is removed
    stub = similarity.fingerprint("stub", similarity.answer_cells(a.release_path, a), excluded)
    assert stub.prints == {}


def test_command_lists_the_copies_only(tmp_path: Path, capsys) -> None:
    name = "a2_init"
    submitted = tmp_path / "submitted"
    solution = solution_notebook(COURSE, name)
    disguised = {gid: disguise(src) for gid, src in answers(name).items()}
    stub = assignment(name).release_path
    hostile = "def gain(x):\n    return '</pre><script>alert(1)</script>' * x  # <b>\n" * 12
    write_submission(submitted, "orig", name, solution)
    write_submission(submitted, "copy", name, with_sources(solution, **disguised))
    write_submission(submitted, "indep", name, with_sources(solution, **alternative_cells(name)))
    for student in ("stub1", "stub2"):
        write_submission(submitted, student, name, stub.read_bytes())
    # two students sharing hostile code, one of them with a hostile folder name
    for student in ("evil<script>", "evil2"):
        write_submission(submitted, student, name, with_sources(solution, gain_answer=hostile))
    shutil.rmtree(submitted / "indep")  # replaced below: alternatives, stubs elsewhere
    stub_nb = __import__("nbformat").read(stub, as_version=4)
    write_submission(submitted, "indep", name, with_sources(stub_nb, **alternative_cells(name)))
    write_submission(submitted, "broken", name, "not a notebook")
    # a partial copy: two disguised cells, the student's own stubs elsewhere
    half = {g: disguised[g] for g in ("standardizer_answer", "pca_answer")}
    write_submission(submitted, "half", name, with_sources(stub_nb, **half))

    out = tmp_path / "similar.html"
    assert main(["similarity", name, str(submitted), "--html", str(out)]) == 0
    printed = capsys.readouterr().out
    page = out.read_text()
    listed = [line.split() for line in printed.splitlines()[2:] if line[:1] == " "]
    pairs = {tuple(sorted(line[3:5])) for line in listed}
    assert ("copy", "orig") in pairs and ("half", "orig") in pairs
    assert not any("stub" in p or "indep" in p for pair in pairs for p in pair), printed
    assert "not compared: broken" in printed
    # hostile code and names are escaped; the page runs nothing and loads nothing
    assert "&lt;/pre&gt;&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "evil&lt;script&gt;" in page
    assert "<script" not in page and "src=" not in page and "<link" not in page
    assert "<mark>" in page
    # the instructor report's section: the same pairs, from the graded results' notebooks
    graded = [
        SimpleNamespace(student=d.parent.parent.name, path=str(d))
        for d in sorted(submitted.glob(f"*/{name}/{name}.ipynb"))
    ]
    section = similarity.report_section(assignment(name), graded)
    assert "copy</a></td><td>orig" in section and "indep" not in section.split("<h3")[0]


def test_tiny_and_empty_answers_are_not_listed() -> None:
    a = assignment("a2_init")
    assert similarity.pair_score(a, {}, {}) == 0.0
    toks = similarity.tokens("x = 1  # c\nif y:\n    z = 'a' + f(x)\n%timeit q\n")
    assert [t for t, _ in toks][:4] == ["V", "=", "N", "if"]
    assert similarity.winnow([]) == []
    code = "# a comment\n\n" + "def f(a, b):\n    return [a[i] * b[i] for i in range(len(a))]\n" * 3
    doc = similarity.fingerprint("x", {"cell": code}, set())
    lines = {
        line for where in doc.prints.values() for _, first, last in where for line in (first, last)
    }
    assert doc.prints and min(lines) == 3 and max(lines) == 8  # the code's lines, 1-based
