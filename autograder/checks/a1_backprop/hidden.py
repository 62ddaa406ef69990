"""Hidden checks of A1, run only by official grading: other shapes, random sizes drawn from
``rng``, and edge cases (a batch of one, inputs exactly on a kink, huge logits, ties, deep
graphs, repeated backward passes)."""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

from autograder.checking import CheckFailure, check, expect
from autograder.student import StudentError

from .probes import _local_rule
from .public import (
    BINARY,
    check_bce,
    check_ce,
    check_function,
    check_hinge,
    check_l1,
    check_layer,
    check_linear,
    check_maxout,
    check_mse,
    check_torch_training,
    check_two_layer_trajectory,
    compare_run,
    elu_mistakes,
    expect_close,
    field,
    leaky_mistakes,
    relu_mistakes,
    run_programs,
    sigmoid_mistakes,
    simulate_backward,
    tanh_mistakes,
    torch_program,
    two_class_blobs,
    unpack,
)

ALL_OPS = [
    "add",
    "sub",
    "mul",
    "truediv",
    "add_c",
    "sub_c",
    "mul_c",
    "truediv_c",
    "c_add",
    "c_sub",
    "c_mul",
    "c_truediv",
    "pow",
    "neg",
    "exp",
    "log",
    "tanh",
    "sigmoid",
    "relu",
]
EXPONENTS = [2, 3, -1, -2, 0.5, 1.5]
CONSTANTS = [2, 3, -1.5, 0.5, 2.5, -2]


def _acceptable(op, x, y, c) -> bool:
    if op == "log" and x <= 0.1:
        return False
    if op == "pow" and (x <= 0.1 and not float(c).is_integer() or c < 0 and abs(x) < 0.3):
        return False
    if op == "truediv" and abs(y) < 0.3 or op == "c_truediv" and abs(x) < 0.3:
        return False
    if op == "relu" and abs(x) < 1e-3 or op == "exp" and x > 3:
        return False
    d, local = _local_rule(op, x, y, c)
    return math.isfinite(d) and abs(d) < 30 and all(abs(v) < 30 for v in local)


def random_program(rng, n_leaves: int, n_ins: int, ops=ALL_OPS, leaves=None):
    """Leaves and a program of ``n_ins`` random, well-conditioned steps, then a sum of every
    node nothing else uses, so that the root depends on all of them."""
    if leaves is None:
        leaves = [float(rng.choice([-1.0, 1.0]) * rng.uniform(0.3, 1.5)) for _ in range(n_leaves)]
    vals = list(leaves)
    program: list[list] = []
    while len(program) < n_ins:
        op = str(rng.choice(ops))
        i = len(vals) - 1 - min(int(rng.geometric(0.3)) - 1, len(vals) - 1)
        j = int(rng.integers(0, len(vals)))
        c = None
        if op in BINARY:
            ins = [op, i, j]
        elif op == "pow":
            c = EXPONENTS[int(rng.integers(len(EXPONENTS)))]
            ins = [op, i, c]
        elif op.endswith("_c") or op.startswith("c_"):
            c = CONSTANTS[int(rng.integers(len(CONSTANTS)))]
            ins = [op, i, c]
        else:
            ins = [op, i]
        y = vals[j] if op in BINARY else None
        if not _acceptable(op, vals[i], y, c):
            continue
        program.append(ins)
        vals.append(_local_rule(op, vals[i], y, c)[0])
    used = set()
    for ins in program:
        used.add(ins[1])
        if ins[0] in BINARY:
            used.add(ins[2])
    dangling = [r for r in range(len(vals)) if r not in used]
    root = dangling[0]
    for r in dangling[1:]:
        program.append(["add", root, r])
        root = len(leaves) + len(program) - 1
    return leaves, program


# -- Part 1: Value ------------------------------------------------------------------------------


