"""Grading on a Dask distributed cluster (``grade --scheduler ADDRESS``).

Each Dask worker process becomes a trusted grader: it loads the course, keeps one
:class:`~autograder.grader.Grader` (and so one zygote of sandboxed workers) per assignment, and
grades the submissions the scheduler sends it, one task per submission. The trust boundary is
the same as on one machine: checks and oracles run in the Dask worker; the student's code runs
in a sandboxed child of that worker's zygote. The scheduler and the client only see paths and
finished results.

Requirements on the cluster: the course directory and the submissions at the same paths on every
machine (a shared filesystem), the course's virtual environment, and Linux namespaces for the
sandbox (the grader reports the mode it ran in). A Dask worker that dies mid-task (killed, out of
memory) has its task rescheduled elsewhere by Dask; a task that fails every time comes back as an
internal grader error for that submission alone, and the batch goes on.
"""

from __future__ import annotations

import os
import zlib
from collections.abc import Callable
from pathlib import Path

from .grader import Grader, SubmissionResult, internal_error
from .session import SessionConfig

# One Grader per (course, assignment, seed, config) in each Dask worker process.
_GRADERS: dict[tuple, Grader] = {}


def _slot() -> int:
    """A worker slot (it picks the sandbox uid) that differs between Dask workers of a host."""
    try:
        from distributed import get_worker

        name = get_worker().name
    except (ImportError, ValueError):
        name = os.getpid()
    return (
        name
        if isinstance(name, int) and 0 <= name < 10_000
        else zlib.crc32(str(name).encode()) % 10_000
    )


def grade_task(
    course_root: str,
    assignment: str,
    seed: int,
    config: SessionConfig,
    hidden_paths: list[str],
    student: str,
    path: str,
    student_seed: int | None = None,
) -> SubmissionResult:
    """Runs in a Dask worker: grade one submission with this process's grader (on
    ``student_seed``'s hidden inputs when given: a changed notebook gets fresh ones)."""
    from .course import Course

    key = (course_root, assignment, seed, repr(config), tuple(hidden_paths))
    grader = _GRADERS.get(key)
    if grader is None:
        a = Course.load(course_root).assignment(assignment)
        grader = _GRADERS[key] = Grader(
            a, workers=1, seed=seed, config=config, extra_hidden_paths=hidden_paths
        )
    # grade() never raises: a fault of the grader is this submission's internal-error verdict
    return grader.grade(student, Path(path), _slot(), seed=student_seed)


def grade_on_cluster(
    address: str,
    grader: Grader,
    submissions: list[tuple[str, Path]],
    progress: Callable[[SubmissionResult], None] | None = None,
) -> list[SubmissionResult]:
    """Grade ``submissions`` on the Dask cluster at ``address`` with ``grader``'s assignment,
    seed and configuration; results come back in submission order, ``progress`` sees each as
    it arrives."""
    from distributed import Client, as_completed

    a = grader.assignment
    args = (str(a.course.root), a.name, grader.seed, grader.config, list(grader.extra_hidden))
    with Client(address) as client:
        futures = {
            client.submit(
                grade_task, *args, student, str(path), grader.seed_of(student), pure=False
            ): i
            for i, (student, path) in enumerate(submissions)
        }
        results: list[SubmissionResult | None] = [None] * len(submissions)
        for fut in as_completed(futures):
            i = futures[fut]
            student, path = submissions[i]
            try:
                result = fut.result()
            except Exception as err:  # noqa: BLE001 -- e.g. KilledWorker: this submission alone
                result = grader.failed(student, path, internal_error(err))
            results[i] = result
            if progress is not None:
                progress(result)
    return results  # type: ignore[return-value]
