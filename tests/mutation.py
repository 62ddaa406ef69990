"""The mutation corpus format: realistic bugs and alternative correct answers per graded item.

``tests/corpus/<assignment>.py`` defines ``MUTANTS`` and ``ALTERNATIVES``. A mutant is the
solution with one realistic bug (a textual replacement inside one answer cell); it must lose
points on its item. An alternative is a different correct implementation (a whole answer cell);
it must get full marks. ``tests/test_assignments.py`` grades them all, and requires at least three
mutants and one alternative for every automatically graded item.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path

CORPUS = Path(__file__).parent / "corpus"


@dataclass(frozen=True)
class Mutant:
    item: str  # the graded item (check cell grade_id) that must lose points
    name: str  # the bug, in a few words ("biased variance")
    cell: str  # grade_id of the answer cell to change
    old: str  # text that occurs exactly once in that cell
    new: str


@dataclass(frozen=True)
class Alternative:
    item: str
    name: str
    cell: str
    source: str  # the whole new answer cell


def load_corpus(assignment: str):
    path = CORPUS / f"{assignment}.py"
    spec = importlib.util.spec_from_file_location(f"corpus_{assignment}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.MUTANTS, module.ALTERNATIVES
