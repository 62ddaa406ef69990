"""The untrusted side: runs the student's cells and answers the grader's requests.

A worker is a child of the zygote (:mod:`autograder.zygote`), which has already imported NumPy,
PyTorch, IPython and the probes, so a worker starts in milliseconds. After entering the sandbox
(:mod:`autograder.sandbox`) it serves requests on its socket until told to stop or killed:

    {"op": "exec", "source": ...}   run one cell through IPython (magics work)
    {"op": "call" | "get" | ...}   handled by the Endpoint (see autograder.endpoint)
    {"op": "bye"}

Each reply carries what the student's code printed during the request (at most OUTPUT_LIMIT
characters of it): warnings and stderr are information for the feedback, never a failure; and
the CPU time it took (``"cpu"``, seconds), which is what a check's time limit counts.
"""

from __future__ import annotations

import io
import os
import sys
import time

from . import wire
from .endpoint import Endpoint, _error_dict

OUTPUT_LIMIT = 8_000  # characters of stdout+stderr kept per request


class CappedText(io.TextIOBase):
    """A text stream that keeps the first ``limit`` characters and counts the rest."""

    def __init__(self, limit: int):
        self.limit = limit
        self.parts: list[str] = []
        self.kept = 0
        self.dropped = 0

    def writable(self) -> bool:
        return True

    def write(self, s) -> int:
        s = str(s)
        room = self.limit - self.kept
        if room > 0:
            self.parts.append(s[:room])
            self.kept += min(room, len(s))
        self.dropped += max(0, len(s) - max(room, 0))
        return len(s)

    def take(self) -> str:
        text = "".join(self.parts)
        if self.dropped:
            text += f"\n[... {self.dropped} more characters of output not kept]"
        self.parts, self.kept, self.dropped = [], 0, 0
        return text


def make_shell():
    """An IPython shell without history, display hooks to a terminal, or threads."""
    from IPython.core.interactiveshell import InteractiveShell
    from traitlets.config import Config

    cfg = Config()
    cfg.HistoryManager.enabled = False
    cfg.InteractiveShell.colors = "nocolor"
    cfg.InteractiveShell.xmode = "Plain"
    shell = InteractiveShell(config=cfg)
    shell.showtraceback = lambda *a, **k: None  # errors are reported through the reply instead
    shell.user_ns["get_ipython"] = shell.get_ipython  # also for cells run without the shell
    return shell


class Worker:
    def __init__(self, sock, shell):
        self.sock = sock
        self.shell = shell
        self.endpoint = Endpoint(shell.user_ns)
        self.out = CappedText(OUTPUT_LIMIT)

    def run_cell(self, source: str, name: str) -> dict:
        """Run one cell. Plain Python is compiled and executed directly (IPython's tokenizing
        input transformers cost several milliseconds per cell); a cell that only parses with
        IPython's syntax (magics, ``!commands``, top-level ``await``) goes through the shell."""
        try:
            code = compile(source, f"<cell {name}>", "exec", dont_inherit=True)
        except SyntaxError:
            code = None
        if code is not None:
            try:
                exec(code, self.shell.user_ns)
            except BaseException as err:  # noqa: B036 -- SystemExit and friends are the student's
                if isinstance(err, KeyboardInterrupt):
                    raise
                return {"ok": False, "error": _error_dict(err)}
            return {"ok": True}
        result = self.shell.run_cell(source, store_history=False, silent=False, cell_id=name)
        err = result.error_before_exec or result.error_in_exec
        if err is None:
            return {"ok": True}
        return {"ok": False, "error": _error_dict(err)}

    def serve(self) -> None:
        # Output goes to capped buffers; the inherited descriptors 1 and 2 (the grader's terminal)
        # are replaced by /dev/null so that C-level writes cannot flood the grader's log either.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)
        os.dup2(devnull, 2)
        os.close(devnull)
        sys.stdout = sys.stderr = self.out
        me = os.getpid()
        while True:
            try:
                header, blobs = wire.recv(self.sock)
            except (EOFError, OSError, wire.WireError):
                os._exit(0)
            if header.get("op") == "bye":
                os._exit(0)
            cpu0 = time.process_time()  # process-wide: every thread of the worker
            if header.get("op") == "exec":
                reply, out_blobs = (
                    self.run_cell(str(header.get("source", "")), str(header.get("name"))),
                    [],
                )
            else:
                reply, out_blobs = self.endpoint.handle(header, blobs)
            if os.getpid() != me:
                os._exit(0)  # a process the student forked must never talk on our socket
            reply["output"] = self.out.take()
            reply["cpu"] = round(time.process_time() - cpu0, 6)
            try:
                wire.send(self.sock, reply, out_blobs)
            except (OSError, ValueError, TypeError) as err:
                # the value could not be framed (e.g. a NaN inside a string key): report that
                try:
                    wire.send(self.sock, {"ok": False, "error": _error_dict(err), "output": ""})
                except OSError:
                    os._exit(3)
