"""Public checks of A1: what students run from their notebook with ``checker.check("<item>")``.

Oracles: PyTorch in float64 (``torch.nn.functional`` and autograd), known numbers from the
lecture, and reference trajectories reproduced here from the documented initialisation. The
helpers at the top are shared with :mod:`.hidden`.
"""

from __future__ import annotations

import math
import operator

import numpy as np
import torch
import torch.nn.functional as F

from autograder.checking import (
    CheckFailure,
    check,
    describe,
    expect,
    expect_close,
    expect_equal,
    fmt_pair,
)
from autograder.student import Remote

from .probes import _local_rule

F64 = torch.float64

# -- generic helpers ----------------------------------------------------------------------------


def unpack(result, names: tuple[str, ...], what: str) -> tuple:
    """``result`` as a tuple of ``len(names)`` entries, or a clear failure."""
    if not isinstance(result, tuple | list) or len(result) != len(names):
        raise CheckFailure(
            f"{what} must return a tuple ({', '.join(names)}), got {describe(result)}"
        )
    return tuple(result)


def scalar_loss(loss, what: str):
    """A loss must be one number (a float, or an array with a single element is refused)."""
    if isinstance(loss, np.ndarray) and loss.shape == ():
        return float(loss)
    if isinstance(loss, bool) or not isinstance(loss, int | float):
        raise CheckFailure(
            f"{what} must be a Python float, got {describe(loss)}", "return float(...) of the mean"
        )
    return float(loss)


def field(result, key: str, what: str):
    if not isinstance(result, dict):
        raise CheckFailure(f"{what} must return a dict, got {describe(result)}")
    if key not in result:
        raise CheckFailure(
            f"{what}: the returned dict has no key {key!r} (keys: {sorted(map(str, result))})"
        )
    return result[key]


def tensor(a, grad: bool = False, dtype=F64) -> torch.Tensor:
    return torch.tensor(np.asarray(a), dtype=dtype, requires_grad=grad)


def torch_vjp(fn, inputs, dout):
    """``fn(*inputs)`` and the gradients of ``sum(dout * fn(*inputs))`` (float64, NumPy)."""
    ts = [tensor(a, grad=True) for a in inputs]
    out = fn(*ts)
    grads = torch.autograd.grad(out, ts, tensor(dout), allow_unused=True)
    return out.detach().numpy(), [
        np.zeros(np.shape(a)) if g is None else g.numpy()
        for a, g in zip(inputs, grads, strict=True)
    ]


def torch_loss(fn, x, *rest):
    """A loss ``fn(x, *rest)`` and its gradient with respect to ``x`` (float64, NumPy)."""
    t = tensor(x, grad=True)
    loss = fn(t, *rest)
    (g,) = torch.autograd.grad(loss, t)
    return loss.item(), g.numpy()


def avoid_zero(x, gap: float = 1e-3):
    """Move entries within ``gap`` of 0 away from it (finite differences and kinks)."""
    return np.where(np.abs(x) < gap, np.where(x < 0, -0.5, 0.5), x)


# -- the Value engine -----------------------------------------------------------------------

BINARY = {"add": "+", "sub": "-", "mul": "*", "truediv": "/"}


def show(ins, index: int) -> str:
    """The instruction that creates register ``index``, as Python: ``v5 = v2 * v3``."""
    op = ins[0]
    if op in BINARY:
        rhs = f"v{ins[1]} {BINARY[op]} v{ins[2]}"
    elif op.endswith("_c"):
        rhs = f"v{ins[1]} {BINARY[op[:-2]]} {ins[2]!r}"
    elif op.startswith("c_"):
        rhs = f"{ins[2]!r} {BINARY[op[2:]]} v{ins[1]}"
    elif op == "pow":
        rhs = f"v{ins[1]} ** {ins[2]!r}"
    elif op == "neg":
        rhs = f"-v{ins[1]}"
    else:
        rhs = f"v{ins[1]}.{op}()"
    return f"v{index} = {rhs}"


def torch_program(leaves, programs, seed: float = 1.0):
    """PyTorch float64 twin of the probe: data and grads of every register, leaves shared."""
    lt = [torch.tensor(float(v), dtype=F64, requires_grad=True) for v in leaves]
    acc = np.zeros(len(leaves))
    runs = []
    for program in programs:
        regs = list(lt)
        for ins in program:
            regs.append(_torch_instruction(regs, ins))
        grads = torch.autograd.grad(
            regs[-1], regs, torch.tensor(float(seed), dtype=F64), allow_unused=True
        )
        g = np.array([0.0 if gr is None else float(gr) for gr in grads])
        acc += g[: len(leaves)]
        g[: len(leaves)] = acc
        runs.append({"data": np.array([float(r.detach()) for r in regs]), "grad": g})
    return runs


def _torch_instruction(regs, ins):
    op, a = ins[0], regs[ins[1]]
    if op in BINARY:
        return getattr(operator, op)(a, regs[ins[2]])
    if op.endswith("_c"):
        return getattr(operator, op[:-2])(a, ins[2])
    if op.startswith("c_"):
        return getattr(operator, op[2:])(ins[2], a)
    if op == "pow":
        return a ** ins[2]
    if op == "neg":
        return -a
    return {
        "exp": torch.exp,
        "log": torch.log,
        "tanh": torch.tanh,
        "sigmoid": torch.sigmoid,
        "relu": torch.relu,
    }[op](a)


def graph_of(leaves, program):
    """Values, parents and local derivatives of the registers (for simulating mistakes)."""
    vals = [float(v) for v in leaves]
    parents: list[tuple] = [()] * len(vals)
    local: list[tuple] = [()] * len(vals)
    for ins in program:
        op, i = ins[0], ins[1]
        two = op in BINARY
        d, loc = _local_rule(
            op, vals[i], vals[ins[2]] if two else None, None if two or len(ins) < 3 else ins[2]
        )
        vals.append(d)
        parents.append((i, ins[2]) if two else (i,))
        local.append(loc)
    return vals, parents, local


def simulate_backward(leaves, program, mode: str) -> np.ndarray:
    """The grads a wrong traversal produces (modes: unseeded, forward, no_visited, bfs)."""
    vals, parents, local = graph_of(leaves, program)
    n = len(vals)
    grad = np.zeros(n)
    if mode == "unseeded":
        return grad
    root = n - 1
    grad[root] = 1.0
    if mode == "bfs":
        order, seen, queue = [], {root}, [root]
        while queue:
            node = queue.pop(0)
            order.append(node)
            for p in parents[node]:
                if p not in seen:
                    seen.add(p)
                    queue.append(p)
    else:
        post: list[int] = []

        def visit(node, seen):
            if seen is not None:
                if node in seen:
                    return
                seen.add(node)
            for p in parents[node]:
                visit(p, seen)
            post.append(node)

        visit(root, None if mode == "no_visited" else set())
        order = post if mode == "forward" else post[::-1]
    for node in order:
        for p, d in zip(parents[node], local[node], strict=True):
            grad[p] += d * grad[node]
    return grad


TRAVERSAL_MISTAKES = {
    "unseeded": "all gradients are 0: set self.grad = 1.0 on the node backward() is called on",
    "forward": "the _backward closures ran in topological order, not in reverse",
    "no_visited": "a node reached along two paths was processed twice: keep a set of visited "
    "nodes when you build the order",
    "bfs": "a breadth-first order from the root is not a topological order: a node may only "
    "pass its gradient on after every node that uses it has contributed",
}


