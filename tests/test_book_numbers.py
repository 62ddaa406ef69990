"""No result-like number is typed into the book's prose: numbers come from the executed code.

Every chapter (``book/*.md``) is read as text, nothing is executed. The detector looks for
*result-like* literals in what a reader sees as words: prose paragraphs, admonitions, tables,
headings, and the captions and alt texts of figures. Result-like means

- a decimal (``0.537``, ``.5``) or a number in scientific notation (``2e-11``, ``1.5e-3``);
- a percentage (``4.6%``, ``12 percent``);
- a factor (``3.2x``, ``56×``, ``38 times``; but not a size such as ``8x8`` or ``3 × 3``);
- a duration (``40 s``, ``1.6 ms``, ``15 minutes``, ``2 hours``).

Plain integers (layer sizes, epochs, image counts, years) are not result-like. Ignored, because
they are not typed results: code cells and code blocks, math (``$...$``, ``$$...$$``, ``{math}``
roles and directives), every role (``{glue:text}``, ``{cite}``, ``{numref}``, ...), inline code,
link targets and URLs, HTML comments, labels, heading numbers and version numbers (``2.13.0``).

The alt text and caption of a figure drawn by a code cell live in that cell's metadata, where
``{glue:text}`` cannot reach. A number there is accepted when the same cell *sets* it (a number
of its code: a dropout rate, an axis limit) or *checks* it (the literal is in a string of the
cell, for instance ``assert f"{ce:.2f}" == "5.70"``), so that a figure that stops matching its
description fails the build. In the same way, a plain number in the prose between two cells is
accepted when the next cell's code sets it: prose that introduces a cell describes its settings
("SGD with momentum 0.9 and learning rate 0.05"), which are the code's, not results.

Anything else must be glued, or listed in ``tests/book_numbers_allowlist.yml`` with the chapter,
the literal, an optional ``context`` (a piece of the line that narrows the entry to one place)
and a one-line ``why``: a hyperparameter the code *sets*, a number from a cited paper, a fact
about a data set or a format. An entry that matches nothing is stale and fails too.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
BOOK = ROOT / "book"
ALLOWLIST = Path(__file__).with_name("book_numbers_allowlist.yml")

# Directives whose body is not prose (code, math, generated lists).
SKIPPED_DIRECTIVES = {
    "code-cell",
    "code-block",
    "code",
    "sourcecode",
    "math",
    "bibliography",
    "raw",
    "literalinclude",
    "toctree",
    "glue:math",
    "glue:any",
    "glue",
    "mermaid",
    "tableofcontents",
}
FIGURE_DIRECTIVES = {"figure", "glue:figure", "image"}

FENCE = re.compile(r"^(\s*)(`{3,}|~{3,}|:{3,})\s*(?:\{([^}]+)\})?\s*(.*)$")
LABEL = re.compile(r"^\s*\([\w:.-]+\)=\s*$")
HEADING_NUMBER = re.compile(r"^(#+\s*)(\d+(?:\.\d+)*\.?)(?=\s)")

# Spans masked out of prose before numbers are looked for (in this order).
MASKS = [
    re.compile(r"<!--.*?-->", re.S),  # HTML comments
    re.compile(r"\{[\w:.+-]+\}(`+).*?\1", re.S),  # roles: glue, cite, math, numref, doc, ...
    re.compile(r"(`+).+?\1", re.S),  # inline code
    re.compile(r"\$\$.+?\$\$", re.S),  # display math written inline
    re.compile(r"(?<![\\$])\$(?=\S)(?:\\\$|[^$])+?(?<![\\\s])\$(?!\d)", re.S),  # inline math
    re.compile(r"(?<=\])\([^)\s]*\)"),  # link and image targets
    re.compile(r"<[a-z]+://[^>]*>"),  # autolinks
    re.compile(r"\b(?:https?|ftp)://\S+"),  # bare URLs
    re.compile(r"\[\^[\w-]+\]"),  # footnote references
]

NUMBER = re.compile(
    r"(?<![\w.\\])"
    r"(?P<num>\d+(?:\.\d+)?(?:[eE][-+−]?\d+)?|\.\d+)"
    r"(?P<suffix>"
    r"\s?(?:%|percent\b|per\s+cent\b)"
    r"|\s?[x×](?![\w\d])(?!\s*\d)|\s+times\b"
    r"|\s?(?:ms|µs|μs|ns|s|sec|secs|seconds?|minutes?|mins?|hours?|h|days?)\b(?!-)"
    r")?"
)
VERSION_TAIL = re.compile(r"\.\d")


@dataclass(frozen=True)
class Hit:
    chapter: str
    line: int
    literal: str
    where: str  # "prose", "alt" or "caption"
    text: str  # the line (or the alt/caption) the literal stands on

    def __str__(self) -> str:
        snippet = " ".join(self.text.split())
        if len(snippet) > 110:
            at = snippet.find(self.literal)
            start = max(0, at - 50)
            snippet = ("..." if start else "") + snippet[start : start + 110] + "..."
        return f"{self.chapter}.md:{self.line} [{self.where}] {self.literal!r}: {snippet}"


def _mask(text: str) -> str:
    """Blank out every ignored span, keeping offsets and newlines."""
    for pattern in MASKS:
        text = pattern.sub(lambda m: re.sub(r"[^\n]", " ", m.group(0)), text)
    return text


def _numbers(text: str) -> list[tuple[int, str]]:
    """(offset, literal) of each result-like number in already masked text."""
    found = []
    for m in NUMBER.finditer(text):
        num, suffix = m.group("num"), m.group("suffix")
        if VERSION_TAIL.match(text, m.end("num")):  # 2.13.0, 3.12.1: versions
            continue
        nxt = text[m.end() : m.end() + 1]
        if not suffix and nxt and (nxt.isalnum() or nxt == "_"):  # 3D, 2nd, 1e5x...
            continue
        if suffix or "." in num or "e" in num.lower():
            found.append((m.start(), m.group(0).strip()))
    return found


def _prose_hits(chapter: str, lines: list[tuple[int, str]], where: str = "prose") -> list[Hit]:
    """Hits in a block of prose lines [(line number, text)], masked as a whole (math and roles
    may wrap across lines)."""
    if not lines:
        return []
    starts, offset = [], 0
    for _, text in lines:
        starts.append(offset)
        offset += len(text) + 1
    joined = "\n".join(text for _, text in lines)
    masked = _mask(joined)
    hits = []
    for at, literal in _numbers(masked):
        index = max(i for i, s in enumerate(starts) if s <= at)
        number, text = lines[index]
        hits.append(Hit(chapter, number, literal, where, text))
    return hits


def _token(literal: str) -> re.Pattern:
    return re.compile(rf"(?<![\w.]){re.escape(literal)}(?![\w]|\.\d)")


def _checked_in_code(literal: str, code: str) -> bool:
    """The cell sets or checks this literal: it is a number of the cell's code (a value the
    cell sets, such as a learning rate or an axis limit), or it is in a string or on an assert
    line of the cell (a value the cell checks)."""
    token = _token(literal)
    number = re.match(r"[\d.]+(?:[eE][-+]?\d+)?", literal)
    if number and not literal.endswith(("%", "x", "×", "percent", "cent", "times")):
        token = _token(number.group(0))  # "45 minutes": the cell sets or checks 45
    for line in code.splitlines():
        if token.search(line.split("#", 1)[0]):
            return True
        for string in re.findall(r"(['\"])(.*?)(?<!\\)\1", line):
            if token.search(string[1]):
                return True
    return False


def _set_in_code(literal: str, code: str) -> bool:
    """The literal is a plain number that the code sets (outside comments)."""
    if not re.fullmatch(r"[\d.]+(?:[eE][-+]?\d+)?", literal):
        return False
    token = _token(literal)
    return any(token.search(line.split("#", 1)[0]) for line in code.splitlines())


def _metadata_hits(chapter: str, first_line: int, header: str, code: str) -> list[Hit]:
    """Hits in the alt text and caption of a code cell's figure."""
    try:
        meta = yaml.safe_load(header) or {}
    except yaml.YAMLError:
        return []
    mystnb = meta.get("mystnb") or {}
    texts = [
        ("alt", (mystnb.get("image") or {}).get("alt")),
        ("caption", (mystnb.get("figure") or {}).get("caption")),
    ]
    hits = []
    header_lines = header.splitlines()
    for where, text in texts:
        if not isinstance(text, str):
            continue
        key = "alt:" if where == "alt" else "caption:"
        offset = next((i for i, h in enumerate(header_lines) if h.strip().startswith(key)), 0)
        for _, literal in _numbers(_mask(text)):
            if not _checked_in_code(literal, code):
                hits.append(Hit(chapter, first_line + 2 + offset, literal, where, text))
    return hits


