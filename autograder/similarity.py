"""Similar submissions: pairs of students whose answer cells share code that the course did not give.

The method is winnowing (Schleimer, Wilkerson and Aiken, "Winnowing: local algorithms for document
fingerprinting", SIGMOD 2003), the one behind MOSS:

1. Each answer cell (the code cells the grader runs, found by ``grade_id``) is cut into tokens and
   **normalised**: comments and whitespace are dropped, every identifier that is not a Python
   keyword becomes ``V``, every number ``N`` and every string ``S``. Renamed variables, changed
   comments and docstrings, reformatting and changed constants leave the token stream unchanged.
2. Every run of ``K`` consecutive tokens (a k-gram, within one cell) is hashed, and in every
   window of ``W`` consecutive hashes the smallest one is kept: the **fingerprints**. Any stretch
   of at least ``K + W - 1`` normalised tokens shared by two cells yields a shared fingerprint,
   and one shorter than ``K`` never does. Fingerprints do not depend on the order of the
   fragments, so reordered functions (or cells) are still found.
3. Fingerprints of **the course's own code** are removed: any k-gram of a code cell of the released
   notebook (setup, stubs, checks; and the code shown in its text cells) and of ``coursekit/``.
   Fingerprints found in more than ``max_common`` submissions are idioms of the class, not copies
   (MOSS's ``-m``) and are removed too.
4. A pair's **score** is the share of the smaller submission's fingerprints that the other
   submission has as well: 1.0 when one submission is contained in the other. Pairs with a
   score of at least the threshold and at least ``MIN_SHARED`` shared fingerprints are listed,
   and so are pairs with one answer cell of ``MIN_CELL_PRINTS`` fingerprints or more on both
   sides that scores ``CELL_THRESHOLD`` or more on its own (a partial copy).

The thresholds were chosen on the course's own answers (``tests/test_similarity.py``): the
course's alternative correct answers against its solutions score at most 0.22 on a whole
assignment (all its alternatives together) and 0.47 for one cell; planted copies of the
solutions (renamed, reordered, comments and docstrings changed) score 0.96 to 0.99, and each
of their cells of ``MIN_CELL_PRINTS`` fingerprints or more at least 0.87 (the k-grams that
straddle two moved functions are lost).

The HTML page shows each listed pair's shared lines side by side; it is self-contained (no
JavaScript, no external files) and escapes all student code.
"""

from __future__ import annotations

import bisect
import functools
import html
import itertools
import json
import keyword
import re
import zlib
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from .course import Assignment
from .submission import SubmissionError, build_program, read_notebook

K = 12  # tokens per k-gram: shorter shared stretches are noise
W = 8  # winnowing window: shared stretches of K + W - 1 = 19 tokens are always found
DEFAULT_THRESHOLD = 0.5
MIN_SHARED = 4  # fewer shared fingerprints than this are never listed (tiny answers)
CELL_THRESHOLD = 0.8  # one answer cell copied (a partial copy) is listed from this score on
MIN_CELL_PRINTS = 15  # ... when both sides of the cell have this many fingerprints (~7 lines)
MAX_CELL_CHARS = 100_000  # what is read of one answer cell
MAX_CELL_TOKENS = 20_000  # and of its tokens (an answer is rarely 2,000): bounded time per cell
MAX_SHOWN = 50  # pairs whose code the HTML shows side by side (the table lists them all)

_TOKEN = re.compile(
    r"""
    (?P<comment>\#[^\n]*)
  | (?P<string>[rRbBuUfF]{0,2}(?:\"\"\"[\s\S]*?\"\"\"|'''[\s\S]*?'''
        |"(?:\\.|[^"\\\n])*"|'(?:\\.|[^'\\\n])*'))
  | (?P<number>0[xXoObB][0-9a-fA-F_]+|(?:\d[\d_]*\.?[\d_]*|\.\d[\d_]*)(?:[eE][+-]?\d+)?[jJ]?)
  | (?P<name>[^\W\d]\w*)
  | (?P<op>\*\*=?|//=?|>>=?|<<=?|->|:=|[-+*/%@&|^=<>!]=|[^\s\w])
    """,
    re.VERBOSE,
)
_KEYWORDS = frozenset(keyword.kwlist)
_FENCE = re.compile(r"```[^\n]*\n([\s\S]*?)```")
_MOD = (1 << 61) - 1
_BASE = 1_000_003