def run_programs(s, cases, stop: bool = True):
    """Send cases to the probe; a case that raised becomes a failure naming the step (raised,
    or with ``stop=False`` returned in place of that case's runs)."""
    results = s.probe("a1_backprop.value_programs", cases)
    expect(
        isinstance(results, list) and len(results) == len(cases),
        "the Value probe returned something unexpected",
    )
    out = []
    for case, res in zip(cases, results, strict=True):
        if isinstance(res, dict) and "error" in res:
            k, i = res.get("program"), res.get("instruction")
            prog = case["programs"][k] if isinstance(k, int) else []
            if isinstance(i, int):
                step = show(prog[i], len(case["leaves"]) + i)
            elif case["backward"] == "student":
                step = "backward()"
            else:
                step = "the _backward closures (run by the checker)"
            hint = None
            if "RecursionError" in res["error"]:
                hint = (
                    "the graph is deeper than Python's recursion limit: build the "
                    "topological order with an explicit stack (a list) instead of recursion"
                )
            elif "OverflowError" in res["error"]:
                hint = "math.exp of a large number overflows: exponentiate only -|a|"
            if res["error"].startswith("NotImplementedError: "):
                todo = res["error"][len("NotImplementedError: ") :].split(" (at ")[0]
                failure = CheckFailure(f"{step} is not implemented yet ({todo})")
            else:
                failure = CheckFailure(f"{step} raised {res['error']}", hint)
            if stop:
                raise failure
            out.append(failure)
        else:
            out.append(res["runs"])
    return out


def compare_run(
    run, expected, leaves, program, *, what: str, grads: bool = True, grad_hints: dict | None = None
) -> None:
    """Data of every register, then grads of every register, naming the step that is wrong."""
    n_leaves = len(leaves)
    data = np.asarray(run["data"], dtype=np.float64)
    exp_data = expected["data"]
    expect_equal(data.shape, exp_data.shape, f"{what}: number of nodes")
    bad = ~np.isclose(data, exp_data, rtol=1e-6, atol=1e-8)
    if bad.any():
        j = int(np.argmax(bad))
        if j < n_leaves:
            raise CheckFailure(f"{what}: the leaf Value({exp_data[j]!r}) has data {data[j]!r}")
        ins = program[j - n_leaves]
        operands = ", ".join(
            f"v{i} = {exp_data[i]:.6g}" for i in ins[1:2] + ([ins[2]] if ins[0] in BINARY else [])
        )
        got, want = fmt_pair(float(data[j]), float(exp_data[j]))
        raise CheckFailure(
            f"{what}: {show(ins, j)} with {operands} gave data {got}, expected {want}"
        )
    if not grads:
        return
    grad = np.asarray(run["grad"], dtype=np.float64)
    exp_grad = expected["grad"]
    expect_equal(grad.shape, exp_grad.shape, f"{what}: number of gradients")
    bad = ~np.isclose(grad, exp_grad, rtol=1e-6, atol=1e-8)
    if not bad.any():
        return
    hint = None
    for key, mistake in (grad_hints or {}).items():
        if np.allclose(grad, mistake, rtol=1e-6, atol=1e-8):
            hint = TRAVERSAL_MISTAKES.get(key, key)
            break
    j = int(np.flatnonzero(bad)[-1])
    users = [
        show(ins, n_leaves + i)
        for i, ins in enumerate(program)
        if j in (ins[1],) + ((ins[2],) if ins[0] in BINARY else ())
    ]
    used = f" (an input of: {'; '.join(users[:4])})" if users else ""
    got, want = fmt_pair(float(grad[j]), float(exp_grad[j]))
    raise CheckFailure(
        f"{what}: v{j}.grad is {got}, expected {want}{used}; "
        f"{int(bad.sum())} of {bad.size} gradients differ",
        hint,
    )


def value_node(x, what: str) -> Remote:
    if not isinstance(x, Remote):
        raise CheckFailure(f"{what} gave {describe(x)}, expected a Value")
    return x


# Per-operation cases: (instruction, description with a and b, mistakes(a, b, g) -> {hint: grads}).
def _op_cases(a: float, b: float, g: float):
    sa, ta = 1.0 / (1.0 + math.exp(-a)), math.tanh(a)
    return [
        (["add", 0, 1], "a + b", {"the gradient was not multiplied by out.grad": [1.0, 1.0]}),
        (
            ["mul", 0, 1],
            "a * b",
            {
                "each input got its own value instead of the other input's": [a * g, b * g],
                "a got its own value; d(a * b)/da is b": [a * g, a * g],
                "b got its own value; d(a * b)/db is a": [b * g, b * g],
                "the gradient was not multiplied by out.grad": [b, a],
            },
        ),
        (
            ["mul", 0, 0],
            "a * a",
            {
                "a node used twice must receive both contributions: accumulate with +=, "
                "never assign": [a * g, 0.0]
            },
        ),
        (
            ["pow", 0, 3],
            "a ** 3",
            {
                "the gradient misses the factor p of p * a ** (p - 1)": [a**2 * g, 0.0],
                "used p * a ** p instead of p * a ** (p - 1)": [3 * a**3 * g, 0.0],
                "the gradient was not multiplied by out.grad": [3 * a**2, 0.0],
            },
        ),
        (
            ["pow", 0, -1],
            "a ** -1",
            {"the gradient misses the factor p of p * a ** (p - 1)": [a**-2 * g, 0.0]},
        ),
        (["neg", 0], "-a", {"negation must flip the gradient's sign": [g, 0.0]}),
        (
            ["exp", 0],
            "a.exp()",
            {
                "the local gradient of exp is exp(a), not a": [a * g, 0.0],
                "the gradient was not multiplied by out.grad": [math.exp(a), 0],
            },
        ),
        (
            ["log", 0],
            "a.log()",
            {
                "the local gradient of log is 1 / a": [math.log(a) * g, 0.0],
                "used a instead of 1 / a": [a * g, 0.0],
            },
        ),
        (
            ["tanh", 0],
            "a.tanh()",
            {
                "used 1 - a**2 with the input a; the derivative is 1 - tanh(a)**2": [
                    (1 - a * a) * g,
                    0,
                ],
                "used 1 - tanh(a) without squaring": [(1 - ta) * g, 0.0],
            },
        ),
        (
            ["sigmoid", 0],
            "a.sigmoid()",
            {
                "used a * (1 - a) with the input a instead of sigmoid(a)": [a * (1 - a) * g, 0.0],
                "used sigmoid(a) alone; the derivative is sigmoid(a) * (1 - sigmoid(a))": [
                    sa * g,
                    0,
                ],
            },
        ),
        (["relu", 0], "a.relu()", {}),
        (
            ["relu", 1],
            "b.relu() (b < 0)",
            {"the gradient must not pass where the input is <= 0": [0.0, g]},
        ),
        (["sub", 0, 1], "a - b", {"d(a - b)/db is -1: the sign of b's gradient is wrong": [g, g]}),
        (
            ["truediv", 0, 1],
            "a / b",
            {
                "d(a / b)/db is -a / b**2: the sign is wrong": [g / b, a * g / b**2],
                "the gradient was not multiplied by out.grad": [1.0 / b, -a / b**2],
            },
        ),
        (["add_c", 0, 2], "a + 2", {}),
        (["c_add", 0, 2.5], "2.5 + a", {}),
        (["mul_c", 1, 3], "b * 3", {}),
        (["c_mul", 1, -1.5], "-1.5 * b", {}),
        (["sub_c", 0, 1.5], "a - 1.5", {}),
        (["c_sub", 0, 1.5], "1.5 - a", {"1.5 - a must give a the gradient -out.grad": [g, 0.0]}),
        (["truediv_c", 1, 4], "b / 4", {}),
        (["c_truediv", 1, 2.0], "2.0 / b", {}),
    ]


# -- Part 1: Value ------------------------------------------------------------------------------


