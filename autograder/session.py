"""The grader's side of a worker: start it, feed it cells, call into it, kill it.

:class:`Zygote` owns the forking server. :class:`Session` is one submission's sandboxed worker:
it replays the submission's cells after a crash, so that a crash costs only the check that
caused it. :class:`RemoteStudent` is what checks hold while grading.
"""

from __future__ import annotations

import json
import math
import os
import select
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from . import sandbox, wire
from .checking import CheckFailure
from .student import MalformedReply, Student


class WorkerLost(CheckFailure):
    """The worker died or stopped answering; the session must be restarted."""

    def __init__(self, message: str, timed_out: bool = False):
        super().__init__(message)
        self.timed_out = timed_out


class OverLimit(TimeoutError):
    """A request ran past a limit: ``kind`` is "cpu" (the student's CPU time) or "wall"."""

    def __init__(self, kind: str, limit: float):
        super().__init__(f"{kind} limit of {limit:.3g} s")
        self.kind, self.limit = kind, limit


_CLK_TCK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


class SandboxError(RuntimeError):
    """The sandbox could not be set up: a problem of the grading machine, not of a submission."""


class Zygote:
    """The pre-imported forking server (see :mod:`autograder.zygote`)."""

    def __init__(self, preload: list[str], python_path: list[str] = ()):
        self._ctrl, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        env = {k: os.environ[k] for k in sandbox.SAFE_ENV if k in os.environ}
        here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        env.update(
            MPLBACKEND="Agg",
            OMP_NUM_THREADS="1",
            MKL_NUM_THREADS="1",
            OPENBLAS_NUM_THREADS="1",
            PYTHONPATH=os.pathsep.join([here, *python_path]),
            PYTHONDONTWRITEBYTECODE="1",
            HOME="/tmp",
        )
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "autograder.zygote", str(theirs.fileno()), *preload],
            pass_fds=[theirs.fileno()],
            env=env,
            cwd="/",
            stdin=subprocess.DEVNULL,
        )
        theirs.close()
        self._lock = threading.Lock()
        self._ctrl.settimeout(180)
        try:
            hello = json.loads(self._ctrl.recv(4096) or b"{}")
        except (TimeoutError, ValueError) as err:
            self.close()
            raise SandboxError(f"the worker zygote did not start: {err}") from None
        if not hello.get("ready"):
            self.close()
            raise SandboxError("the worker zygote did not start (see the messages above)")
        self.mode: str = hello["mode"]
        self._ctrl.settimeout(None)

    def spawn(self, request: dict, timeout: float = 30) -> WorkerProc:
        mine, theirs = socket.socketpair()
        try:
            with self._lock:
                socket.send_fds(self._ctrl, [json.dumps(request).encode()], [theirs.fileno()])
        finally:
            theirs.close()
        mine.settimeout(timeout)
        try:
            pid, mode = struct.unpack("<II", wire._recv_exact(mine, 8))
            ready, _ = wire.recv(mine)
        except (OSError, EOFError, wire.WireError) as err:
            mine.close()
            raise SandboxError(f"a worker did not start: {err!r}") from None
        if not ready.get("ready"):
            mine.close()
            raise SandboxError(f"a worker could not enter its sandbox: {ready.get('error')}")
        return WorkerProc(mine, pid, mode)

    def close(self) -> None:
        try:
            self._ctrl.close()
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
            self.proc.wait()


