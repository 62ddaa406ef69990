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
        items, points) and every module whose code can change a verdict (:meth:`verdict_files`).
        The gradebook stores it with every result, so a fixed check means a regrade."""
        import hashlib

        h = hashlib.sha256()
        for key, f in [("notebook", self.source_path), *self.verdict_files().items()]:
            h.update(key.encode() + b"\0" + f.read_bytes() + b"\0")
        return h.hexdigest()[:16]

    def verdict_files(self) -> dict[str, Path]:
        """The course's modules whose code can change a verdict, by module name: the assignment's
        checks package, the grading engine (grader, worker, zygote) and what the notebook's
        cells import, with everything they import in turn. Imports are followed in the source
        (imports inside functions too, which loading the modules would miss), not from a list
        kept by hand: a module a check or the engine starts to use is in by itself."""
        import ast

        # The course's own files first (found by path, not by import: what this process has
        # imported may be another copy of the course).
        roots = [self.course.root, *map(Path, self.course.python_path), REPO_ROOT]
        todo = _course_module(self.module_prefix, roots)  # the package and its parents
        package = [p for n, p in todo if n == self.module_prefix]
        todo += [
            (f"{self.module_prefix}.{f.stem}".removesuffix(".__init__"), f)
            for f in (sorted(package[0].parent.glob("*.py")) if package else [])
        ]
        for name in ("autograder.grader", "autograder.zygote"):  # zygote: run with -m
            todo += _course_module(name, roots)
        sources = [c.source for c in self.cells if c.cell_type == "code"]
        for source in sources:
            try:
                tree = ast.parse(source)
            except SyntaxError:  # magics: the rest of the notebook is still followed
                continue
            for name in _imported_names(tree, ""):
                todo += _course_module(name, roots)
        found: dict[str, Path] = {}
        while todo:
            name, path = todo.pop()
            if name in found:
                continue
            found[name] = path
            package_name = name if path.name == "__init__.py" else name.rpartition(".")[0]
            tree = ast.parse(path.read_bytes(), str(path))
            for imported in _imported_names(tree, package_name):
                todo += _course_module(imported, roots)
        return dict(sorted(found.items()))

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
        public = importlib.import_module(f"{prefix}.public")
        modules = [public] + ([importlib.import_module(f"{prefix}.hidden")] if hidden else [])
        for module in modules:
            _validate_probe_names(module, assignment)
        found = collect_checks(public, False)
        if hidden:
            found += collect_checks(modules[1], True)
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


def _imported_names(tree, package: str) -> list[str]:
    """Every module an AST imports, anywhere in it (``from x import y`` also yields ``x.y``, which
    may be a module), with relative imports resolved against ``package``."""
    import ast

    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                parent = ".".join(parts[: len(parts) - node.level + 1])
                base = f"{parent}.{base}" if base else parent
            names.append(base)
            names += [f"{base}.{a.name}" for a in node.names if a.name != "*"]
    return [n for n in names if n]


def _course_module(name: str, roots: list[Path]) -> list[tuple[str, Path]]:
    """``name`` and its parent packages, as (module, file) pairs, where they are source files of
    the course (under one of ``roots``, outside any virtual environment); [] for other modules
    (the standard library, NumPy, PyTorch...), which are never imported to find out."""
    out: list[tuple[str, Path]] = []
    parts = name.split(".")
    for i in range(1, len(parts) + 1):
        rel = Path(*parts[:i])
        for root in roots:
            for cand in (
                root / rel / "__init__.py",
                root.joinpath(*parts[: i - 1], f"{parts[i - 1]}.py"),
            ):
                if cand.is_file() and not {"site-packages", ".venv"} & set(cand.parts):
                    out.append((".".join(parts[:i]), cand.resolve()))
                    break
            else:
                continue
            break
    return out


def _validate_probe_names(module, assignment: str) -> None:
    """Every probe name a check module spells out (a string ``"<assignment>.<name>"``, the probes'
    naming convention) must be registered: a misspelt probe fails when the checks are loaded,
    not as a check error at grading time (which also catches names built at run time)."""
    import ast
    import re

    from .endpoint import PROBES

    path = getattr(module, "__file__", None)
    if not path or not path.endswith(".py"):
        return
    pattern = re.compile(rf"{re.escape(assignment)}\.[A-Za-z_]\w*")
    tree = ast.parse(Path(path).read_bytes(), path)
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and pattern.fullmatch(node.value)
            and node.value not in PROBES
        ):
            known = ", ".join(sorted(p for p in PROBES if p.startswith(assignment + "."))) or "none"
            raise ValueError(
                f"{Path(path).name}:{node.lineno}: unknown probe {node.value!r} "
                f"(the probes module registers: {known})"
            )