@check(
    "value_ops",
    "Value operators used from Python: the data of (x + y) * z, 2 + x, "
    "3 - z, 1 / z, z ** 2, -x and x.exp(), x.tanh(), ...",
)
def value_ops_from_python(s, rng):
    V = s.get("Value")
    x, y, z = V(-2.0), V(5.0), V(-4.0)
    q = value_node(x + y, "x + y")
    expect_close(q.data, 3.0, "(x + y).data with x = -2, y = 5")
    f = value_node(q * z, "q * z")
    expect_close(f.data, -12.0, "((x + y) * z).data with z = -4")
    cases = [
        (lambda: 2 + x, 0.0, "(2 + x).data"),
        (lambda: x * 3, -6.0, "(x * 3).data"),
        (lambda: 3 - z, 7.0, "(3 - z).data"),
        (lambda: z - 1, -5.0, "(z - 1).data"),
        (lambda: 1 / z, -0.25, "(1 / z).data"),
        (lambda: y / z, -1.25, "(y / z).data"),
        (lambda: z**2, 16.0, "(z ** 2).data"),
        (lambda: -x, 2.0, "(-x).data"),
        (lambda: x.exp(), math.exp(-2.0), "x.exp().data"),
        (lambda: y.log(), math.log(5.0), "y.log().data"),
        (lambda: x.tanh(), math.tanh(-2.0), "x.tanh().data"),
        (lambda: x.sigmoid(), 1 / (1 + math.exp(2.0)), "x.sigmoid().data"),
        (lambda: x.relu(), 0.0, "x.relu().data"),
        (lambda: y.relu(), 5.0, "y.relu().data"),
    ]
    for make, expected, what in cases:
        node = value_node(make(), what[:-5])
        expect_close(node.data, expected, what + " (x = -2, y = 5, z = -4)")
    expect_close(
        [x.grad, y.grad, z.grad],
        [0.0, 0.0, 0.0],
        "x.grad, y.grad, z.grad before any backward() (gradients start at 0.0)",
    )


@check(
    "value_ops",
    "each operation's value and local gradient: out.grad is set by the checker "
    "and your _backward closures are run in reverse topological order; compared with PyTorch",
)
def value_ops_local_gradients(s, rng):
    a = float(rng.uniform(0.5, 2.0))
    b = float(-rng.uniform(0.5, 2.0))
    g = float(rng.uniform(0.3, 0.8))
    specs = _op_cases(a, b, g)
    cases = [
        {
            "leaves": [a, b],
            "programs": [[ins]],
            "engine": "student",
            "backward": "trusted",
            "seed": g,
        }
        for ins, _, _ in specs
    ]
    results = run_programs(s, cases, stop=False)
    failures = []
    for (ins, desc, mistakes), runs in zip(specs, results, strict=True):
        where = f"out = {desc} with a = {a:.4g}, b = {b:.4g}"
        try:
            if isinstance(runs, CheckFailure):
                raise runs
            (exp,) = torch_program([a, b], [[ins]], seed=g)
            expect_close(runs[0]["data"][2], exp["data"][2], f"out.data for {where}")
            expect_close(
                runs[0]["grad"][:2],
                exp["grad"][:2],
                f"[a.grad, b.grad] for {where}, after setting out.grad = {g:.4g} and "
                "running the _backward closures",
                mistakes=mistakes,
            )
        except CheckFailure as err:
            failures.append((desc, err))
    if failures:
        first = failures[0][1]
        others = ", ".join(desc for desc, _ in failures[1:])
        also = (
            f" (also wrong: {others}; the operations built from others, such as - and /, "
            "inherit their bugs)"
            if others
            else ""
        )
        raise CheckFailure(first.message + also, first.hint)


def lecture_graph(s):
    V = s.get("Value")
    x, y, z = V(-2.0), V(5.0), V(-4.0)
    f = value_node(value_node(x + y, "x + y") * z, "(x + y) * z")
    f.backward()
    return x, y, z, f


@check(
    "value_backward",
    "f = (x + y) z at x = -2, y = 5, z = -4: after f.backward(), "
    "x.grad = y.grad = -4, z.grad = 3, f.grad = 1; c = a * a + a at a = 2 gives a.grad = 5",
)
def value_backward_lecture(s, rng):
    x, y, z, f = lecture_graph(s)
    expect_close(
        [x.grad, y.grad, z.grad, f.grad],
        [-4.0, -4.0, 3.0, 1.0],
        "[x.grad, y.grad, z.grad, f.grad] after f.backward()",
        mistakes={
            TRAVERSAL_MISTAKES["unseeded"]: [0.0, 0.0, 0.0, 0.0],
            "only the last node passed its gradient on: call every node's "
            "_backward, in reverse topological order (from f down to the "
            "leaves)": [0, 0, 3.0, 1.0],
        },
    )
    V = s.get("Value")
    a = V(2.0)
    c = value_node(value_node(a * a, "a * a") + a, "a * a + a")
    c.backward()
    expect_close(
        a.grad,
        5.0,
        "a.grad for c = a * a + a at a = 2 (a is used three times: the gradients must add up)",
    )


# A graph where order matters: q is used directly by the root and through a longer path.
BACKWARD_GRAPH = [
    ["mul", 0, 1],  # v2 = v0 * v1
    ["tanh", 2],  # v3 = v2.tanh()
    ["mul", 3, 0],  # v4 = v3 * v0
    ["add", 4, 2],  # v5 = v4 + v2
    ["mul", 5, 5],  # v6 = v5 * v5
    ["add", 6, 1],  # v7 = v6 + v1
]


@check(
    "value_backward",
    "backward() on a graph built by the checker (nodes reused along "
    "paths of different lengths): every node's .grad matches PyTorch",
)
def value_backward_order(s, rng):
    leaves = [float(rng.uniform(0.4, 1.2)), float(-rng.uniform(0.4, 1.2))]
    case = {
        "leaves": leaves,
        "programs": [BACKWARD_GRAPH],
        "engine": "trusted",
        "backward": "student",
        "seed": 1.0,
    }
    (runs,) = run_programs(s, [case])
    (exp,) = torch_program(leaves, [BACKWARD_GRAPH])
    hints = {m: simulate_backward(leaves, BACKWARD_GRAPH, m) for m in TRAVERSAL_MISTAKES}
    listing = "; ".join(show(ins, 2 + i) for i, ins in enumerate(BACKWARD_GRAPH))
    compare_run(
        runs[0],
        exp,
        leaves,
        BACKWARD_GRAPH,
        grad_hints=hints,
        what=f"v7.backward() with v0 = {leaves[0]:.4g}, v1 = {leaves[1]:.4g} and {listing}",
    )


# -- Part 2: layers -----------------------------------------------------------------------------


def check_layer(
    s, name, x, args, dout, torch_fn, *, out_mistakes=None, dx_mistakes=None, label="x"
):
    """``{name}_forward(x, *args)`` then ``{name}_backward(dout, cache)`` against PyTorch."""
    out, cache = unpack(s.call(f"{name}_forward", x, *args), ("out", "cache"), f"{name}_forward")
    exp_out, (exp_dx,) = torch_vjp(torch_fn, [x], dout)
    expect_close(out, exp_out, f"out returned by {name}_forward({label})", mistakes=out_mistakes)
    dx = s.call(f"{name}_backward", dout, cache)
    expect_close(
        dx, exp_dx, f"dx returned by {name}_backward(dout, cache) for {label}", mistakes=dx_mistakes
    )


def torch_linear(x, w, b):
    return F.linear(x.reshape(x.shape[0], -1), w, b)


