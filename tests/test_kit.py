"""The student kit (``python -m autograder kit DIR``): the notebooks, coursekit and the public
checks, never solutions or hidden checks; it sets itself up and its notebooks run their checks
from its own copy of the autograder."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from notebooks import solution_notebook, with_sources

from autograder.course import Course
from autograder.kit import KitError, public_modules, scan, write_kit

FIXTURE = Path(__file__).parent / "fixtures" / "tiny_course"
REQUIRED = {"nbgrader", "numpy", "torch", "matplotlib"}


@pytest.fixture(scope="module")
def course():
    return Course.load()


@pytest.fixture(scope="module")
def kit(course, tmp_path_factory):
    dest = tmp_path_factory.mktemp("kit") / "student-kit"
    write_kit(course, dest)
    return dest


def _files(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}


def test_kit_holds_the_notebooks_and_public_checks_only(course, kit):
    files = _files(kit)
    for name in course.names():
        assert f"assignments/{name}/{name}.ipynb" in files
        assert f"autograder/checks/{name}/public.py" in files
        assert f"autograder/checks/{name}/probes.py" in files
    assert {"autograder/notebook.py", "autograder/checking.py", "coursekit/data.py"} <= files
    assert {"README.md", "requirements.txt", "pyproject.toml", "scripts/setup.sh"} <= files
    # Nothing of the grading: no hidden checks, solutions, tests, grader, sandbox or gradebook.
    assert not [f for f in files if Path(f).name == "hidden.py"]
    assert not [f for f in files if f.split("/")[0] in ("solutions", "tests", "bench", "book")]
    grading = {"grader.py", "sandbox.py", "gradebook.py", "release.py", "leaks.py", "kit.py"}
    assert not {Path(f).name for f in files if f.startswith("autograder/")} & grading
    assert scan(kit, course.root / "solutions") == []
    # The released notebooks, byte for byte; the capstone's hidden checks stay out.
    for name in course.names():
        a = course.assignment(name)
        assert (kit / a.release_path.relative_to(course.root)).read_bytes() == (
            a.release_path.read_bytes()
        )
    assert "shift_one_pixel" not in (kit / "autograder/checks/a6_training/capstone.py").read_text()


def test_kit_readme_and_requirements_come_from_the_course(course, kit):
    readme = (kit / "README.md").read_text()
    assert "## For students" in readme and "checker.check(" in readme
    pins = dict(
        line.split("==")
        for line in (kit / "requirements.txt").read_text().splitlines()
        if "==" in line
    )
    assert REQUIRED <= set(pins)
    course_reqs = (course.root / "requirements.txt").read_text().splitlines()
    for package, version in pins.items():
        assert f"{package}=={version}" in course_reqs
    assert "jupyter-book" not in pins and "pytest" not in pins


def test_kit_is_refused_when_a_public_check_imports_a_hidden_one(tmp_path):
    root = tmp_path / "course"
    shutil.copytree(FIXTURE, root, ignore=shutil.ignore_patterns("__pycache__"))
    files = public_modules(Course.load(root))
    assert "tiny_checks/t1_tiny/public.py" in files and "autograder/checking.py" in files
    assert not [f for f in files if "hidden" in f]
    public = root / "tiny_checks" / "t1_tiny" / "public.py"
    public.write_text(public.read_text() + "\nfrom . import hidden  # noqa\n")
    with pytest.raises(KitError, match="hidden.py"):
        public_modules(Course.load(root))


def test_a_failed_kit_leaves_the_old_one_as_it_was(course, kit, tmp_path, monkeypatch):
    dest = tmp_path / "kit"
    shutil.copytree(kit, dest)
    before = {f: (dest / f).read_bytes() for f in _files(dest)}
    with pytest.raises(KitError, match="--force"):
        write_kit(course, dest)
    # A solution region slips into a file of the kit: refused, nothing replaced, no debris.
    import autograder.kit as kit_module

    real_build = kit_module.build

    def leaky_build(c, where):
        written = real_build(c, where)
        (where / "notes.md").write_text("### BEGIN SOLUTION\n")
        return written

    monkeypatch.setattr(kit_module, "build", leaky_build)
    with pytest.raises(KitError, match="BEGIN SOLUTION"):
        write_kit(course, dest, force=True)
    assert {f: (dest / f).read_bytes() for f in _files(dest)} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["kit"]  # no half-built kit left
    # Regenerated inside a clone of the students' repository: the files are new, .git stays.
    monkeypatch.setattr(kit_module, "build", real_build)
    (dest / ".git").mkdir()
    (dest / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    (dest / "stale.txt").write_text("from an earlier kit")
    write_kit(course, dest, force=True)
    assert (dest / ".git" / "HEAD").read_text() == "ref: refs/heads/main\n"
    assert not (dest / "stale.txt").exists() and (dest / "README.md").exists()
    # A folder that is not a kit is never replaced, not even with --force.
    other = tmp_path / "thesis"
    other.mkdir()
    (other / "chapter1.tex").write_text("...")
    with pytest.raises(KitError, match="not an earlier student kit"):
        write_kit(course, other, force=True)
    assert (other / "chapter1.tex").read_text() == "..."
    with pytest.raises(KitError, match="outside the course"):
        write_kit(course, course.root / "autograder", force=True)


@pytest.mark.slow
def test_kit_sets_up_and_its_notebooks_check_themselves(course, kit, tmp_path):
    """The student's path: the kit's setup.sh, then nbgrader validate in the kit's own venv (its
    own autograder): a notebook with every answer filled in passes, the stub does not."""
    env = {k: v for k, v in os.environ.items() if k not in ("AUTOGRADER_COURSE", "VIRTUAL_ENV")}
    env["PATH"] = os.pathsep.join(
        p for p in env.get("PATH", "").split(os.pathsep) if not p.startswith(sys.prefix)
    )
    setup = subprocess.run(
        ["bash", "scripts/setup.sh"], cwd=kit, env=env, capture_output=True, text=True
    )
    assert setup.returncode == 0, setup.stdout[-2000:] + setup.stderr[-3000:]
    python = kit / ".venv" / "bin" / "python"
    where = subprocess.run(
        [str(python), "-c", "import autograder; print(autograder.__file__)"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
    )
    assert where.stdout.strip() == str(kit / "autograder" / "__init__.py"), where.stderr

    name = "a1_backprop"
    stub = kit / "assignments" / name / f"{name}.ipynb"
    answers = {
        c.metadata["nbgrader"]["grade_id"]: c.source
        for c in solution_notebook(course, name).cells
        if c.metadata.get("nbgrader", {}).get("solution")
    }
    filled = with_sources(nbformat.read(stub, as_version=4), **answers)
    nbformat.write(filled, stub.with_name("filled.ipynb"))

    def validate(nb: Path) -> str:
        run = subprocess.run(
            [str(python), "-m", "nbgrader", "validate", str(nb.relative_to(kit))],
            cwd=kit,
            env=env,
            capture_output=True,
            text=True,
        )
        return run.stdout

    ok = validate(stub.with_name("filled.ipynb"))
    assert "Success! Your notebook passes all the tests." in ok, ok[-3000:]
    bad = validate(stub)
    assert "VALIDATION FAILED" in bad, bad[-3000:]
    # The kit's checker ran (nbgrader cuts traceback lines at 90 characters, so a long kit path
    # loses "notebook.py": look for the kit's package, and not the course's own copy).
    kit_frame = f"File {kit / 'autograder'}/"
    assert kit_frame in bad and str(course.root / "autograder") not in bad, bad[-3000:]


# Link targets in markdown (``[text](target)``, ``![alt](target)``) and in HTML attributes.
LINK_TARGET = re.compile(
    r"\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)|(?:href|src)=[\"']([^\"']+)"
)


def relative_links(text: str) -> list[str]:
    """The relative link targets of a markdown text (no URL scheme, no anchor-only link)."""
    out = []
    for m in LINK_TARGET.finditer(text):
        target = m.group(1) or m.group(2)
        if re.match(r"^[a-z][a-z0-9+.\-]*:", target, flags=re.I) or target.startswith("#"):
            continue
        out.append(target)
    return out


def test_kit_links_only_to_files_the_kit_has(course, kit):
    """Students get the kit, not the course: a notebook or README that links to ../../book/*.md
    (or anything else the kit lacks) sends them to a missing file."""
    broken = []
    documents = [kit / "README.md"] + sorted(kit.glob("assignments/*/*.ipynb"))
    for doc in documents:
        if doc.suffix == ".ipynb":
            nb = nbformat.read(doc, as_version=4)
            texts = [c.source for c in nb.cells if c.cell_type == "markdown"]
        else:
            texts = [doc.read_text()]
        for text in texts:
            for target in relative_links(text):
                path = (doc.parent / target.split("#")[0]).resolve()
                if not path.is_relative_to(kit.resolve()) or not path.exists():
                    broken.append(f"{doc.relative_to(kit)}: {target}")
    assert not broken, broken
    # the chapters are linked in the published book instead
    a5 = nbformat.read(kit / "assignments/a5_dropout/a5_dropout.ipynb", as_version=4)
    from autograder.pages import book_url

    assert f"({book_url(course)}/book/dropout.html)" in a5.cells[0].source
    assert relative_links("[a](../../book/x.md) [b](https://x.org/y) [c](#top)") == [
        "../../book/x.md"
    ]


def test_kit_and_notebooks_say_what_to_hand_in(course, kit):
    readme = (kit / "README.md").read_text()
    assert "## What to hand in" in readme
    for name in course.names():
        a = course.assignment(name)
        assert f"| {name} | `assignments/{name}/{name}.ipynb` |" in readme
        nb = nbformat.read(kit / "assignments" / name / f"{name}.ipynb", as_version=4)
        first_code = next(i for i, c in enumerate(nb.cells) if c.cell_type == "code")
        intro = "\n".join(c.source for c in nb.cells[:first_code])
        assert f"**`{name}.ipynb`**" in intro and "What to hand in" in intro
        for f in a.attachments:
            assert f"`{f}`" in intro, (name, f)
        if not a.attachments:
            assert "nothing else" in intro
    assert "`capstone.npz`" in readme
