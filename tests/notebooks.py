"""Building submissions for the grader's tests: start from a solution, change what a test needs."""

from __future__ import annotations

import copy
import shutil
from pathlib import Path

import jupytext
import nbformat


def solution_notebook(course, name: str) -> nbformat.NotebookNode:
    from autograder.release import source_notebook

    return source_notebook(course.root / "solutions" / name / f"{name}.md")


def copy_attachments(course, name: str, folder: Path) -> None:
    """Put the solution's attachments (a capstone's weights) beside a notebook in ``folder``."""
    for att in course.assignment(name).attachments:
        shutil.copyfile(course.root / "solutions" / name / att, Path(folder) / att)


def cell_by_id(nb, grade_id: str):
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == grade_id:
            return cell
    raise KeyError(grade_id)


def with_sources(nb, **sources: str):
    """A copy of ``nb`` whose cells with these grade_ids have new sources."""
    nb = copy.deepcopy(nb)
    for gid, src in sources.items():
        cell_by_id(nb, gid).source = src
    return nb


def replace_in(nb, grade_id: str, old: str, new: str):
    """A copy of ``nb`` with ``old`` replaced by ``new`` (exactly once) in one cell."""
    nb = copy.deepcopy(nb)
    cell = cell_by_id(nb, grade_id)
    if cell.source.count(old) != 1:
        raise ValueError(f"{grade_id}: {old!r} occurs {cell.source.count(old)} times")
    cell.source = cell.source.replace(old, new)
    return nb


def write_submission(root: Path, student: str, assignment: str, nb_or_text) -> Path:
    path = root / student / assignment / f"{assignment}.ipynb"
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(nb_or_text, str | bytes):
        path.write_bytes(nb_or_text if isinstance(nb_or_text, bytes) else nb_or_text.encode())
    elif nb_or_text is not None:
        nbformat.write(nb_or_text, path)
    return path


__all__ = [
    "cell_by_id",
    "copy_attachments",
    "jupytext",
    "replace_in",
    "solution_notebook",
    "with_sources",
    "write_submission",
]
