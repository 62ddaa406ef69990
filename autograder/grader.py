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
from multiprocessing.connection import wait
from pathlib import Path

import numpy as np

from . import sandbox, wire
from .checking import Check, CheckFailure, seed_for
from .course import Assignment
from .session import RemoteStudent, Session, SessionConfig, WorkerLost, Zygote
from .submission import SubmissionError, build_program


def round_score(x: float) -> float:
    """The one rounding of scores (2 decimals): item scores, and totals as their sum, so that
    display, CSV, JSON and the gradebook agree and a total never reads 23.0001."""
    return round(float(x), 2) + 0.0  # + 0.0: never -0.0


#: A check's verdict: "passed", "failed" (the student's code is wrong), or "error": the check
#: could not be graded because of the check or the grader (a bug in the check's code, an unknown
#: probe, a grading machine fault). An error earns no points and flags the submission for the
#: instructor (``grade`` exits with status 3): fix the check and regrade.
STATUSES = ("passed", "failed", "error")


@dataclass
class CheckResult:
    title: str
    hidden: bool
    weight: float
    passed: bool
    message: str = ""
    hint: str | None = None
    seconds: float = 0.0  # wall time of the check, the grader's own work included
    timed_out: bool = False
    status: str = ""  # one of STATUSES; results stored before it existed derive it from passed
    cpu_seconds: float = 0.0  # CPU time the student's code used in the check (what is limited)

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            self.status = "passed" if self.passed else "failed"