@check(
    "value_ops",
    "random expressions of 15 to 25 steps using every operation, numbers on "
    "either side and reused nodes: values and gradients (checker's traversal) match PyTorch",
)
def value_ops_random(s, rng):
    cases = []
    for _ in range(3):
        leaves, program = random_program(rng, int(rng.integers(2, 4)), int(rng.integers(15, 26)))
        cases.append(
            {
                "leaves": leaves,
                "programs": [program],
                "engine": "student",
                "backward": "trusted",
                "seed": float(rng.uniform(0.5, 1.5)),
            }
        )
    for case, runs in zip(cases, run_programs(s, cases), strict=True):
        (exp,) = torch_program(case["leaves"], case["programs"], case["seed"])
        compare_run(
            runs[0],
            exp,
            case["leaves"],
            case["programs"][0],
            what=f"a random expression on leaves {np.round(case['leaves'], 4).tolist()}",
        )


EDGE_LEAVES = [-1000.0, 1000.0, 0.0, 4.0, -2.5]
EDGE_PROGRAMS = [
    [["sigmoid", 0]],
    [["sigmoid", 1]],
    [["relu", 2]],
    [["relu", 4]],
    [["pow", 3, 0.5]],
    [["pow", 3, -2]],
    [["pow", 4, 2]],
    [["pow", 3, 0]],
    [["truediv", 3, 4]],
    [["c_truediv", 4, 1]],
    [["mul_c", 4, 2]],
    [["c_sub", 3, 1]],
    [["tanh", 0]],
    [["exp", 4]],
    [["mul", 4, 4], ["mul", 5, 4]],
]


@check(
    "value_ops",
    "edge cases: sigmoid of -1000 and 1000 without overflow, relu at exactly 0 "
    "(gradient 0), exponents 0.5, -2 and 0, division by a negative number, int operands",
)
def value_ops_edges(s, rng):
    g = float(rng.uniform(0.5, 1.5))
    cases = [
        {
            "leaves": EDGE_LEAVES,
            "programs": [p],
            "engine": "student",
            "backward": "trusted",
            "seed": g,
        }
        for p in EDGE_PROGRAMS
    ]
    for case, runs in zip(cases, run_programs(s, cases), strict=True):
        (exp,) = torch_program(EDGE_LEAVES, case["programs"], g)
        compare_run(
            runs[0], exp, EDGE_LEAVES, case["programs"][0], what=f"leaves v0..v4 = {EDGE_LEAVES}"
        )


@check(
    "value_backward",
    "backward() through a chain of 3000 nodes (deeper than Python's recursion limit)",
)
def value_backward_deep(s, rng):
    steps = 1500  # two nodes per step
    factors = rng.uniform(0.995, 1.005, steps)
    shifts = rng.uniform(-0.01, 0.01, steps)
    leaf = float(rng.uniform(0.5, 1.0))
    res = s.probe("a1_backprop.value_chain", leaf, factors, shifts)
    what = f"root.backward() on a chain of {2 * steps} nodes (v = v * c_k + d_k)"
    if isinstance(res, dict) and "error" in res:
        hint = None
        if "RecursionError" in res["error"]:
            hint = (
                "the graph is deeper than Python's recursion limit: build the topological "
                "order with an explicit stack (a list) instead of recursion"
            )
        raise CheckFailure(f"{what} raised {res['error']}", hint)
    data = leaf
    for f, c in zip(factors, shifts, strict=True):
        data = data * f + c
    expect_close(field(res, "data", what), data, f"root.data of {what}")
    # the gradient reaching the k-th multiplication node is the product of the later factors
    tail = np.append(np.cumprod(factors[::-1])[::-1], 1.0)
    expect_close(
        field(res, "grad", what),
        tail[::100],
        f".grad of the leaf and of every 100th multiplication node after {what}",
        mistakes={"all gradients are 0: set self.grad = 1.0 on the root": 0 * tail[::100]},
    )


@check(
    "value_backward",
    "backward() on random graphs of 20 to 40 nodes with reused nodes "
    "(built by the checker): every node's .grad matches PyTorch",
)
def value_backward_random(s, rng):
    cases = []
    for _ in range(3):
        leaves, program = random_program(rng, int(rng.integers(2, 5)), int(rng.integers(20, 41)))
        cases.append(
            {
                "leaves": leaves,
                "programs": [program],
                "engine": "trusted",
                "backward": "student",
                "seed": 1.0,
            }
        )
    for case, runs in zip(cases, run_programs(s, cases), strict=True):
        leaves, (program,) = case["leaves"], case["programs"]
        (exp,) = torch_program(leaves, [program])
        hints = {m: simulate_backward(leaves, program, m) for m in ("unseeded", "forward", "bfs")}
        compare_run(
            runs[0],
            exp,
            leaves,
            program,
            grad_hints=hints,
            what=f"backward() on a random graph with leaves {np.round(leaves, 4).tolist()}",
        )


