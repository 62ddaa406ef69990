"""Static checks of the built site: page weight, compressed figures, short animations, alt text,
and no solution text or hidden check in anything a student can reach (the site, its downloads
and page sources, and assignments/).

The pages come from ``_toc.yml``, so new chapters are checked without touching this file. The
page weights are written to ``$TEST_ARTIFACTS/page-weights.txt`` (default ``_build/screenshots``).
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import booksite
import pytest
from PIL import Image

from autograder.leaks import MIN_CHARS, TEXT_SUFFIXES, find_leaks

ROOT = booksite.ROOT
pytestmark = [pytest.mark.book, pytest.mark.slow]

MB = 2**20
PAGE_LIMIT = 3 * MB  # a page with all of its figures
ANIMATION_LIMIT = 2 * MB
IMAGE_LIMIT = MB // 2  # one still figure
# PNG line plots take 0.1-0.5 byte per pixel, JPEG photographs about 0.2; uncompressed RGBA is 4.
# Above 1 byte per pixel a figure is a photograph saved as PNG, or has far more pixels than detail.
BYTES_PER_PIXEL = 1.0
RASTER = {".png", ".jpg", ".jpeg", ".gif", ".webp"}
VIDEO = {".mp4", ".webm", ".ogv"}


def artifacts_dir() -> Path:
    out = Path(os.environ.get("TEST_ARTIFACTS") or ROOT / "_build" / "screenshots")
    out.mkdir(parents=True, exist_ok=True)
    return out


def media(html: Path, docname: str) -> list[Path]:
    """The local files a page shows: images and videos (deduplicated, in page order)."""
    page = booksite.html_file(html, docname)
    text = page.read_text(encoding="utf-8")
    urls = [img.src for img in booksite.parse(page).imgs]
    urls += re.findall(r'<(?:source|video)[^>]*\bsrc="([^"]+)"', text)
    found = []
    for url in urls:
        target = booksite.local_target(page, url)
        if target is not None and target not in found:
            assert target.exists(), f"{docname}: {url} is missing"
            found.append(target)
    return found


def inline_animation_bytes(text: str) -> int:
    """Bytes of the frames of matplotlib's JavaScript animations (``to_jshtml``) in a page."""
    if "new Animation(" not in text:
        return 0
    return sum(len(m) for m in re.findall(r"data:image/[a-z]+;base64,[A-Za-z0-9+/=]+", text))


def frames(path: Path) -> int:
    with Image.open(path) as im:
        return getattr(im, "n_frames", 1)


def test_page_weight(built_book):
    rows, heavy = [], []
    for doc in booksite.toc_pages():
        page = booksite.html_file(built_book, doc)
        html_bytes = page.stat().st_size
        figs = sum(p.stat().st_size for p in media(built_book, doc))
        rows.append((html_bytes + figs, html_bytes, figs, doc))
        if html_bytes + figs > PAGE_LIMIT:
            heavy.append(f"{doc}: {(html_bytes + figs) / MB:.2f} MB")
    rows.sort(reverse=True)
    shared = sum(
        p.stat().st_size for p in (built_book / "_static").rglob("*") if p.is_file()
    )  # theme, fonts and MathJax: downloaded once, then cached for every page
    lines = [f"{'total kB':>9} {'html kB':>8} {'figs kB':>8}  page"]
    lines += [f"{t / 1024:9.0f} {h / 1024:8.0f} {f / 1024:8.0f}  {d}" for t, h, f, d in rows]
    lines.append(f"shared _static/ (all of it, cached across pages): {shared / MB:.1f} MB")
    (artifacts_dir() / "page-weights.txt").write_text("\n".join(lines) + "\n")
    assert not heavy, f"pages over {PAGE_LIMIT / MB:g} MB with their figures: {heavy}"