@dataclass
class ItemResult:
    grade_id: str
    max_score: float
    score: float | None  # None: graded by hand
    manual: bool = False
    checks: list[CheckResult] = field(default_factory=list)

    @property
    def check_error(self) -> bool:
        """Some check of this item could not be graded (see :data:`STATUSES`)."""
        return any(c.status == "error" for c in self.checks)

    @property
    def message(self) -> str:
        if self.manual:
            return "written answer: graded by the instructor"
        errors = [c for c in self.checks if c.status == "error"]
        if errors:
            return (
                f"could not be graded (check error): {len(errors)} of {len(self.checks)} checks. "
                f"'{errors[0].title}': {errors[0].message}"
            )
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

    @property
    def check_errors(self) -> int:
        """How many checks could not be graded (a fault of the checks, not of the student)."""
        return sum(c.status == "error" for i in self.items for c in i.checks)

    def to_json(self) -> dict:
        return {
            "student": self.student,
            "score": round_score(self.score),
            "max_score": self.max_score,
            "error": self.error,
            "check_errors": self.check_errors,
            "notes": self.notes,
            "seconds": round(self.seconds, 3),
            "seed": str(self.seed),
            "path": self.path,
            "output": self.output,
            "items": [
                {
                    "grade_id": i.grade_id,
                    "score": None if i.score is None else round_score(i.score),
                    "max_score": i.max_score,
                    "check_error": i.check_error,
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
            checks=[
                CheckResult(**{k: v for k, v in c.items() if k in _CHECK_FIELDS})
                for c in i.get("checks", [])
            ],
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


_CHECK_FIELDS = set(CheckResult.__dataclass_fields__)


_warm = False


def warm_oracles() -> None:
    """Pay, once per grading process and before the first submission, the one-off costs of
    what oracles use first: gradcheck imports SymPy (~4 s), the first optimiser and scheduler
    import ``torch._dynamo`` (1-2 s), SciPy's special functions load on first use. Limits count
    only the student's CPU time, but these would still slow the first submission's checks.
    Forked grading processes inherit the warm state."""
    global _warm
    if _warm:
        return
    _warm = True
    import torch
    import torch.nn.functional as F  # noqa: N812
    from torch.optim import lr_scheduler

    x = torch.linspace(-1.0, 1.0, 12, dtype=torch.float64).reshape(3, 4).requires_grad_()
    w = torch.ones(2, 4, dtype=torch.float64, requires_grad=True)
    out = F.linear(x, w).tanh().sum()
    torch.autograd.grad(out, (x, w), create_graph=True)
    torch.autograd.grad(F.cross_entropy(x, torch.tensor([0, 1, 2])), x)
    torch.autograd.gradcheck(lambda z: (z * z).tanh().sum(), (x,))  # imports SymPy
    F.batch_norm(x.detach(), None, None, training=True)
    F.layer_norm(x.detach(), (4,))
    with torch.random.fork_rng(devices=[]):  # leaves the global generator as it was
        F.dropout(x.detach(), 0.5)
    F.conv2d(torch.zeros(1, 1, 4, 4), torch.zeros(1, 1, 3, 3))
    for make in (
        lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.1),
        lambda p: torch.optim.Adam(p, lr=0.1, weight_decay=0.1),
        lambda p: torch.optim.AdamW(p, lr=0.1),
        lambda p: torch.optim.RMSprop(p, lr=0.1, momentum=0.9),
        lambda p: torch.optim.Adagrad(p, lr=0.1),
    ):
        p = torch.nn.Parameter(torch.ones(3, dtype=torch.float64))
        opt = make([p])
        sched = lr_scheduler.StepLR(opt, 1)
        p.sum().backward()
        opt.step()
        sched.step()
    try:
        from scipy.special import betainc  # autograder.stats, on first use

        betainc(1.0, 2.0, 0.5)
    except ImportError:
        pass


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
        warm_oracles()  # before any fork: every grading process starts warm
        self.assignment = assignment
        self.workers = max(1, workers)
        self.seed = secrets.randbits(63) if seed is None else seed
        self.student_seeds: dict[str, int] = {}  # submissions graded on other hidden inputs
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
        results: list[SubmissionResult | None] = [None] * len(submissions)
        procs: dict[int, multiprocessing.process.BaseProcess] = {}
        busy: dict[int, int] = {}  # slot -> the submission its process is grading
        respawns = len(submissions)  # a grading process that dies is replaced, within reason

        def start(slot: int) -> None:
            procs[slot] = ctx.Process(
                target=self._serve, args=(slot, submissions, tasks, done), daemon=True
            )
            procs[slot].start()

        def finish(i: int, result: SubmissionResult) -> None:
            results[i] = result
            if progress is not None:
                progress(result)

        for slot in range(n):
            start(slot)
        left = len(submissions)
        try:
            while left:
                ready = wait([done._reader, *(p.sentinel for p in procs.values())])
                if done._reader in ready:  # messages first: a process may report, then exit
                    kind, slot, i, result = done.get()
                    if kind == "start":
                        busy[slot] = i
                    else:
                        busy.pop(slot, None)
                        finish(i, result)
                        left -= 1
                    continue
                for slot, p in list(procs.items()):
                    if p.exitcode is None:
                        continue
                    del procs[slot]
                    i = busy.pop(slot, None)
                    if i is not None:  # it died grading i (a segfault, the OOM killer, os._exit)
                        why = f"the grading process died (exit code {p.exitcode})"
                        finish(i, self.failed(*submissions[i], internal_error(why)))
                        left -= 1
                    if left and (i is not None or p.exitcode) and respawns > 0:
                        respawns -= 1
                        start(slot)
                if left and not procs:  # nothing can grade the rest: say so, finish the batch
                    for i, r in enumerate(results):
                        if r is None:
                            why = internal_error("no grading process is left")
                            finish(i, self.failed(*submissions[i], why))
                    left = 0
        finally:
            for p in procs.values():
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
                done.put(("start", slot, i, None))  # so that the parent knows what a death costs
                done.put(("done", slot, i, self.grade(student, path, slot)))  # grade never raises
        finally:
            self.close()

    def seed_of(self, student: str) -> int:
        """The seed of ``student``'s hidden inputs: the batch's, unless :attr:`student_seeds`
        gives another (a changed notebook is graded on fresh inputs; see ``cli._grade``)."""
        return getattr(self, "student_seeds", {}).get(student, self.seed)

    def grade(
        self, student: str, path: Path, slot: int = 0, seed: int | None = None
    ) -> SubmissionResult:
        """Grade one submission (with ``seed`` for its hidden inputs, when given). Never raises:
        any exception of the grader itself gives this submission an internal-error verdict with
        the reason, so a batch always finishes."""
        try:
            if seed is not None:
                self.__dict__.setdefault("student_seeds", {})[student] = seed
            return self._grade(student, path, slot)
        except (Exception, SystemExit) as err:  # SystemExit: a check's code may call exit()
            return self.failed(student, path, internal_error(err))

    def _grade(self, student: str, path: Path, slot: int) -> SubmissionResult:
        warm_oracles()  # a no-op after the first (a Dask worker unpickles a Grader: no __init__)
        start = time.monotonic()
        items = self._empty_items()
        result = SubmissionResult(
            student,
            str(path),
            0.0,
            self.assignment.max_auto_score,
            items,
            seed=self.seed_of(student),
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
                    note = run.message if run.fatal else f"cell {run.name} raised {run.message}"
                    result.notes.append(_clip(note, MAX_NOTE))
            session.output[:0] = [run.output for run in runs if run.output]
            for item in items:
                if not item.manual:
                    self._grade_item(item, session, student)
        finally:
            session.close()
            result.output = _tail("\n".join(session.output), 4000)
            result.seconds = time.monotonic() - start
        result.score = round_score(sum(i.score or 0.0 for i in items if not i.manual))
        return result

    def failed(self, student: str, path: Path, why: str) -> SubmissionResult:
        """The result of a submission the grader failed to grade (score 0, the reason): a fault
        of the grader, so every check is a check error, never the student's lost point."""
        items = self._empty_items()
        self._fail_all(items, f"could not be graded (grader error): {why}", status="error")
        return SubmissionResult(
            student,
            str(path),
            0.0,
            self.assignment.max_auto_score,
            items,
            error=why,
            seed=self.seed_of(student),
        )

    def _empty_items(self) -> list[ItemResult]:
        return [
            ItemResult(i.grade_id, i.points, None if i.manual else 0.0, manual=i.manual)
            for i in self.assignment.items.values()
        ]

    def _fail_all(self, items: list[ItemResult], why: str, status: str = "failed") -> None:
        for item in items:
            if not item.manual:
                item.checks = [
                    CheckResult(c.title, c.hidden, c.weight, False, why, status=status)
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
            session.withhold_output = chk.hidden  # what a hidden check's inputs made it print
            try:
                res = self._run_check(chk, session, student)
            finally:
                session.withhold_output = False
            # What is stored per check is bounded: a message can quote the student's output.
            res.message = _clip(res.message, MAX_MESSAGE)
            res.hint = None if res.hint is None else _clip(res.hint, MAX_MESSAGE)
            timed_out = res.timed_out
            item.checks.append(res)
        total = sum(c.weight for c in item.checks)
        passed = sum(c.weight for c in item.checks if c.passed)
        item.score = round_score(item.max_score * passed / total) if total else 0.0

    def _run_check(self, chk: Check, session: Session, student: str) -> CheckResult:
        rng = np.random.default_rng(seed_for(self.seed_of(student), student, chk.item, chk.name))
        t0 = time.monotonic()
        res = CheckResult(chk.title, chk.hidden, chk.weight, False)
        remote: RemoteStudent | None = None
        try:
            session.ensure()
            # The limit counts the CPU time of the student's code only (see RemoteStudent): the
            # oracles computed here, however slow, cost the student nothing.
            limit = min(chk.timeout, self.config.check_timeout or chk.timeout)
            if session.timeouts:
                cfg = self.config
                limit = min(limit, max(cfg.suspect_floor, limit * cfg.suspect_fraction))
            remote = RemoteStudent(session, limit=limit)
            chk.fn(remote, rng)
            res.passed, res.status = True, "passed"
        except WorkerLost as err:
            res.message = f"your code stopped the worker: {err}"
            res.timed_out = err.timed_out
            if err.timed_out:
                if session.timeouts:
                    res.message += " (a shorter limit applies once an earlier check timed out)"
                session.timeouts += 1
        except CheckFailure as err:  # the student's output is wrong (StudentError included)
            res.message, res.hint = err.message, err.hint
        except Exception as err:  # noqa: BLE001 -- the check's own code failed: not the student's
            # Checks validate what the student returns (expect_close & co. raise CheckFailure on
            # a wrong type or shape), so anything else is the check's or the grader's fault.
            res.status = "error"
            res.message = (
                f"could not be graded (check error): {type(err).__name__}: {err}{_where(err)}"
            )
        res.seconds = time.monotonic() - t0
        res.cpu_seconds = round(remote.used, 4) if remote is not None else 0.0
        return res


INTERNAL_ERROR = "internal grader error"
MAX_MESSAGE = 2_000  # characters of one check's message (and of its hint) in the results
MAX_NOTE = 1_000  # characters of one note (a cell's exception, say)


def internal_error(err: BaseException | str) -> str:
    """The reason of an internal-error verdict: the grader's fault, never the student's."""
    text = err if isinstance(err, str) else f"{type(err).__name__}: {err}"
    return f"{INTERNAL_ERROR}: {_clip(text, MAX_NOTE)}"


def _clip(text: str, limit: int) -> str:
    """``text`` safe to store and write as UTF-8 (no lone surrogates), at most about ``limit``
    characters."""
    return wire.cap_text(wire.safe_text(str(text)), limit)


def _where(err: BaseException) -> str:
    frames = traceback.extract_tb(err.__traceback__)
    return f" [{Path(frames[-1].filename).name}:{frames[-1].lineno}]" if frames else ""


def _tail(text: str, limit: int) -> str:
    text = re.sub(r"\x1b\[[0-9;]*m", "", text)
    return text if len(text) <= limit else "[...]\n" + text[-limit:]
