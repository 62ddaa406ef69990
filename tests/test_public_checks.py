"""Issue 17, point 9: no copyable answer in the public checks.

Students read the public checks (in their kernel and in the student kit), so no module the kit
ships may hold a function that computes what a graded NumPy function computes. This test is
behavioural, not a list of names: it runs each graded function below from the solution notebook
on sample inputs, then calls every top-level function of every shipped check module with the
same inputs (and with the intermediate quantities an oracle would take: the fitted statistics,
the eigen-decomposition...) wherever its signature accepts them, and fails when one returns the
solution's answer. A renamed or rewritten oracle is found as well as the original.

``KNOWN`` lists what is still left (with the reason it is not fixed yet): the test fails when a
new one appears, and when a listed one has gone (so that the list stays true).
"""

from __future__ import annotations

import functools
import inspect
import math
import types
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
from notebooks import solution_notebook

from autograder.course import Course
from autograder.kit import public_modules

COURSE = Course.load()

#: Public helpers that still return a graded function's answer: (assignment, function) -> why.
A2_LEFT = (
    "left (issue 17, point 9): A2's public checks still compare with NumPy oracles; to do: check "
    "the inverse relations instead (z * sqrt(var_ + eps) + mean_ == x, z @ U.T + mean_ == x, the "
    "eigen-equation of np.cov), and ship the mistakes' values computed at release time"
)
KNOWN: dict[tuple[str, str], str] = {
    ("a2_init", "public.standardise"): A2_LEFT,
    ("a2_init", "public.minmax"): A2_LEFT,
    ("a2_init", "public.pca_oracle"): A2_LEFT,
    ("a2_init", "public.whiten_oracle"): A2_LEFT,
    ("a2_init", "public.xavier_std"): A2_LEFT + " (the std of the shapes used, shipped as data)",
    ("a2_init", "public.kaiming_oracle_std"): A2_LEFT + " (as xavier_std)",
    # The cyclic formula is gone (its mistakes are simulated with CyclicLR itself); these two
    # closed forms, used for the mistakes of cosine_lr and linear_lr, are left: simulate them
    # with CosineAnnealingLR / LinearLR the same way.
    ("a4_optim", "public.cosine_closed"): "left: simulate the mistakes with CosineAnnealingLR",
    ("a4_optim", "public.linear_closed"): "left: simulate the mistakes with LinearLR",
}


@functools.cache
def solution_namespace(name: str) -> dict:
    """The solution's answer cells, executed (after the setup cell's imports, without the
    checker) in a fresh namespace."""
    nb = solution_notebook(COURSE, name)
    ns: dict = {"__name__": f"solution_{name}"}
    for cell in nb.cells:
        gid = cell.metadata.get("nbgrader", {}).get("grade_id", "")
        if cell.cell_type != "code" or not (gid == "setup" or gid.endswith("_answer")):
            continue
        source = cell.source
        if gid == "setup":
            source = "\n".join(line for line in source.splitlines() if "Checker" not in line)
        exec(compile(source, f"<{name}:{gid}>", "exec"), ns)
    return ns


@functools.cache
def shipped_files() -> tuple[str, ...]:
    return tuple(public_modules(COURSE))


@functools.cache
def shipped_functions(name: str) -> list[tuple[str, Callable]]:
    """Every top-level function of the shipped modules of ``autograder/checks/<name>/``."""
    out = []
    for rel in shipped_files():
        path = Path(rel)
        if path.parts[:3] != ("autograder", "checks", name) or path.suffix != ".py":
            continue
        module_name = ".".join(path.with_suffix("").parts)
        module = __import__(module_name, fromlist=["_"])
        for attr, value in vars(module).items():
            if isinstance(value, types.FunctionType) and value.__module__ == module_name:
                out.append((f"{path.stem}.{attr}", value))
    return out


def _same(got, expected) -> bool:
    """``got`` is ``expected`` (a number, an array, or a tuple of them; eigenvector columns and
    projections may differ in sign)."""
    if isinstance(expected, tuple):
        return (
            isinstance(got, tuple | list)
            and len(got) == len(expected)
            and all(_same(g, e) for g, e in zip(got, expected, strict=True))
        )
    try:
        g = np.asarray(got, dtype=np.float64)
    except (TypeError, ValueError):
        return False
    e = np.asarray(expected, dtype=np.float64)
    if g.shape != e.shape or not np.all(np.isfinite(g)):
        return False
    return bool(
        np.allclose(g, e, rtol=1e-6, atol=1e-9) or np.allclose(np.abs(g), np.abs(e), rtol=1e-6)
    )


def _calls(fn: Callable, args_options: list[tuple]) -> Iterator[tuple]:
    sig = inspect.signature(fn)
    for args in args_options:
        try:
            sig.bind(*args)
        except TypeError:
            continue
        yield args


def _offenders(name: str, cases: list, functions=None) -> set[tuple[str, str]]:
    """Shipped functions (or ``functions``) that return a case's expected output for one of
    its argument tuples; a case is (what, expected, [args, ...])."""
    found = set()
    for fname, fn in shipped_functions(name) if functions is None else functions:
        for what, expected, args_options in cases:
            for args in _calls(fn, args_options):
                with warnings.catch_warnings(), np.errstate(all="ignore"):
                    warnings.simplefilter("ignore")
                    try:
                        got = fn(*args)
                    except Exception:  # noqa: BLE001 -- most helpers do not take these inputs
                        continue
                if _same(got, expected):
                    found.add((name, fname, what))
    return {(a, f) for a, f, _ in found}