def test_figures_are_compressed(built_book):
    bad = []
    for doc in booksite.toc_pages():
        for path in media(built_book, doc):
            size = path.stat().st_size
            if path.suffix.lower() in RASTER:
                n = frames(path)
                with Image.open(path) as im:
                    per_pixel = size / (im.width * im.height * n)
                if n == 1 and size > IMAGE_LIMIT:
                    bad.append(f"{doc}: {path.name} is {size / 1024:.0f} kB")
                if per_pixel > BYTES_PER_PIXEL:
                    bad.append(
                        f"{doc}: {path.name} takes {per_pixel:.2f} bytes per pixel "
                        "(a photograph as PNG? show it as JPEG)"
                    )
            elif path.suffix.lower() == ".svg" and size > IMAGE_LIMIT:
                bad.append(f"{doc}: {path.name} is an SVG of {size / 1024:.0f} kB")
    assert not bad, "\n".join(bad)


def test_animations_are_small(built_book):
    seen = 0
    for doc in booksite.toc_pages():
        for path in media(built_book, doc):
            suffix = path.suffix.lower()
            moving = suffix in VIDEO or (suffix in RASTER and frames(path) > 1)
            if moving:
                seen += 1
                assert path.stat().st_size < ANIMATION_LIMIT, f"{doc}: {path.name}"
        inline = inline_animation_bytes(booksite.html_file(built_book, doc).read_text())
        assert inline < ANIMATION_LIMIT, f"{doc}: an inline animation of {inline / MB:.1f} MB"
    print(f"{seen} animations checked")


def alt_problems(page: Path) -> list[str]:
    """Images without a real description: no alt, an empty one, or just a file name or URL."""
    problems = []
    for img in booksite.parse(page).imgs:
        alt = (img.alt or "").strip()
        name = Path(img.src.split("?")[0]).name
        if not alt:
            problems.append(f"{page.name}: {name} has no alt text")
        elif alt == img.src or alt == name or re.fullmatch(r"\S+\.(png|jpe?g|gif|svg|webp)", alt):
            problems.append(f"{page.name}: {name} has a file name for alt text")
    return problems


def test_every_image_has_alt_text(built_book):
    problems = [
        p for d in booksite.toc_pages() for p in alt_problems(booksite.html_file(built_book, d))
    ]
    assert not problems, "\n".join(problems)


def test_alt_text_check_can_fail(tmp_path):
    page = tmp_path / "p.html"
    page.write_text(
        '<img src="_images/a.png" alt="Loss against epoch"><img src="_images/b.png">'
        '<img src="_images/c.png" alt=""><img src="_images/d.png" alt="_images/d.png">'
        '<img src="_images/e.png" alt="e.png">'
    )
    assert len(alt_problems(page)) == 4


# --- Nothing secret where students can reach it ---------------------------------------------


def student_reachable(html: Path) -> list[Path]:
    """The site (with _downloads/ and _sources/) and the released notebooks."""
    return [html, ROOT / "assignments"]


def test_no_solution_or_hidden_check_anywhere_students_reach(built_book):
    leaks = find_leaks(student_reachable(built_book), ROOT / "solutions")
    assert not leaks, "\n".join(map(str, leaks[:20]))


def test_downloads_are_the_released_notebooks(built_book):
    """Each assignment page offers exactly the released file, and it is among what is scanned."""
    downloads = {p.name: p for p in (built_book / "_downloads").rglob("*.ipynb")}
    for release in sorted((ROOT / "assignments").glob("*/*.ipynb")):
        assert release.name in downloads, f"no download of {release.name}"
        assert downloads[release.name].read_bytes() == release.read_bytes()


def test_every_downloadable_file_is_scanned(built_book):
    """A downloadable file of a type the leak check does not read (an archive, say) fails."""
    images = RASTER | {".svg"}
    unread = [
        str(p.relative_to(built_book))
        for folder in ("_downloads", "_sources")
        for p in (built_book / folder).rglob("*")
        if p.is_file() and p.suffix not in TEXT_SUFFIXES | images
    ]
    assert not unread, f"downloadable files the leak check cannot read: {unread}"
    notebooks = [d for d in booksite.toc_pages() if booksite.is_chapter(d)]
    for doc in notebooks:  # the .ipynb download of every chapter exists (and was scanned above)
        assert (built_book / "_sources" / f"{doc}.ipynb").exists(), doc


