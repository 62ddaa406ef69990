"""Probes of A1: small drivers that run beside the student's code and return plain data.

They never judge anything: the checks compare what they return with oracles in the grader.

``value_programs`` runs little expression programs on the student's ``Value``. A program is a
list of instructions; instruction ``i`` appends register ``L + i`` (the ``L`` leaves come first):

    ["add" | "sub" | "mul" | "truediv", i, j]    reg[i] <op> reg[j]
    ["add_c" | "sub_c" | "mul_c" | "truediv_c", i, c]    reg[i] <op> c   (c a plain number)
    ["c_add" | "c_sub" | "c_mul" | "c_truediv", i, c]    c <op> reg[i]
    ["pow", i, p]                                   reg[i] ** p
    ["neg" | "exp" | "log" | "tanh" | "sigmoid" | "relu", i]

The nodes are built either with the student's operators (``engine="student"``) or by the probe
itself (``engine="trusted"``: ``Value(data, parents, op)`` plus a ``_backward`` closure written
here), and the gradients come from the student's ``backward()`` (``backward="student"``) or from
a traversal written here that seeds the root with ``seed`` and calls the nodes' ``_backward`` in
reverse topological order (``backward="trusted"``). Mixing the two isolates the item under test.
"""

from __future__ import annotations

import gc
import math
import operator

import numpy as np
import torch

from autograder.endpoint import probe

_BINARY = {
    "add": operator.add,
    "sub": operator.sub,
    "mul": operator.mul,
    "truediv": operator.truediv,
}
_UNARY_METHODS = ("exp", "log", "tanh", "sigmoid", "relu")


def _number(v, what: str) -> float:
    if isinstance(v, bool) or not isinstance(v, int | float | np.integer | np.floating):
        raise TypeError(f"{what} is a {type(v).__name__}, not a number")
    return float(v)


def _describe(err: Exception) -> str:
    text = f"{type(err).__name__}: {err}"
    tb = err.__traceback__
    last = None
    while tb is not None:
        if "/autograder/" not in tb.tb_frame.f_code.co_filename:
            last = tb
        tb = tb.tb_next
    if last is not None:
        code = last.tb_frame.f_code
        text += f" (at {code.co_filename}:{last.tb_lineno} in {code.co_name})"
    return text[:600]


# -- building nodes ---------------------------------------------------------------------------


def _student_node(regs: list, ins: list):
    op, a = ins[0], regs[ins[1]]
    if op in _BINARY:
        return _BINARY[op](a, regs[ins[2]])
    if op.endswith("_c"):
        return _BINARY[op[:-2]](a, ins[2])
    if op.startswith("c_"):
        return _BINARY[op[2:]](ins[2], a)
    if op == "pow":
        return a ** ins[2]
    if op == "neg":
        return -a
    if op in _UNARY_METHODS:
        return getattr(a, op)()
    raise ValueError(f"unknown instruction {op!r}")


def _local_rule(op: str, x: float, y: float | None, c):
    """(value, local derivatives) of one instruction; y is the second register's value."""
    if op == "add":
        return x + y, (1.0, 1.0)
    if op == "sub":
        return x - y, (1.0, -1.0)
    if op == "mul":
        return x * y, (y, x)
    if op == "truediv":
        return x / y, (1.0 / y, -x / (y * y))
    if op == "add_c":
        return x + c, (1.0,)
    if op == "sub_c":
        return x - c, (1.0,)
    if op == "mul_c":
        return x * c, (float(c),)
    if op == "truediv_c":
        return x / c, (1.0 / c,)
    if op == "c_add":
        return c + x, (1.0,)
    if op == "c_sub":
        return c - x, (-1.0,)
    if op == "c_mul":
        return c * x, (float(c),)
    if op == "c_truediv":
        return c / x, (-c / (x * x),)
    if op == "pow":
        return x**c, (c * x ** (c - 1),)
    if op == "neg":
        return -x, (-1.0,)
    if op == "exp":
        e = math.exp(x)
        return e, (e,)
    if op == "log":
        return math.log(x), (1.0 / x,)
    if op == "tanh":
        t = math.tanh(x)
        return t, (1.0 - t * t,)
    if op == "sigmoid":
        z = math.exp(-abs(x))
        sg = 1.0 / (1.0 + z) if x >= 0 else z / (1.0 + z)
        return sg, (sg * (1.0 - sg),)
    if op == "relu":
        return max(x, 0.0), (1.0 if x > 0 else 0.0,)
    raise ValueError(f"unknown instruction {op!r}")