@check(
    "value_backward",
    "leaf gradients accumulate over backward() calls on two graphs that "
    "share the leaves, like PyTorch's .grad; backward() on a lone leaf sets its grad to 1",
)
def value_backward_accumulates(s, rng):
    vals, first = random_program(rng, 3, 8, ops=["add", "mul", "tanh", "mul_c", "sub"])
    _, second = random_program(
        rng, 3, 8, ops=["add", "mul", "exp", "c_sub", "truediv"], leaves=vals
    )
    lone = float(rng.uniform(-2, 2))
    cases = [
        {
            "leaves": vals,
            "programs": [first, second],
            "engine": "trusted",
            "backward": "student",
            "seed": 1.0,
        },
        {
            "leaves": [lone],
            "programs": [[]],
            "engine": "trusted",
            "backward": "student",
            "seed": 1.0,
        },
    ]
    both, alone = run_programs(s, cases)
    exp = torch_program(vals, [first, second])
    compare_run(both[0], exp[0], vals, first, what="the first graph's backward()")
    only_second = torch_program(vals, [second])[0]["grad"][:3]
    expect_close(
        both[1]["grad"][:3],
        exp[1]["grad"][:3],
        "[v0.grad, v1.grad, v2.grad] after backward() on a first graph and then on a "
        "second graph built from the same leaves (they must add up)",
        mistakes={
            "backward() reset the leaves' gradients: only the root's grad is set "
            "(to 1); everything else accumulates with +=": only_second
        },
    )
    expect_close(
        alone[0]["grad"][0], 1.0, f"v.grad after v.backward() on a lone leaf v = Value({lone:.4g})"
    )


# -- Part 2: layers -----------------------------------------------------------------------------


@check("linear", "inputs with extra axes, x of shape (N, 3, 2, 2): out, and dx shaped like x")
def linear_trailing_dims(s, rng):
    n = int(rng.integers(2, 7))
    check_linear(s, rng.standard_normal((n, 3, 2, 2)), int(rng.integers(2, 6)), rng)


@check("linear", "N = 1, D = 1 and random sizes")
def linear_sizes(s, rng):
    check_linear(s, rng.standard_normal((1, int(rng.integers(2, 9)))), int(rng.integers(1, 6)), rng)
    check_linear(s, rng.standard_normal((int(rng.integers(2, 6)), 1)), int(rng.integers(2, 5)), rng)
    n, d = (int(v) for v in rng.integers(5, 40, 2))
    check_linear(s, rng.standard_normal((n, d)), int(rng.integers(1, 20)), rng)


