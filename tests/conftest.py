"""Make the repository root importable, so ``pytest`` works as well as ``python -m pytest``; and
build the book once per test run for every test that needs the site."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = str(Path(__file__).resolve().parent.parent)
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)


@pytest.fixture(scope="session")
def built_book() -> Path:
    """The HTML of the book, built with warnings as errors, once per session.

    ``BOOK_OUTPUT=<dir>`` builds into ``<dir>/_build`` instead of the repository's ``_build``
    (``--path-output``); ``BOOK_HTML=<dir>`` skips the build and uses a site built before (for
    iterating on the site tests only: it proves nothing about the build itself).
    """
    if os.environ.get("BOOK_HTML"):
        html = Path(os.environ["BOOK_HTML"]).resolve()
        assert (html / "index.html").exists(), f"BOOK_HTML={html} has no index.html"
        return html
    jb = Path(sys.executable).parent / "jupyter-book"
    env = dict(os.environ, PATH=f"{jb.parent}{os.pathsep}{os.environ.get('PATH', '')}")
    cmd = [str(jb), "build", ".", "-W", "-n", "--keep-going"]
    out = Path(os.environ.get("BOOK_OUTPUT") or ROOT).resolve()
    if os.environ.get("BOOK_OUTPUT"):
        cmd += ["--path-output", str(out)]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, env=env)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    return out / "_build" / "html"
