"""How checks are written: the ``@check`` decorator, failures, and comparisons with diagnostics.

A check is an ordinary function ``fn(s, rng)`` that drives the student's code through ``s`` (a
:class:`autograder.student.Student`) with inputs drawn from ``rng`` and compares what comes back
with an oracle computed here. It passes by returning and fails by raising :class:`CheckFailure`.
The same function runs in two places: in the student's notebook (``s`` calls the student's
functions directly) and in the trusted grader (``s`` forwards each call to an isolated worker and
only data comes back), so a check never needs to know where it runs.

    @check("relu", "relu_forward matches torch.relu")
    def relu_matches_torch(s, rng):
        x = rng.standard_normal((4, 5))
        out, _ = s.call("relu_forward", x)
        expect_close(out, torch.relu(torch.from_numpy(x)).numpy(), "out of relu_forward(x)")
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = [
    "Check",
    "CheckError",
    "CheckFailure",
    "check",
    "close",
    "collect_checks",
    "describe",
    "expect",
    "expect_close",
    "expect_equal",
    "fmt_pair",
    "one_torch_thread",
    "seed_for",
    "shape_error_hint",
]


class CheckFailure(AssertionError):
    """A check found the student's code wrong. ``hint`` names a likely mistake, if one matches."""

    def __init__(self, message: str, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message + (f"\n  Hint: {self.hint}" if self.hint else "")


class CheckError(RuntimeError):
    """The check itself could not do its work (a bug in it, an unknown probe, a request the
    worker could not decode): the grader reports "could not be graded (check error)" to the
    instructor, never a student's mistake."""


@dataclass(frozen=True)
class Check:
    item: str  # grade_id of the check cell this check contributes to
    title: str  # what it verifies, shown to students (also for hidden checks)
    fn: Callable[..., None]
    weight: float = 1.0
    timeout: float = 5.0  # seconds of wall time for the whole check (the solution needs ms)
    hidden: bool = False

    @property
    def name(self) -> str:
        return self.fn.__name__


def check(
    item: str, title: str, *, weight: float = 1.0, timeout: float = 5.0, one_thread: bool = False
):
    """Declare a check of graded item ``item``. Public or hidden follows from the module it is in.

    ``one_thread=True`` runs it with PyTorch on one intra-op thread (:func:`one_torch_thread`):
    for checks whose oracles work on tiny tensors."""

    def deco(fn):
        if one_thread:
            inner = fn

            @functools.wraps(inner)
            def fn(s, rng):
                with one_torch_thread():
                    return inner(s, rng)

        fn.__check__ = Check(item=item, title=title, fn=fn, weight=weight, timeout=timeout)
        return fn

    return deco


@contextlib.contextmanager
def one_torch_thread() -> Iterator[None]:
    """Run PyTorch on one intra-op thread. On tiny tensors an operation such as ``F.batch_norm``
    still splits its work over every thread, and on a busy two-core machine one call then takes
    ~15 ms instead of 0.1 ms: checks would cost seconds instead of a fraction of one."""
    import torch

    before = torch.get_num_threads()
    if before == 1:
        yield
        return
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def collect_checks(module, hidden: bool) -> list[Check]:
    """The checks a module declares, in the order they are written."""
    found = []
    for obj in vars(module).values():
        spec = getattr(obj, "__check__", None)
        if isinstance(spec, Check):
            found.append(
                Check(spec.item, spec.title, spec.fn, spec.weight, spec.timeout, hidden=hidden)
            )
    return found


def seed_for(*parts: object) -> int:
    """A 64-bit seed derived from its parts, stable across runs and platforms."""
    digest = hashlib.sha256("\x1f".join(map(str, parts)).encode()).digest()
    return int.from_bytes(digest[:8], "little")


# -- comparisons ---------------------------------------------------------------------------


def expect(condition: bool, message: str, hint: str | None = None) -> None:
    if not condition:
        raise CheckFailure(message, hint)


def expect_equal(actual: Any, expected: Any, what: str, hint: str | None = None) -> None:
    """Exact equality for labels, shapes, integers and strings."""
    if isinstance(actual, np.ndarray) or isinstance(expected, np.ndarray):
        a, e = _as_array(actual, what), np.asarray(expected)
        _expect_shape(a, e, what)
        if not np.array_equal(a, e):
            idx = tuple(int(i) for i in np.argwhere(a != e)[0])
            raise CheckFailure(f"{what}: at index {idx} got {a[idx]!r}, expected {e[idx]!r}", hint)
        return
    if actual != expected:
        raise CheckFailure(f"{what}: got {_short(actual)}, expected {_short(expected)}", hint)


def expect_close(
    actual: Any,
    expected: Any,
    what: str,
    *,
    rtol: float = 1e-6,
    atol: float = 1e-8,
    mistakes: dict[str, Any] | Callable[[], dict[str, Any]] | None = None,
    hint: str | None = None,
) -> None:
    """``actual`` matches ``expected`` elementwise: ``|a - e| <= atol + rtol * |e|``.

    On failure the message says what was expected (shape, dtype, range), the largest relative error
    and where it is; when ``actual`` matches one of ``mistakes`` (a description -> the output that
    mistake produces; or a function returning that dict, called only on a failure when the wrong
    outputs are costly), the description becomes the hint, else ``hint`` does.
    """
    e = np.asarray(expected, dtype=np.float64)
    a = _as_array(actual, what)
    if a.dtype.kind not in "biuf":
        raise CheckFailure(f"{what}: expected a real-valued array, got dtype {a.dtype}", hint)
    a = a.astype(np.float64)
    if a.shape == e.shape and _all_close(a, e, rtol, atol):
        return
    if callable(mistakes):
        mistakes = mistakes()
    hint = _match_mistake(a, e, mistakes, rtol, atol) or hint
    _expect_shape(a, e, what, hint)
    finite_a, finite_e = np.isfinite(a), np.isfinite(e)
    if not np.array_equal(finite_a, finite_e):
        idx = tuple(int(i) for i in np.argwhere(finite_a != finite_e)[0])
        raise CheckFailure(
            f"{what}: at index {idx} got {float(a[idx])}, expected {float(e[idx])} (look for overflow, "
            "log(0) or a division by zero)",
            hint,
        )
    both = finite_a & finite_e
    if not np.array_equal(a[~both], e[~both], equal_nan=True):
        raise CheckFailure(f"{what}: infinities of the wrong sign", hint)
    err = np.where(both, np.abs(a - e), 0.0)
    tol = atol + rtol * np.abs(np.where(both, e, 0.0))
    rel = err / np.maximum(np.abs(a) + np.abs(e), 1e-300)
    worst = np.unravel_index(int(np.argmax(np.where(err > tol, rel, -1.0))), a.shape)
    idx = tuple(int(i) for i in worst)
    bad = int(np.count_nonzero(err > tol))
    got, want = fmt_pair(float(a[worst]), float(e[worst]))
    raise CheckFailure(
        f"{what}: {bad} of {a.size} values differ; largest relative error "
        f"{float(rel[worst]):.3g} at index {idx}: got {got}, expected {want}. "
        f"Expected values lie in [{np.nanmin(e):.4g}, {np.nanmax(e):.4g}].",
        hint,
    )


def close(actual: Any, expected: Any, what: str, hint: str | None = None, **kw: Any) -> None:
    """:func:`expect_close` whose failures carry ``hint`` when no listed mistake matched."""
    try:
        expect_close(actual, expected, what, **kw)
    except CheckFailure as err:
        raise CheckFailure(err.message, err.hint or hint) from None


#: What NumPy and PyTorch say when arrays of incompatible shapes meet (lower case). A ValueError
#: the student raises on purpose ("x must have shape (N, D)") matches none of them.
LIBRARY_SHAPE_ERRORS = (
    "could not be broadcast",
    "could not broadcast",
    "not aligned",
    "mismatch in its core dimension",
    "cannot reshape array",
    "must match the size of tensor",
    "shapes cannot be multiplied",
    "shape mismatch",
    "doesn't match the broadcast shape",
    "invalid for input of size",
    "is out of bounds for axis",
    "too many indices for array",
)


def shape_error_hint(kind: str, message: str) -> str | None:
    """The shape-mismatch hint, for an exception NumPy or PyTorch raised on mismatched shapes."""
    text = message.lower()
    if kind in ("ValueError", "IndexError", "RuntimeError") and any(
        pattern in text for pattern in LIBRARY_SHAPE_ERRORS
    ):
        return "a shape mismatch: print the shapes of your intermediate arrays"
    return None


def fmt_pair(got: float, expected: float, digits: int = 6) -> tuple[str, str]:
    """``got`` and ``expected`` with at least ``digits`` significant digits, and as many more as
    it takes for two different numbers to print differently (at most 17, which is exact)."""
    for d in range(digits, 18):
        a, e = f"{got:.{d}g}", f"{expected:.{d}g}"
        if a != e or got == expected:
            return a, e
    return repr(got), repr(expected)


def describe(x: Any) -> str:
    """What ``x`` is, for a message: "a list of length 3", "None", "an ndarray", ..."""
    if isinstance(x, tuple | list):
        return f"a {type(x).__name__} of length {len(x)}"
    if type(x).__name__ == "Remote":  # a proxy: never ask it anything (it would ask the student)
        return "an object that is not plain data"
    if x is None:
        return "None"
    name = type(x).__name__
    return f"{'an' if name[:1] in 'aeiou' else 'a'} {name}"


def _all_close(a: np.ndarray, e: np.ndarray, rtol: float, atol: float) -> bool:
    """The pass criterion: equal infinities, no NaN where a number is expected, else within tol."""
    finite = np.isfinite(e)
    if not np.array_equal(np.isfinite(a), finite) or not np.array_equal(
        a[~finite], e[~finite], equal_nan=True
    ):
        return False
    return bool(np.all(np.abs(a[finite] - e[finite]) <= atol + rtol * np.abs(e[finite])))


def _as_array(actual: Any, what: str) -> np.ndarray:
    if actual is None:
        raise CheckFailure(f"{what}: got None; did the function forget to return?")
    if type(actual).__module__.startswith("torch") and type(actual).__name__ in (
        "Tensor",
        "Parameter",
    ):
        actual = actual.detach().cpu().numpy()
    if isinstance(actual, bool | int | float | np.generic):
        return np.asarray(actual)
    if not isinstance(actual, np.ndarray | list | tuple):
        # Never probe an unknown object (a Remote proxy would forward the probe to the student).
        raise CheckFailure(
            f"{what}: expected numbers (an array or a float), got {describe(actual)}"
        )
    try:
        arr = np.asarray(actual)
    except ValueError as err:
        raise CheckFailure(f"{what}: could not be read as an array ({err})") from None
    if arr.dtype.hasobject:
        raise CheckFailure(f"{what}: expected numbers, got a {type(actual).__name__} of objects")
    return arr


def _expect_shape(a: np.ndarray, e: np.ndarray, what: str, hint: str | None = None) -> None:
    if a.shape == e.shape:
        return
    if hint is None and a.ndim == 2 and a.shape == e.shape[::-1]:
        hint = "the shape is transposed"
    elif hint is None and a.size == e.size:
        hint = "right number of values, wrong shape: check a reshape or a missing keepdims"
    elif hint is None and e.ndim == 0 and a.size > 1:
        hint = "expected a scalar: did you forget to average (or sum) over the batch?"
    raise CheckFailure(f"{what}: shape {a.shape}, expected {e.shape}", hint)


def _match_mistake(a: np.ndarray, e: np.ndarray, mistakes, rtol: float, atol: float) -> str | None:
    """The first mistake whose output ``a`` matches, among those that differ from the expected
    ``e`` on these inputs (one that does not, e.g. clipping data that lies inside the range,
    would name a near miss after a mistake the student did not make)."""
    tol = max(rtol, 1e-6)
    for description, output in (mistakes or {}).items():
        m = np.asarray(output, dtype=np.float64)
        if m.shape != a.shape:
            continue
        if m.shape == e.shape and np.allclose(m, e, rtol=tol, atol=atol, equal_nan=True):
            continue
        if np.allclose(a, m, rtol=tol, atol=atol, equal_nan=True):
            return description
    return None


def _short(x: Any) -> str:
    r = repr(x)
    return r if len(r) <= 80 else r[:77] + "..."
