"""The book builds with warnings as errors, shows the parts of its table of contents, and never
contains solution text or hidden checks. The ``built_book`` fixture (tests/conftest.py) builds the
book once per test run for this file and the other site tests."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from autograder.leaks import find_leaks

ROOT = Path(__file__).resolve().parent.parent
pytestmark = [pytest.mark.book, pytest.mark.slow]


def _toc():
    return yaml.safe_load((ROOT / "_toc.yml").read_text())


def test_every_toc_page_is_built(built_book):
    toc = _toc()
    pages = [toc["root"]] + [c["file"] for p in toc["parts"] for c in p["chapters"]]
    for page in pages:
        assert (built_book / f"{page}.html").exists(), page


def test_sidebar_shows_every_part(built_book):
    index = (built_book / "book" / "intro.html").read_text()
    for part in _toc()["parts"]:
        assert part["caption"] in index


def test_only_toc_pages_are_built(built_book):
    assert not (built_book / "solutions").exists()
    assert not (built_book / "assignments").exists()
    assert not (built_book / "autograder").exists()
    assert not (built_book / "README.html").exists()


def test_licence_in_footer(built_book):
    page = (built_book / "book" / "intro.html").read_text()
    assert "MIT licence" in page and "CC BY 4.0" in page


def test_no_solution_or_hidden_check_in_the_site(built_book):
    leaks = find_leaks([built_book], ROOT / "solutions")
    assert not leaks, "\n".join(map(str, leaks[:20]))


def test_leak_check_can_fail(tmp_path):
    sols = tmp_path / "solutions" / "x"
    sols.mkdir(parents=True)
    (sols / "x.md").write_text(
        "### BEGIN SOLUTION\nout = np.maximum(0.0, x) * scale_factor\n### END SOLUTION\n"
    )
    page = tmp_path / "site" / "p.html"
    page.parent.mkdir()
    page.write_text("<pre><span>out</span> = np.maximum(0.0, x) * scale_factor</pre>")
    assert len(find_leaks([tmp_path / "site"], tmp_path / "solutions")) == 1
    page.write_text("<p>### BEGIN HIDDEN TESTS</p>")
    assert find_leaks([tmp_path / "site"], tmp_path / "solutions")[0].what.startswith("marker")