@dataclass
class WorkerProc:
    sock: socket.socket
    pid: int
    mode: int  # 1: PID 1 of its own namespace (killing it kills all); 0: leader of a process group
    # The worker's CPU time when it sent its last reply: it then waits for the next request, so
    # this is where the next request starts (CPU its threads burn in between is charged to it).
    cpu_mark: float | None = None
    _stat: int | None = None  # /proc/<pid>/stat, kept open: re-read with pread, ~20x cheaper

    def request(
        self,
        header: dict,
        blobs: list[bytes],
        timeout: float,
        cpu_limit: float | None = None,
        cpu0: float | None = None,
    ) -> tuple[dict, list[bytes]]:
        """Send one request and wait for the reply: at most ``timeout`` s of wall time and, when
        ``cpu_limit`` is given, until the worker has used that much CPU time since ``cpu0`` (read
        from /proc here, where the student's code cannot fake it). Raises :class:`OverLimit`."""
        self.sock.settimeout(max(timeout, 0.001))
        if cpu0 is None:
            cpu0 = self.cpu_seconds()
        wire.send(self.sock, header, blobs)
        start = time.monotonic()
        poller = select.poll()  # not select(): no limit on the descriptor's number
        poller.register(self.sock, select.POLLIN)
        while True:
            left = timeout - (time.monotonic() - start)
            if left <= 0:
                raise OverLimit("wall", timeout)
            # Short waits while the CPU budget can run out; without /proc, one wait for all.
            wait = left if cpu_limit is None or cpu0 is None else min(left, 0.05)
            if poller.poll(wait * 1000):
                break
            if cpu_limit is not None and cpu0 is not None:
                now = self.cpu_seconds()
                if now is not None and now - cpu0 > cpu_limit:
                    raise OverLimit("cpu", cpu_limit)
        self.sock.settimeout(max(timeout - (time.monotonic() - start), 0.001))
        try:
            return wire.recv_reply(self.sock)  # validated: the only reply the grader reads
        except TimeoutError:
            raise OverLimit("wall", timeout) from None

    def cpu_seconds(self) -> float | None:
        """User + system CPU time of the worker process (all its threads), or None if unknown.
        (Read a few hundred times per submission: hence the descriptor kept open.)"""
        try:
            if self._stat is None:
                self._stat = os.open(f"/proc/{self.pid}/stat", os.O_RDONLY | os.O_CLOEXEC)
            fields = os.pread(self._stat, 4096, 0).rsplit(b")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / _CLK_TCK  # utime, stime
        except (OSError, IndexError, ValueError):
            return None

    def kill(self) -> None:
        try:
            if self.mode == 1:
                os.kill(self.pid, signal.SIGKILL)
            else:
                os.killpg(self.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        self.sock.close()
        if self._stat is not None:
            os.close(self._stat)
            self._stat = None


OUTPUT_KEPT = 64_000  # characters of printed output kept per submission (each reply <= 16,000)
HIDDEN_OUTPUT = "[output printed during hidden checks is not shown]"


@dataclass
class CellRun:
    name: str  # the cell's grade_id
    ok: bool
    message: str = ""
    output: str = ""
    fatal: bool = False  # it hung or killed the worker: not replayed after a restart


@dataclass
class SessionConfig:
    limits: sandbox.Limits = field(default_factory=sandbox.Limits)
    hide: list[str] = field(default_factory=list)
    expose: list[str] = field(default_factory=list)  # extra read-only paths the worker sees
    isolate: bool = True
    cell_timeout: float = 20.0  # seconds of CPU time for one cell of the submission
    check_timeout: float | None = None  # caps every check's own timeout (tests use a short one)
    # Once a submission has timed out, its later checks get this fraction of their timeout (at
    # least ``suspect_floor`` s): a function that hangs would otherwise cost the full timeout in
    # every item that calls it. The reference solutions need a few percent of their timeouts.
    suspect_fraction: float = 0.25
    suspect_floor: float = 1.0
    max_restarts: int = 12
    # Wall-clock seconds for one whole submission, every restart and replay of its cells included:
    # a submission that crashes its worker in every cell cannot hold a worker slot for long.
    submission_budget: float = 900.0


class Session:
    """One submission's worker, with its cells; restarts and replays after a crash."""

    def __init__(self, zygote: Zygote, cfg: SessionConfig, slot: int, cells: list[tuple[str, str]]):
        self.zygote, self.cfg, self.slot, self.cells = zygote, cfg, slot, cells
        self.worker: WorkerProc | None = None
        self.fatal_cells: dict[str, str] = {}  # grade_id -> why it is no longer run
        self.runs: list[CellRun] = []
        self.restarts = 0
        self.output: list[str] = []
        self._output_chars = 0
        self.withhold_output = False  # set while a hidden check runs: its inputs stay hidden
        self.folder: Path | None = None  # the submission's folder, for attachments
        self.timeouts = 0  # checks of this submission that ran out of time
        self.last_cpu = 0.0  # CPU seconds the worker spent on the last request
        self.deadline: float | None = None  # the end of the submission's budget (set at start)

    def budget_left(self) -> float:
        """Seconds left of the submission's wall-clock budget; WorkerLost once it is spent."""
        if self.deadline is None:
            self.deadline = time.monotonic() + self.cfg.submission_budget
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise WorkerLost(
                f"the submission used up its time budget of {self.cfg.submission_budget:g} s "
                "(restarts and replays of its cells included); its remaining checks were not run",
                timed_out=True,
            )
        return left

    def _spawn(self) -> WorkerProc:
        req = {
            "limits": asdict(self.cfg.limits),
            "hide": self.cfg.hide,
            "expose": self.cfg.expose,
            "isolate": self.cfg.isolate,
            "slot": self.slot,
        }
        return self.zygote.spawn(req)

    def start(self) -> list[CellRun]:
        """Start a worker and run the cells; a cell that hangs or crashes it is left out."""
        while True:
            self.budget_left()
            self.worker = self._spawn()
            runs, crashed = [], False
            for name, source in self.cells:
                if name in self.fatal_cells:
                    runs.append(CellRun(name, False, self.fatal_cells[name], fatal=True))
                    continue
                limit = self.cfg.cell_timeout  # CPU time, with the checks' wall-clock backstop
                wall = RemoteStudent.WALL_FACTOR * limit + RemoteStudent.WALL_EXTRA
                wall = min(wall, self.budget_left())
                try:
                    reply, _ = self.worker.request(
                        {"op": "exec", "name": name, "source": source}, [], wall, cpu_limit=limit
                    )
                except TimeoutError as err:
                    why = (
                        f"used more than {limit:g} s of CPU time"
                        if isinstance(err, OverLimit) and err.kind == "cpu"
                        else f"did not finish within {wall:g} s of wall time"
                    )
                    self._mark_fatal(name, why)
                    crashed = True
                    break
                except (OSError, EOFError, wire.WireError) as err:
                    self._mark_fatal(name, f"stopped the worker ({_describe_loss(err)})")
                    crashed = True
                    break
                err = reply.get("error") or {}
                msg = "" if reply.get("ok") else f"{err.get('type')}: {err.get('message', '')}"
                runs.append(CellRun(name, bool(reply.get("ok")), msg, str(reply.get("output", ""))))
            if not crashed:
                self.runs = runs
                return runs
            self.worker.kill()
            self.restarts += 1
            if self.restarts > self.cfg.max_restarts:
                raise WorkerLost("the submission crashed its worker too many times")

    def _mark_fatal(self, name: str, why: str) -> None:
        self.fatal_cells[name] = f"cell {name} {why}; it was skipped"

    def ensure(self) -> None:
        self.budget_left()
        if self.worker is None:
            self.restarts += 1
            if self.restarts > self.cfg.max_restarts:
                raise WorkerLost("the submission crashed its worker too many times")
            self.start()

    def request(
        self, header: dict, blobs: list[bytes], timeout: float, cpu_limit: float | None = None
    ) -> tuple[dict, list[bytes]]:
        """One request: ``timeout`` s of wall time, ``cpu_limit`` s of the worker's CPU time.
        The CPU time the request took is left in :attr:`last_cpu`."""
        self.last_cpu = 0.0
        self.ensure()
        timeout = min(timeout, self.budget_left())
        worker = self.worker
        cpu0 = worker.cpu_mark if worker.cpu_mark is not None else worker.cpu_seconds()
        t0 = time.monotonic()
        try:
            reply, out = worker.request(header, blobs, timeout, cpu_limit, cpu0)
        except TimeoutError as err:
            now = worker.cpu_seconds()
            if now is not None and cpu0 is not None:
                self.last_cpu = now - cpu0
            self.discard()
            if isinstance(err, OverLimit) and err.kind == "cpu":
                why = f"your code used more than the {err.limit:.3g} s of CPU time left"
            else:
                why = (
                    f"your code did not answer within {timeout:.3g} s of wall time (the limit "
                    "for sleeping or waiting; CPU time is limited separately)"
                )
            raise WorkerLost(f"{why} in this check", timed_out=True) from None
        except wire.WireError as err:  # costs this check only: the next one starts afresh
            self.discard()
            raise MalformedReply(str(err)) from None
        except (OSError, EOFError) as err:
            self.discard()
            raise WorkerLost(f"the worker stopped: {_describe_loss(err)}") from None
        # The worker reports the CPU time it spent (process-wide, threads included); /proc, read
        # here, is the figure the student's code cannot alter. Take the larger: a forged report
        # can only cost its sender. Without either, the wall time stands in.
        measured = worker.cpu_mark = worker.cpu_seconds()
        reported = reply.get("cpu")
        candidates = [
            x
            for x in (
                measured - cpu0 if measured is not None and cpu0 is not None else None,
                float(reported)
                if isinstance(reported, int | float) and math.isfinite(reported) and reported >= 0
                else None,
            )
            if x is not None
        ]
        self.last_cpu = max(candidates) if candidates else time.monotonic() - t0
        if reply.get("output"):
            self.keep_output(reply["output"])
        return reply, out

    def keep_output(self, text: str) -> None:
        """Keep what the student's code printed, at most OUTPUT_KEPT characters per submission
        (the latest); while :attr:`withhold_output` is set (a hidden check runs) only a note."""
        if self.withhold_output:
            text = HIDDEN_OUTPUT
            if self.output and self.output[-1] == text:
                return
        self.output.append(text)
        self._output_chars += len(text)
        while self._output_chars > OUTPUT_KEPT and len(self.output) > 1:
            self._output_chars -= len(self.output.pop(0))

    def discard(self) -> None:
        if self.worker is not None:
            self.worker.kill()
            self.worker = None

    def close(self) -> None:
        if self.worker is not None:
            try:
                wire.send(self.worker.sock, {"op": "bye"})
            except OSError:
                pass
            self.discard()


def _describe_loss(err: BaseException) -> str:
    if isinstance(err, EOFError):
        return "it exited or was killed (os._exit, a crash, or a resource limit)"
    if isinstance(err, wire.WireError):
        return f"the worker's reply was malformed: {err}"
    return f"{type(err).__name__}: {err}"


class RemoteStudent(Student):
    """A Student whose every request goes to the session's sandboxed worker, with a time budget.

    The budget counts the CPU time the worker spends on the check's requests, never the time the
    check's own code (the oracles) takes in the grader, so a slow oracle or a loaded machine does
    not cost the student. Each request also has a wall-clock backstop, for code that sleeps or
    waits (and for work in processes the student's code started)."""

    #: the wall-clock backstop of a request: ``WALL_FACTOR`` x the CPU time left + ``WALL_EXTRA``
    WALL_FACTOR = 3.0
    WALL_EXTRA = 10.0

    def __init__(self, session: Session, limit: float):
        self.session = session
        self.limit = limit
        self.used = 0.0  # CPU seconds the student's code has spent in this check

    def _roundtrip(self, header, blobs):
        left = self.limit - self.used
        if left <= 0:
            raise WorkerLost(
                f"your code used up the check's {self.limit:.3g} s of CPU time", timed_out=True
            )
        try:
            reply = self.session.request(
                header, blobs, self.WALL_FACTOR * left + self.WALL_EXTRA, cpu_limit=left
            )
        finally:
            self.used += self.session.last_cpu
        if self.used > self.limit:  # finished, but past the limit (between two reads of /proc)
            raise WorkerLost(
                f"your code used more than the check's {self.limit:.3g} s of CPU time",
                timed_out=True,
            )
        return reply

    def _folder(self):
        return self.session.folder