def check_linear(s, x, m, rng, *, forward_only=False):
    n = x.shape[0]
    d = int(np.prod(x.shape[1:]))
    w = rng.standard_normal((m, d))
    b = rng.standard_normal(m)
    dout = rng.standard_normal((n, m))
    out, cache = unpack(s.call("linear_forward", x, w, b), ("out", "cache"), "linear_forward")
    exp_out, (dx, dw, db) = torch_vjp(torch_linear, [x, w, b], dout)
    xf = x.reshape(n, -1)
    expect_close(
        out,
        exp_out,
        f"out returned by linear_forward(x, w, b) with x {x.shape}, w {w.shape}",
        mistakes={"the bias is missing": xf @ w.T, "the bias was subtracted": xf @ w.T - b},
    )
    if forward_only:
        return
    got = unpack(s.call("linear_backward", dout, cache), ("dx", "dw", "db"), "linear_backward")
    expect_close(
        got[0],
        dx,
        f"dx returned by linear_backward for x of shape {x.shape}",
        mistakes={"dx must have the shape of the original x: reshape it back": (dout @ w)},
    )
    expect_close(
        got[1],
        dw,
        f"dw returned by linear_backward (shape (M, D) = {w.shape})",
        mistakes={"dw was averaged over the batch: sum it (dout.T @ x)": dw / n},
    )
    expect_close(
        got[2],
        db,
        "db returned by linear_backward",
        mistakes={"db was averaged over the batch instead of summed": db / n},
    )


@check("linear", "linear_forward on (N, D) inputs matches F.linear")
def linear_forward_2d(s, rng):
    check_linear(s, rng.standard_normal((4, 5)), 3, rng, forward_only=True)


@check("linear", "linear_backward: dx, dw and db match PyTorch autograd (N = 4, D = 5, M = 3)")
def linear_backward_2d(s, rng):
    check_linear(s, rng.standard_normal((4, 5)), 3, rng)


def relu_mistakes(x, dout):
    return {
        "the gradient also passed where x < 0": dout,
        "returned the mask (x > 0) without multiplying it by dout": (x > 0) * 1.0,
        "multiplied dout by the output max(0, x) instead of by the mask (x > 0)": dout
        * np.maximum(x, 0.0),
    }


@check("relu", "relu_forward and relu_backward match torch.relu and its gradient on (5, 6)")
def relu_basic(s, rng):
    x = avoid_zero(rng.standard_normal((5, 6)))
    dout = rng.standard_normal(x.shape)
    check_layer(s, "relu", x, (), dout, torch.relu, dx_mistakes=relu_mistakes(x, dout))


def leaky_mistakes(x, dout, a):
    return {
        "the slope was applied to the positive inputs instead of the negative ones": np.where(
            x > 0, a * dout, dout
        ),
        "negative inputs got no gradient: that is ReLU, not leaky ReLU": np.where(x > 0, dout, 0),
        "returned the local slope without multiplying it by dout": np.where(x > 0, 1.0, a),
        "used the default slope 0.01 instead of the negative_slope passed to the forward pass": np.where(
            x > 0, dout, 0.01 * dout
        ),
    }


@check(
    "leaky_relu",
    "leaky_relu_forward/backward with negative_slope=0.1, and with the default "
    "slope 0.01, match F.leaky_relu",
)
def leaky_relu_basic(s, rng):
    x = avoid_zero(rng.standard_normal((5, 6)))
    dout = rng.standard_normal(x.shape)
    check_layer(
        s,
        "leaky_relu",
        x,
        (0.1,),
        dout,
        lambda t: F.leaky_relu(t, 0.1),
        out_mistakes={"the slope was applied to the positive inputs": np.where(x > 0, 0.1 * x, x)},
        dx_mistakes=leaky_mistakes(x, dout, 0.1),
        label="x, negative_slope=0.1",
    )
    check_layer(
        s,
        "leaky_relu",
        x,
        (),
        dout,
        F.leaky_relu,
        dx_mistakes=leaky_mistakes(x, dout, 0.01),
        label="x (default negative_slope)",
    )


def elu_mistakes(x, dout, alpha):
    out = np.where(x > 0, x, alpha * np.expm1(np.minimum(x, 0.0)))
    e = np.exp(np.minimum(x, 0.0))
    return {
        "for x <= 0 the derivative is alpha * exp(x), not the output alpha * (exp(x) - 1)": np.where(
            x > 0, dout, out * dout
        ),
        "alpha is missing from the derivative for x <= 0": np.where(x > 0, dout, e * dout),
        "returned the local derivative without multiplying it by dout": np.where(
            x > 0, 1.0, alpha * e
        ),
        "for x > 0 the derivative is 1": np.where(x > 0, out * dout, alpha * e * dout),
    }


@check("elu", "elu_forward/backward with alpha=1.5, and with the default alpha=1, match F.elu")
def elu_basic(s, rng):
    x = avoid_zero(rng.standard_normal((5, 6)) * 2)
    dout = rng.standard_normal(x.shape)
    check_layer(
        s,
        "elu",
        x,
        (1.5,),
        dout,
        lambda t: F.elu(t, 1.5),
        out_mistakes={"alpha is missing": np.where(x > 0, x, np.expm1(x))},
        dx_mistakes=elu_mistakes(x, dout, 1.5),
        label="x, alpha=1.5",
    )
    check_layer(
        s,
        "elu",
        x,
        (),
        dout,
        F.elu,
        dx_mistakes=elu_mistakes(x, dout, 1.0),
        label="x (default alpha)",
    )


def sigmoid_mistakes(x, dout):
    sg = 1.0 / (1.0 + np.exp(-x))
    s2 = 1.0 / (1.0 + np.exp(-sg))
    return {
        "you used sigmoid(x) * (1 - x)": dout * sg * (1 - x),
        "you used x * (1 - x) with the input x; the derivative uses the output sigmoid(x)": dout
        * x
        * (1 - x),
        "you returned sigmoid'(x) without multiplying it by dout": sg * (1 - sg),
        "the sigmoid was applied twice (the cache already holds sigmoid(x))": dout * s2 * (1 - s2),
    }


@check("sigmoid", "sigmoid_forward and sigmoid_backward match torch.sigmoid and its gradient")
def sigmoid_basic(s, rng):
    x = rng.standard_normal((5, 6)) * 3
    dout = rng.standard_normal(x.shape)
    check_layer(
        s,
        "sigmoid",
        x,
        (),
        dout,
        torch.sigmoid,
        out_mistakes={"you computed sigmoid(-x)": 1.0 / (1.0 + np.exp(x))},
        dx_mistakes=sigmoid_mistakes(x, dout),
    )


def tanh_mistakes(x, dout):
    t = np.tanh(x)
    return {
        "you used 1 - x**2 with the input x; the derivative is 1 - tanh(x)**2": dout * (1 - x * x),
        "you used 1 - tanh(x) without squaring": dout * (1 - t),
        "you returned 1 - tanh(x)**2 without multiplying it by dout": 1 - t * t,
        "tanh was applied twice (the cache already holds tanh(x))": dout * (1 - np.tanh(t) ** 2),
    }


@check("tanh", "tanh_forward and tanh_backward match torch.tanh and its gradient")
def tanh_basic(s, rng):
    x = rng.standard_normal((5, 6)) * 2
    dout = rng.standard_normal(x.shape)
    check_layer(s, "tanh", x, (), dout, torch.tanh, dx_mistakes=tanh_mistakes(x, dout))


def torch_maxout(k):
    def fn(x, w, b):
        w3 = w.reshape(-1, k, w.shape[-1])
        z = torch.einsum("nd,mjd->nmj", x, w3) + b.reshape(w3.shape[0], k)
        return z.max(dim=2).values

    return fn