def _a2_cases() -> list:
    ns = solution_namespace("a2_init")
    rng = np.random.default_rng(0)
    x = rng.standard_normal((40, 4)) @ rng.standard_normal((4, 4)) + rng.uniform(-3, 3, 4)
    x2 = rng.standard_normal((7, 4)) + 1.0
    std = ns["Standardizer"](eps=1e-3).fit(x)
    mm = ns["MinMaxScaler"]().fit(x)
    pca = ns["PCAWhitener"](eps=0.3).fit(x)
    mu, lam, u = pca.mean_, pca.eigenvalues_, pca.eigenvectors_
    cases = [
        ("Standardizer.transform", std.transform(x2), [(x, x2), (x2, std.mean_, std.var_, 1e-3)]),
        ("MinMaxScaler.transform", mm.transform(x2), [(x, x2), (x2, mm.min_, mm.max_, (-1, 1))]),
        ("PCAWhitener.fit", (mu, lam, u), [(x,)]),
        ("PCAWhitener.transform", pca.transform(x2), [(x2, mu, u), (x2, mu, lam, u)]),
        ("PCAWhitener.whiten", pca.whiten(x2), [(x2, mu, lam, u, 0.3), (x, x2, 0.3)]),
        ("PCAWhitener.zca", pca.zca(x2), [(x2, mu, lam, u, 0.3), (x, x2, 0.3)]),
    ]
    for shape in [(30, 20), (8, 3, 3, 3)]:
        fan_in = int(np.prod(shape[1:]))
        fan_out = shape[0] * int(np.prod(shape[2:]))
        draws = ns["xavier_normal"](shape, 2.0, rng=np.random.default_rng(1))
        std_x = 2.0 * math.sqrt(2.0 / (fan_in + fan_out))  # what the solution draws with
        assert abs(draws.std() / std_x - 1) < 0.2
        cases.append(("xavier std", std_x, [(shape, 2.0)]))
        std_k = math.sqrt(2.0 / (1 + 0.2**2)) / math.sqrt(fan_in)
        draws = ns["kaiming_normal"](shape, 0.2, rng=np.random.default_rng(1))
        assert abs(draws.std() / std_k - 1) < 0.2
        cases.append(("kaiming std", std_k, [(shape, 0.2), (shape, 0.2, "fan_in", "leaky_relu")]))
    return cases


def _a4_cases() -> list:
    ns = solution_namespace("a4_optim")
    t = np.arange(60)

    def table(fn, *args, **kw):
        return np.array([fn(int(k), *args, **kw) for k in t])

    return [
        ("triangular_lr", table(ns["triangular_lr"], 0.01, 0.1, 7, 11), [(t, 0.01, 0.1, 7, 11)]),
        (
            "triangular2",
            table(ns["triangular_lr"], 0.01, 0.1, 7, 11, "triangular2"),
            [(t, 0.01, 0.1, 7, 11, "triangular2")],
        ),
        ("cosine_lr", table(ns["cosine_lr"], 0.3, 40, 0.01), [(t, 0.3, 40, 0.01)]),
        ("linear_lr", table(ns["linear_lr"], 0.3, 0.2, 1.0, 30), [(t, 0.3, 0.2, 1.0, 30)]),
        ("step_lr", table(ns["step_lr"], 0.3, 9, 0.5), [(t, 0.3, 9, 0.5)]),
        ("inverse_sqrt_lr", table(ns["inverse_sqrt_lr"], 0.3, 5), [(t, 0.3, 5)]),
    ]


def _a5_cases() -> list:
    ns = solution_namespace("a5_dropout")
    rng = np.random.default_rng(0)
    scores = 3.0 * rng.standard_normal((300, 4))
    probs = np.exp(scores) / np.exp(scores).sum(axis=1, keepdims=True)
    labels = rng.integers(0, 4, 300)
    ece = ns["expected_calibration_error"](probs, labels, 10)
    return [("expected_calibration_error", ece, [(probs, labels, 10)])]


CASES = {"a2_init": _a2_cases, "a4_optim": _a4_cases, "a5_dropout": _a5_cases}


@pytest.mark.parametrize("name", sorted(CASES))
def test_no_graded_function_in_public_checks(name):
    found = _offenders(name, CASES[name]())
    known = {k for k in KNOWN if k[0] == name}
    new = found - known
    assert not new, (
        f"shipped check modules compute what a graded function computes: {sorted(new)}; move "
        "the oracle to the grading side (hidden.py or a module only hidden.py imports) and give "
        "the public check PyTorch's values, values computed at release time, or properties"
    )
    gone = known - found
    assert not gone, f"fixed: remove {sorted(gone)} from KNOWN"


def test_the_scan_finds_an_oracle():
    """The scan is not vacuous: a NumPy ECE among the shipped functions is found."""
    from autograder.checks.a5_dropout import oracles

    fake = [("public.ece_oracle", oracles.ece_oracle), ("public.np_mean", np.mean)]
    found = _offenders("a5_dropout", _a5_cases(), fake)
    assert found == {("a5_dropout", "public.ece_oracle")}


def test_public_values_are_current():
    """The values the public ECE check ships were computed by the grader's implementation."""
    from autograder.checks.a5_dropout import oracles, public_values

    ns: dict = {}
    exec(oracles.public_values_source(), ns)
    assert ns["PUBLIC_ECE"] == public_values.PUBLIC_ECE, (
        "stale: run `python -m autograder.checks.a5_dropout.oracles`"
    )


def test_oracles_are_not_shipped():
    """The grading-side oracle modules never reach the kit."""
    shipped = {Path(p).as_posix() for p in shipped_files()}
    assert "autograder/checks/a5_dropout/oracles.py" not in shipped
    assert "autograder/checks/a5_dropout/public_values.py" in shipped
