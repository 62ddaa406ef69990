"""The built book in a real browser: headless Chromium (Debian's ``chromium`` and
``chromium-driver``, installed by scripts/setup.sh) driven by Selenium.

Every page of ``_toc.yml`` is loaded once from a local HTTP server, and the tests then check what
the browser saw: no console error, math typeset by MathJax (no TeX errors), every image decoded,
the sidebar listing every part, launch and download buttons on every chapter (Colab only on the
GPU chapters). Search must find a chapter by a word of its title. Screenshots of a few pages go to
``$TEST_ARTIFACTS`` (default ``_build/screenshots``).

Selenium Manager is never used (it would try to download a browser): the driver and the binary
are given by path. The test is skipped, with the reason, where Chromium is not installed.
"""

from __future__ import annotations

import functools
import http.server
import os
import re
import shutil
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import booksite
import pytest

pytestmark = [pytest.mark.book, pytest.mark.slow]

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("CHROMEDRIVER", "/usr/bin/chromedriver")
WINDOW = (1400, 1000)


@dataclass
class Visit:
    """What the browser saw on one page."""

    docname: str
    severe: list[str] = field(default_factory=list)  # console messages of level SEVERE
    math_elements: int = 0  # .math spans and divs in the HTML
    mjx: int = 0  # MathJax output containers after typesetting
    mjx_errors: list[str] = field(default_factory=list)
    broken_images: list[str] = field(default_factory=list)
    article_images: int = 0
    captions: list[str] = field(default_factory=list)  # the sidebar's part captions
    launch: dict[str, str] = field(default_factory=dict)  # launch dropdown: text -> href
    download: dict[str, str] = field(default_factory=dict)  # download dropdown: text -> href


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def site(built_book):
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(_QuietHandler, directory=str(built_book))
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def driver():
    if not (shutil.which(CHROMIUM) and shutil.which(CHROMEDRIVER)):
        pytest.skip(f"no {CHROMIUM} and {CHROMEDRIVER}: run scripts/setup.sh (Debian packages)")
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for arg in (
        "--headless=new",
        "--no-sandbox",  # CI runs as root
        "--disable-dev-shm-usage",
        "--disable-gpu",
        f"--window-size={WINDOW[0]},{WINDOW[1]}",
        "--hide-scrollbars",
    ):
        opts.add_argument(arg)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    drv = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=opts)
    drv.set_page_load_timeout(30)
    drv.set_script_timeout(30)
    yield drv
    drv.quit()


@pytest.fixture(scope="module")
def artifacts() -> Path:
    out = Path(os.environ.get("TEST_ARTIFACTS") or booksite.ROOT / "_build" / "screenshots")
    out.mkdir(parents=True, exist_ok=True)
    return out


# Resolves once MathJax has typeset the page (at once on pages without MathJax), then once every
# image has loaded or failed; returns what the tests need.
SETTLE_JS = """
const done = arguments[arguments.length - 1];
const mj = window.MathJax && window.MathJax.startup && window.MathJax.startup.promise;
const images = [...document.images];
images.forEach(img => { img.loading = "eager"; });
const loaded = images.map(img => img.complete ? Promise.resolve() :
    new Promise(ok => { img.addEventListener("load", ok); img.addEventListener("error", ok); }));
Promise.all([mj || Promise.resolve(), ...loaded]).then(() => {
  const links = sel => Object.fromEntries([...document.querySelectorAll(sel + " a.dropdown-item")]
      .map(a => [a.textContent.trim(), a.getAttribute("href")]));
  done({
    mjx: document.querySelectorAll("mjx-container").length,
    mjxErrors: [...document.querySelectorAll("mjx-merror")].map(e =>
        e.getAttribute("data-mjx-error") || e.textContent),
    broken: images.filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.src),
    articleImages: document.querySelectorAll("article img").length,
    captions: [...document.querySelectorAll(".bd-sidebar-primary .caption-text")]
        .map(e => e.textContent.trim()),
    launch: links(".dropdown-launch-buttons"),
    download: links(".dropdown-download-buttons"),
  });
}, err => done({jsError: String(err)}));
"""


def visit(driver, site: str, built_book: Path, docname: str) -> Visit:
    driver.get_log("browser")  # drop what earlier pages logged
    driver.get(f"{site}/{docname}.html")
    seen = driver.execute_async_script(SETTLE_JS)
    assert "jsError" not in seen, f"{docname}: {seen.get('jsError')}"
    v = Visit(docname)
    v.severe = [e["message"] for e in driver.get_log("browser") if e["level"] == "SEVERE"]
    v.math_elements = booksite.math_elements(booksite.html_file(built_book, docname))
    v.mjx, v.mjx_errors = seen["mjx"], seen["mjxErrors"]
    v.broken_images, v.article_images = seen["broken"], seen["articleImages"]
    v.captions, v.launch, v.download = seen["captions"], seen["launch"], seen["download"]
    return v