def maxout_reference(x, w, b, k, dout):
    """NumPy oracle with ties going to the first maximum (np.argmax).

    Returns out, the pieces z, the gradients (dx, dw, db), and the gradients two mistakes give:
    every piece receiving the gradient, and ties going to the last maximum.
    """
    w3 = w.reshape(-1, k, w.shape[-1])
    z = np.einsum("nd,mjd->nmj", x, w3) + b.reshape(w3.shape[0], k)
    win = z.argmax(axis=2)
    out = np.take_along_axis(z, win[..., None], axis=2)[..., 0]

    def grads_for(dz):
        return (
            np.einsum("nmj,mjd->nd", dz, w3),
            np.einsum("nmj,nd->mjd", dz, x).reshape(w.shape),
            dz.sum(axis=0).reshape(b.shape),
        )

    last = k - 1 - z[..., ::-1].argmax(axis=2)
    return (
        out,
        z,
        grads_for((np.arange(k) == win[..., None]) * dout[..., None]),
        grads_for(np.ones(z.shape) * dout[..., None]),
        grads_for((np.arange(k) == last[..., None]) * dout[..., None]),
    )


def check_maxout(s, x, w, b, k, dout, *, ties=False, layout="(M, k, D)"):
    out, cache = unpack(s.call("maxout_forward", x, w, b, k), ("out", "cache"), "maxout_forward")
    ref_out, z, ref_grads, spread, last = maxout_reference(x, w, b, k, dout)
    if not ties:
        exp_out, ref_grads = torch_vjp(torch_maxout(k), [x, w, b], dout)
    else:
        exp_out = ref_out
    label = f"x {x.shape}, w {w.shape}, b {b.shape}, k = {k}"
    expect_close(
        out,
        exp_out,
        f"out returned by maxout_forward({label})",
        mistakes={
            "you kept the smallest piece": z.min(axis=2),
            "you averaged the pieces": z.mean(axis=2),
        },
    )
    got = unpack(s.call("maxout_backward", dout, cache), ("dx", "dw", "db"), "maxout_backward")
    tie = " (ties go to the first maximum, like np.argmax)" if ties else ""
    hints = (
        "the gradient went to every piece: only the winning piece of each unit gets it",
        "on a tie the gradient went to the last maximum: use the first, like np.argmax",
    )
    for name, g, e, sp, la in zip(("dx", "dw", "db"), got, ref_grads, spread, last, strict=True):
        expect_close(
            g,
            e,
            f"{name} returned by maxout_backward, layout {layout}{tie}",
            mistakes={hints[0]: sp, **({hints[1]: la} if ties else {})},
        )


@check(
    "maxout",
    "maxout with w (M, k, D) and b (M, k): out, dx, dw and db match PyTorch "
    "(N = 5, D = 4, M = 3, k = 2)",
)
def maxout_basic(s, rng):
    x = rng.standard_normal((5, 4))
    w = rng.standard_normal((3, 2, 4))
    b = rng.standard_normal((3, 2))
    check_maxout(s, x, w, b, 2, rng.standard_normal((5, 3)))


# -- Part 3: losses ------------------------------------------------------------------------------


def check_loss(
    s,
    name,
    args,
    exp_loss,
    exp_grad,
    *,
    grad_name,
    loss_mistakes=None,
    grad_mistakes=None,
    label="",
):
    loss, grad = unpack(s.call(name, *args), ("loss", grad_name), name)
    loss = scalar_loss(loss, f"the loss returned by {name}")
    expect_close(loss, exp_loss, f"loss returned by {name}{label}", mistakes=loss_mistakes)
    expect_close(grad, exp_grad, f"{grad_name} returned by {name}{label}", mistakes=grad_mistakes)


def check_mse(s, pred, target, label=""):
    exp_loss, exp_grad = torch_loss(F.mse_loss, pred, tensor(target))
    diff, size, n = pred - target, pred.size, pred.shape[0]
    check_loss(
        s,
        "mse_loss",
        (pred, target),
        exp_loss,
        exp_grad,
        grad_name="dpred",
        label=label,
        loss_mistakes={
            "summed instead of averaged": float(np.sum(diff**2)),
            "divided by N (rows) instead of the number of elements": float(np.sum(diff**2) / n),
        },
        grad_mistakes={
            "divided by N (rows) instead of the number of elements pred.size": 2 * diff / n,
            "the factor 2 is missing": diff / size,
            "the sign is flipped: the gradient is 2 (pred - target) / P": -2 * diff / size,
            "summed instead of averaged: divide by pred.size": 2 * diff,
        },
    )


@check("mse", "mse_loss on (N, M) arrays matches F.mse_loss: loss and dpred")
def mse_basic(s, rng):
    check_mse(s, rng.standard_normal((6, 3)), rng.standard_normal((6, 3)), " for (6, 3) arrays")


def check_l1(s, pred, target, label=""):
    exp_loss, exp_grad = torch_loss(F.l1_loss, pred, tensor(target))
    diff, size, n = pred - target, pred.size, pred.shape[0]
    check_loss(
        s,
        "l1_loss",
        (pred, target),
        exp_loss,
        exp_grad,
        grad_name="dpred",
        label=label,
        loss_mistakes={"summed instead of averaged": float(np.sum(np.abs(diff)))},
        grad_mistakes={
            "divided by N (rows) instead of the number of elements pred.size": np.sign(diff) / n,
            "the sign is flipped: the gradient is sign(pred - target) / P": -np.sign(diff) / size,
            "summed instead of averaged: divide by pred.size": np.sign(diff),
            "where pred == target the subgradient is 0 (PyTorch), not +1": np.where(
                diff >= 0, 1.0, -1.0
            )
            / size,
        },
    )


@check("l1", "l1_loss on (N, M) arrays matches F.l1_loss: loss and dpred")
def l1_basic(s, rng):
    check_l1(s, rng.standard_normal((6, 3)), rng.standard_normal((6, 3)), " for (6, 3) arrays")


def check_bce(s, logits, targets, label=""):
    exp_loss, exp_grad = torch_loss(F.binary_cross_entropy_with_logits, logits, tensor(targets))
    with np.errstate(over="ignore"):
        sg = 1.0 / (1.0 + np.exp(-logits))
    size, n = logits.size, logits.shape[0]
    check_loss(
        s,
        "bce_with_logits",
        (logits, targets),
        exp_loss,
        exp_grad,
        grad_name="dlogits",
        label=label,
        loss_mistakes={"summed instead of averaged": exp_loss * size},
        grad_mistakes={
            "the sign is flipped: the gradient is (sigmoid(s) - t) / P": (targets - sg) / size,
            "summed instead of averaged: divide by logits.size": sg - targets,
            "divided by N (rows) instead of the number of elements": (sg - targets) / n,
            "the target is missing: the gradient is (sigmoid(s) - t) / P": sg / size,
        },
    )


@check(
    "bce_logits",
    "bce_with_logits matches F.binary_cross_entropy_with_logits with 0/1 "
    "targets and with soft targets",
)
def bce_basic(s, rng):
    logits = rng.standard_normal((5, 3)) * 2
    targets = (rng.random((5, 3)) < 0.5).astype(np.float64)
    check_bce(s, logits, targets, " for (5, 3) logits and 0/1 targets")
    check_bce(s, logits, rng.random((5, 3)), " for soft targets in [0, 1]")


def check_ce(s, scores, y, label=""):
    exp_loss, exp_grad = torch_loss(F.cross_entropy, scores, torch.from_numpy(y))
    n = scores.shape[0]
    onehot = np.eye(scores.shape[1])[y]
    with np.errstate(over="ignore", invalid="ignore"):
        e = np.exp(scores - scores.max(axis=1, keepdims=True))
        p = e / e.sum(axis=1, keepdims=True)
        e0 = np.exp(scores - scores.max(axis=0, keepdims=True))
        p0 = e0 / e0.sum(axis=0, keepdims=True)
    check_loss(
        s,
        "softmax_cross_entropy",
        (scores, y),
        exp_loss,
        exp_grad,
        grad_name="dscores",
        label=label,
        loss_mistakes={
            "the minus sign is missing": -exp_loss,
            "summed over the batch instead of averaged": exp_loss * n,
        },
        grad_mistakes={
            "not divided by N": p - onehot,
            "1 was not subtracted at the correct class": p / n,
            "the sign is flipped: the gradient is (p - onehot(y)) / N": (onehot - p) / n,
            "softmax over the wrong axis (columns instead of rows)": (p0 - onehot) / n,
        },
    )