def scan(chapter: str, source: str) -> list[Hit]:
    """Every result-like literal of a chapter's MyST source, outside glue, math, code, ..."""
    lines = source.splitlines()
    hits: list[Hit] = []
    i = 0
    if lines and lines[0].strip() == "---":  # jupytext front matter
        i = next((j for j in range(1, len(lines)) if lines[j].strip() == "---"), 0) + 1
    prose: list[tuple[int, str]] = []
    stack: list[tuple[str, str]] = []  # open prose-bearing fences: (marker, directive)
    in_math = False
    in_comment = False
    since_cell = 0

    def flush() -> None:
        hits.extend(_prose_hits(chapter, prose))
        prose.clear()

    while i < len(lines):
        line, number = lines[i], i + 1
        stripped = line.strip()
        if in_math:
            in_math = "$$" not in stripped
            i += 1
            continue
        if in_comment:
            in_comment = "-->" not in stripped
            i += 1
            continue
        if stripped.startswith("<!--") and "-->" not in stripped:
            flush()
            in_comment = True
            i += 1
            continue
        if stripped.startswith("$$"):
            flush()
            in_math = stripped == "$$" or stripped.count("$$") < 2
            i += 1
            continue
        if stack and stripped == stack[-1][0]:  # closing a prose-bearing fence
            flush()
            stack.pop()
            i += 1
            continue
        fence = FENCE.match(line)
        if fence and (fence.group(3) is not None or fence.group(2)[0] != ":"):
            flush()
            marker, directive, argument = fence.group(2), (fence.group(3) or ""), fence.group(4)
            directive = directive.strip()
            if directive in SKIPPED_DIRECTIVES or not directive:
                # Skip to the matching close; keep a code cell's metadata and code.
                j = i + 1
                header: list[str] = []
                if directive == "code-cell" and j < len(lines) and lines[j].strip() == "---":
                    j += 1
                    while j < len(lines) and lines[j].strip() != "---":
                        header.append(lines[j])
                        j += 1
                    j += 1
                body_start = j
                close = re.compile(rf"^\s*{re.escape(marker[0])}{{{len(marker)},}}\s*$")
                while j < len(lines) and not close.match(lines[j]):
                    j += 1
                if directive == "code-cell":
                    code = "\n".join(lines[body_start:j])
                    # Prose since the previous cell that introduces this one: the values this
                    # cell sets (a learning rate, a number of steps) are the code's, not results.
                    hits[since_cell:] = [
                        h
                        for h in hits[since_cell:]
                        if h.where != "prose" or not _set_in_code(h.literal, code)
                    ]
                    hits.extend(_metadata_hits(chapter, number, "\n".join(header), code))
                    since_cell = len(hits)
                i = j + 1
                continue
            # A prose-bearing directive: its title is prose, its options are skipped except
            # :alt:, and its body is prose until the matching close.
            if directive not in FIGURE_DIRECTIVES:
                hits.extend(_prose_hits(chapter, [(number, argument)]))
            stack.append((marker, directive))
            j = i + 1
            while j < len(lines) and re.match(r"^\s*:[\w-]+:", lines[j]):
                option = re.match(r"^\s*:([\w-]+):\s*(.*)$", lines[j])
                if option and option.group(1) == "alt":
                    hits.extend(_prose_hits(chapter, [(j + 1, option.group(2))], "alt"))
                j += 1
            i = j
            continue
        if not stripped or LABEL.match(line):
            flush()
            i += 1
            continue
        if stripped.startswith("#"):
            flush()
            heading = HEADING_NUMBER.sub(lambda m: m.group(1) + " " * len(m.group(2)), stripped)
            hits.extend(_prose_hits(chapter, [(number, heading)]))
            i += 1
            continue
        prose.append((number, line))
        i += 1
    flush()
    return hits


