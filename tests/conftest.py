"""Make the repository root importable, so ``pytest`` works as well as ``python -m pytest``; and
build the book once per test run for every test that needs the site."""

import datetime
import os
import re
import subprocess
import sys
import time
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

_START = time.monotonic()
_FILE_SECONDS: dict[str, float] = {}
_GROUP_SECONDS: dict[str, float] = {}


def pytest_runtest_logreport(report) -> None:
    path = report.nodeid.split("::", 1)[0]
    _FILE_SECONDS[path] = _FILE_SECONDS.get(path, 0.0) + report.duration
    if "@" in report.nodeid:  # under `--dist loadgroup` the node id ends in "@<group>"
        group = report.nodeid.rsplit("@", 1)[1]
        _GROUP_SECONDS[group] = _GROUP_SECONDS.get(group, 0.0) + report.duration


# -- running on both cores: `make test` runs `pytest -n 2 --dist loadgroup` (pytest-xdist) -------
#
# Every test gets a group; a group runs in one process, so what it shares is computed once: the
# book build (every test that needs `built_book`), each assignment's graded corpus
# (test_assignments.graded), a file's module fixtures. Groups go to whichever process is free,
# longest first, so the book build and the big corpora start at once and the short files fill
# the gaps. GROUP_SECONDS: rough cost of the long groups on the 2-core CI machine (the summary
# below prints the measured figures); groups not listed keep their collection order after them.

GROUP_SECONDS = {
    "book": 900,
    "grade-a6_training": 420,
    "grade-a4_optim": 300,
    "test_scale.py": 190,
    "test_kit.py": 180,
    "grade-a5_dropout": 150,
    "test_grader_fixture.py": 130,
}

# Files whose tests share nothing costly: each parameter is a group of its own.
SPLIT_BY_PARAMETER = {"test_nbgrader_compat.py"}


def group_of(item: pytest.Item) -> str:
    if "built_book" in item.fixturenames:
        return "book"
    name = item.path.name
    params = getattr(getattr(item, "callspec", None), "params", {})
    if name == "test_assignments.py" and "name" in params:
        return f"grade-{params['name']}"
    if name in SPLIT_BY_PARAMETER and params:
        return f"{name}[{'-'.join(map(str, params.values()))}]"
    return name


def pytest_collection_modifyitems(config, items) -> None:
    # A stable sort: the longest groups first, the rest in collection order.
    items.sort(key=lambda item: -GROUP_SECONDS.get(group_of(item), 0))
    if getattr(config.option, "loadgroup", False):  # an xdist worker under --dist loadgroup
        # xdist 3.8 marks a group by appending "@<group>" to `item._nodeid`, which pytest 9 no
        # longer reads (node ids are structured): append it where pytest 9 keeps the id.
        from _pytest.nodeid import NodeId

        for item in items:
            if "@" not in item.nodeid:
                item._id = NodeId.parse(f"{item.nodeid}@{group_of(item)}")


def pytest_terminal_summary(terminalreporter) -> None:
    """Setup, call and teardown time per file, slowest first (a session fixture such as the book
    build counts in the file of the first test that needs it). README "Measured" keeps the
    figures of a fresh-clone run; CI must stay under 40 minutes. Under ``-n 2`` the files' times
    add up both processes: the wall time is printed last."""
    if not _FILE_SECONDS:
        return
    terminalreporter.section("time per test file")
    total = sum(_FILE_SECONDS.values())
    for path, seconds in sorted(_FILE_SECONDS.items(), key=lambda kv: -kv[1]):
        terminalreporter.write_line(f"{seconds:8.1f} s  {path}")
    terminalreporter.write_line(f"{total:8.1f} s  in all ({total / 60:.1f} min)")
    if _GROUP_SECONDS:  # what conftest.GROUP_SECONDS should say
        terminalreporter.section("time per xdist group (the longest 12)")
        for group, seconds in sorted(_GROUP_SECONDS.items(), key=lambda kv: -kv[1])[:12]:
            terminalreporter.write_line(f"{seconds:8.1f} s  {group}")
    _chapter_times(terminalreporter)
    wall = time.monotonic() - _START
    terminalreporter.write_line(f"wall time of the run: {wall:.0f} s ({wall / 60:.1f} min)")


_STARTED = datetime.datetime.now()


def _chapter_times(terminalreporter) -> None:
    """Each chapter's execution time in this run's book build (issue 22: about a minute each),
    read from the strict build's execution cache (a chapter whose code did not change since an
    earlier run is not executed again: it is not listed)."""
    cache = Path(ROOT) / "_build" / ".jupyter_cache_strict"
    if not cache.exists():
        return
    try:
        from jupyter_cache import get_cache

        records = [r for r in get_cache(str(cache)).list_cache_records() if r.created >= _STARTED]
    except Exception as err:  # noqa: BLE001 -- a report, never a failure
        terminalreporter.write_line(f"chapter times unavailable: {err}")
        return
    if not records:
        return
    terminalreporter.section("chapters executed by this run's book build")
    times = sorted(((r.data or {}).get("execution_seconds", 0.0), r.uri) for r in records)
    for seconds, uri in reversed(times):
        terminalreporter.write_line(f"{seconds:8.1f} s  {os.path.relpath(uri, ROOT)}")
    total = sum(s for s, _ in times)
    terminalreporter.write_line(f"{total:8.1f} s  in all ({total / 60:.1f} min)")