@check(
    "softmax_ce", "softmax_cross_entropy matches F.cross_entropy on (6, 4) scores: loss and dscores"
)
def softmax_ce_basic(s, rng):
    scores = rng.standard_normal((6, 4)) * 2
    check_ce(s, scores, rng.integers(0, 4, 6), " for (6, 4) scores")


LECTURE_MODELS = [[5.0, -3.0, 2.0], [5.0, 10.0, 10.0], [5.0, -20.0, -20.0]]


@check(
    "softmax_ce",
    "the lecture's three models, scores [5, -3, 2], [5, 10, 10], "
    "[5, -20, -20] with y = 0: cross-entropy 0.05, 5.70 and 2.8e-11",
)
def softmax_ce_lecture(s, rng):
    for row in LECTURE_MODELS:
        scores = np.array([row])
        check_ce(s, scores, np.array([0]), f" for scores {row} with y = 0")


def check_hinge(s, scores, y, margin, label=""):
    st = tensor(scores, grad=True)
    loss_t = F.multi_margin_loss(st, torch.from_numpy(y), p=1, margin=margin)
    (g,) = torch.autograd.grad(loss_t, st)
    exp_loss, exp_grad = loss_t.item(), g.numpy()
    n, c = scores.shape
    margins = margin - scores[np.arange(n), y][:, None] + scores
    own = np.zeros_like(scores)
    own[np.arange(n), y] = 1.0
    viol = (margins > 0) & (own == 0)
    g_own = viol * 1.0
    g_own[np.arange(n), y] = -(viol.sum(axis=1) + 1.0)
    g_own /= n * c
    no_correct = exp_grad * (1 - own)
    args = (scores, y) if margin == 1.0 else (scores, y, margin)
    check_loss(
        s,
        "multiclass_hinge",
        args,
        exp_loss,
        exp_grad,
        grad_name="dscores",
        label=label + ("" if margin == 1.0 else f", margin={margin}"),
        loss_mistakes={
            "not divided by C: PyTorch's loss is the lecture's sum divided by the "
            "number of classes": exp_loss * c,
            "the correct class was included in the sum (it adds margin / C per example)": exp_loss
            + margin / c,
            "the margin was ignored": float(
                F.multi_margin_loss(tensor(scores), torch.from_numpy(y), p=1, margin=0.0)
            ),
        },
        grad_mistakes={
            "not divided by C": exp_grad * c,
            "the correct class was counted as one of its own violations (its term "
            "is margin > 0 unless you exclude it)": g_own,
            "the correct class's gradient is missing: it gets minus the number of "
            "violations / (N C)": no_correct,
            "not divided by N": exp_grad * n,
        },
    )


@check(
    "hinge",
    "multiclass_hinge matches F.multi_margin_loss (p=1) on (5, 4) scores, with "
    "margin 1 and margin 0.5",
)
def hinge_basic(s, rng):
    scores = rng.standard_normal((5, 4))
    y = rng.integers(0, 4, 5)
    check_hinge(s, scores, y, 1.0, " for (5, 4) scores")
    check_hinge(s, scores, y, 0.5, " for (5, 4) scores")


@check("hinge", "the lecture's three models with y = 0: C times the loss is 0, 12 and 0")
def hinge_lecture(s, rng):
    for row in LECTURE_MODELS:
        check_hinge(s, np.array([row]), np.array([0]), 1.0, f" for scores {row} with y = 0")


# -- Part 4: the two-layer network ------------------------------------------------------------


def two_layer_reference(X, y, hidden, lr, steps, seed, batch_size=None, variant=None):
    """The documented algorithm: init from default_rng(seed), PyTorch autograd for gradients.

    ``variant`` reproduces a typical mistake (for hints): "w2_first", "unscaled",
    "record_after", "no_update", "choice_replace", "permutation".
    """
    rng = np.random.default_rng(seed)
    n, d = X.shape
    c = int(y.max()) + 1
    if variant == "w2_first":
        w2 = rng.standard_normal((c, hidden)) * math.sqrt(1.0 / hidden)
        w1 = rng.standard_normal((hidden, d)) * math.sqrt(2.0 / d)
    else:
        w1 = rng.standard_normal((hidden, d))
        w2 = rng.standard_normal((c, hidden))
        if variant != "unscaled":
            w1 = w1 * math.sqrt(2.0 / d)
            w2 = w2 * math.sqrt(1.0 / hidden)
    params = [
        torch.tensor(w1),
        torch.zeros(hidden, dtype=F64),
        torch.tensor(w2),
        torch.zeros(c, dtype=F64),
    ]
    Xt, yt = torch.from_numpy(X), torch.from_numpy(y)
    losses = []
    for _ in range(steps + (variant == "record_after")):
        if batch_size is None or batch_size >= n:
            xb, yb = Xt, yt
        else:
            if variant == "choice_replace":
                idx = rng.choice(n, size=batch_size, replace=True)
            elif variant == "permutation":
                idx = rng.permutation(n)[:batch_size]
            else:
                idx = rng.choice(n, size=batch_size, replace=False)
            xb, yb = Xt[idx], yt[idx]
        ps = [p.detach().requires_grad_(True) for p in params]
        loss = F.cross_entropy(F.linear(torch.relu(F.linear(xb, ps[0], ps[1])), ps[2], ps[3]), yb)
        grads = torch.autograd.grad(loss, ps)
        losses.append(loss.item())
        if variant != "no_update":
            params = [p.detach() - lr * g for p, g in zip(ps, grads, strict=True)]
    if variant == "record_after":
        losses = losses[1:]
    names = ("w1", "b1", "w2", "b2")
    return {
        "loss_history": losses,
        **{k: p.detach().numpy() for k, p in zip(names, params, strict=True)},
    }


TWO_LAYER_VARIANTS = {
    "w2_first": "w2 was drawn from rng before w1: draw w1 first",
    "unscaled": "the weights are not scaled: w1 by sqrt(2 / D), w2 by sqrt(1 / hidden)",
    "record_after": "the loss was recorded after the update: record it before",
    "no_update": "the parameters never change: update them in place or keep the new arrays",
    "choice_replace": "mini-batches must be drawn with rng.choice(N, size=batch_size, "
    "replace=False)",
    "permutation": "mini-batches must be drawn with rng.choice(N, size=batch_size, "
    "replace=False), not with rng.permutation",
}


def two_layer_hint(history, expected) -> str | None:
    """Where a wrong loss history goes wrong: the first loss (before any update) depends only on
    the initialisation and the forward pass; the later ones on the update too."""
    try:
        first = float(np.asarray(history, dtype=np.float64).ravel()[0])
    except (TypeError, ValueError, IndexError):
        return None
    if not np.isclose(first, expected[0], rtol=1e-6, atol=1e-9):
        return (
            "the loss before the first update already differs: check the initialisation (w1 "
            "then w2 drawn from rng with their scales, zero biases) and the forward pass"
        )
    return (
        "the first loss matches, so the initialisation and the forward pass are right: the "
        "update differs (the gradients of each parameter, the sign or the size of the step)"
    )