def _trusted_node(value_cls, regs: list, ins: list):
    op = ins[0]
    a = regs[ins[1]]
    parents = (a, regs[ins[2]]) if op in _BINARY else (a,)
    xs = [_number(p.data, "the data of an input node") for p in parents]
    c = ins[2] if len(ins) > 2 and op not in _BINARY else None
    data, local = _local_rule(op, xs[0], xs[1] if len(xs) > 1 else None, c)
    out = value_cls(data, parents, op)

    def push_back():
        for parent, d in zip(parents, local, strict=True):
            parent.grad += d * out.grad

    out._backward = push_back
    return out


def _trusted_backward(root, seed: float) -> None:
    """Seed the root, order the graph by an explicit-stack DFS, run ``_backward`` in reverse."""
    done: set[int] = set()
    entered: set[int] = set()
    order = []
    stack = [root]
    while stack:
        node = stack[-1]
        key = id(node)
        if key in done:
            stack.pop()
        elif key in entered:
            stack.pop()
            done.add(key)
            order.append(node)
        else:
            entered.add(key)
            stack.extend(p for p in tuple(node._prev)[::-1] if id(p) not in entered)
    root.grad = seed
    for node in order[::-1]:
        node._backward()


@probe("a1_backprop.value_programs")
def value_programs(ns, cases):
    """Run each case; a case's programs share its leaves and each ends with a backward pass."""
    value_cls = ns["Value"]
    results = []
    for case in cases:
        leaves = [value_cls(v) for v in case["leaves"]]
        runs, where = [], {}
        try:
            for k, program in enumerate(case["programs"]):
                regs = list(leaves)
                for i, ins in enumerate(program):
                    where = {"program": k, "instruction": i}
                    if case["engine"] == "trusted":
                        node = _trusted_node(value_cls, regs, ins)
                    else:
                        node = _student_node(regs, ins)
                    if not isinstance(node, value_cls):
                        raise TypeError(
                            f"the operation returned a {type(node).__name__}, not a Value"
                        )
                    regs.append(node)
                where = {"program": k, "instruction": None}
                if case["backward"] == "trusted":
                    _trusted_backward(regs[-1], float(case["seed"]))
                else:
                    regs[-1].backward()
                runs.append(
                    {
                        "data": [_number(r.data, f"v{j}.data") for j, r in enumerate(regs)],
                        "grad": [_number(r.grad, f"v{j}.grad") for j, r in enumerate(regs)],
                    }
                )
        except Exception as err:  # noqa: BLE001 -- reported to the check, which names the step
            results.append({"error": _describe(err), **where})
            continue
        results.append({"runs": runs})
    return results


@probe("a1_backprop.value_chain")
def value_chain(ns, leaf, factors, shifts):
    """A chain ``v <- v * factors[k] + shifts[k]`` built here; the student's ``backward()``.

    Returns the root's data and the grads of the leaf and of every 100th multiplication node.
    """
    # Thousands of nodes with reference cycles (closures) would otherwise be promoted through
    # the collector's generations and trigger a full collection of everything the worker
    # inherited (PyTorch included): 0.3 to 1 s. Unreachable afterwards, they die young instead.
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        value_cls = ns["Value"]
        x = value_cls(float(leaf))
        regs = [x]
        node = x
        for f, c in zip(factors.tolist(), shifts.tolist(), strict=True):
            node = _trusted_node(value_cls, [node], ["mul_c", 0, f])
            regs.append(node)
            node = _trusted_node(value_cls, [node], ["add_c", 0, c])
        try:
            node.backward()
        except Exception as err:  # noqa: BLE001 -- reported to the check (RecursionError...)
            return {"error": _describe(err)}
        return {
            "data": _number(node.data, "root.data"),
            "grad": [_number(r.grad, "grad") for r in regs[::100]],
        }
    finally:
        if was_enabled:
            gc.enable()


