"""What the site tests need to know about the book: its pages (read from ``_toc.yml``, so new
chapters and parts are covered without touching a test), their sources, and their HTML."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import yaml

ROOT = Path(__file__).resolve().parent.parent


def toc() -> dict:
    return yaml.safe_load((ROOT / "_toc.yml").read_text())


def _files(entries: list[dict]) -> list[str]:
    out = []
    for entry in entries or []:
        if "file" in entry:
            out.append(entry["file"])
        out += _files(entry.get("sections", []))
    return out


def toc_pages() -> list[str]:
    """Every docname in the table of contents, root first, in reading order."""
    t = toc()
    pages = [t["root"]]
    for part in t.get("parts", []):
        pages += _files(part.get("chapters", []))
    pages += _files(t.get("chapters", []))
    return [str(Path(p).with_suffix("")) for p in pages]


def part_captions() -> list[str]:
    return [p["caption"] for p in toc().get("parts", [])]


def source(docname: str) -> Path:
    for suffix in (".md", ".ipynb"):
        path = ROOT / f"{docname}{suffix}"
        if path.exists():
            return path
    raise FileNotFoundError(docname)


def front_matter(docname: str) -> dict:
    text = source(docname).read_text()
    if not text.startswith("---\n"):
        return {}
    return yaml.safe_load(text[4 : text.index("\n---", 4)]) or {}


def is_chapter(docname: str) -> bool:
    """A chapter is a page that executes: a MyST notebook with a kernel."""
    return "kernelspec" in front_matter(docname)


def is_gpu_chapter(docname: str) -> bool:
    return bool(front_matter(docname).get("gpu"))


def html_file(html_root: Path, docname: str) -> Path:
    return html_root / f"{docname}.html"


@dataclass
class Img:
    src: str
    alt: str | None
    in_article: bool


@dataclass
class Page:
    """What the site tests read from one HTML page."""

    imgs: list[Img] = field(default_factory=list)
    links: list[str] = field(default_factory=list)  # href of every <a>
    scripts: list[str] = field(default_factory=list)  # src of every <script>
    stylesheets: list[str] = field(default_factory=list)


class _Parser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.page = Page()
        self._article_depth = 0
        self._depth = 0

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag not in ("img", "br", "hr", "meta", "link", "input", "source"):
            self._depth += 1
            if tag == "article" and not self._article_depth:
                self._article_depth = self._depth
        if tag == "img":
            self.page.imgs.append(Img(a.get("src", ""), a.get("alt"), bool(self._article_depth)))
        elif tag == "a" and a.get("href"):
            self.page.links.append(a["href"])
        elif tag == "script" and a.get("src"):
            self.page.scripts.append(a["src"])
        elif tag == "link" and a.get("rel") == "stylesheet" and a.get("href"):
            self.page.stylesheets.append(a["href"])

    def handle_endtag(self, tag):
        if tag in ("img", "br", "hr", "meta", "link", "input", "source"):
            return
        if self._article_depth and self._depth == self._article_depth and tag == "article":
            self._article_depth = 0
        self._depth -= 1


def parse(path: Path) -> Page:
    p = _Parser()
    p.feed(path.read_text(encoding="utf-8"))
    return p.page


MATH_RE = re.compile(r'<(?:span|div) class="(?:[^"]*\s)?math(?:\s[^"]*)?"')


def math_elements(path: Path) -> int:
    """Inline and display math in a page, as Sphinx writes it for MathJax."""
    return len(MATH_RE.findall(path.read_text(encoding="utf-8")))


def title(path: Path) -> str:
    """The text of a page's first heading."""
    m = re.search(r"<h1[^>]*>(.*?)</h1>", path.read_text(encoding="utf-8"), re.S)
    return re.sub(r"<[^>]+>|#|\s+", " ", m.group(1)).strip() if m else ""


def first_paragraph(path: Path) -> str:
    """The text of the first paragraph of a page's article."""
    text = path.read_text(encoding="utf-8")
    article = text[text.find("<article") :]
    m = re.search(r"<p>(.*?)</p>", article, re.S)
    return re.sub(r"<[^>]+>", " ", m.group(1)) if m else ""


def local_target(page: Path, url: str) -> Path | None:
    """The file a relative URL of ``page`` points to, or None for external and data URLs."""
    parts = urlsplit(url)
    if parts.scheme or parts.netloc or not parts.path:
        return None
    return (page.parent / unquote(parts.path)).resolve()