def tokens(source: str) -> list[tuple[str, int]]:
    """The normalised tokens of ``source`` with their offsets in it. Never fails: code that does
    not parse (magics, syntax errors) is tokenised all the same."""
    out: list[tuple[str, int]] = []
    for m in _TOKEN.finditer(source):
        kind = m.lastgroup
        if kind == "name":
            text = m.group()
            out.append((text if text in _KEYWORDS else "V", m.start()))
        elif kind == "op":
            out.append((m.group(), m.start()))
        elif kind == "number":
            out.append(("N", m.start()))
        elif kind == "string":
            out.append(("S", m.start()))
    return out


@functools.cache
def _token_id(text: str) -> int:
    return zlib.crc32(text.encode()) + 1


def kgram_hashes(toks: list[tuple[str, int]], k: int = K) -> list[int]:
    """Deterministic hashes of every k-gram (a rolling polynomial hash of the tokens' CRC32)."""
    if len(toks) < k:
        return []
    ids = [_token_id(t) for t, _ in toks]
    top = pow(_BASE, k - 1, _MOD)
    h = 0
    for t in ids[:k]:
        h = (h * _BASE + t) % _MOD
    out = [h]
    for i in range(k, len(ids)):
        h = ((h - ids[i - k] * top) * _BASE + ids[i]) % _MOD
        out.append(h)
    # scramble, so that the minimum of a window is not biased towards particular tokens
    return [(x * 0x9E3779B97F4A7C15) & 0xFFFFFFFFFFFFFFFF for x in out]


def winnow(hashes: list[int], w: int = W) -> list[int]:
    """Positions of the fingerprints: the rightmost smallest hash of every window of ``w``."""
    n = len(hashes)
    picked: list[int] = []
    low = -1
    for start in range(max(1, n - w + 1) if n else 0):
        end = start + w if start + w < n else n
        if low < start:  # the minimum left the window: scan it
            low = start
            for i in range(start + 1, end):
                if hashes[i] <= hashes[low]:
                    low = i
        elif hashes[end - 1] <= hashes[low]:
            low = end - 1
        if not picked or picked[-1] != low:
            picked.append(low)
    return picked


@dataclass
class Document:
    """One student's answer cells and their fingerprints."""

    student: str
    cells: dict[str, str]  # grade_id -> source
    # fingerprint hash -> where it occurs: (grade_id, first line, last line)
    prints: dict[int, list[tuple[str, int, int]]] = field(default_factory=dict)


def fingerprint(student: str, cells: dict[str, str], excluded: set[int]) -> Document:
    doc = Document(student, cells)
    for gid, source in cells.items():
        toks = tokens(source)[:MAX_CELL_TOKENS]
        hashes = kgram_hashes(toks)
        # where each line ends, as the HTML page splits the cell
        ends = list(itertools.accumulate(map(len, source.splitlines(True)))) if hashes else []
        for pos in winnow(hashes):
            if hashes[pos] not in excluded:
                first = bisect.bisect(ends, toks[pos][1]) + 1
                last = bisect.bisect(ends, toks[pos + K - 1][1]) + 1
                where = (gid, first, last)
                doc.prints.setdefault(hashes[pos], []).append(where)
    return doc


