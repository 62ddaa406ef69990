"""Every real assignment, graded by the trusted grader: the solution gets full marks, the released
stub gets zero, every mutant loses points on its item, every alternative gets full marks, and the
released notebook is up to date and leak-free."""

from __future__ import annotations

import functools
import tempfile
from pathlib import Path

import pytest
from mutation import CORPUS, assert_hint, load_corpus
from notebooks import (
    cell_by_id,
    copy_attachments,
    replace_in,
    solution_notebook,
    write_submission,
)

from autograder.course import Course
from autograder.grader import Grader
from autograder.leaks import find_leaks
from autograder.release import generate
from autograder.session import SessionConfig

pytestmark = [pytest.mark.grader, pytest.mark.slow]

COURSE = Course.load()
NAMES = COURSE.names()


def _cases():
    out = []
    for name in NAMES:
        if not (CORPUS / f"{name}.py").exists():
            continue  # reported by test_corpus_files_match_assignments
        mutants, alts = load_corpus(name)
        out += [
            pytest.param(name, "mutant", m, id=f"{name}-mutant-{m.item}-{m.name}") for m in mutants
        ]
        out += [pytest.param(name, "alt", a, id=f"{name}-alt-{a.item}-{a.name}") for a in alts]
    return out


# What this run's tests need from each assignment's graded batch: {name: {"solution", "stub",
# Mutant, Alternative, ...}}, from the selected tests (`-k a1_backprop-mutant-relu` grades one
# notebook); None outside pytest: grade everything.
SELECTED: dict[str, set] | None = None


@pytest.fixture(autouse=True, scope="module")
def _selection(request):
    global SELECTED
    SELECTED = {}
    for item in request.session.items:
        params = getattr(getattr(item, "callspec", None), "params", {})
        if item.path.name == Path(__file__).name and "name" in params:
            need = params.get("case") or {
                "test_solution_full_marks": "solution",
                "test_stub_scores_zero": "stub",
            }.get(item.originalname)
            SELECTED.setdefault(params["name"], set()).add(need)
    yield
    SELECTED = None


@functools.cache
def graded(name: str) -> dict:
    """Grade solution, stub, mutants and alternatives of one assignment in a single batch (those
    that the selected tests need)."""
    a = COURSE.assignment(name)
    sol = solution_notebook(COURSE, name)
    mutants, alts = load_corpus(name)
    want = None if SELECTED is None else SELECTED.get(name, set())
    if want is not None:
        mutants = [m for m in mutants if m in want]
        alts = [x for x in alts if x in want]
    root = Path(tempfile.mkdtemp(prefix=f"grade-{name}-"))
    batch = []
    if want is None or "solution" in want:
        batch.append(("solution", write_submission(root, "solution", name, sol)))
        copy_attachments(COURSE, name, batch[-1][1].parent)
    if want is None or "stub" in want:
        batch.append(("stub", write_submission(root, "stub", name, generate(COURSE, name))))
    for i, m in enumerate(mutants):
        path = write_submission(root, f"m{i}", name, replace_in(sol, m.cell, m.old, m.new))
        if m.item in a.attachments.values():  # the others don't read them
            copy_attachments(COURSE, name, path.parent)
        batch.append((f"m{i}", path))
    for i, alt in enumerate(alts):
        nb = solution_notebook(COURSE, name)
        cell_by_id(nb, alt.cell).source = alt.source
        path = write_submission(root, f"a{i}", name, nb)
        if alt.item in a.attachments.values():
            copy_attachments(COURSE, name, path.parent)
        batch.append((f"a{i}", path))
    with Grader(a, workers=2, seed=12345, config=SessionConfig(cell_timeout=60)) as g:
        results = g.grade_all(batch)
    by = {r.student: r for r in results}
    return {
        "assignment": a,
        "solution": by.get("solution"),
        "stub": by.get("stub"),
        "mutants": {m: by[f"m{i}"] for i, m in enumerate(mutants)},
        "alts": {x: by[f"a{i}"] for i, x in enumerate(alts)},
    }


def _item(result, item):
    return next(i for i in result.items if i.grade_id == item)


def _no_check_errors(result) -> None:
    """A check that fails by its own fault must be fixed, whoever's submission meets it."""
    errors = {
        f"{i.grade_id}: {c.title}": c.message
        for i in result.items
        for c in i.checks
        if c.status == "error"
    }
    assert not errors, f"check errors grading {result.student}: {errors}"


@pytest.mark.parametrize("name", NAMES)
def test_solution_full_marks(name):
    r = graded(name)["solution"]
    _no_check_errors(r)
    lost = {i.grade_id: i.message for i in r.items if not i.manual and i.score != i.max_score}
    assert not lost and r.error is None and r.score == r.max_score, lost


@pytest.mark.parametrize("name", NAMES)
def test_stub_scores_zero(name):
    r = graded(name)["stub"]
    _no_check_errors(r)
    assert r.score == 0.0, {i.grade_id: i.score for i in r.items}
    for item in r.items:
        for c in item.checks:
            assert "not implemented yet" in c.message or "TODO(" in c.message or c.message, c


@pytest.mark.parametrize("name", NAMES)
def test_corpus_covers_every_item(name):
    a = COURSE.assignment(name)
    mutants, alts = load_corpus(name)
    for gid, item in a.items.items():
        if item.manual:
            continue
        assert sum(m.item == gid for m in mutants) >= 3, f"{gid}: fewer than 3 mutants"
        assert any(x.item == gid for x in alts), f"{gid}: no alternative implementation"
    for gid in {m.item for m in mutants} | {x.item for x in alts}:
        assert gid in a.items, f"corpus names unknown item {gid}"


@pytest.mark.parametrize("name", NAMES)
def test_every_item_has_public_and_hidden_checks(name):
    a = COURSE.assignment(name)
    checks = a.checks(hidden=True)
    for gid, item in a.items.items():
        if not item.manual:
            assert any(c.item == gid and not c.hidden for c in checks), f"{gid}: no public check"
            assert any(c.item == gid and c.hidden for c in checks), f"{gid}: no hidden check"


@pytest.mark.parametrize(("name", "kind", "case"), _cases())
def test_corpus(name, kind, case):
    g = graded(name)
    attached = set(g["assignment"].attachments.values())
    r = g["mutants" if kind == "mutant" else "alts"][case]
    _no_check_errors(r)
    if kind == "mutant":
        item = _item(r, case.item)
        assert item.score < item.max_score, f"mutant '{case.name}' of {case.item} was not caught"
        assert_hint(case, item)  # issue 17.7: its hint, and no other
    else:
        # An alternative of another item is graded without the attachments (A6's capstone weights:
        # evaluating them is most of A6's grading cost): their items are self-contained answer
        # cells that the alternative does not touch, and the solution gets full marks on them.
        skipped = set() if case.item in attached else attached
        lost = {
            i.grade_id: i.message
            for i in r.items
            if not i.manual and i.score != i.max_score and i.grade_id not in skipped
        }
        assert not lost, f"alternative '{case.name}' lost points: {lost}"


@pytest.mark.parametrize("name", NAMES)
def test_release_is_up_to_date_and_leak_free(name):
    path = COURSE.root / "assignments" / name / f"{name}.ipynb"
    assert path.exists(), f"run `python -m autograder release {name}`"
    assert path.read_text() == generate(COURSE, name), (
        f"stale: run `python -m autograder release {name}`"
    )
    assert not find_leaks([path], COURSE.root / "solutions")


def test_corpus_files_match_assignments():
    assert sorted(p.stem for p in CORPUS.glob("*.py")) == NAMES