def check_two_layer_trajectory(s, X, y, hidden, lr, steps, seed, batch_size=None):
    kwargs = {"hidden": hidden, "lr": lr, "steps": steps}
    if batch_size is not None:
        kwargs["batch_size"] = batch_size
    what = (
        "train_two_layer_net(X, y, "
        + ", ".join(f"{k}={v}" for k, v in kwargs.items())
        + f", rng=np.random.default_rng({seed})) with X {X.shape}"
    )
    res = s.probe("a1_backprop.train_two_layer", X, y, seed, kwargs, what=what)
    ref = two_layer_reference(X, y, hidden, lr, steps, seed, batch_size)
    history = field(res, "loss_history", what)
    expect(
        isinstance(history, list | tuple | np.ndarray),
        f"{what}: loss_history must be a list of floats, got {describe(history)}",
    )
    expect_equal(
        len(history),
        steps,
        f"{what}: the length of loss_history",
        "record exactly one loss per step",
    )

    def variants():
        keys = [
            k
            for k in TWO_LAYER_VARIANTS
            if batch_size is not None or k not in ("choice_replace", "permutation")
        ]
        return {
            TWO_LAYER_VARIANTS[k]: two_layer_reference(
                X, y, hidden, lr, steps, seed, batch_size, variant=k
            )["loss_history"]
            for k in keys
        }

    expect_close(
        history,
        ref["loss_history"],
        f"loss_history of {what}",
        mistakes=variants,
        hint=two_layer_hint(history, ref["loss_history"]),
        rtol=1e-6,
        atol=1e-9,
    )
    for key in ("w1", "b1", "w2", "b2"):
        expect_close(
            field(res, key, what),
            ref[key],
            f"the trained {key} returned by {what}",
            rtol=1e-6,
            atol=1e-9,
        )
    return ref


def two_class_blobs(rng, n, d, c):
    X = rng.standard_normal((n, d))
    y = rng.integers(0, c, n)
    y[:c] = np.arange(c)  # every class occurs, so C = y.max() + 1
    return X, y.astype(np.int64)


@check(
    "two_layer_sgd",
    "train_two_layer_net: 20 full-batch steps follow the documented "
    "trajectory (init order and scales, loss before each update, final parameters); "
    "predict_two_layer returns the argmax of the scores",
)
def two_layer_full_batch(s, rng):
    X, y = two_class_blobs(rng, 30, 2, 2)
    seed = int(rng.integers(0, 2**31))
    ref = check_two_layer_trajectory(s, X, y, hidden=8, lr=0.5, steps=20, seed=seed)
    params = {k: ref[k] for k in ("w1", "b1", "w2", "b2")}
    scores = np.maximum(X @ params["w1"].T + params["b1"], 0) @ params["w2"].T + params["b2"]
    pred = s.call("predict_two_layer", params, X)
    expect_close(
        pred,
        scores.argmax(axis=1),
        "labels returned by predict_two_layer(params, X)",
        mistakes={"argmax over the wrong axis?": scores.argmax(axis=0)},
    )


# -- Part 5: PyTorch ---------------------------------------------------------------------------


def check_function(
    s, name, x, torch_fn, args=(), *, dtype="float64", label="", mistakes=None, rng=None
):
    upstream = rng.standard_normal(np.shape(x)) if rng is not None else np.ones(np.shape(x))
    call = f"{name}.apply(x{''.join(', ' + repr(a) for a in args)}) for {dtype} x"
    call += f" {label}" if label else ""
    res = s.probe(
        "a1_backprop.autograd_function",
        name,
        x,
        dtype,
        upstream,
        list(args),
        what=f"{call}, then backward",
    )
    tdt = {"float64": torch.float64, "float32": torch.float32}[dtype]
    t = torch.tensor(np.asarray(x), dtype=tdt, requires_grad=True)
    out = torch_fn(t)
    out.backward(torch.tensor(upstream, dtype=tdt))
    exp_out, exp_grad = out.detach().double().numpy(), t.grad.double().numpy()
    tol = {"rtol": 1e-6, "atol": 1e-8} if dtype == "float64" else {"rtol": 1e-5, "atol": 1e-6}
    expect_close(field(res, "out", call), exp_out, f"output of {call}", **tol)
    expect_equal(
        res["out_dtype"],
        dtype,
        f"dtype of the output of {call}",
        "compute in the input's dtype (no float64 constants as tensors, no .double())",
    )
    grad = res.get("grad")
    expect(
        grad is not None,
        f"x.grad is None after backpropagating through {call}",
        "backward must return the gradient with respect to x",
    )
    expect_close(
        grad,
        exp_grad,
        f"x.grad after backpropagating a random upstream gradient through {call}",
        mistakes=mistakes(upstream) if mistakes else None,
        **tol,
    )
    expect_equal(res["grad_dtype"], dtype, f"dtype of x.grad for {call}")


def function_input(rng, shape=(4, 5), scale=2.0):
    return avoid_zero(rng.standard_normal(shape) * scale)


@check(
    "torch_sigmoid",
    "SigmoidFunction.apply: value and gradient match torch.sigmoid in float64 and float32",
)
def torch_sigmoid_basic(s, rng):
    x = function_input(rng)
    for dtype in ("float64", "float32"):
        check_function(
            s,
            "SigmoidFunction",
            x,
            torch.sigmoid,
            dtype=dtype,
            rng=rng,
            mistakes=lambda up: sigmoid_mistakes(x, up),
        )


@check(
    "torch_tanh", "TanhFunction.apply: value and gradient match torch.tanh in float64 and float32"
)
def torch_tanh_basic(s, rng):
    x = function_input(rng)
    for dtype in ("float64", "float32"):
        check_function(
            s,
            "TanhFunction",
            x,
            torch.tanh,
            dtype=dtype,
            rng=rng,
            mistakes=lambda up: tanh_mistakes(x, up),
        )


@check(
    "torch_leaky_relu",
    "LeakyReLUFunction.apply(x, 0.2): value and gradient match F.leaky_relu in float64 and float32",
)
def torch_leaky_basic(s, rng):
    x = function_input(rng)
    for dtype in ("float64", "float32"):
        check_function(
            s,
            "LeakyReLUFunction",
            x,
            lambda t: F.leaky_relu(t, 0.2),
            (0.2,),
            dtype=dtype,
            rng=rng,
            mistakes=lambda up: leaky_mistakes(x, up, 0.2),
        )


@check(
    "torch_elu", "ELUFunction.apply(x, 1.5): value and gradient match F.elu in float64 and float32"
)
def torch_elu_basic(s, rng):
    x = function_input(rng)
    for dtype in ("float64", "float32"):
        check_function(
            s,
            "ELUFunction",
            x,
            lambda t: F.elu(t, 1.5),
            (1.5,),
            dtype=dtype,
            rng=rng,
            mistakes=lambda up: elu_mistakes(x, up, 1.5),
        )


def torch_net_init_reference(sizes, seed):
    d, h, c = sizes
    g = torch.Generator().manual_seed(seed)
    bound1 = math.sqrt(6.0 / d)
    w1 = torch.empty(h, d).uniform_(-bound1, bound1, generator=g)
    bound2 = 1.0 / math.sqrt(h)
    w2 = torch.empty(c, h).uniform_(-bound2, bound2, generator=g)
    return {
        "fc1.weight": w1,
        "fc1.bias": torch.zeros(h),
        "fc2.weight": w2,
        "fc2.bias": torch.zeros(c),
    }


TORCH_INIT_HINT = (
    "initialise from the generator in the documented order: fc1.weight with "
    "nn.init.kaiming_uniform_(..., nonlinearity='relu', generator=generator), "
    "then fc2.weight ~ U(-1/sqrt(hidden), 1/sqrt(hidden)); both biases zero"
)