def chapters() -> dict[str, str]:
    return {path.stem: path.read_text(encoding="utf-8") for path in sorted(BOOK.glob("*.md"))}


def load_allowlist() -> list[dict]:
    entries = yaml.safe_load(ALLOWLIST.read_text(encoding="utf-8")) or []
    return entries


def _allowed(hit: Hit, entry: dict) -> bool:
    return (
        entry["chapter"] == hit.chapter
        and str(entry["literal"]) == hit.literal
        and (not entry.get("context") or entry["context"] in hit.text)
    )


def test_allowlist_entries_are_justified() -> None:
    """Every allowlist entry names a chapter that exists, a literal, and a reason."""
    known = set(chapters())
    problems = []
    for entry in load_allowlist():
        if entry.get("chapter") not in known:
            problems.append(f"unknown chapter: {entry}")
        if not str(entry.get("literal", "")).strip():
            problems.append(f"no literal: {entry}")
        if len(str(entry.get("why", "")).split()) < 4:
            problems.append(f"no one-line justification (why): {entry}")
    assert not problems, "\n".join(problems)


def test_no_untyped_result_numbers_in_the_book() -> None:
    """Every result-like literal in prose, captions and alt texts is glued, checked by its cell,
    or justified in the allowlist; and every allowlist entry still matches something."""
    entries = load_allowlist()
    used: Counter[int] = Counter()
    left = []
    for chapter, source in chapters().items():
        for hit in scan(chapter, source):
            matches = [k for k, entry in enumerate(entries) if _allowed(hit, entry)]
            if matches:
                used.update(matches)
            else:
                left.append(hit)
    stale = [entry for k, entry in enumerate(entries) if not used[k]]
    message = []
    if left:
        message.append(
            f"{len(left)} literal number(s) in prose, captions or alt texts: glue them from the "
            "executed output ({glue:text}`name:.3f`), check them in the figure's cell, or "
            f"justify them in {ALLOWLIST.name}:"
        )
        message.extend(f"  {hit}" for hit in left)
    if stale:
        message.append(f"{len(stale)} allowlist entr(y/ies) matching nothing (remove them):")
        message.extend(f"  {entry}" for entry in stale)
    assert not message, "\n".join(message)


