"""Make the repository root importable, so ``pytest`` works as well as ``python -m pytest``; and
build the book once per test run for every test that needs the site."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = str(Path(__file__).resolve().parent.parent)
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)


def _strict_config() -> Path:
    """_config.yml with its own execution cache (the extension paths made absolute: Jupyter Book
    reads them relative to the config file)."""
    text = (Path(ROOT) / "_config.yml").read_text()
    text = re.sub(
        r"(?m)^(\s*cache:\s*)_build/\.jupyter_cache\b", r"\1_build/.jupyter_cache_strict", text
    )
    text = re.sub(r"(?m)^(\s+\w+:\s*)book/_ext/", rf"\g<1>{ROOT}/book/_ext/", text)
    assert ".jupyter_cache_strict" in text and f"{ROOT}/book/_ext/" in text, "_config.yml changed"
    out = Path(ROOT) / "_build" / "_config.strict.yml"
    out.parent.mkdir(exist_ok=True)
    out.write_text(text)
    return out


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
    # Chapters fail here where a GPU would (coursekit.strict_device); kernels inherit this.
    env["COURSE_STRICT_DEVICE"] = "1"
    # Strict mode prints its device as "cpu:0": its outputs get an execution cache of their own,
    # so a later `make book` never publishes them.
    cmd = [str(jb), "build", ".", "-W", "-n", "--keep-going", "--config", str(_strict_config())]
    out = Path(os.environ.get("BOOK_OUTPUT") or ROOT).resolve()
    if os.environ.get("BOOK_OUTPUT"):
        cmd += ["--path-output", str(out)]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, env=env)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    return out / "_build" / "html"


# -- the suite's time budget: seconds per test file, printed at the end of every run ------------

_FILE_SECONDS: dict[str, float] = {}


def pytest_runtest_logreport(report) -> None:
    path = report.nodeid.split("::", 1)[0]
    _FILE_SECONDS[path] = _FILE_SECONDS.get(path, 0.0) + report.duration


def pytest_terminal_summary(terminalreporter) -> None:
    """Setup, call and teardown time per file, slowest first (a session fixture such as the book
    build counts in the file of the first test that needs it). README "Measured" keeps the
    figures of a fresh-clone run; CI must stay under 40 minutes."""
    if not _FILE_SECONDS:
        return
    terminalreporter.section("time per test file")
    total = sum(_FILE_SECONDS.values())
    for path, seconds in sorted(_FILE_SECONDS.items(), key=lambda kv: -kv[1]):
        terminalreporter.write_line(f"{seconds:8.1f} s  {path}")
    terminalreporter.write_line(f"{total:8.1f} s  in all ({total / 60:.1f} min)")
