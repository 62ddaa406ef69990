"""Where assignments live and what they are made of.

A course is a directory with ``solutions/<name>/<name>.md`` (the one source of each assignment, a
MyST notebook with nbgrader metadata) and ``assignments/<name>/<name>.ipynb`` (the generated
student version), and a Python package of checks, ``<checks_package>.<name>`` with modules
``public`` (checks students run), ``hidden`` (official grading only) and ``probes`` (drivers
that run beside the student's code). The package is named in the course's ``pyproject.toml``::

    [tool.autograder]
    checks_package = "autograder.checks"
    python_path = []          # extra import roots, relative to the course
    student_repository = ""   # where students clone the student kit from (default: the course)
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
import tomllib
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from .checking import Check, collect_checks

REPO_ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Cell:
    kind: str  # setup | answer | check | manual | other
    grade_id: str | None
    source: str
    points: float = 0.0
    cell_type: str = "code"


@dataclass
class Item:
    """A graded cell: an automatic check cell, or a written answer graded by hand."""

    grade_id: str
    points: float
    manual: bool


def classify(cell_type: str, meta: dict) -> str:
    """The role of a cell from its nbgrader metadata."""
    nb = meta.get("nbgrader") or {}
    if nb.get("solution") and nb.get("grade"):
        return "manual" if cell_type == "markdown" else "answer"
    if nb.get("solution"):
        return "answer" if cell_type == "code" else "other"
    if nb.get("grade") and cell_type == "code":
        return "check"
    if nb.get("locked") and cell_type == "code" and "skip-grading" not in meta.get("tags", []):
        return "setup"
    return "other"


@dataclass
class Assignment:
    name: str
    course: Course
    cells: list[Cell] = field(default_factory=list)

    @property
    def source_path(self) -> Path:
        return self.course.root / "solutions" / self.name / f"{self.name}.md"

    @property
    def release_path(self) -> Path:
        return self.course.root / "assignments" / self.name / f"{self.name}.ipynb"

    @property
    def notebook_name(self) -> str:
        return self.name

    @cached_property
    def items(self) -> dict[str, Item]:
        return {
            c.grade_id: Item(c.grade_id, c.points, manual=c.kind == "manual")
            for c in self.cells
            if c.kind in ("check", "manual") and c.grade_id
        }

    @property
    def max_auto_score(self) -> float:
        return sum(i.points for i in self.items.values() if not i.manual)

    @property
    def module_prefix(self) -> str:
        return f"{self.course.checks_package}.{self.name}"

    @cached_property
    def attachments(self) -> dict[str, str]:
        """Files submitted beside the notebook that checks read, each with the item that reads
        it (``{"capstone.npz": "capstone"}``): the ``ATTACHMENTS`` of the assignment's checks
        package, none by default."""
        self.course.activate()
        try:
            package = importlib.import_module(self.module_prefix)
        except ImportError:
            return {}
        return dict(getattr(package, "ATTACHMENTS", {}))

    @cached_property
    def checks_version(self) -> str:
        """A fingerprint of everything that decides a grade: the source notebook (setup cells,
        items, points), the assignment's checks and probes, and the comparison helpers. The
        gradebook stores it with every result, so a fixed check means a regrade."""
        import hashlib

        self.course.activate()
        spec = importlib.util.find_spec(self.module_prefix)
        package = Path(spec.origin).parent if spec and spec.origin else None
        here = Path(__file__).parent
        files = [self.source_path, here / "checking.py", here / "stats.py"]
        files += sorted(package.glob("*.py")) if package else []
        h = hashlib.sha256()
        for f in files:
            h.update(f.name.encode() + b"\0" + f.read_bytes() + b"\0")
        return h.hexdigest()[:16]

    def checks(self, hidden: bool) -> list[Check]:
        """Public checks, plus the hidden ones when ``hidden``; all must name items of the notebook."""
        found = self.course.checks(self.name, hidden)
        unknown = {c.item for c in found} - set(self.items)
        if unknown:
            raise ValueError(
                f"{self.name}: checks for items not in the notebook: {sorted(unknown)}"
            )
        return found


@dataclass
class Course:
    root: Path = REPO_ROOT
    checks_package: str = "autograder.checks"
    python_path: list[str] = field(default_factory=list)
    student_repository: str = ""

    @classmethod
    def load(cls, root: str | Path | None = None) -> Course:
        root = Path(root or os.environ.get("AUTOGRADER_COURSE") or REPO_ROOT).resolve()
        cfg = {}
        if (root / "pyproject.toml").exists():
            with open(root / "pyproject.toml", "rb") as f:
                cfg = tomllib.load(f).get("tool", {}).get("autograder", {})
        return cls(
            root=root,
            checks_package=cfg.get("checks_package", "autograder.checks"),
            python_path=[str(root / p) for p in cfg.get("python_path", [])],
            student_repository=cfg.get("student_repository", ""),
        )

    def activate(self) -> None:
        for p in self.python_path:
            if p not in sys.path:
                sys.path.insert(0, p)

    def checks(self, assignment: str, hidden: bool) -> list[Check]:
        """The checks of an assignment without reading its source (what a student's kernel has)."""
        self.activate()
        prefix = f"{self.checks_package}.{assignment}"
        importlib.import_module(f"{prefix}.probes")  # registers the probes the checks use
        found = collect_checks(importlib.import_module(f"{prefix}.public"), False)
        if hidden:
            found += collect_checks(importlib.import_module(f"{prefix}.hidden"), True)
        return found

    def names(self) -> list[str]:
        return sorted(
            p.parent.name
            for p in (self.root / "solutions").glob("*/*.md")
            if p.stem == p.parent.name
        )

    def assignment(self, name: str) -> Assignment:
        import jupytext

        path = self.root / "solutions" / name / f"{name}.md"
        if not path.exists():
            known = ", ".join(self.names()) or "none"
            raise FileNotFoundError(f"no assignment {name!r} (looked for {path}; known: {known})")
        nb = jupytext.read(path)
        a = Assignment(name=name, course=self)
        for c in nb.cells:
            meta = dict(c.metadata)
            nbg = meta.get("nbgrader") or {}
            a.cells.append(
                Cell(
                    kind=classify(c.cell_type, meta),
                    grade_id=nbg.get("grade_id"),
                    source=c.source,
                    points=float(nbg.get("points", 0) or 0),
                    cell_type=c.cell_type,
                )
            )
        return a

    def secret_paths(self) -> list[str]:
        """What a worker must never see of the course itself."""
        paths = [
            self.root / "solutions",
            self.root / "autograder",
            self.root / "tests",
            self.root / ".git",
            REPO_ROOT / "autograder",
            REPO_ROOT / "solutions",
            REPO_ROOT / "tests",
            REPO_ROOT / ".git",
            *map(Path, self.python_path),
        ]
        return sorted({str(p) for p in paths if p.exists()})