def check_torch_params(params, ref, what, tol):
    expect(isinstance(params, dict), f"{what}: the parameters could not be read")
    expect_equal(
        sorted(params),
        sorted(ref),
        f"{what}: names of the parameters",
        "use exactly two layers, self.fc1 and self.fc2 (nn.Linear)",
    )
    for name, value in ref.items():
        expect_close(
            params[name],
            value.detach().double().numpy(),
            f"{name} of {what}",
            hint=TORCH_INIT_HINT if "init" in what else None,
            **tol,
        )


@check(
    "torch_two_layer",
    "TwoLayerNet(3, 5, 4, generator): fc1/fc2 shapes, the documented "
    "initialisation from the generator, and forward = fc2(relu(fc1(x)))",
)
def torch_net_init(s, rng):
    sizes = (3, 5, 4)
    seed = int(rng.integers(0, 2**31))
    X = rng.standard_normal((6, 3))
    what = f"the initialisation of TwoLayerNet(3, 5, 4, generator=manual_seed({seed}))"
    res = s.probe(
        "a1_backprop.torch_net_init",
        list(sizes),
        seed,
        X,
        what="TwoLayerNet(3, 5, 4, generator) or its forward",
    )
    ref = torch_net_init_reference(sizes, seed)
    check_torch_params(field(res, "params", what), ref, what, {"rtol": 1e-6, "atol": 1e-7})
    p = {k: v.double() for k, v in ref.items()}
    scores = F.linear(
        torch.relu(F.linear(torch.from_numpy(X), p["fc1.weight"], p["fc1.bias"])),
        p["fc2.weight"],
        p["fc2.bias"],
    ).numpy()
    expect_close(
        field(res, "out", what),
        scores,
        "model(x) of a fresh TwoLayerNet(3, 5, 4)",
        rtol=1e-5,
        atol=1e-6,
    )


def torch_net_reference(
    sizes, seed, X, y, lr, steps, batch_size=None, batch_seed=None, variant=None
):
    """PyTorch float64 SGD from the documented float32 initialisation (variant: "no_zero_grad",
    "loss_after")."""
    params = {
        k: v.double().requires_grad_(True) for k, v in torch_net_init_reference(sizes, seed).items()
    }
    Xt, yt = torch.from_numpy(np.asarray(X, dtype=np.float64)), torch.from_numpy(np.asarray(y))
    gen = None if batch_seed is None else torch.Generator().manual_seed(batch_seed)
    opt = torch.optim.SGD(list(params.values()), lr=lr)
    losses = []
    n = Xt.shape[0]
    for _ in range(steps):
        if batch_size is None or batch_size >= n:
            xb, yb = Xt, yt
        else:
            idx = torch.randperm(n, generator=gen)[:batch_size]
            xb, yb = Xt[idx], yt[idx]
        h = torch.relu(F.linear(xb, params["fc1.weight"], params["fc1.bias"]))
        loss = F.cross_entropy(F.linear(h, params["fc2.weight"], params["fc2.bias"]), yb)
        if variant != "no_zero_grad":
            opt.zero_grad()
        loss.backward()
        opt.step()
        if variant == "loss_after":  # the loss of the same batch after the update
            with torch.no_grad():
                h = torch.relu(F.linear(xb, params["fc1.weight"], params["fc1.bias"]))
                loss = F.cross_entropy(F.linear(h, params["fc2.weight"], params["fc2.bias"]), yb)
        losses.append(loss.item())
    return losses, {k: v.detach() for k, v in params.items()}


def batch_hint(s, sizes, seed, X, y, lr, dtype, device, as_tensors, got, expected) -> str | None:
    """The batch-drawing hint for a mini-batch run whose losses differ, only when the same
    function trains right on full batches (else the mistake is elsewhere: the initialisation,
    the forward pass, the update, which other checks name)."""
    tol = {"rtol": 1e-6, "atol": 1e-9} if dtype == "float64" else {"rtol": 2e-4, "atol": 1e-5}
    if np.shape(got) == np.shape(expected) and np.allclose(got, expected, **tol):
        return None  # no failure coming: spare the extra run
    full = s.probe(
        "a1_backprop.torch_net_train",
        list(sizes),
        seed,
        X,
        y,
        lr,
        2,
        dtype,
        device,
        None,
        None,
        as_tensors,
        what="train_torch_net(...) on full batches",
    )
    ref, _ = torch_net_reference(sizes, seed, X, y, lr, 2)
    losses = full.get("losses") if isinstance(full, dict) else None
    if losses is None or np.shape(losses) != np.shape(ref) or not np.allclose(losses, ref, **tol):
        return None
    return (
        "full batches train right: draw each batch as torch.randperm(N, "
        "generator=generator)[:batch_size], with the generator you were given"
    )


def check_torch_training(
    s,
    sizes,
    seed,
    X,
    y,
    lr,
    steps,
    *,
    dtype,
    device,
    batch_size=None,
    batch_seed=None,
    as_tensors=False,
):
    extra = "" if batch_size is None else f", generator, batch_size={batch_size}"
    dev = "torch.device('cpu')" if device == "torch.device" else repr(device)
    what = (
        f"train_torch_net(model, X, y, lr={lr}, steps={steps}, device={dev}{extra}) "
        f"for a {dtype} TwoLayerNet{tuple(sizes)}"
    )
    res = s.probe(
        "a1_backprop.torch_net_train",
        list(sizes),
        seed,
        X,
        y,
        lr,
        steps,
        dtype,
        device,
        batch_size,
        batch_seed,
        as_tensors,
        what=what,
    )
    losses, params = torch_net_reference(sizes, seed, X, y, lr, steps, batch_size, batch_seed)
    expect_equal(
        field(res, "container", what),
        "list",
        f"{what}: type of the returned value",
        "return a list of Python floats",
    )
    expect(
        res["kinds"] in ([], ["float"]),
        f"{what} must return a list of Python floats, got a list of {', '.join(res['kinds'])}",
        "convert the losses with .item() or .tolist()",
    )
    expect(res["losses"] is not None, f"{what}: the losses could not be read as numbers")
    expect_equal(
        len(res["losses"]), steps, f"{what}: the number of losses", "return one loss per step"
    )
    tol = {"rtol": 1e-6, "atol": 1e-9} if dtype == "float64" else {"rtol": 2e-4, "atol": 1e-5}
    expect_close(
        res["losses"],
        losses,
        f"losses returned by {what}",
        mistakes=lambda: {
            "the gradients accumulate over the steps: call optimizer.zero_grad() every step": torch_net_reference(
                sizes, seed, X, y, lr, steps, batch_size, batch_seed, variant="no_zero_grad"
            )[0],
            "these are the losses after each update: record the loss computed before "
            "optimizer.step(), the one you call backward() on": torch_net_reference(
                sizes, seed, X, y, lr, steps, batch_size, batch_seed, variant="loss_after"
            )[0],
        },
        hint=batch_hint(s, sizes, seed, X, y, lr, dtype, device, as_tensors, res["losses"], losses)
        if batch_size is not None
        else None,
        **tol,
    )
    expect_equal(
        res["param_dtypes"],
        [f"torch.{dtype}"],
        f"{what}: dtype of the parameters after training",
        "train the model in its own dtype",
    )
    check_torch_params(res["params"], params, f"the model after {what}", tol)


@check(
    "torch_two_layer",
    "train_torch_net: 8 full-batch SGD steps of a float64 TwoLayerNet on "
    "the CPU give PyTorch's losses (before each update) and final weights",
)
def torch_net_full_batch(s, rng):
    X, y = two_class_blobs(rng, 20, 2, 3)
    seed = int(rng.integers(0, 2**31))
    check_torch_training(s, (2, 8, 3), seed, X, y, 0.3, 8, dtype="float64", device="cpu")
