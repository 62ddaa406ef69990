"""nbgrader's course folder after trusted grading, so formgrader and nbgrader's commands work.

nbgrader's formgrader lists a submission for manual grading only when
``autograded/<student>/<assignment>/<notebook>.ipynb`` exists and the gradebook's submission
time equals the ``timestamp.txt`` in ``submitted/``; it opens that notebook to show the answers
and saves manual scores and comments in the gradebook. ``nbgrader generate_feedback`` reads the
same notebooks. ``grade`` writes them (:func:`write_autograded`):

* built from the *released* notebook, so every nbgrader cell (metadata, ``grade_id``, checksum,
  locked instructor cells, written-answer cells) is present and in order, whatever the student
  deleted or edited, with the student's answer cells (code and written, matched by ``grade_id``
  as the grader matched them) in place of the stubs: the notebook shows exactly what was graded;
* each check cell's output is the trusted grader's verdict for its item: the points, each check
  passed or failed with its message and hint. A hidden check shows its title, its hint and the
  kind of failure in fixed words (:func:`feedback.hidden_check_detail`), never its message or
  inputs, since ``generate_feedback`` turns these notebooks into the students' feedback; the
  check cells carry the released source, which has no hidden tests.

The course folder is the one holding ``submitted/`` (``--course-dir`` names another);
:func:`ensure_config` writes an ``nbgrader_config.py`` there when it has none, pointing nbgrader
at the same gradebook.
"""

from __future__ import annotations

import copy
import json
import os
import re
import shutil
from pathlib import Path

from .course import Assignment
from .feedback import hidden_check_detail
from .grader import ItemResult, SubmissionResult, round_score
from .submission import SubmissionError, read_notebook

AUTOGRADED = "autograded"


def course_dir_for(notebook: Path, assignment: Assignment) -> Path | None:
    """The nbgrader course folder of ``<course>/submitted/<student>/<assignment>/<nb>.ipynb``."""
    p = Path(notebook).absolute()
    if p.parent.name == assignment.name and p.parent.parent.parent.name == "submitted":
        return p.parent.parent.parent.parent
    return None


def ensure_config(course_dir: Path, db_url: str) -> Path | None:
    """Write ``nbgrader_config.py`` (course root and gradebook) unless the folder has one.
    Returns the file written, or None."""
    path = Path(course_dir) / "nbgrader_config.py"
    if path.exists():
        return None
    if db_url.startswith("sqlite:///") and not db_url.startswith("sqlite:////"):
        db_url = "sqlite:///" + str(Path(db_url[len("sqlite:///") :]).resolve())
    path.write_text(
        "# Written by `python -m autograder grade`: formgrader and nbgrader's commands use the\n"
        "# trusted grader's course folder and gradebook. Edit freely; it is never overwritten.\n"
        "c = get_config()  # noqa: F821\n"
        f"c.CourseDirectory.root = {str(Path(course_dir).resolve())!r}\n"
        f"c.CourseDirectory.db_url = {db_url!r}\n"
    )
    return path


def item_answers(assignment: Assignment) -> dict[str, list[str]]:
    """``{item: [answer cell grade ids]}``: the answer cells since the previous check cell belong
    to the next one; a written answer is its own answer cell."""
    out: dict[str, list[str]] = {}
    pending: list[str] = []
    for c in assignment.cells:
        if c.kind == "answer" and c.grade_id:
            pending.append(c.grade_id)
        elif c.kind == "check" and c.grade_id:
            out[c.grade_id], pending = pending, []
        elif c.kind == "manual" and c.grade_id:
            out[c.grade_id] = [c.grade_id]
    return out


def released(assignment: Assignment) -> dict:
    return json.loads(assignment.release_path.read_text(encoding="utf-8"))


def _gid(cell: dict) -> str | None:
    meta = cell.get("metadata") if isinstance(cell.get("metadata"), dict) else {}
    nbg = meta.get("nbgrader") if isinstance(meta.get("nbgrader"), dict) else {}
    gid = nbg.get("grade_id")
    return gid if isinstance(gid, str) else None


def _text(cell: dict) -> str | None:
    src = cell.get("source", "")
    if isinstance(src, list) and all(isinstance(s, str) for s in src):
        return "".join(src)
    return src if isinstance(src, str) else None