PLANTED = """\
---
jupytext:
  text_representation:
    extension: .md
---

# 2.1 A planted chapter

The best validation accuracy was 0.537, and training took 40 s, 3.2x faster, a gain of 4.6%.
One run was 38 times slower.

But {glue:text}`acc:.3f` is glued, $\\mathrm{acc} = 0.537$ is math, {cite}`x-paper2019` is a
citation, `lr=0.537` is code, [a link](https://example.org/0.537/page) is a link, version
2.13.0 is a version, 8x8 images and 3 × 3 kernels are sizes, and 1000 images is an integer.

$$
\\ell = 0.537 \\cdot 40
$$

```{math}
0.537
```

```{code-cell} ipython3
---
mystnb:
  image:
    alt: "A curve ending at 0.912, and a second one at 0.537."
---
acc = 0.912
assert f"{acc:.3f}" == "0.912"
print(acc)
```

:::{admonition} A note with a result of 0.25
Inside an admonition, 1e-3 counts too.
:::
"""


def test_detector_catches_planted_literals_and_ignores_glue_math_code() -> None:
    found = [(hit.line, hit.literal, hit.where) for hit in scan("planted", PLANTED)]
    assert found == [
        (9, "0.537", "prose"),
        (9, "40 s", "prose"),
        (9, "3.2x", "prose"),
        (9, "4.6%", "prose"),
        (10, "38 times", "prose"),
        (28, "0.537", "alt"),
        (35, "0.25", "prose"),
        (36, "1e-3", "prose"),
    ], found


def test_settings_of_the_next_cell_are_the_codes() -> None:
    text = (
        "We train with a learning rate of 0.05 and reach 0.91.\n\n"
        "```{code-cell} ipython3\nopt = SGD(lr=0.05)  # 0.91 in a comment sets nothing\n```\n\n"
        "After the cell, 0.05 is quoted again.\n"
    )
    assert [(h.line, h.literal) for h in scan("t", text)] == [(1, "0.91"), (7, "0.05")]


def test_detector_survives_math_wrapped_across_lines() -> None:
    text = "A sentence with $p =\n0.5$ in math, then\na bare 0.75 on the next line.\n"
    assert [(h.line, h.literal) for h in scan("t", text)] == [(3, "0.75")]


@pytest.mark.parametrize(
    ("entry", "allowed"),
    [
        ({"chapter": "c", "literal": "0.1"}, True),
        ({"chapter": "c", "literal": "0.1", "context": "learning rate"}, True),
        ({"chapter": "c", "literal": "0.1", "context": "momentum"}, False),
        ({"chapter": "d", "literal": "0.1"}, False),
    ],
)
def test_allowlist_matching(entry: dict, allowed: bool) -> None:
    hit = Hit("c", 1, "0.1", "prose", "a learning rate of 0.1")
    assert _allowed(hit, entry) is allowed