def test_downloaded_notebooks_hold_each_output_once(built_book):
    """The .ipynb download of a chapter has its outputs, and no printed line twice.

    myst-nb 1.x left a cell's original stream outputs beside the merged one (``nb_merge_streams``)
    and wrote cached chapters without outputs; book/_ext/merge_streams.py fixes both.
    """
    problems = []
    for doc in (d for d in booksite.toc_pages() if booksite.is_chapter(d)):
        cells = json.loads((built_book / "_sources" / f"{doc}.ipynb").read_text())["cells"]
        code = [c for c in cells if c["cell_type"] == "code"]
        if code and not any(c.get("outputs") for c in code):
            problems.append(f"{doc}: no outputs")
        for i, cell in enumerate(code):
            streams = [o["name"] for o in cell.get("outputs", []) if o["output_type"] == "stream"]
            if len(streams) != len(set(streams)):
                problems.append(f"{doc}: code cell {i} has {streams}")
    assert not problems, "\n".join(problems)


def hidden_check_lines() -> set[str]:
    """Substantial lines of the hidden checks that the public checks and probes do not share."""
    lines: set[str] = set()
    for hidden in (ROOT / "autograder" / "checks").glob("*/hidden.py"):
        public = set()
        for other in ("public.py", "probes.py"):
            if (hidden.parent / other).exists():
                public |= {x.strip() for x in (hidden.parent / other).read_text().splitlines()}
        for raw in hidden.read_text().splitlines():
            line = raw.strip()
            if (
                len(line) >= MIN_CHARS
                and line not in public
                and not line.startswith(("#", "import ", "from ", "@check(", '"""'))
            ):
                lines.add(line)
    return lines


def hidden_leaks(roots: list[Path], lines: set[str]) -> list[str]:
    found = []
    for root in roots:
        for path in sorted(Path(root).rglob("*")):
            if path.is_file() and path.suffix in TEXT_SUFFIXES and ".doctrees" not in path.parts:
                text = path.read_text(encoding="utf-8", errors="replace")
                seen = {x.strip() for x in text.splitlines()} & lines
                found += [f"{path}: {x}" for x in sorted(seen)]
    return found


def test_no_hidden_check_code_anywhere_students_reach(built_book):
    lines = hidden_check_lines()
    assert lines, "found no hidden checks to look for"
    found = hidden_leaks(student_reachable(built_book), lines)
    assert not found, "\n".join(found[:20])


def test_leak_checks_read_downloaded_notebooks(tmp_path):
    """Negative example: a solution line in a cell of a downloadable notebook, a hidden-check line
    in a page source."""
    sols = tmp_path / "solutions" / "x"
    sols.mkdir(parents=True)
    (sols / "x.md").write_text(
        "### BEGIN SOLUTION\nscores = x @ weights.T + bias_vector\n### END SOLUTION\n"
    )
    nb = tmp_path / "site" / "_downloads" / "abc" / "x.ipynb"
    nb.parent.mkdir(parents=True)
    nb.write_text(
        '{"cells": [{"cell_type": "code", "source": ["scores = x @ weights.T + bias_vector\\n"]}]}'
    )
    assert len(find_leaks([tmp_path / "site"], tmp_path / "solutions")) == 1
    src = tmp_path / "site" / "_sources" / "book" / "x.md"
    src.parent.mkdir(parents=True)
    secret = "expect_close(out, reference_on_a_batch_of_one, 'hidden')"
    src.write_text(f"```python\n{secret}\n```\n")
    assert len(hidden_leaks([tmp_path / "site"], {secret})) == 1
