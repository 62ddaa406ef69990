"""The zygote: a process that imports the heavy libraries once and forks a worker per request.

Started by the grader with a clean environment before it loads any check or reference solution,
so nothing secret is in its memory. It imports NumPy, PyTorch, matplotlib (Agg), IPython, the
course helpers and the assignments' probes, builds an IPython shell, then waits on its control
socket (SOCK_SEQPACKET) for requests: a JSON sandbox configuration plus the file descriptor of
the socket the new worker will serve. Each request becomes a fork: the child enters the sandbox
and serves, the zygote goes back to waiting. A worker therefore starts in milliseconds and never
pays ``import torch``.

Run as ``python -m autograder.zygote CONTROL_FD MODULE...``.
"""

from __future__ import annotations

import gc
import importlib
import json
import os
import signal
import socket
import sys


def main(argv: list[str]) -> None:
    ctrl = socket.socket(fileno=int(argv[0]))
    import ctypes

    ctypes.CDLL(None).prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG: die with the grader

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot  # noqa: F401
    import numpy  # noqa: F401
    import torch

    torch.set_num_threads(1)
    for name in [
        "coursekit.gradcheck",
        "coursekit.plotting",
        "coursekit.device",
        "coursekit.data",
        "autograder.notebook",
        *argv[1:],
    ]:
        try:
            importlib.import_module(name)
        except ImportError as err:
            print(f"zygote: could not preload {name}: {err}", file=sys.stderr)
    from . import sandbox, wire
    from .worker import Worker, make_shell

    # The first optimizer a process creates imports torch._dynamo (~800 modules, 1-2 s): pay it
    # here once rather than in every worker whose student code trains something.
    torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.0)
    shell = make_shell()
    sandbox.namespaces_available_cached()
    # Move everything imported so far out of the collector's reach: otherwise a submission that
    # allocates many objects triggers full collections that walk all of PyTorch (0.3-1 s each).
    gc.collect()
    gc.freeze()
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # children are reaped by the kernel
    ctrl.send(json.dumps({"ready": True, "mode": sandbox.probe_capabilities()}).encode())

    while True:
        try:
            msg, fds, _, _ = socket.recv_fds(ctrl, 1 << 16, 1)
        except OSError:
            os._exit(0)
        if not msg:
            os._exit(0)
        request = json.loads(msg)
        if os.fork() == 0:
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            ctrl.close()
            sock = socket.socket(fileno=fds[0])
            try:
                cfg = sandbox.SandboxConfig(
                    limits=sandbox.Limits(**request["limits"]),
                    hide=list(request["hide"]),
                    isolate=bool(request["isolate"]),
                )
                sandbox.enter(sock, cfg, int(request["slot"]))
            except BaseException as err:  # noqa: B036 -- report, never serve unsandboxed
                try:
                    wire.send(sock, {"ready": False, "error": repr(err)[:500]})
                finally:
                    os._exit(70)
            wire.send(sock, {"ready": True})
            Worker(sock, shell).serve()
            os._exit(0)
        for fd in fds:
            os.close(fd)


if __name__ == "__main__":
    main(sys.argv[1:])