def course_code(assignment: Assignment) -> list[str]:
    """The code the course gives students: the released notebook's code cells and the code in its
    text cells, and the course library ``coursekit/`` when the course has one."""
    sources: list[str] = []
    nb = read_notebook(assignment.release_path)
    for cell in nb["cells"]:
        src = cell.get("source", "") if isinstance(cell, dict) else ""
        src = "".join(src) if isinstance(src, list) else str(src)
        if cell.get("cell_type") == "code":
            sources.append(src)
        else:
            sources += _FENCE.findall(src)
    kit = assignment.course.root / "coursekit"
    if kit.is_dir():
        sources += [p.read_text(errors="replace") for p in sorted(kit.rglob("*.py"))]
    return sources


def excluded_hashes(sources: list[str]) -> set[int]:
    return {h for s in sources for h in kgram_hashes(tokens(s))}


def answer_cells(path: Path, assignment: Assignment) -> dict[str, str]:
    """The student's answer cells as the grader reads them (by ``grade_id``, setup cells left out)."""
    answers = {c.grade_id for c in assignment.cells if c.kind == "answer" and c.cell_type == "code"}
    program = build_program(path, assignment)
    return {gid: src[:MAX_CELL_CHARS] for gid, src in program.cells if gid in answers}


@dataclass
class Pair:
    a: str
    b: str
    score: float  # shared fingerprints / fingerprints of the smaller submission
    shared: int
    cells: list[str]  # answer cells with shared code, in either submission
    cell_score: float = 0.0  # the highest score of one answer cell of MIN_CELL_PRINTS or more


@dataclass
class Result:
    assignment: str
    threshold: float
    documents: dict[str, Document]
    pairs: list[Pair]  # above the threshold, highest score first
    skipped: dict[str, str]  # student -> why (unreadable notebook)
    ignored_common: int = 0  # fingerprints dropped as idioms of the class

    def shared_lines(self, pair: Pair) -> tuple[dict[str, set[int]], dict[str, set[int]]]:
        """Lines of each side's cells that hold shared fingerprints, by grade_id."""
        a, b = self.documents[pair.a], self.documents[pair.b]
        out: tuple[dict[str, set[int]], dict[str, set[int]]] = (defaultdict(set), defaultdict(set))
        for h in a.prints.keys() & b.prints.keys():
            for side, doc in zip(out, (a, b), strict=True):
                for gid, first, last in doc.prints[h]:
                    side[gid].update(range(first, last + 1))
        return out

    def to_json(self) -> dict:
        return {
            "assignment": self.assignment,
            "threshold": self.threshold,
            "method": f"winnowing, k={K}, w={W}",
            "pairs": [p.__dict__ for p in self.pairs],
            "skipped": self.skipped,
        }


