"""Trusted grading: every verdict is computed here, never in the student's process.

For each submission the grader builds the program to run (:mod:`autograder.submission`), starts a
sandboxed worker for it (:mod:`autograder.session`), and runs every check of the assignment in
this process. A check sends the worker inputs drawn from a generator seeded by
``(batch seed, student, item, check)``, receives plain data back, and compares it with the oracle
here. A check that the student's code crashes or hangs fails alone: the worker is restarted, the
answer cells replayed, and grading goes on. Warnings and anything printed are kept as information.
"""

from __future__ import annotations

import multiprocessing
import os
import re
import secrets
import time
import traceback
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from . import sandbox
from .checking import Check, CheckFailure, seed_for
from .course import Assignment
from .session import RemoteStudent, Session, SessionConfig, WorkerLost, Zygote
from .submission import SubmissionError, build_program


@dataclass
class CheckResult:
    title: str
    hidden: bool
    weight: float
    passed: bool
    message: str = ""
    hint: str | None = None
    seconds: float = 0.0
    timed_out: bool = False


@dataclass
class ItemResult:
    grade_id: str
    max_score: float
    score: float | None  # None: graded by hand
    manual: bool = False
    checks: list[CheckResult] = field(default_factory=list)

    @property
    def message(self) -> str:
        if self.manual:
            return "written answer: graded by the instructor"
        failed = [c for c in self.checks if not c.passed]
        if not failed:
            return "all checks passed"
        first = failed[0]
        text = f"{len(failed)} of {len(self.checks)} checks failed. " + (
            f"Hidden check '{first.title}': {first.message}"
            if first.hidden
            else f"'{first.title}': {first.message}"
        )
        return text + (f" Hint: {first.hint}" if first.hint else "")


@dataclass
class SubmissionResult:
    student: str
    path: str
    score: float
    max_score: float
    items: list[ItemResult]
    error: str | None = None  # why it could not be graded at all
    notes: list[str] = field(default_factory=list)
    output: str = ""  # what the student's code printed (warnings included), truncated
    seconds: float = 0.0
    seed: int = 0

    def to_json(self) -> dict:
        return {
            "student": self.student,
            "score": self.score,
            "max_score": self.max_score,
            "error": self.error,
            "notes": self.notes,
            "seconds": round(self.seconds, 3),
            "seed": str(self.seed),
            "path": self.path,
            "output": self.output,
            "items": [
                {
                    "grade_id": i.grade_id,
                    "score": i.score,
                    "max_score": i.max_score,
                    "message": i.message,
                    "checks": [asdict(c) for c in i.checks],
                }
                for i in self.items
            ],
        }


def result_from_json(data: dict) -> SubmissionResult:
    """The inverse of :meth:`SubmissionResult.to_json` (the gradebook stores results so)."""
    items = [
        ItemResult(
            i["grade_id"],
            i["max_score"],
            i["score"],
            manual=i["score"] is None,
            checks=[CheckResult(**c) for c in i.get("checks", [])],
        )
        for i in data["items"]
    ]
    return SubmissionResult(
        data["student"],
        data.get("path", ""),
        data["score"],
        data["max_score"],
        items,
        error=data.get("error"),
        notes=list(data.get("notes", [])),
        output=data.get("output", ""),
        seconds=data.get("seconds", 0.0),
        seed=int(data.get("seed", 0)),
    )


def find_submissions(paths: list[str | Path], assignment: Assignment) -> list[tuple[str, Path]]:
    """(student, notebook path) pairs from notebooks and nbgrader-style ``submitted/`` folders.

    A folder is read as ``<folder>/<student>/<assignment>/<assignment>.ipynb``; a student folder
    without the notebook still yields a pair, so that the student gets a score and a reason.
    """
    found: list[tuple[str, Path]] = []
    nb_name = f"{assignment.notebook_name}.ipynb"
    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            if (p / assignment.name).is_dir() or (p / nb_name).exists():  # one student's folder
                p = p.parent if (p / nb_name).exists() else p
                found.append((p.name, p / assignment.name / nb_name))
                continue
            for student in sorted(d for d in p.iterdir() if d.is_dir()):
                found.append((student.name, student / assignment.name / nb_name))
        else:
            parts = p.parts
            student = parts[-3] if len(parts) >= 3 and parts[-2] == assignment.name else p.stem
            found.append((student, p))
    seen: set[str] = set()
    unique = []
    for student, path in found:
        if student in seen:
            raise ValueError(f"student {student!r} appears twice among the submissions")
        seen.add(student)
        unique.append((student, path))
    return unique