@functools.cache
def screenshot_plan(built_book: Path) -> dict[str, tuple[str, str | None]]:
    """Screenshot name -> (page, what to do first): the intro, the chapter with the most math,
    the one with the most figures (scrolled to its first figure), a GPU chapter with its launch
    menu open, and an assignment page. Chosen from the HTML, so new chapters are candidates."""
    pages = booksite.toc_pages()
    chapters = [d for d in pages if booksite.is_chapter(d)]

    def figures(doc: str) -> int:
        return sum(
            img.in_article for img in booksite.parse(booksite.html_file(built_book, doc)).imgs
        )

    plan = {"intro": (pages[0], None)}
    if chapters:
        math = max(
            chapters, key=lambda d: booksite.math_elements(booksite.html_file(built_book, d))
        )
        plan["math"] = (math, None)
        plan["figures"] = (max(chapters, key=figures), "article img")
    gpu = [d for d in chapters if booksite.is_gpu_chapter(d)]
    if gpu:
        plan["gpu-launch"] = (gpu[0], ".dropdown-launch-buttons button")
    assignments = [d for d in pages if d.startswith("book/assignments/") and "index" not in d]
    if assignments:
        plan["assignment"] = (assignments[0], None)
    return plan


def screenshot(driver, path: Path, target: str | None) -> None:
    from selenium.webdriver.common.by import By

    if target == "article img":
        driver.execute_script(
            "document.querySelector('article img').scrollIntoView({block: 'center'})"
        )
    elif target:
        driver.find_element(By.CSS_SELECTOR, target).click()
    time.sleep(0.3)  # let the scroll or the dropdown finish drawing
    driver.save_screenshot(str(path))


@pytest.fixture(scope="module")
def visits(driver, site, built_book, artifacts) -> dict[str, Visit]:
    """Every page of the table of contents, visited once; screenshots taken on the way."""
    plan = screenshot_plan(built_book)
    t0 = time.perf_counter()
    seen = {}
    for doc in booksite.toc_pages():
        seen[doc] = visit(driver, site, built_book, doc)
        for name, (page, target) in plan.items():
            if page == doc:
                screenshot(driver, artifacts / f"{name}.png", target)
    elapsed = time.perf_counter() - t0
    (artifacts / "browser-pages.txt").write_text(
        f"{len(seen)} pages in {elapsed:.1f} s\n"
        + "".join(
            f"{v.docname}: {v.mjx} math, {v.article_images} images, "
            f"launch {sorted(v.launch)}, download {sorted(v.download)}\n"
            for v in seen.values()
        )
    )
    return seen


def test_no_console_errors(visits):
    errors = [f"{d}: {m}" for d, v in visits.items() for m in v.severe]
    assert not errors, "\n".join(errors)


def test_math_is_typeset(visits):
    with_math = [v for v in visits.values() if v.math_elements]
    assert with_math, "no page has math: the check would prove nothing"
    for v in with_math:
        assert v.mjx >= v.math_elements, f"{v.docname}: {v.mjx} of {v.math_elements} typeset"
        assert not v.mjx_errors, f"{v.docname}: TeX errors {v.mjx_errors}"


def test_every_image_loads(visits):
    assert sum(v.article_images for v in visits.values()) > 0
    broken = [f"{d}: {src}" for d, v in visits.items() for src in v.broken_images]
    assert not broken, "\n".join(broken)


def test_sidebar_lists_every_part(visits):
    parts = booksite.part_captions()
    for v in visits.values():
        missing = [p for p in parts if p not in v.captions]
        assert not missing, f"{v.docname}: sidebar lacks {missing}"


def test_launch_and_download_buttons(visits, site):
    chapters = [d for d in visits if booksite.is_chapter(d)]
    assert chapters
    for doc in chapters:
        v = visits[doc]
        assert {"Binder", "JupyterHub"} <= set(v.launch), f"{doc}: launch buttons {v.launch}"
        assert f"urlpath=lab/tree/{doc}.md" in v.launch["Binder"]
        gpu = booksite.is_gpu_chapter(doc)
        assert ("Colab" in v.launch) == gpu, f"{doc}: Colab {'missing' if gpu else 'on a CPU page'}"
        if gpu:
            assert v.launch["Colab"].endswith(f"/_sources/{doc}.ipynb")
        assert {".ipynb", ".md"} <= set(v.download), f"{doc}: download buttons {v.download}"
        # The notebook behind the download button is served.
        url = f"{site}/{doc}.html".rsplit("/", 1)[0] + "/" + v.download[".ipynb"]
        with urllib.request.urlopen(url, timeout=10) as resp:
            assert resp.status == 200 and b'"cells"' in resp.read(4096)
    assert any(booksite.is_gpu_chapter(d) for d in chapters), "no GPU chapter is tagged gpu: true"


def test_search_finds_a_chapter(driver, site, built_book, visits, artifacts):
    """Search for a long word of the first chapter's opening paragraph that its title lacks:
    the chapter is among the hits (the full-text index works, not only titles)."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    doc = next(d for d in visits if booksite.is_chapter(d))
    page = booksite.html_file(built_book, doc)
    title = booksite.title(page).lower()
    words = re.findall(r"[A-Za-z]{8,}", booksite.first_paragraph(page))
    term = max((w for w in words if w.lower() not in title), key=len)
    driver.get_log("browser")
    driver.get(f"{site}/search.html?q={term}")
    WebDriverWait(driver, 30).until(
        lambda d: "Search finished" in d.find_element(By.ID, "search-results").text
    )
    hits = [a.get_attribute("href") for a in driver.find_elements(By.CSS_SELECTOR, "ul.search a")]
    assert any(h and h.split("#")[0].endswith(f"/{doc}.html") for h in hits), (term, hits[:5])
    driver.save_screenshot(str(artifacts / "search.png"))
    assert not [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]


def test_screenshots(visits, built_book, artifacts):
    for name in screenshot_plan(built_book):
        path = artifacts / f"{name}.png"
        assert path.exists(), name
        assert path.stat().st_size > 20_000, f"{name}: a suspiciously empty screenshot"
