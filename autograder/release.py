"""Generating the student version of an assignment from its one source.

``solutions/<name>/<name>.md`` (MyST, with nbgrader metadata) is converted to a notebook in a
throwaway nbgrader course, ``nbgrader generate_assignment`` clears the solution regions, hidden
tests and mark schemes and records its checksums, and the result is post-processed:

* each cleared region becomes ``raise NotImplementedError("TODO(<task>)")``, the task taken from
  the ``# TODO(<task>): ...`` line the author writes just above the region;
* outputs and execution counts are cleared and jupytext's metadata dropped, so the file depends
  only on the source (releasing twice writes the same bytes);
* a generated cell after the introduction says what to hand in (the notebook's name, the files
  that go with it: :func:`pages.handin_text`), and relative links to the book's chapters
  (``../../book/dropout.md``, which students who download the notebook do not have) point to the
  published book instead (:func:`pages.book_url`).

The release is then verified: no solution, hidden-test or mark-scheme marker may remain.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import nbformat

from .course import Course

STUB = "raise NotImplementedError()  # cleared by nbgrader"
TODO_RE = re.compile(r"#\s*TODO\(([\w.\-]+)\)")
MARKERS = ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "BEGIN MARK SCHEME")

NBGRADER_CONFIG = """\
c = get_config()
c.CourseDirectory.root = {root!r}
c.CourseDirectory.db_url = "sqlite:///" + {root!r} + "/gradebook.db"
c.ClearSolutions.code_stub = {{"python": {stub!r}}}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE"
"""


class ReleaseError(RuntimeError):
    pass


def tool_env() -> dict:
    """The environment with this interpreter's bin/ first on PATH: nbgrader runs ``alembic``."""
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([os.path.dirname(sys.executable), env.get("PATH", "")])
    return env


def source_notebook(path: Path) -> nbformat.NotebookNode:
    import jupytext

    nb = jupytext.read(path)
    nb.metadata.pop("jupytext", None)
    nb.metadata["kernelspec"] = {
        "display_name": "Python 3",
        "language": "python",
        "name": "python3",
    }
    nb.metadata["language_info"] = {"name": "python"}
    return nb


def generate(course: Course, name: str) -> str:
    """The student notebook of assignment ``name``, as the exact text to write."""
    src = course.root / "solutions" / name / f"{name}.md"
    with tempfile.TemporaryDirectory(prefix="release-") as tmp:
        root = Path(tmp)
        (root / "source" / name).mkdir(parents=True)
        nbformat.write(source_notebook(src), root / "source" / name / f"{name}.ipynb")
        (root / "nbgrader_config.py").write_text(NBGRADER_CONFIG.format(root=tmp, stub=STUB))
        proc = subprocess.run(
            [sys.executable, "-m", "nbgrader", "generate_assignment", name, "--create", "--force"],
            cwd=root,
            capture_output=True,
            text=True,
            env=tool_env(),
        )
        out = root / "release" / name / f"{name}.ipynb"
        if proc.returncode != 0 or not out.exists():
            raise ReleaseError(
                f"nbgrader generate_assignment failed for {name}:\n{proc.stdout}{proc.stderr}"
            )
        nb = nbformat.read(out, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.source = _name_stubs(cell.source, name)
            cell.outputs = []
            cell.execution_count = None
        cell.pop("id", None)
    nb.nbformat_minor = 4  # no cell ids: stable files, and nbgrader 0.9 grades them fine
    _student_facing(course, name, nb)
    text = nbformat.writes(nb) + "\n"
    leaks = [m for m in MARKERS if m in text]
    if leaks:
        raise ReleaseError(f"{name}: the student version still contains {leaks}")
    if STUB in text:
        raise ReleaseError(f"{name}: a solution region has no '# TODO(task): ...' line above it")
    return text


HANDIN_MARK = "autograder_handin"  # metadata of the generated "what to hand in" cell
LINK_RE = re.compile(r"(\]\()([^)\s]+)(\))")


def _student_facing(course: Course, name: str, nb: nbformat.NotebookNode) -> None:
    """The hand-in cell after the introduction; book links to the published book."""
    from .pages import book_url, handin_text

    base, source_dir = book_url(course), course.root / "solutions" / name
    book = (course.root / "book").resolve()

    def fix(m: re.Match) -> str:
        target = m.group(2)
        if re.match(r"^[a-z][a-z0-9+.\-]*:", target) or target.startswith(("#", "/")):
            return m.group(0)
        path, _, anchor = target.partition("#")
        dest = (source_dir / path).resolve()
        if dest.suffix not in (".md", ".ipynb") or not dest.is_relative_to(book):
            return m.group(0)  # not a chapter: the kit's link test decides
        page = dest.relative_to(course.root.resolve()).with_suffix(".html").as_posix()
        return f"{m.group(1)}{base}/{page}{'#' + anchor if anchor else ''}{m.group(3)}"

    for cell in nb.cells:
        if cell.cell_type == "markdown":
            cell.source = LINK_RE.sub(fix, cell.source)
    first_code = next((i for i, c in enumerate(nb.cells) if c.cell_type == "code"), len(nb.cells))
    cell = nbformat.v4.new_markdown_cell(handin_text(course.assignment(name)))
    cell.metadata[HANDIN_MARK] = True
    cell.pop("id", None)  # no cell ids (nbformat 4.4), as for every other cell
    nb.cells.insert(first_code, cell)


def _name_stubs(source: str, name: str) -> str:
    lines = source.split("\n")
    task = None
    for i, line in enumerate(lines):
        m = TODO_RE.search(line)
        if m:
            task = m.group(1)
        if line.strip() == STUB:
            if task is None:
                raise ReleaseError(
                    f"{name}: a solution region has no '# TODO(task): ...' line above it"
                )
            indent = line[: len(line) - len(line.lstrip())]
            lines[i] = f'{indent}raise NotImplementedError("TODO({task})")'
            task = None
    return "\n".join(lines)


def release(course: Course, name: str, check: bool = False) -> tuple[Path, bool]:
    """Write (or with ``check``, only compare) ``assignments/<name>/<name>.ipynb``.

    Returns the path and whether the file on disk was up to date.
    """
    text = generate(course, name)
    out = course.root / "assignments" / name / f"{name}.ipynb"
    fresh = out.exists() and out.read_text() == text
    if not check and not fresh:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text)
    return out, fresh
