"""Checks inside the student's notebook: ``checker.check("relu")``.

The setup cell of every assignment creates ``checker = Checker("<assignment>", globals())``. A
check cell then runs the public checks of one item against the notebook's own functions and prints
what passed and, for what failed, what was expected, how far off the answer is and where, and a
hint when the output matches a known mistake. It raises ``AssertionError`` when something fails,
so ``nbgrader validate`` and ``nbgrader autograde`` see a failing cell.

This is feedback, not the grade: official grading runs the same checks, and hidden ones, in the
trusted grader, outside the student's kernel.
"""

from __future__ import annotations

import time

import numpy as np

from .checking import CheckFailure, one_torch_thread, seed_for
from .student import LocalStudent

PUBLIC_SEED = 20261122


class Checker:
    def __init__(self, assignment: str, namespace: dict, course_root=None):
        self.assignment_name = assignment
        self.namespace = namespace
        self.course_root = course_root

    def _checks(self, hidden: bool):
        from .course import Course

        return Course.load(self.course_root).checks(self.assignment_name, hidden)

    def check(self, item: str, hidden: bool = False, quiet: bool = False) -> None:
        """Run the checks of ``item`` (public ones; hidden too with ``hidden=True``)."""
        checks = [c for c in self._checks(hidden) if c.item == item]
        if hidden:
            checks = [c for c in checks if c.hidden]
        if not checks:
            raise ValueError(f"no {'hidden ' if hidden else ''}checks for item {item!r}")
        student = LocalStudent(self.namespace)
        with one_torch_thread():  # checks work on tiny tensors: threads cost ~100x
            failures = [c.title for c in checks if not _run(c, student, quiet)]
        if failures:
            raise AssertionError(
                f"{len(failures)} of {len(checks)} checks of {item!r} failed: "
                + "; ".join(failures)
            )
        if not quiet:
            print(f"All {len(checks)} checks of {item!r} passed.")
        # Returns None on purpose: nbgrader would read a returned value as partial credit.


def _run(c, student: LocalStudent, quiet: bool) -> bool:
    """Run one check with the fixed public seed; print its verdict; return whether it passed."""
    rng = np.random.default_rng(seed_for(PUBLIC_SEED, c.item, c.name))
    t0 = time.perf_counter()
    try:
        c.fn(student, rng)
        ok, why = True, ""
    except CheckFailure as err:
        ok, why = False, str(err)
    except Exception as err:  # noqa: BLE001 -- report, as the grader does: the check's fault
        ok, why = (
            False,
            (
                f"could not be graded (check error: {type(err).__name__}: {err}); this is a fault "
                "of the check, not of your code: tell your instructor"
            ),
        )
    if not quiet:
        print(f"[{'PASS' if ok else 'FAIL'}] {c.title} ({time.perf_counter() - t0:.2f} s)")
        if why:
            print("       " + why.replace("\n", "\n       "))
    return ok
