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
    _warm_first_uses(torch)
    shell = make_shell()
    sandbox.namespaces_available_cached()
    # Move everything imported so far out of the collector's reach: otherwise a submission that
    # allocates many objects triggers full collections that walk all of PyTorch (0.3-1 s each).
    gc.collect()
    gc.freeze()
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # children are reaped by the kernel
    ctrl.send(json.dumps({"ready": True, "mode": sandbox.probe_capabilities()}).encode())

    spawned = 0
    while True:
        try:
            msg, fds, _, _ = socket.recv_fds(ctrl, 1 << 16, 1)
        except OSError:
            os._exit(0)
        if not msg:
            os._exit(0)
        request = json.loads(msg)
        spawned += 1  # numbers the workers: a fresh uid for each one when the grader is root
        if os.fork() == 0:
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            ctrl.close()
            sock = socket.socket(fileno=fds[0])
            try:
                cfg = sandbox.SandboxConfig(
                    limits=sandbox.Limits(**request["limits"]),
                    hide=list(request["hide"]),
                    expose=list(request.get("expose", [])),
                    serial=spawned,
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


def _warm_first_uses(torch) -> None:
    """Run once what student code commonly does first (autograd, an optimiser step of each
    common optimiser, a scheduler, the usual ``F.*`` functions, gradcheck, which imports SymPy):
    the one-off cost of a first use is then paid here, not in a check's CPU time."""
    import torch.nn.functional as F  # noqa: N812

    with torch.random.fork_rng(devices=[]):  # the students' global generator stays as it was
        x = torch.linspace(-1.0, 1.0, 12, dtype=torch.float64).reshape(3, 4).requires_grad_()
        net = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.ReLU(), torch.nn.Linear(3, 2))
        net(x.float()).sum().backward()
        torch.autograd.grad(F.cross_entropy(x, torch.tensor([0, 1, 2])), x)
        torch.autograd.gradcheck(lambda z: (z * z).tanh().sum(), (x,))
        F.batch_norm(x.detach(), None, None, training=True)
        F.layer_norm(x.detach(), (4,))
        F.dropout(x.detach(), 0.5)
        F.softmax(x.detach(), dim=1)
        F.mse_loss(x.detach(), x.detach())
        F.conv2d(torch.zeros(1, 1, 4, 4), torch.zeros(1, 1, 3, 3))
        for cls in (torch.optim.SGD, torch.optim.Adam, torch.optim.AdamW, torch.optim.RMSprop):
            opt = cls(net.parameters(), lr=0.0)
            sched = torch.optim.lr_scheduler.StepLR(opt, 1)
            opt.step()
            sched.step()
            opt.zero_grad()


if __name__ == "__main__":
    main(sys.argv[1:])
