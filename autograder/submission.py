"""Reading a submitted notebook into the program the grader runs, trusting nothing in it.

What runs in the worker, in the order of the instructor's notebook:

* the instructor's **setup** cells (locked code cells), taken from the source, never from the
  submission, so an edited import cell changes nothing;
* the student's **answer** cells, found by their ``grade_id``.

Nothing else runs: not the check cells (the grader runs its own checks, in its own process),
not the student's scratch or experiment cells (so grading costs what the answers cost), not a
check cell that the student re-marked as an answer. Helpers must therefore live in answer cells;
the assignment's introduction tells students so.
"""

from __future__ import annotations

import errno
import json
import os
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path

from .checking import CheckFailure
from .course import Assignment

MAX_NOTEBOOK_BYTES = 20 * 2**20
ATTACHMENT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,99}")


class SubmissionError(Exception):
    """The submission cannot be graded at all (missing, unreadable, not a notebook)."""


@dataclass
class Program:
    cells: list[tuple[str, str]]  # (grade_id, source) to execute in order
    notes: list[str] = field(default_factory=list)  # information for the feedback


def _source(cell: dict) -> str:
    src = cell.get("source", "")
    if isinstance(src, list) and all(isinstance(s, str) for s in src):
        return "".join(src)
    if isinstance(src, str):
        return src
    raise SubmissionError("a cell's source is neither text nor a list of lines")


def read_notebook(path: Path) -> dict:
    """The notebook at ``path``: a regular file of the student's own, never a symbolic link
    (which could point at another student's notebook, or at anything on the machine)."""
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        raise SubmissionError(f"no notebook at {path.name}") from None
    except OSError as err:
        if err.errno == errno.ELOOP:
            raise SubmissionError(
                f"{path.name} is a symbolic link: refused (a submission must be a file of its own)"
            ) from None
        raise SubmissionError(f"{path.name} cannot be read ({err.strerror})") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise SubmissionError(f"{path.name} is not a file")
        if st.st_size > MAX_NOTEBOOK_BYTES:
            size = st.st_size / 2**20
            raise SubmissionError(f"the notebook is {size:.1f} MiB; the limit is 20 MiB")
        with os.fdopen(os.dup(fd), "rb") as f:
            data = f.read(MAX_NOTEBOOK_BYTES + 1)
    finally:
        os.close(fd)
    if len(data) > MAX_NOTEBOOK_BYTES:
        raise SubmissionError("the notebook grew past the limit of 20 MiB")
    try:
        nb = json.loads(data)
    except (ValueError, RecursionError) as err:
        raise SubmissionError(f"the notebook is not valid JSON ({str(err)[:200]})") from None
    if not isinstance(nb, dict) or not isinstance(nb.get("cells"), list):
        raise SubmissionError("the file is JSON but not a Jupyter notebook (no list of cells)")
    return nb


def build_program(path: Path, assignment: Assignment) -> Program:
    path = Path(path)
    if path.parent.name == assignment.name:  # submitted/<student>/<assignment>/<notebook>
        for folder in (path.parent, path.parent.parent):
            if folder.is_symlink():
                raise SubmissionError(
                    f"the folder {folder.name} is a symbolic link: refused (a submission must be "
                    "a folder of its own)"
                )
    nb = read_notebook(path)
    answers: dict[str, str] = {}
    notes: list[str] = []
    for cell in nb["cells"]:
        if not isinstance(cell, dict):
            raise SubmissionError("a cell of the notebook is not a JSON object")
        meta = cell.get("metadata") if isinstance(cell.get("metadata"), dict) else {}
        nbg = meta.get("nbgrader") if isinstance(meta.get("nbgrader"), dict) else {}
        gid = nbg.get("grade_id")
        if cell.get("cell_type") != "code" or not isinstance(gid, str):
            continue
        if gid in answers:
            notes.append(f"two cells carry grade_id {gid!r}; the first one was graded")
            continue
        answers[gid] = _source(cell)

    cells: list[tuple[str, str]] = []
    for c in assignment.cells:
        if c.kind == "setup":
            cells.append((c.grade_id or "setup", c.source))
        elif c.kind == "answer" and c.cell_type == "code":
            if c.grade_id in answers:
                cells.append((c.grade_id, answers[c.grade_id]))
            else:
                notes.append(
                    f"answer cell {c.grade_id!r} is missing (deleted, or its metadata changed): "
                    "the functions it should define are undefined"
                )
    return Program(cells=cells, notes=notes)


def read_attachment(folder: Path | None, name: str, max_bytes: int) -> bytes:
    """The bytes of file ``name`` submitted beside the notebook (for example a model's weights).

    Read by the trusted side: a plain file name only, no symbolic link, no FIFO or device, at most
    ``max_bytes``. A missing or refused file is the student's failure (:class:`CheckFailure`)."""
    if not ATTACHMENT_NAME.fullmatch(name) or ".." in name:
        raise ValueError(f"attachment name {name!r} must be a plain file name")
    if folder is None:
        raise CheckFailure(f"{name} cannot be read: no submission folder is known")
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(Path(folder) / name, flags)
    except FileNotFoundError:
        raise CheckFailure(
            f"no file {name} next to the notebook: save it in the notebook's folder and submit "
            "it with the notebook"
        ) from None
    except OSError as err:
        why = "it is a symbolic link" if err.errno == errno.ELOOP else err.strerror
        raise CheckFailure(f"{name} cannot be read ({why})") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise CheckFailure(f"{name} is not a regular file")
        if st.st_size > max_bytes:
            raise CheckFailure(
                f"{name} is {st.st_size / 2**20:.1f} MiB; the limit is {max_bytes / 2**20:.1f} MiB"
            )
        with os.fdopen(os.dup(fd), "rb") as f:
            data = f.read(max_bytes + 1)
    finally:
        os.close(fd)
    if len(data) > max_bytes:
        raise CheckFailure(f"{name} grew past the limit of {max_bytes / 2**20:.1f} MiB")
    return data