class Grader:
    """Grades submissions of one assignment; use as a context manager (it owns a zygote)."""

    def __init__(
        self,
        assignment: Assignment,
        *,
        workers: int = 2,
        seed: int | None = None,
        config: SessionConfig | None = None,
        extra_hidden_paths: list[str] = (),
        hidden_checks: bool = True,
    ):
        import torch

        # Oracles work on tiny tensors: threads only add overhead (2-6x the CPU per check), and
        # the worker slots already use the cores.
        torch.set_num_threads(1)
        self.assignment = assignment
        self.workers = max(1, workers)
        self.seed = secrets.randbits(63) if seed is None else seed
        self.config = config or SessionConfig()
        self.extra_hidden = [str(p) for p in extra_hidden_paths]
        self.config.hide = sorted(
            {*self.config.hide, *assignment.course.secret_paths(), *self.extra_hidden}
        )
        self.checks: dict[str, list[Check]] = {}
        for c in assignment.checks(hidden=hidden_checks):
            self.checks.setdefault(c.item, []).append(c)
        # The zygote is exec'd fresh (nothing of this process's memory, checks included, reaches
        # it) and started lazily, one per grading process.
        self._zygote: Zygote | None = None
        self._zygote_pid = 0

    @property
    def zygote(self) -> Zygote:
        if self._zygote is None or self._zygote_pid != os.getpid():
            self._zygote = Zygote(
                preload=[f"{self.assignment.module_prefix}.probes"],
                python_path=self.assignment.course.python_path,
            )
            self._zygote_pid = os.getpid()
        return self._zygote

    @property
    def sandbox_mode(self) -> str:
        return sandbox.probe_capabilities() if self.config.isolate else "rlimits-only"

    def __enter__(self) -> Grader:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        if self._zygote is not None and self._zygote_pid == os.getpid():
            self._zygote.close()
        self._zygote = None

    # --------------------------------------------------------------------------------------
    def grade_all(
        self, submissions: list[tuple[str, Path]], progress=None
    ) -> list[SubmissionResult]:
        """Grade in ``workers`` parallel processes; results come back in submission order.

        Each grading process has its own zygote and grades one submission at a time. Processes,
        not threads: the checks' Python code holds the GIL, and one process caps the whole batch
        at one core.
        """
        n = min(self.workers, len(submissions))
        if n <= 1:
            results = []
            for student, path in submissions:
                results.append(self.grade(student, path, 0))
                if progress is not None:
                    progress(results[-1])
            return results
        ctx = multiprocessing.get_context("fork")
        tasks, done = ctx.SimpleQueue(), ctx.SimpleQueue()
        for i in range(len(submissions)):
            tasks.put(i)
        for _ in range(n):
            tasks.put(None)
        procs = [
            ctx.Process(target=self._serve, args=(slot, submissions, tasks, done), daemon=True)
            for slot in range(n)
        ]
        for p in procs:
            p.start()
        results: list[SubmissionResult | None] = [None] * len(submissions)
        try:
            for _ in range(len(submissions)):
                i, result = done.get()
                results[i] = result
                if progress is not None:
                    progress(result)
        finally:
            for p in procs:
                p.join(timeout=30)
                if p.is_alive():
                    p.kill()
        return results  # type: ignore[return-value]

    def _serve(self, slot: int, submissions, tasks, done) -> None:
        """A grading process: take submission indices until the sentinel, grade, report."""
        sandbox.die_with_parent()
        self._zygote = None  # the parent's zygote belongs to the parent
        try:
            while (i := tasks.get()) is not None:
                student, path = submissions[i]
                try:
                    result = self.grade(student, path, slot)
                except Exception as err:  # noqa: BLE001 -- a grader fault: report, keep going
                    result = self.failed(student, path, f"internal grader error: {err!r}")
                done.put((i, result))
        finally:
            self.close()

    def grade(self, student: str, path: Path, slot: int = 0) -> SubmissionResult:
        start = time.monotonic()
        items = self._empty_items()
        result = SubmissionResult(
            student, str(path), 0.0, self.assignment.max_auto_score, items, seed=self.seed
        )
        try:
            program = build_program(Path(path), self.assignment)
        except SubmissionError as err:
            result.error = str(err)
            self._fail_all(items, f"not graded: {err}")
            result.seconds = time.monotonic() - start
            return result
        result.notes += program.notes
        session = Session(self.zygote, self.config, slot, program.cells)
        session.folder = Path(path).parent
        try:
            try:
                runs = session.start()
            except WorkerLost as err:
                result.error = str(err)
                self._fail_all(items, str(err))
                return result
            for run in runs:
                if not run.ok:
                    result.notes.append(
                        run.message if run.fatal else f"cell {run.name} raised {run.message}"
                    )
            session.output[:0] = [run.output for run in runs if run.output]
            for item in items:
                if not item.manual:
                    self._grade_item(item, session, student)
        finally:
            session.close()
            result.output = _tail("\n".join(session.output), 4000)
            result.seconds = time.monotonic() - start
        result.score = round(sum(i.score or 0.0 for i in items if not i.manual), 4)
        return result

    def failed(self, student: str, path: Path, why: str) -> SubmissionResult:
        """The result of a submission that could not be graded at all (score 0, the reason)."""
        items = self._empty_items()
        self._fail_all(items, f"not graded: {why}")
        return SubmissionResult(
            student,
            str(path),
            0.0,
            self.assignment.max_auto_score,
            items,
            error=why,
            seed=self.seed,
        )

    def _empty_items(self) -> list[ItemResult]:
        return [
            ItemResult(i.grade_id, i.points, None if i.manual else 0.0, manual=i.manual)
            for i in self.assignment.items.values()
        ]

    def _fail_all(self, items: list[ItemResult], why: str) -> None:
        for item in items:
            if not item.manual:
                item.checks = [
                    CheckResult(c.title, c.hidden, c.weight, False, why)
                    for c in self.checks.get(item.grade_id, [])
                ]

    def _grade_item(self, item: ItemResult, session: Session, student: str) -> None:
        timed_out = False
        for chk in self.checks.get(item.grade_id, []):
            if timed_out:  # one hang per item is enough evidence; don't pay the timeout again
                item.checks.append(
                    CheckResult(
                        chk.title,
                        chk.hidden,
                        chk.weight,
                        False,
                        "not run: an earlier check of this item timed out",
                    )
                )
                continue
            res = self._run_check(chk, session, student)
            timed_out = res.timed_out
            item.checks.append(res)
        total = sum(c.weight for c in item.checks)
        passed = sum(c.weight for c in item.checks if c.passed)
        item.score = round(item.max_score * passed / total, 4) if total else 0.0

    def _run_check(self, chk: Check, session: Session, student: str) -> CheckResult:
        rng = np.random.default_rng(seed_for(self.seed, student, chk.item, chk.name))
        t0 = time.monotonic()
        res = CheckResult(chk.title, chk.hidden, chk.weight, False)
        try:
            session.ensure()
            limit = min(chk.timeout, self.config.check_timeout or chk.timeout)
            if session.timeouts:
                cfg = self.config
                limit = min(limit, max(cfg.suspect_floor, limit * cfg.suspect_fraction))
            chk.fn(RemoteStudent(session, deadline=t0 + limit), rng)
            res.passed = True
        except WorkerLost as err:
            res.message = f"your code stopped the worker: {err}"
            res.timed_out = err.timed_out
            if err.timed_out:
                if session.timeouts:
                    res.message += " (a shorter limit applies once an earlier check timed out)"
                session.timeouts += 1
        except CheckFailure as err:
            res.message, res.hint = err.message, err.hint
        except Exception as err:  # noqa: BLE001 -- the output broke the check: it is wrong output
            res.message = f"your output could not be checked ({type(err).__name__}: {err})"
            res.message += _where(err)
        res.seconds = time.monotonic() - t0
        return res


def _where(err: BaseException) -> str:
    frames = traceback.extract_tb(err.__traceback__)
    return f" [{Path(frames[-1].filename).name}:{frames[-1].lineno}]" if frames else ""


def _tail(text: str, limit: int) -> str:
    text = re.sub(r"\x1b\[[0-9;]*m", "", text)
    return text if len(text) <= limit else "[...]\n" + text[-limit:]