def with_zeros(rng, shape, scale=1.0):
    x = rng.standard_normal(shape) * scale
    flat = x.reshape(-1)
    flat[rng.choice(flat.size, size=max(2, flat.size // 4), replace=False)] = 0.0
    return x


@check("relu", "gradient 0 at exactly x = 0 (PyTorch's subgradient), on a (2, 3, 4) input")
def relu_at_zero(s, rng):
    x = with_zeros(rng, (2, 3, 4))
    dout = rng.standard_normal(x.shape)
    mistakes = {
        "at exactly x = 0 the gradient must be 0 (as in PyTorch), not dout": dout * (x >= 0),
        **relu_mistakes(x, dout),
    }
    check_layer(
        s, "relu", x, (), dout, torch.relu, dx_mistakes=mistakes, label="x with exact zeros"
    )


@check("relu", "N = 1 and a 1-D input of random length")
def relu_sizes(s, rng):
    for shape in [(1, int(rng.integers(1, 9))), (int(rng.integers(3, 30)),)]:
        x = rng.standard_normal(shape)
        dout = rng.standard_normal(shape)
        check_layer(
            s,
            "relu",
            x,
            (),
            dout,
            torch.relu,
            dx_mistakes=relu_mistakes(x, dout),
            label=f"x of shape {shape}",
        )


@check(
    "leaky_relu",
    "the slope at exactly x = 0 is negative_slope (PyTorch), with a random "
    "slope, on a (2, 3, 4) input",
)
def leaky_at_zero(s, rng):
    a = float(rng.uniform(0.05, 0.5))
    x = with_zeros(rng, (2, 3, 4))
    dout = rng.standard_normal(x.shape)
    mistakes = {
        "at exactly x = 0 PyTorch uses the slope negative_slope, not 1": np.where(
            x >= 0, dout, a * dout
        ),
        **leaky_mistakes(x, dout, a),
    }
    check_layer(
        s,
        "leaky_relu",
        x,
        (a,),
        dout,
        lambda t: F.leaky_relu(t, a),
        dx_mistakes=mistakes,
        label=f"x with exact zeros, negative_slope={a:.4g}",
    )


@check("leaky_relu", "N = 1 with the default slope, and a 1-D input")
def leaky_sizes(s, rng):
    for shape in [(1, int(rng.integers(1, 9))), (int(rng.integers(3, 30)),)]:
        x = rng.standard_normal(shape)
        dout = rng.standard_normal(shape)
        check_layer(
            s,
            "leaky_relu",
            x,
            (),
            dout,
            F.leaky_relu,
            dx_mistakes=leaky_mistakes(x, dout, 0.01),
            label=f"x of shape {shape}",
        )


@check(
    "elu",
    "the derivative at exactly x = 0 is alpha (PyTorch); inputs of -1000 and 1000 give "
    "finite outputs and gradients",
)
def elu_edges(s, rng):
    alpha = float(rng.uniform(0.5, 2.5))
    x = with_zeros(rng, (3, 4), 2.0)
    x[0, :2] = [-1000.0, 1000.0]
    dout = rng.standard_normal(x.shape)
    with np.errstate(over="ignore", invalid="ignore"):
        mistakes = {
            "at exactly x = 0 PyTorch uses alpha * exp(0) = alpha, not 1": np.where(
                x >= 0, dout, alpha * np.exp(x) * dout
            ),
            **elu_mistakes(x, dout, alpha),
        }
    check_layer(
        s,
        "elu",
        x,
        (alpha,),
        dout,
        lambda t: F.elu(t, alpha),
        dx_mistakes=mistakes,
        label=f"x with exact zeros and +-1000, alpha={alpha:.4g}",
    )


@check("elu", "random alpha on a (2, 3, 4) input, and N = 1 with the default alpha")
def elu_sizes(s, rng):
    alpha = float(rng.uniform(0.5, 2.5))
    x = rng.standard_normal((2, 3, 4)) * 2
    dout = rng.standard_normal(x.shape)
    check_layer(
        s,
        "elu",
        x,
        (alpha,),
        dout,
        lambda t: F.elu(t, alpha),
        dx_mistakes=elu_mistakes(x, dout, alpha),
        label=f"x (2, 3, 4), alpha={alpha:.4g}",
    )
    x = rng.standard_normal((1, int(rng.integers(1, 9))))
    dout = rng.standard_normal(x.shape)
    check_layer(
        s,
        "elu",
        x,
        (),
        dout,
        F.elu,
        dx_mistakes=elu_mistakes(x, dout, 1.0),
        label=f"x of shape {x.shape}",
    )


EXTREMES = np.array([[-1000.0, -40.0, -1.0, 0.0], [1.0, 40.0, 1000.0, 0.5]])


@check("sigmoid", "inputs of -1000, -40, 0, 40 and 1000: finite and exact outputs and gradients")
def sigmoid_extremes(s, rng):
    dout = rng.standard_normal(EXTREMES.shape)
    with np.errstate(over="ignore"):
        mistakes = sigmoid_mistakes(EXTREMES, dout)
    check_layer(
        s,
        "sigmoid",
        EXTREMES,
        (),
        dout,
        torch.sigmoid,
        dx_mistakes=mistakes,
        label=f"x = {EXTREMES.tolist()}",
    )


@check("sigmoid", "a (2, 3, 4) input and N = 1")
def sigmoid_sizes(s, rng):
    for shape in [(2, 3, 4), (1, int(rng.integers(1, 9)))]:
        x = rng.standard_normal(shape) * 3
        dout = rng.standard_normal(shape)
        check_layer(
            s,
            "sigmoid",
            x,
            (),
            dout,
            torch.sigmoid,
            dx_mistakes=sigmoid_mistakes(x, dout),
            label=f"x of shape {shape}",
        )


@check("tanh", "inputs of -1000, -40, 0, 40 and 1000, a (2, 3, 4) input and N = 1")
def tanh_edges(s, rng):
    dout = rng.standard_normal(EXTREMES.shape)
    check_layer(s, "tanh", EXTREMES, (), dout, torch.tanh, label=f"x = {EXTREMES.tolist()}")
    for shape in [(2, 3, 4), (1, int(rng.integers(1, 9)))]:
        x = rng.standard_normal(shape) * 2
        dout = rng.standard_normal(shape)
        check_layer(
            s,
            "tanh",
            x,
            (),
            dout,
            torch.tanh,
            dx_mistakes=tanh_mistakes(x, dout),
            label=f"x of shape {shape}",
        )


@check(
    "maxout",
    "the flat layout of nn.Linear(D, M * k): w (M * k, D), b (M * k,), k = 3; "
    "gradients come back in the flat layout",
)
def maxout_flat(s, rng):
    n, d, m, k = int(rng.integers(2, 7)), int(rng.integers(2, 6)), int(rng.integers(1, 5)), 3
    check_maxout(
        s,
        rng.standard_normal((n, d)),
        rng.standard_normal((m * k, d)),
        rng.standard_normal(m * k),
        k,
        rng.standard_normal((n, m)),
        layout="(M * k, D)",
    )


@check(
    "maxout",
    "ties between pieces (small integer inputs): the gradient goes to the first "
    "maximum only, in both layouts",
)
def maxout_ties(s, rng):
    n, d, m, k = 6, 3, 4, 3
    x = rng.integers(-1, 2, (n, d)).astype(np.float64)
    w = rng.integers(-1, 2, (m, k, d)).astype(np.float64)
    w[:, 1] = w[:, 0]  # pieces 0 and 1 of every unit are identical: exact ties
    b = rng.integers(0, 2, (m, k)).astype(np.float64)
    b[:, 1] = b[:, 0]
    dout = rng.standard_normal((n, m))
    check_maxout(s, x, w, b, k, dout, ties=True)
    check_maxout(s, x, w.reshape(m * k, d), b.reshape(-1), k, dout, ties=True, layout="(M * k, D)")


@check("maxout", "k = 1 (a linear layer) and N = 1")
def maxout_sizes(s, rng):
    n, d, m = int(rng.integers(2, 6)), int(rng.integers(1, 5)), int(rng.integers(1, 4))
    check_maxout(
        s,
        rng.standard_normal((n, d)),
        rng.standard_normal((m, 1, d)),
        rng.standard_normal((m, 1)),
        1,
        rng.standard_normal((n, m)),
    )
    check_maxout(
        s,
        rng.standard_normal((1, d)),
        rng.standard_normal((m, 2, d)),
        rng.standard_normal((m, 2)),
        2,
        rng.standard_normal((1, m)),
    )


@check(
    "maxout", "maxout_forward raises ValueError when k does not match the shape of w", weight=0.5
)
def maxout_bad_k(s, rng):
    x = rng.standard_normal((4, 3))
    for w, b, k, what in [
        (rng.standard_normal((3, 2, 3)), rng.standard_normal((3, 2)), 3, "w of shape (3, 2, 3)"),
        (rng.standard_normal((5, 3)), rng.standard_normal(5), 2, "a flat w with 5 rows"),
    ]:
        try:
            s.call("maxout_forward", x, w, b, k)
        except StudentError as err:
            kind = err.error.get("type")
            expect(
                kind == "ValueError",
                f"maxout_forward(x, w, b, k={k}) with {what} raised {kind}, expected ValueError",
            )
            continue
        raise CheckFailure(
            f"maxout_forward(x, w, b, k={k}) with {what} returned without raising ValueError",
            "compare k with the shape of w (see Raises)",
        )


# -- Part 3: losses ------------------------------------------------------------------------------


@check("mse", "1-D (N,) and 3-D (2, 3, 4) arrays, and N = 1")
def mse_shapes(s, rng):
    for shape in [(int(rng.integers(2, 20)),), (2, 3, 4), (1, int(rng.integers(1, 6)))]:
        check_mse(s, rng.standard_normal(shape), rng.standard_normal(shape), f" for {shape}")


@check("l1", "the subgradient is 0 where pred == target exactly")
def l1_ties(s, rng):
    pred = rng.standard_normal((5, 4))
    target = rng.standard_normal((5, 4))
    mask = rng.random((5, 4)) < 0.4
    mask[0, 0] = True
    target[mask] = pred[mask]
    check_l1(s, pred, target, " with some pred == target exactly")


@check("l1", "1-D (N,) and 3-D (2, 3, 4) arrays, and N = 1")
def l1_shapes(s, rng):
    for shape in [(int(rng.integers(2, 20)),), (2, 3, 4), (1, int(rng.integers(1, 6)))]:
        check_l1(s, rng.standard_normal(shape), rng.standard_normal(shape), f" for {shape}")


@check("bce_logits", "logits of -1e4, 1e4 and +-50: a finite loss and the exact gradient")
def bce_extremes(s, rng):
    logits = np.array([[1e4, -1e4, 50.0], [-50.0, 0.0, 1e4]])
    targets = np.array([[0.0, 1.0, 1.0], [0.0, 1.0, 1.0]])
    check_bce(s, logits, targets, f" for logits {logits.tolist()}, targets {targets.tolist()}")
    check_bce(s, logits, rng.random(logits.shape), " for logits of +-1e4 with soft targets")


@check("bce_logits", "1-D logits, a (2, 3, 4) array and N = 1")
def bce_shapes(s, rng):
    for shape in [(int(rng.integers(2, 20)),), (2, 3, 4), (1, int(rng.integers(1, 6)))]:
        logits = rng.standard_normal(shape) * 3
        check_bce(s, logits, (rng.random(shape) < 0.5).astype(np.float64), f" for {shape}")


@check(
    "softmax_ce",
    "logits of 1e4 and -1e4: a finite loss and exact dscores (shift by the row "
    "maximum, use log-sum-exp)",
)
def softmax_ce_extremes(s, rng):
    scores = np.array([[1e4, 0.0, -1e4], [-1e4, 1e4, 0.0], [1e4, 1e4, -1e4], [3.0, -2.0, 1.0]])
    y = np.array([1, 1, 2, 0])
    check_ce(s, scores, y, f" for scores {scores.tolist()}, y = {y.tolist()}")


@check("softmax_ce", "N = 1, C = 2 and random sizes up to C = 10")
def softmax_ce_sizes(s, rng):
    c = int(rng.integers(2, 11))
    n = int(rng.integers(2, 20))
    for shape in [(1, c), (n, 2), (n, c)]:
        scores = rng.standard_normal(shape) * 3
        y = rng.integers(0, shape[1], shape[0])
        check_ce(s, scores, y, f" for scores of shape {shape}")


@check(
    "hinge", "margins met exactly (integer scores) contribute nothing to the loss or the gradient"
)
def hinge_exact_margin(s, rng):
    n, c = 6, 4
    scores = rng.integers(-2, 3, (n, c)).astype(np.float64)
    y = rng.integers(0, c, n)
    scores[0] = 0.0
    scores[0, y[0]] = 1.0  # every margin of example 0 is met exactly
    loss, grad = unpack(
        s.call("multiclass_hinge", scores, y), ("loss", "dscores"), "multiclass_hinge"
    )
    terms = 1.0 - scores[np.arange(n), y][:, None] + scores
    viol_ge = (terms >= 0) & (np.arange(c) != y[:, None])
    g_ge = viol_ge * 1.0
    g_ge[np.arange(n), y] = -viol_ge.sum(axis=1)
    g_own = g_ge.copy()  # the same with term = 0 at the correct class counted too
    g_own[np.arange(n), y] -= 1.0
    st = torch.tensor(scores, requires_grad=True)
    lt = F.multi_margin_loss(st, torch.from_numpy(y))
    (g,) = torch.autograd.grad(lt, st)
    expect_close(
        grad,
        g.numpy(),
        f"dscores returned by multiclass_hinge for integer scores "
        f"{scores.tolist()}, y = {y.tolist()}",
        mistakes={
            "a margin met exactly (a term equal to 0) must not contribute: "
            "count a violation only when the term is > 0": g_ge / (n * c),
            "a term equal to 0 was counted as a violation (> 0, not >= 0), "
            "the correct class's own zero term included": g_own / (n * c),
        },
    )
    check_hinge(s, scores, y, 1.0, " for integer scores with exactly met margins")


@check("hinge", "random sizes, N = 1 and margin 2")
def hinge_sizes(s, rng):
    c = int(rng.integers(2, 9))
    check_hinge(s, rng.standard_normal((1, c)), rng.integers(0, c, 1), 1.0, f" for (1, {c})")
    n = int(rng.integers(2, 15))
    check_hinge(s, rng.standard_normal((n, c)) * 2, rng.integers(0, c, n), 2.0, f" for ({n}, {c})")


# -- Part 4: the two-layer network ------------------------------------------------------------


@check(
    "two_layer_sgd",
    "mini-batch SGD (batch_size=10 of N = 40; the batches come from "
    "rng.choice after the init), 3 classes, D = 3, hidden = 6",
)
def two_layer_minibatch(s, rng):
    X, y = two_class_blobs(rng, 40, 3, 3)
    check_two_layer_trajectory(
        s, X, y, hidden=6, lr=0.3, steps=15, seed=int(rng.integers(0, 2**31)), batch_size=10
    )


def xor_quadrants(rng, n):
    X = rng.uniform(0.1, 1.0, (n, 2)) * rng.choice([-1.0, 1.0], (n, 2))
    return X, (X[:, 0] * X[:, 1] < 0).astype(np.int64)


@check(
    "two_layer_sgd",
    "60 full-batch steps with the default hidden size and learning rate "
    "reach at least 95% training accuracy on 200 XOR points",
)
def two_layer_accuracy(s, rng):
    X, y = xor_quadrants(rng, 200)
    what = "train_two_layer_net(X, y, steps=60, rng=...) on the XOR quadrants"
    seed = int(rng.integers(0, 2**31))
    res = s.probe("a1_backprop.train_two_layer", X, y, seed, {"steps": 60}, what=what)
    try:
        params = [
            np.asarray(field(res, k, what), dtype=np.float64) for k in ("w1", "b1", "w2", "b2")
        ]
        scores = np.maximum(X @ params[0].T + params[1], 0) @ params[2].T + params[3]
    except (TypeError, ValueError) as err:
        raise CheckFailure(
            f"{what}: the returned parameters are not arrays of the right shapes ({err})"
        ) from None
    acc = float(np.mean(scores.argmax(axis=1) == y))
    expect(acc >= 0.95, f"{what}: training accuracy {acc:.3f}, expected at least 0.95")


# -- Part 5: PyTorch ---------------------------------------------------------------------------

EXTREME_ROW = np.array([-1000.0, -40.0, -1.0, 0.0, 1.0, 40.0, 1000.0])


def _extremes(s, name, fn, args=()):
    for dtype in ("float64", "float32"):
        check_function(
            s, name, EXTREME_ROW, fn, args, dtype=dtype, label=f"= {EXTREME_ROW.tolist()}"
        )


@check(
    "torch_sigmoid",
    "inputs of -1000, -40, 0, 40 and 1000 in float32 and float64: finite, exact value and gradient",
)
def torch_sigmoid_extremes(s, rng):
    _extremes(s, "SigmoidFunction", torch.sigmoid)


@check("torch_sigmoid", "a (2, 3, 4) float32 input with a random upstream gradient")
def torch_sigmoid_shape(s, rng):
    x = rng.standard_normal((2, 3, 4)) * 3
    check_function(
        s,
        "SigmoidFunction",
        x,
        torch.sigmoid,
        dtype="float32",
        rng=rng,
        label="of shape (2, 3, 4)",
        mistakes=lambda up: sigmoid_mistakes(x, up),
    )


@check(
    "torch_tanh",
    "inputs of -1000, -40, 0, 40 and 1000 in float32 and float64: finite, exact value and gradient",
)
def torch_tanh_extremes(s, rng):
    _extremes(s, "TanhFunction", torch.tanh)


@check("torch_tanh", "a (2, 3, 4) float32 input with a random upstream gradient")
def torch_tanh_shape(s, rng):
    x = rng.standard_normal((2, 3, 4)) * 2
    check_function(
        s,
        "TanhFunction",
        x,
        torch.tanh,
        dtype="float32",
        rng=rng,
        label="of shape (2, 3, 4)",
        mistakes=lambda up: tanh_mistakes(x, up),
    )


@check(
    "torch_leaky_relu",
    "the gradient at exactly 0 is negative_slope; inputs of -1000 and 1000; a random slope",
)
def torch_leaky_edges(s, rng):
    a = float(rng.uniform(0.05, 0.5))
    _extremes(s, "LeakyReLUFunction", lambda t: F.leaky_relu(t, a), (a,))
    x = with_zeros(rng, (3, 4))
    check_function(
        s,
        "LeakyReLUFunction",
        x,
        lambda t: F.leaky_relu(t, a),
        (a,),
        rng=rng,
        label="with exact zeros",
        mistakes=lambda up: {
            "at exactly 0 PyTorch uses the slope": np.where(x >= 0, up, a * up),
            **leaky_mistakes(x, up, a),
        },
    )


@check("torch_leaky_relu", "the default negative_slope (0.01) on a (2, 3, 4) float32 input")
def torch_leaky_default(s, rng):
    x = rng.standard_normal((2, 3, 4))
    check_function(
        s,
        "LeakyReLUFunction",
        x,
        F.leaky_relu,
        dtype="float32",
        rng=rng,
        label="of shape (2, 3, 4), default slope",
        mistakes=lambda up: leaky_mistakes(x, up, 0.01),
    )


@check(
    "torch_elu",
    "the gradient at exactly 0 is alpha; inputs of -1000 and 1000 give finite "
    "values and gradients (no nan); a random alpha",
)
def torch_elu_edges(s, rng):
    alpha = float(rng.uniform(0.5, 2.5))
    _extremes(s, "ELUFunction", lambda t: F.elu(t, alpha), (alpha,))
    x = with_zeros(rng, (3, 4))
    check_function(
        s,
        "ELUFunction",
        x,
        lambda t: F.elu(t, alpha),
        (alpha,),
        rng=rng,
        label="with exact zeros",
        mistakes=lambda up: elu_mistakes(x, up, alpha),
    )


@check("torch_elu", "the default alpha (1.0) on a (2, 3, 4) float32 input")
def torch_elu_default(s, rng):
    x = rng.standard_normal((2, 3, 4)) * 2
    check_function(
        s,
        "ELUFunction",
        x,
        F.elu,
        dtype="float32",
        rng=rng,
        label="of shape (2, 3, 4), default alpha",
        mistakes=lambda up: elu_mistakes(x, up, 1.0),
    )


@check(
    "torch_two_layer",
    "mini-batch SGD (batch_size=8 of N = 24) with a torch.Generator: the "
    "batches come from torch.randperm; device given as torch.device('cpu')",
)
def torch_net_minibatch(s, rng):
    X, y = two_class_blobs(rng, 24, 3, 2)
    check_torch_training(
        s,
        (3, 6, 2),
        int(rng.integers(0, 2**31)),
        X,
        y,
        0.2,
        6,
        dtype="float64",
        device="torch.device",
        batch_size=8,
        batch_seed=int(rng.integers(0, 2**31)),
    )


@check(
    "torch_two_layer",
    "a float32 model trained from tensors X and y: the losses are a list "
    "of Python floats and the weights match PyTorch",
)
def torch_net_float32(s, rng):
    X, y = two_class_blobs(rng, 16, 4, 3)
    check_torch_training(
        s,
        (4, 7, 3),
        int(rng.integers(0, 2**31)),
        X.astype(np.float32),
        y,
        0.5,
        6,
        dtype="float32",
        device="cpu",
        as_tensors=True,
    )
