"""The grader's side of a worker: start it, feed it cells, call into it, kill it.

:class:`Zygote` owns the forking server. :class:`Session` is one submission's sandboxed worker:
it replays the submission's cells after a crash, so that a crash costs only the check that
caused it. :class:`RemoteStudent` is what checks hold while grading.
"""

from __future__ import annotations

import json
import os
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
from .student import Student


class WorkerLost(CheckFailure):
    """The worker died or stopped answering; the session must be restarted."""

    def __init__(self, message: str, timed_out: bool = False):
        super().__init__(message)
        self.timed_out = timed_out


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

    def request(self, header: dict, blobs: list[bytes], timeout: float) -> tuple[dict, list[bytes]]:
        self.sock.settimeout(max(timeout, 0.001))
        wire.send(self.sock, header, blobs)
        return wire.recv(self.sock)

    def kill(self) -> None:
        try:
            if self.mode == 1:
                os.kill(self.pid, signal.SIGKILL)
            else:
                os.killpg(self.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        self.sock.close()


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
    isolate: bool = True
    cell_timeout: float = 20.0  # seconds for one cell of the submission
    check_timeout: float | None = None  # caps every check's own timeout (tests use a short one)
    # Once a submission has timed out, its later checks get this fraction of their timeout (at
    # least ``suspect_floor`` s): a function that hangs would otherwise cost the full timeout in
    # every item that calls it. The reference solutions need a few percent of their timeouts.
    suspect_fraction: float = 0.25
    suspect_floor: float = 1.0
    max_restarts: int = 12


class Session:
    """One submission's worker, with its cells; restarts and replays after a crash."""

    def __init__(self, zygote: Zygote, cfg: SessionConfig, slot: int, cells: list[tuple[str, str]]):
        self.zygote, self.cfg, self.slot, self.cells = zygote, cfg, slot, cells
        self.worker: WorkerProc | None = None
        self.fatal_cells: dict[str, str] = {}  # grade_id -> why it is no longer run
        self.runs: list[CellRun] = []
        self.restarts = 0
        self.output: list[str] = []
        self.folder: Path | None = None  # the submission's folder, for attachments
        self.timeouts = 0  # checks of this submission that ran out of time

    def _spawn(self) -> WorkerProc:
        req = {
            "limits": asdict(self.cfg.limits),
            "hide": self.cfg.hide,
            "isolate": self.cfg.isolate,
            "slot": self.slot,
        }
        return self.zygote.spawn(req)

    def start(self) -> list[CellRun]:
        """Start a worker and run the cells; a cell that hangs or crashes it is left out."""
        while True:
            self.worker = self._spawn()
            runs, crashed = [], False
            for name, source in self.cells:
                if name in self.fatal_cells:
                    runs.append(CellRun(name, False, self.fatal_cells[name], fatal=True))
                    continue
                try:
                    reply, _ = self.worker.request(
                        {"op": "exec", "name": name, "source": source}, [], self.cfg.cell_timeout
                    )
                except TimeoutError:
                    self._mark_fatal(name, f"did not finish within {self.cfg.cell_timeout:g} s")
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
        if self.worker is None:
            self.restarts += 1
            if self.restarts > self.cfg.max_restarts:
                raise WorkerLost("the submission crashed its worker too many times")
            self.start()

    def request(self, header: dict, blobs: list[bytes], timeout: float) -> tuple[dict, list[bytes]]:
        self.ensure()
        try:
            reply, out = self.worker.request(header, blobs, timeout)
        except TimeoutError:
            self.discard()
            raise WorkerLost(
                f"did not finish within the time limit ({timeout:.3g} s left)", timed_out=True
            ) from None
        except (OSError, EOFError, wire.WireError) as err:
            self.discard()
            raise WorkerLost(f"the worker stopped: {_describe_loss(err)}") from None
        if reply.get("output"):
            self.output.append(str(reply["output"]))
        return reply, out

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
        return f"it sent a malformed reply: {err}"
    return f"{type(err).__name__}: {err}"


class RemoteStudent(Student):
    """A Student whose every request goes to the session's sandboxed worker, with a deadline."""

    def __init__(self, session: Session, deadline: float):
        self.session = session
        self.deadline = deadline

    def _roundtrip(self, header, blobs):
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise WorkerLost("the check ran out of time", timed_out=True)
        return self.session.request(header, blobs, left)

    def _folder(self):
        return self.session.folder