# -- autograd Functions ---------------------------------------------------------------------


@probe("a1_backprop.autograd_function")
def autograd_function(ns, name, x, dtype, upstream, args=()):
    """Apply ``ns[name]`` to a leaf tensor and backpropagate ``upstream``; return numbers."""
    dt = {"float32": torch.float32, "float64": torch.float64}[dtype]
    t = torch.tensor(np.asarray(x), dtype=dt).requires_grad_(True)
    out = ns[name].apply(t, *args)
    if not isinstance(out, torch.Tensor):
        raise TypeError(f"{name}.apply returned a {type(out).__name__}, not a tensor")
    if not out.requires_grad:
        raise TypeError(
            f"the output of {name}.apply does not require grad: return a tensor "
            "computed from the input inside forward"
        )
    out.backward(torch.tensor(np.asarray(upstream), dtype=out.dtype))
    grad = t.grad
    return {
        "out": out.detach().cpu().numpy(),
        "out_dtype": str(out.dtype).replace("torch.", ""),
        "grad": None if grad is None else grad.detach().cpu().numpy(),
        "grad_dtype": None if grad is None else str(grad.dtype).replace("torch.", ""),
    }


# -- training ---------------------------------------------------------------------------------


@probe("a1_backprop.train_two_layer")
def train_two_layer(ns, X, y, seed, kwargs):
    """``train_two_layer_net(X, y, rng=np.random.default_rng(seed), **kwargs)``."""
    return ns["train_two_layer_net"](X, y, rng=np.random.default_rng(seed), **kwargs)


def _params(model) -> dict:
    return {name: p.detach().cpu().numpy().copy() for name, p in model.named_parameters()}


def _build_net(ns, sizes, seed):
    model = ns["TwoLayerNet"](*sizes, generator=torch.Generator().manual_seed(seed))
    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"TwoLayerNet(...) is a {type(model).__name__}, not an nn.Module")
    return model


@probe("a1_backprop.torch_net_init")
def torch_net_init(ns, sizes, seed, X):
    """A fresh ``TwoLayerNet(*sizes, generator=seed)``: its parameters and its scores on X."""
    model = _build_net(ns, sizes, seed)
    params = _params(model)
    with torch.no_grad():
        out = model(torch.tensor(np.asarray(X), dtype=torch.float32))
    return {"params": params, "out": out.detach().cpu().numpy()}


@probe("a1_backprop.torch_net_train")
def torch_net_train(
    ns,
    sizes,
    seed,
    X,
    y,
    lr,
    steps,
    dtype,
    device,
    batch_size=None,
    batch_seed=None,
    as_tensors=False,
):
    """Build the net, cast it to ``dtype``, run ``train_torch_net`` and report what it did."""
    model = _build_net(ns, sizes, seed)
    if dtype == "float64":
        model = model.double()
    gen = None if batch_seed is None else torch.Generator().manual_seed(batch_seed)
    if as_tensors:
        X, y = torch.from_numpy(np.asarray(X)), torch.from_numpy(np.asarray(y))
    dev = torch.device("cpu") if device == "torch.device" else device
    losses = ns["train_torch_net"](
        model, X, y, lr, steps, dev, generator=gen, batch_size=batch_size
    )
    kinds = sorted({type(v).__name__ for v in losses}) if isinstance(losses, list | tuple) else []
    values = None
    if isinstance(losses, list | tuple):
        try:
            values = [float(v) for v in losses]
        except (TypeError, ValueError, RuntimeError):
            values = None
    return {
        "container": type(losses).__name__,
        "kinds": kinds,
        "losses": values,
        "params": _params(model),
        "param_dtypes": sorted({str(p.dtype) for p in model.parameters()}),
    }
