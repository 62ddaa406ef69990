"""The mutation corpus format: realistic bugs and alternative correct answers per graded item.

``tests/corpus/<assignment>.py`` defines ``MUTANTS`` and ``ALTERNATIVES``. A mutant is the
solution with one realistic bug (a textual replacement inside one answer cell); it must lose
points on its item. An alternative is a different correct implementation (a whole answer cell);
it must get full marks. ``tests/test_assignments.py`` grades them all, and requires at least three
mutants and one alternative for every automatically graded item. A mutant also records the hint
it must get (:func:`assert_hint`): a hint that fires for a bug it does not describe misleads.
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
    # The hint the mutant must get (point 7 of issue 17: every hint is a tested mistake model):
    # a substring of it, or several (each hint of a failed check of the item must contain one
    # of them, and at least one hint must come); None: no check may give it a hint.
    hint: str | tuple[str, ...] | None = None


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


#: A mutant whose hint is not recorded yet (its corpus was not reviewed): not asserted.
NOT_YET = "<hint not recorded yet>"


def hints_of(item) -> list[str]:
    """The hints of the failed checks of a graded item (an ``ItemResult``), in check order."""
    return [c.hint for c in item.checks if c.status == "failed" and c.hint]


def assert_hint(mutant: Mutant, item) -> None:
    """``item`` (the mutant's graded item) got exactly the hints ``mutant.hint`` allows."""
    hints = hints_of(item)
    if mutant.hint == NOT_YET:
        return
    if mutant.hint is None:
        assert not hints, (
            f"mutant '{mutant.name}' of {mutant.item} got hints that do not describe it: {hints}"
        )
        return
    allowed = (mutant.hint,) if isinstance(mutant.hint, str) else tuple(mutant.hint)
    assert hints, f"mutant '{mutant.name}' of {mutant.item} got no hint; expected {allowed}"
    wrong = [h for h in hints if not any(a in h for a in allowed)]
    assert not wrong, (
        f"mutant '{mutant.name}' of {mutant.item} got hints that do not describe it: {wrong} "
        f"(expected one of {allowed})"
    )