def compare(
    assignment: Assignment,
    submissions: list[tuple[str, Path]],
    *,
    threshold: float = DEFAULT_THRESHOLD,
    max_common: int | None = None,
) -> Result:
    """Compare every pair of ``submissions`` ((student, notebook path), as ``find_submissions``
    gives them). ``max_common``: fingerprints in more submissions than this are ignored
    (default: 10, or a tenth of the submissions when that is more)."""
    excluded = excluded_hashes(course_code(assignment))
    docs: dict[str, Document] = {}
    skipped: dict[str, str] = {}
    for student, path in submissions:
        try:
            docs[student] = fingerprint(student, answer_cells(path, assignment), excluded)
        except SubmissionError as err:
            skipped[student] = str(err)
    if max_common is None:
        max_common = max(10, len(docs) // 10)
    holders: dict[int, list[str]] = defaultdict(list)
    for doc in docs.values():
        for h in doc.prints:
            holders[h].append(doc.student)
    common = {h for h, who in holders.items() if len(who) > max_common}
    for doc in docs.values():
        doc.prints = {h: w for h, w in doc.prints.items() if h not in common}
    counts: dict[tuple[str, str], int] = defaultdict(int)
    for h, who in holders.items():
        if h not in common:
            for a, b in itertools.combinations(sorted(who), 2):
                counts[a, b] += 1
    pairs = []
    for (a, b), shared in counts.items():
        if shared < MIN_SHARED:
            continue
        score = shared / min(len(docs[a].prints), len(docs[b].prints))
        cell_score = _cell_score(docs[a], docs[b])
        if score >= threshold or cell_score >= CELL_THRESHOLD:
            pairs.append(Pair(a, b, round(score, 3), shared, [], round(cell_score, 3)))
    result = Result(assignment.name, threshold, docs, [], skipped, len(common))
    for pair in pairs:
        lines_a, lines_b = result.shared_lines(pair)
        pair.cells = [c for c in docs[pair.a].cells if c in lines_a or c in lines_b]
    result.pairs = sorted(pairs, key=lambda p: (-p.score, -p.shared, p.a, p.b))
    return result


def _by_cell(doc: Document) -> dict[str, set[int]]:
    cells: dict[str, set[int]] = defaultdict(set)
    for h, where in doc.prints.items():
        for gid, _, _ in where:
            cells[gid].add(h)
    return cells


def _cell_score(a: Document, b: Document) -> float:
    """The highest score of one answer cell against the same cell of the other submission,
    among cells with ``MIN_CELL_PRINTS`` fingerprints or more on both sides."""
    ca, cb = _by_cell(a), _by_cell(b)
    scores = [
        len(ca[g] & cb[g]) / min(len(ca[g]), len(cb[g]))
        for g in ca.keys() & cb.keys()
        if min(len(ca[g]), len(cb[g])) >= MIN_CELL_PRINTS
    ]
    return max(scores, default=0.0)


def pair_score(
    assignment: Assignment, a: dict[str, str], b: dict[str, str], excluded: set[int] | None = None
) -> float:
    """The score of two sets of answer cells (grade_id -> source), without the class's idioms."""
    if excluded is None:
        excluded = excluded_hashes(course_code(assignment))
    da, db = fingerprint("a", a, excluded), fingerprint("b", b, excluded)
    smaller = min(len(da.prints), len(db.prints))
    return len(da.prints.keys() & db.prints.keys()) / smaller if smaller else 0.0


# -- output -------------------------------------------------------------------------------------
def table(result: Result) -> str:
    """A short text table of the listed pairs."""
    lines = [
        f"{result.assignment}: {len(result.documents)} submissions compared "
        f"(winnowing, k={K}, w={W}); {len(result.pairs)} pairs with score >= "
        f"{result.threshold:g} or one cell >= {CELL_THRESHOLD:g}"
    ]
    if result.pairs:
        wa = max(7, *(len(p.a) for p in result.pairs))
        wb = max(7, *(len(p.b) for p in result.pairs))
        lines.append(
            f"{'score':>6}  {'cell':>5}  {'shared':>6}  {'student':<{wa}}  {'student':<{wb}}  cells"
        )
        for p in result.pairs:
            lines.append(
                f"{p.score:>6.2f}  {p.cell_score:>5.2f}  {p.shared:>6d}  {p.a:<{wa}}  "
                f"{p.b:<{wb}}  {', '.join(p.cells)}"
            )
    for student, why in result.skipped.items():
        lines.append(f"not compared: {student}: {why}")
    return "\n".join(lines)


SECTION_STYLE = """
.side{display:grid;grid-template-columns:minmax(0,1fr) minmax(0,1fr);gap:1rem}
.side pre{background:#f6f6f6;padding:.5rem;overflow-x:auto;font-size:12px;margin:0}
.side mark{background:#ffe08a} .muted{color:#666}
"""
STYLE = (
    """
body{font-family:system-ui,sans-serif;max-width:90rem;margin:2rem auto;padding:0 1rem;color:#222}
h1{font-size:1.5rem} h2{font-size:1.2rem;margin-top:2rem} h3{font-size:1rem}
table{border-collapse:collapse;width:100%} td,th{border-bottom:1px solid #ddd;padding:.3rem .5rem;
text-align:left;vertical-align:top} td.n{text-align:right;font-variant-numeric:tabular-nums}
"""
    + SECTION_STYLE
)


def section_html(result: Result, level: int = 2) -> str:
    """The pairs table and each pair's shared code side by side (a fragment; escaped)."""
    e = html.escape
    h = f"h{level}"
    parts = [
        f"<p>{len(result.documents)} submissions compared by winnowing (k={K} normalised tokens, "
        f"window {W}), without the course's own code; pairs sharing at least "
        f"{result.threshold:.0%} of the smaller submission's fingerprints, or one answer cell "
        f"{CELL_THRESHOLD:.0%} of its own (column Cell). A high score asks for a look, not a "
        "verdict.</p>"
    ]
    if result.skipped:
        parts.append(
            "<p>Not compared: "
            + "; ".join(f"{e(s)} ({e(w)})" for s, w in result.skipped.items())
            + "</p>"
        )
    if not result.pairs:
        parts.append("<p>No pair above the threshold.</p>")
        return "".join(parts)
    rows = "".join(
        f'<tr><td class="n">{p.score:.2f}</td><td class="n">{p.cell_score:.2f}</td>'
        f'<td class="n">{p.shared}</td>'
        f"<td>{f'<a href=#pair-{i}>{e(p.a)}</a>' if i < MAX_SHOWN else e(p.a)}</td><td>{e(p.b)}</td>"
        f"<td>{e(', '.join(p.cells))}</td></tr>"
        for i, p in enumerate(result.pairs)
    )
    parts.append(
        "<table><tr><th>Score</th><th>Cell</th><th>Shared</th><th>Student</th><th>Student</th>"
        f"<th>Cells</th></tr>{rows}</table>"
    )
    if len(result.pairs) > MAX_SHOWN:
        parts.append(f"<p>The shared code of the first {MAX_SHOWN} pairs:</p>")
    for i, p in enumerate(result.pairs[:MAX_SHOWN]):
        lines_a, lines_b = result.shared_lines(p)
        parts.append(
            f'<{h} id="pair-{i}">{e(p.a)} and {e(p.b)}: score {p.score:.2f}, '
            f"{p.shared} shared fingerprints</{h}>"
        )
        for gid in p.cells:
            parts.append(f"<p><code>{e(gid)}</code></p><div class=side>")
            for doc, marked in ((result.documents[p.a], lines_a), (result.documents[p.b], lines_b)):
                parts.append(f"<div><div class=muted>{e(doc.student)}</div>")
                parts.append(_code(doc.cells.get(gid, ""), marked.get(gid, set())) + "</div>")
            parts.append("</div>")
    return "".join(parts)


def report_section(assignment: Assignment, results: list) -> str:
    """The instructor report's section: the graded submissions (``SubmissionResult`` objects
    with a notebook) compared at the default threshold. Never fails the report."""
    subs = [(r.student, Path(r.path)) for r in results if getattr(r, "path", None)]
    try:
        return section_html(compare(assignment, subs), level=3)
    except Exception as err:  # noqa: BLE001 -- the report's other sections matter more
        return f"<p>The submissions could not be compared: {html.escape(repr(err))}</p>"


def _code(source: str, marked: set[int]) -> str:
    out = []
    for n, line in enumerate(source.splitlines(), 1):
        text = html.escape(line)
        out.append(f"<mark>{text}</mark>" if n in marked else text)
    return "<pre>" + "\n".join(out) + "</pre>"


def page_html(result: Result) -> str:
    title = html.escape(f"{result.assignment}: similar submissions")
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{title}</title><style>{STYLE}</style></head>"
        f"<body><h1>{title}</h1>{section_html(result)}</body></html>\n"
    )


def write_html(path: Path, result: Result) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(page_html(result), encoding="utf-8", errors="replace")


def write_json(path: Path, result: Result) -> None:
    Path(path).write_text(json.dumps(result.to_json(), indent=1))