def student_answers(path: Path) -> dict[str, tuple[str, str]]:
    """``{grade_id: (cell type, source)}`` of the submission (the first cell of each id, as the
    grader takes it); raises :class:`SubmissionError` when the notebook cannot be read."""
    nb = read_notebook(Path(path))
    out: dict[str, tuple[str, str]] = {}
    for cell in nb["cells"]:
        if not isinstance(cell, dict):
            continue
        gid, src = _gid(cell), _text(cell)
        if gid and src is not None and gid not in out:
            out[gid] = (str(cell.get("cell_type")), src)
    return out


def _normal(src: str) -> str:
    return re.sub(r"\s+", " ", src).strip()


def attempted(assignment: Assignment, path: Path | str) -> dict[str, bool] | None:
    """``{item: whether the student changed any of its answer cells from the released stub}``;
    None when the notebook cannot be read (then nothing is known)."""
    try:
        answers = student_answers(Path(path))
        stubs = {_gid(c): _text(c) or "" for c in released(assignment)["cells"] if _gid(c)}
    except (SubmissionError, OSError, ValueError):
        return None
    out = {}
    for item, cells in item_answers(assignment).items():
        out[item] = any(
            gid in answers and _normal(answers[gid][1]) != _normal(stubs.get(gid, ""))
            for gid in cells
        )
    return out


def verdict_text(item: ItemResult) -> str:
    """What a check cell's output says: the trusted grader's verdict, safe for the student."""
    lines = [f"Trusted grader: {round_score(item.score or 0.0):g} / {item.max_score:g} points"]
    for c in item.checks:
        mark = "passed" if c.passed else "NOT GRADED" if c.status == "error" else "FAILED"
        kind = " (hidden check)" if c.hidden else ""
        lines.append(f"[{mark}] {c.title}{kind}")
        if not c.passed:
            detail = hidden_check_detail(c) if c.hidden else c.message
            lines += [f"    {line}" for line in detail.splitlines()[:40]]
            if c.hint:
                lines.append(f"    Hint: {c.hint}")
    if not item.checks:
        lines.append("no check ran")
    return "\n".join(lines) + "\n"


def write_autograded(
    course_dir: Path, assignment: Assignment, result: SubmissionResult, notebook: Path
) -> Path:
    """Write ``autograded/<student>/<assignment>/<notebook>.ipynb`` (see the module's doc) and
    copy ``timestamp.txt`` beside it; returns the notebook's path."""
    import nbformat

    nb = released(assignment)
    try:
        answers = student_answers(notebook)
    except SubmissionError:
        answers = {}  # the verdicts say why nothing was graded
    items = {i.grade_id: i for i in result.items}
    for cell in nb["cells"]:
        gid = _gid(cell)
        nbg = cell.get("metadata", {}).get("nbgrader", {})
        if gid is None:
            continue
        if nbg.get("solution") and gid in answers and answers[gid][0] == cell["cell_type"]:
            cell["source"] = answers[gid][1]
        if cell["cell_type"] == "code":
            cell["execution_count"] = None
            cell["outputs"] = []
            if nbg.get("grade") and not nbg.get("solution") and gid in items:
                text = verdict_text(items[gid])
                cell["outputs"] = [{"output_type": "stream", "name": "stdout", "text": text}]
    if result.student in ("", ".", "..") or "/" in result.student or "\0" in result.student:
        raise ValueError(f"{result.student!r} cannot be a folder name")
    out_dir = Path(course_dir) / AUTOGRADED / result.student / assignment.name
    if out_dir.is_symlink():
        raise OSError(f"{out_dir} is a symbolic link: refused")
    out_dir.mkdir(parents=True, exist_ok=True)
    node = nbformat.from_dict(copy.deepcopy(nb))
    nbformat.validate(node)
    out = out_dir / f"{assignment.notebook_name}.ipynb"
    tmp = out.with_suffix(".ipynb.tmp")
    nbformat.write(node, str(tmp))
    os.replace(tmp, out)
    stamp = Path(notebook).parent / "timestamp.txt"
    if stamp.is_file() and not stamp.is_symlink():
        shutil.copyfile(stamp, out_dir / "timestamp.txt")
    else:
        (out_dir / "timestamp.txt").unlink(missing_ok=True)
    return out
