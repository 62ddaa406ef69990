"""The book's assignment pages (book/assignments/) are generated from solutions/, up to date,
listed in the table of contents, complete, and free of solution text."""

from __future__ import annotations

import dataclasses
import shutil

import booksite
import pytest

from autograder.course import Course
from autograder.leaks import find_leaks
from autograder.pages import PAGES_DIR, _repository_url, index, render, write_pages

COURSE = Course.load()
NAMES = COURSE.names()
PAGES = COURSE.root / PAGES_DIR


def test_pages_are_up_to_date():
    stale = [p.name for p, fresh in write_pages(COURSE, check=True) if not fresh]
    assert not stale, f"stale or missing {stale}: run `python -m autograder pages`"


def test_every_assignment_page_is_in_the_assignments_part():
    parts = {p["caption"]: booksite._files(p["chapters"]) for p in booksite.toc()["parts"]}
    assert "Assignments" in parts, "_toc.yml needs a part 'Assignments'"
    assert list(parts)[-1] == "Assignments", "the Assignments part comes last"
    want = [f"{PAGES_DIR.as_posix()}/index"] + [f"{PAGES_DIR.as_posix()}/{n}" for n in NAMES]
    assert parts["Assignments"] == want, "run `python -m autograder pages` and list its pages"


@pytest.mark.parametrize("name", NAMES)
def test_page_has_everything_a_student_needs(name):
    text = (PAGES / f"{name}.md").read_text()
    a = COURSE.assignment(name)
    assert f"{{download}}`Download {name}.ipynb <../../assignments/{name}/{name}.ipynb>`" in text
    assert (PAGES / f"../../assignments/{name}/{name}.ipynb").resolve() == a.release_path
    for gid, item in a.items.items():
        assert f"| `{gid}` |" in text and f"| {item.points:g} |" in text, gid
    for task in set(released_tasks(a)):
        assert f"- `{task}`" in text, task
    for needed in ('checker.check("<item>")', ".venv/bin/jupyter lab", "## Submit"):
        assert needed in text
    assert f"submitted/<student>/{name}/{name}.ipynb" in text
    assert f"**{sum(i.points for i in a.items.values()):g}**" in text  # the total


def released_tasks(a) -> list[str]:
    """The TODO task ids that the released student notebook shows."""
    import json

    from autograder.pages import TODO_LINE_RE

    nb = json.loads(a.release_path.read_text())
    src = "\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code")
    return [m.group(1) for m in TODO_LINE_RE.finditer(src)]


def test_pages_contain_no_solution_text():
    assert not find_leaks([PAGES], COURSE.root / "solutions")


def test_staleness_check_can_fail(tmp_path):
    """A changed source makes its page stale; ``pages`` rewrites it; an orphan page is removed."""
    course = Course(root=tmp_path)
    name = NAMES[0]
    shutil.copytree(COURSE.root / "solutions" / name, tmp_path / "solutions" / name)
    (tmp_path / "assignments" / name).mkdir(parents=True)
    shutil.copy(COURSE.assignment(name).release_path, tmp_path / "assignments" / name)
    assert not all(fresh for _, fresh in write_pages(course))  # first run writes
    assert all(fresh for _, fresh in write_pages(course, check=True))
    src = tmp_path / "solutions" / name / f"{name}.md"
    src.write_text(src.read_text().replace("## How to work on it", "## How to work on this", 1))
    stale = [p.name for p, fresh in write_pages(course, check=True) if not fresh]
    assert stale == [f"{name}.md"]
    orphan = tmp_path / PAGES_DIR / "gone.md"
    orphan.write_text("old")
    write_pages(course)
    assert not orphan.exists()
    assert all(fresh for _, fresh in write_pages(course, check=True))


def test_solution_text_never_reaches_a_page(tmp_path):
    """Text inside solution regions, even a TODO-like comment there, stays out of the page."""
    name = NAMES[0]
    shutil.copytree(COURSE.root / "solutions" / name, tmp_path / "solutions" / name)
    src = tmp_path / "solutions" / name / f"{name}.md"
    secret = "# TODO(x.secret): the_answer_is_forty_two_and_it_is_secret"
    src.write_text(
        src.read_text().replace("### BEGIN SOLUTION", f"### BEGIN SOLUTION\n{secret}", 1)
    )
    text = render(Course(root=tmp_path), name) + index(Course(root=tmp_path))
    assert "the_answer_is_forty_two" not in text and "BEGIN SOLUTION" not in text


def test_pages_send_students_to_the_student_kit_when_the_course_names_one():
    course = Course.load()
    assert f"git clone {_repository_url(course)} && cd course" in render(course, "a1_backprop")
    kit = dataclasses.replace(course, student_repository="https://git.example.edu/nn/kit.git/")
    page = render(kit, "a1_backprop")
    assert "git clone https://git.example.edu/nn/kit.git && cd kit\n" in page
    assert _repository_url(course) not in page.split("check-locally)=")[1].split("```")[1]
