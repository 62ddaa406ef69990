"""Finding solution text or hidden checks where students can read them.

A leak is any of the nbgrader markers (``BEGIN SOLUTION``, ``BEGIN HIDDEN TESTS``, ``BEGIN MARK
SCHEME``) or any substantial line of a solution region of ``solutions/`` appearing in a file of the
published site, ``assignments/``, or anything else handed to students. "Substantial" means at
least ``MIN_CHARS`` characters once stripped and not a comment: short lines such as ``return out``
occur in any Python text and would make the check meaningless.
"""

from __future__ import annotations

import html
import json
import re
from dataclasses import dataclass
from pathlib import Path

MARKERS = ("BEGIN SOLUTION", "BEGIN HIDDEN TESTS", "BEGIN MARK SCHEME")
MIN_CHARS = 24
TEXT_SUFFIXES = {".html", ".ipynb", ".md", ".txt", ".py", ".js", ".json", ".tex", ".xml", ""}


@dataclass(frozen=True)
class Leak:
    path: Path
    what: str

    def __str__(self) -> str:
        return f"{self.path}: {self.what}"


def solution_lines(solutions_dir: Path) -> set[str]:
    """The substantial lines inside solution regions of every source notebook."""
    lines: set[str] = set()
    for src in sorted(Path(solutions_dir).glob("*/*.md")):
        inside = False
        for raw in src.read_text(encoding="utf-8").splitlines():
            if "BEGIN SOLUTION" in raw:
                inside = True
                continue
            if "END SOLUTION" in raw:
                inside = False
                continue
            line = raw.strip()
            if inside and len(line) >= MIN_CHARS and not line.startswith("#"):
                lines.add(line)
    return lines


def _normalise(text: str) -> str:
    # HTML pages escape and highlight code: strip tags and entities so a line matches either way.
    return html.unescape(re.sub(r"<[^>]+>", "", text))


def _text_lines(path: Path, raw: str) -> set[str]:
    """The stripped lines a reader sees in a file: cell sources for notebooks, text otherwise.

    Whole lines are compared, not substrings: ``step_losses.append(x)`` in a chapter is not the
    solution line ``losses.append(x)``.
    """
    if path.suffix == ".ipynb":
        try:
            cells = json.loads(raw).get("cells", [])
            raw = "\n".join(
                "".join(c["source"]) if isinstance(c.get("source"), list) else str(c.get("source"))
                for c in cells
            )
        except (ValueError, AttributeError, KeyError, TypeError):
            pass  # not a notebook after all: compare its text
    else:
        raw = _normalise(raw)
    return {line.strip() for line in raw.splitlines()}


def find_leaks(roots: list[Path], solutions_dir: Path) -> list[Leak]:
    lines = solution_lines(solutions_dir)
    leaks: list[Leak] = []
    for root in roots:
        files = [root] if Path(root).is_file() else sorted(Path(root).rglob("*"))
        for path in files:
            if not path.is_file() or path.suffix not in TEXT_SUFFIXES:
                continue
            if ".jupyter_cache" in path.parts or ".doctrees" in path.parts:
                continue
            raw = path.read_text(encoding="utf-8", errors="replace")
            for m in MARKERS:
                if m in raw:
                    leaks.append(Leak(path, f"marker {m!r}"))
            if not lines:
                continue
            found = _text_lines(path, raw) & lines
            leaks += [Leak(path, f"solution line {line!r}") for line in sorted(found)]
    return leaks
