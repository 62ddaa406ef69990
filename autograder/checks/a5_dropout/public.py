"""Public checks of A5: what students run from their notebook with ``checker.check("<item>")``.

Oracles: PyTorch in float64 (``torch.softmax``, ``F.linear``, ``F.cross_entropy`` with
``label_smoothing``, autograd), exact enumeration (the Monte Carlo dropout mean and spread of a
network with eight hidden units, over all 256 masks), NumPy (``np.pad`` for every fill mode) and
properties that hold for any random draw: a dropout output is 0 or x / (1 - p), each crop is a
window of the padded image, a cutout image differs from its input by exactly one clipped square,
a mixup batch is one convex combination of the batch and a permutation of it. The statistics of
the draws (dropped fraction, crop positions, mixing weights...) are tested with the bounds of
:mod:`autograder.stats`. The helpers at the top are shared with :mod:`.hidden`.
"""

from __future__ import annotations

import functools
import math

import numpy as np
import torch
import torch.nn.functional as F
from numpy.lib.stride_tricks import sliding_window_view

from autograder.checking import CheckFailure, close, describe, expect, shape_error_hint
from autograder.checking import check as _check
from autograder.stats import (
    bernstein,
    beta_cdf,
    count_bound,
    dkw_limit,
    expect_count,
    expect_distribution,
    expect_uniform_counts,
    ks_distance,
    normal_cdf,
    uniform_cdf,
)
from autograder.student import Remote, StudentError

from .public_values import PUBLIC_ECE

F64 = torch.float64
FILL_MODES = ("constant", "edge", "reflect", "symmetric", "wrap")

# -- generic helpers ----------------------------------------------------------------------------


# Every check here runs its oracles on tiny tensors: on one PyTorch thread.
check = functools.partial(_check, one_thread=True)


def seed_of(rng) -> int:
    return int(rng.integers(0, 2**31 - 1))


def student_failure(what: str, error: dict) -> CheckFailure:
    """The student's code raised while ``what`` ran: say so, in the words of the call."""
    kind, message = error.get("type", "Exception"), error.get("message", "")
    if kind == "NotImplementedError":
        return CheckFailure(f"{what} is not implemented yet ({message or 'NotImplementedError'})")
    where = error.get("where")
    if isinstance(where, list):
        where = where[-1] if where else None
    text = f"{what} raised {kind}: {message}" + (f" (at {where})" if where else "")
    hint = None
    if shape_error_hint(kind, message):
        hint = shape_error_hint(kind, message)
    elif "generator" in message.lower() and "device" in message.lower():
        hint = "create random numbers on the generator's device: device=x.device"
    return CheckFailure(text, hint)


def run(what: str, fn):
    """``fn()`` (a request to the student's code); an exception there fails as ``what``."""
    try:
        return fn()
    except StudentError as err:
        raise student_failure(what, err.error) from None


def expect_value_error(fn, what: str, hint: str | None = None) -> None:
    """``fn()`` must raise ValueError in the student's code."""
    try:
        got = fn()
    except StudentError as err:
        kind = err.error.get("type")
        if kind == "ValueError":
            return
        if kind == "NotImplementedError":
            raise student_failure(what, err.error) from None
        raise CheckFailure(
            f"{what} raised {kind}: {err.error.get('message', '')[:200]}; expected ValueError",
            hint or "raise ValueError(...) with a message that says what is wrong",
        ) from None
    raise CheckFailure(f"{what} returned {describe(got)}; expected it to raise ValueError", hint)


def as_array(value, what: str, shape=None) -> np.ndarray:
    """``value`` as a float64 array of ``shape``, or a failure that says what it was instead."""
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu().numpy()
    if isinstance(value, Remote) or not isinstance(value, np.ndarray | float | int | np.generic):
        raise CheckFailure(f"{what}: expected an array of numbers, got {describe(value)}")
    arr = np.asarray(value)
    if arr.dtype.kind not in "biuf":
        raise CheckFailure(f"{what}: expected real numbers, got dtype {arr.dtype}")
    if shape is not None and arr.shape != tuple(shape):
        raise CheckFailure(f"{what}: shape {arr.shape}, expected {tuple(shape)}")
    return arr.astype(np.float64)


def unpack(result, names: tuple[str, ...], what: str) -> tuple:
    if not isinstance(result, tuple | list) or len(result) != len(names):
        raise CheckFailure(
            f"{what} must return a tuple ({', '.join(names)}), got {describe(result)}"
        )
    return tuple(result)


def rng_handle(s, seed: int):
    """A ``np.random.Generator`` seeded with ``seed`` that lives beside the student's code."""
    return s.probe("a5_dropout.np_rng", seed)


def fmt_args(args, kwargs) -> str:
    def one(a):
        if isinstance(a, np.ndarray):
            return f"<array {tuple(a.shape)}>"
        if isinstance(a, dict):
            return "<dict with keys " + ", ".join(map(str, a)) + ">"
        return repr(a)

    parts = [one(a) for a in args] + [f"{k}={one(v)}" for k, v in kwargs.items()]
    return ", ".join(parts + ["rng"])


def repeat(s, name: str, args: list, kwargs: dict, seed: int, times: int = 1):
    """Call ``name(*args, rng=g, **kwargs)`` ``times`` times with one generator; returns the
    outputs, whether every input was left unchanged, and the text of the call."""
    what = f"{name}({fmt_args(args, kwargs)})"
    res = run(what, lambda: s.probe("a5_dropout.repeat", name, args, kwargs, seed, times))
    return res["outputs"], res["inputs_unchanged"], what


def expect_unchanged(unchanged: bool, what: str) -> None:
    expect(
        unchanged,
        f"{what} modified its input array",
        "work on a copy (np.where, x * mask, x.copy(), ...) and return a new array",
    )


def expect_seeded(s, name: str, args: list, kwargs: dict, rng, compare=None) -> None:
    """Generators seeded alike give the same output, other seeds another one."""
    a = seed_of(rng)
    b = (a + 1 + seed_of(rng)) % (2**31 - 1)
    (o1,), _, what = repeat(s, name, args, kwargs, a)
    (o2,), _, _ = repeat(s, name, args, kwargs, a)
    (o3,), _, _ = repeat(s, name, args, kwargs, b)
    pick = compare or (lambda o: o)
    v1, v2, v3 = (as_array(pick(o), what) for o in (o1, o2, o3))
    expect(
        v1.shape == v2.shape and np.array_equal(v1, v2),
        f"{what}: two calls with generators seeded alike returned different results",
        "draw every random number from the rng argument, never from np.random.* or a new "
        "np.random.default_rng()",
    )
    expect(
        v1.shape != v3.shape or not np.array_equal(v1, v3),
        f"{what}: generators with different seeds gave the same result",
        "the random draws must come from the rng argument",
    )


def noise_images(rng, shape, low=0.1, high=1.0) -> np.ndarray:
    """Images of distinct, non-zero values: every pixel tells where it came from."""
    return rng.uniform(low, high, size=shape)


# -- Part 1: dropout ----------------------------------------------------------------------------


def signed_inputs(rng, shape) -> np.ndarray:
    """Values of magnitude 0.5 to 2 with random signs: never zero, so a zero output is a drop."""
    return rng.uniform(0.5, 2.0, size=shape) * rng.choice([-1.0, 1.0], size=shape)


def dropout_scale_hint(ratio: np.ndarray, p: float) -> str | None:
    """What a kept value's ratio out / x says about the scaling."""
    r = float(np.median(ratio))
    if abs(r - 1.0) < 1e-6:
        return "the kept values are not rescaled: inverted dropout divides them by 1 - p"
    if abs(r - (1.0 - p)) < 1e-6:
        return (
            "the kept values were multiplied by 1 - p: that is the old test-time rule; inverted "
            "dropout divides by 1 - p during training instead"
        )
    if p > 0 and abs(r - 1.0 / p) < 1e-6:
        return (
            "the kept values were divided by p: p is the probability of dropping, so a unit is "
            "kept with probability 1 - p and divided by 1 - p"
        )
    return None


def check_dropout_sample(out, x, p: float, what: str, rtol: float = 1e-9) -> np.ndarray:
    """``out`` must look like inverted dropout of ``x`` (2-D or more): every value 0 or
    x / (1 - p); the dropped fraction about p; the masks of different rows and of different
    columns independent. Returns the keep mask."""
    out = as_array(out, f"output of {what}", x.shape)
    scaled = x / (1.0 - p)
    dropped = np.abs(out) <= 1e-12 * np.abs(x)
    kept = np.abs(out - scaled) <= rtol * np.abs(scaled)
    bad = ~(dropped | kept)
    if bad.any():
        idx = tuple(int(i) for i in np.argwhere(bad)[0])
        raise CheckFailure(
            f"output of {what}: {int(bad.sum())} of {out.size} values are neither 0 nor "
            f"x / (1 - p); e.g. at {idx}: x = {x[idx]:.6g}, out = {out[idx]:.6g}, expected 0 or "
            f"{scaled[idx]:.6g}",
            dropout_scale_hint(out[bad] / x[bad], p),
        )

    def fraction_hint(f):
        if abs(f - (1.0 - p)) < 0.02 and abs(p - 0.5) > 0.05:
            return (
                "you dropped with probability 1 - p: p is the probability of dropping "
                "(keep = rng.random(shape) >= p)"
            )
        return None

    expect_count(int(dropped.sum()), out.size, p, f"dropped values in {what}", fraction_hint)
    rows = dropped.reshape(x.shape[0], -1)
    for axis, word in ((1, "example"), (0, "feature")):
        counts = rows.sum(axis=axis)
        n_each = rows.shape[axis]
        half = count_bound(n_each, p)
        worst = int(np.argmax(np.abs(counts - n_each * p)))
        if abs(counts[worst] - n_each * p) > half:
            raise CheckFailure(
                f"{what}: {word} {worst} has {int(counts[worst])} of its {n_each} values dropped; "
                f"independent masks give {n_each * p:.1f} +- {half:.1f}",
                "draw one independent mask value per element: rng.random(x.shape), not one per "
                "example or one per feature shared by the whole batch",
            )
    return ~dropped


def check_dropout_training(s, rng, shape, p: float) -> None:
    x = signed_inputs(rng, shape)
    (res,), unchanged, what = repeat(s, "dropout_forward", [x, p, True], {}, seed_of(rng))
    out, _ = unpack(res, ("out", "cache"), what)
    check_dropout_sample(out, x, p, what)
    expect_unchanged(unchanged, what)


@check(
    "dropout_forward",
    "training mode with p = 0.3 on a (200, 500) batch: every output is 0 or x / (1 - p), about "
    "30% are dropped (a binomial bound), and the masks of different examples and features are "
    "independent; the input is not modified",
)
def dropout_forward_training(s, rng):
    check_dropout_training(s, rng, (200, 500), 0.3)


@check(
    "dropout_forward",
    "evaluation mode returns x unchanged (and so does p = 0 in training mode); generators "
    "seeded alike give the same mask, other seeds another",
)
def dropout_forward_eval_and_seed(s, rng):
    x = signed_inputs(rng, (40, 30))
    for p, training in ((0.5, False), (0.0, True)):
        (res,), _, what = repeat(s, "dropout_forward", [x, p, training], {}, seed_of(rng))
        out, _ = unpack(res, ("out", "cache"), what)
        close(
            out,
            x,
            f"output of {what}",
            "evaluation mode is the identity: inverted dropout already has the right "
            "expectation, nothing is scaled at test time"
            if not training
            else "with p = 0 nothing is dropped and nothing is scaled",
            mistakes={
                "dropout is still active in evaluation mode: return x when training is False": (
                    np.where(np.abs(as_array(out, "out", x.shape)) > 0, x / (1 - p), 0.0)
                )
            }
            if not training
            else None,
            rtol=1e-12,
            atol=0.0,
        )
    expect_seeded(s, "dropout_forward", [x, 0.5, True], {}, rng, compare=lambda o: o[0])


def check_dropout_backward(s, rng, shape, p: float) -> None:
    x = signed_inputs(rng, shape)
    dout = rng.standard_normal(shape)
    gen = rng_handle(s, seed_of(rng))
    fwd = f"dropout_forward(x of shape {shape}, p={p}, training=True, rng)"
    out, cache = unpack(
        run(fwd, lambda: s.call("dropout_forward", x, p, True, gen)), ("out", "cache"), fwd
    )
    keep = check_dropout_sample(out, x, p, fwd)
    bwd = "dropout_backward(dout, cache)"
    dx = as_array(run(bwd, lambda: s.call("dropout_backward", dout, cache)), f"dx of {bwd}", shape)
    expected = dout * keep / (1.0 - p)
    if not np.array_equal(np.abs(dx) > 0, keep):
        raise CheckFailure(
            f"dx of {bwd} (after {fwd}) is zero in different places than the forward output: "
            f"{int(np.count_nonzero((np.abs(dx) > 0) != keep))} of {dx.size} positions differ",
            "the backward pass must reuse the mask of the forward pass (store it in the cache), "
            "not draw a new one",
        )
    close(
        dx,
        expected,
        f"dx of {bwd} (after {fwd})",
        "dx = dout * mask / (1 - p), with the forward pass's mask",
        mistakes={
            "the gradient is not scaled: the forward pass divided by 1 - p, so must the "
            "backward pass": dout * keep,
            "the gradient was multiplied by 1 - p instead of divided": dout * keep * (1 - p),
        },
        rtol=1e-9,
        atol=0.0,
    )


@check(
    "dropout_backward",
    "training mode with p = 0.4 on a (60, 70) batch: dx = dout * mask / (1 - p) with the mask "
    "that the forward pass used (read from its output)",
)
def dropout_backward_training(s, rng):
    check_dropout_backward(s, rng, (60, 70), 0.4)


@check(
    "dropout_backward",
    "evaluation mode, and p = 0 in training mode: the gradient passes through unchanged",
)
def dropout_backward_identity(s, rng):
    x = signed_inputs(rng, (20, 15))
    dout = rng.standard_normal(x.shape)
    for p, training in ((0.6, False), (0.0, True)):
        fwd = f"dropout_forward(x, p={p}, training={training}, rng)"
        gen = rng_handle(s, seed_of(rng))
        res = run(fwd, lambda p=p, t=training, g=gen: s.call("dropout_forward", x, p, t, g))
        _, cache = unpack(res, ("out", "cache"), fwd)
        bwd = f"dropout_backward(dout, cache) after {fwd}"
        dx = run(bwd, lambda c=cache: s.call("dropout_backward", dout, c))
        close(dx, dout, f"dx of {bwd}", "nothing was dropped: dx = dout", rtol=1e-12, atol=0.0)


# -- Part 1: Monte Carlo dropout and ensembles ----------------------------------------------------


def torch_softmax(scores) -> np.ndarray:
    return torch.softmax(torch.as_tensor(np.asarray(scores, dtype=np.float64)), dim=-1).numpy()


def np_softmax(scores) -> np.ndarray:
    return torch_softmax(scores)


def check_ensemble(s, scores, label="") -> None:
    what = f"ensemble_average(scores of shape {scores.shape}){label}"
    got = run(what, lambda: s.call("ensemble_average", scores))
    expected = torch_softmax(scores).mean(axis=0)
    close(
        got,
        expected,
        what,
        "softmax of every member over the classes (last axis), then the mean over the members",
        mistakes=lambda: {
            "you averaged the scores and took the softmax of the average: average the "
            "probabilities instead": torch_softmax(scores.mean(axis=0)),
            "the softmax ran over the members (axis 0) instead of the classes": (
                torch.softmax(torch.from_numpy(scores), dim=0).numpy().mean(axis=0)
            ),
        },
        rtol=1e-9,
        atol=1e-12,
    )


def random_net(rng, d: int, h: int, k: int, out_scale: float) -> dict:
    return {
        "W1": rng.standard_normal((h, d)),
        "b1": 0.3 * rng.standard_normal(h),
        "W2": out_scale * rng.standard_normal((k, h)),
        "b2": 0.3 * rng.standard_normal(k),
    }


def net_scores(x, params) -> np.ndarray:
    """The network in evaluation mode, with torch in float64."""
    xt = torch.from_numpy(x)
    hidden = torch.relu(
        F.linear(xt, torch.from_numpy(params["W1"]), torch.from_numpy(params["b1"]))
    )
    return F.linear(hidden, torch.from_numpy(params["W2"]), torch.from_numpy(params["b2"])).numpy()


def exact_mc(x, params, p):
    """Mean, variance and fourth central moment of softmax(scores) over every dropout mask of the
    hidden layer (2**H masks, weighted by their probability). Shapes (N, K)."""
    hidden = np.maximum(0.0, x @ params["W1"].T + params["b1"])  # (N, H)
    h = hidden.shape[1]
    if p == 0.0:
        probs = torch_softmax(net_scores(x, params))
        zero = np.zeros_like(probs)
        return probs, zero, zero
    masks = ((np.arange(2**h)[:, None] >> np.arange(h)) & 1).astype(np.float64)  # (M, H)
    weights = np.prod(np.where(masks > 0, 1.0 - p, p), axis=1)  # (M,)
    scores = (hidden[:, None, :] * masks[None] / (1.0 - p)) @ params["W2"].T + params["b2"]
    probs = torch_softmax(scores)  # (N, M, K)
    mean = np.einsum("m,nmk->nk", weights, probs)
    dev = probs - mean[:, None, :]
    return mean, np.einsum("m,nmk->nk", weights, dev**2), np.einsum("m,nmk->nk", weights, dev**4)


def mc_tolerances(var, m4, t: int):
    """(mean tolerance, variance tolerance) for T samples, per entry (Bernstein; values in [0, 1])."""
    tol_mean = np.array([bernstein(t, v) / t for v in var.ravel()]).reshape(var.shape)
    tol_sq = np.array(
        [
            bernstein(t, max(f - v * v, 0.0)) / t
            for v, f in zip(var.ravel(), m4.ravel(), strict=True)
        ]
    )
    tol_var = tol_sq.reshape(var.shape) + tol_mean**2 + var / (t - 1) + 1e-12
    return tol_mean, tol_var


def detectable_net(rng, x_shape, h, k, p, t):
    """A random network whose Monte Carlo mean differs clearly from the softmax of the mean
    scores and whose spread is clearly non-zero, so that the classic mistakes are detectable."""
    for _ in range(200):
        params = random_net(rng, x_shape[1], h, k, out_scale=1.5)
        x = rng.standard_normal(x_shape)
        mean, var, m4 = exact_mc(x, params, p)
        tol_mean, tol_var = mc_tolerances(var, m4, t)
        gap = np.abs(torch_softmax(net_scores(x, params)) - mean)
        if np.max(gap / tol_mean) > 4.0 and np.max(var / tol_var) > 4.0:
            return x, params, (mean, var, m4, tol_mean, tol_var)
    raise RuntimeError("no suitable network found")  # pragma: no cover -- never happens


def check_mc(s, rng, x_shape, h, k, p, t) -> None:
    x, params, (mean, var, _, tol_mean, tol_var) = detectable_net(rng, x_shape, h, k, p, t)
    (res,), _, what = repeat(s, "mc_dropout_predict", [x, params, p, t], {}, seed_of(rng))
    got_mean, got_std = unpack(res, ("mean", "std"), what)
    got_mean = as_array(got_mean, f"mean of {what}", mean.shape)
    got_std = as_array(got_std, f"std of {what}", mean.shape)
    plain = torch_softmax(net_scores(x, params))
    if np.allclose(got_std, 0.0, atol=1e-12):
        raise CheckFailure(
            f"std of {what}: all zero, so every pass gave the same prediction",
            "Monte Carlo dropout keeps dropout ON at test time (training=True in the passes), "
            "with a new mask from rng in every pass"
            if np.allclose(got_mean, plain, atol=1e-9)
            else "draw a new mask in every pass, from the same rng",
        )
    err = np.abs(got_mean - mean)
    if np.any(err > tol_mean):
        idx = tuple(int(i) for i in np.unravel_index(np.argmax(err / tol_mean), err.shape))
        hint = None
        if np.all(np.abs(got_mean - plain) <= tol_mean):
            hint = (
                "this is the softmax of the average scores (or of evaluation mode): average the "
                "probabilities of the T passes instead"
            )
        raise CheckFailure(
            f"mean of {what}: at {idx} got {got_mean[idx]:.5f}, but the exact expectation over "
            f"all dropout masks is {mean[idx]:.5f}; with T = {t} passes a correct estimate is "
            f"within +-{tol_mean[idx]:.4f}",
            hint,
        )
    var_err = np.abs(got_std**2 - var)
    if np.any(var_err > tol_var):
        idx = tuple(int(i) for i in np.unravel_index(np.argmax(var_err / tol_var), var.shape))
        raise CheckFailure(
            f"std of {what}: at {idx} got {got_std[idx]:.5f}, but the exact standard deviation "
            f"of the probabilities over all dropout masks is {math.sqrt(var[idx]):.5f} (a "
            f"correct estimate from T = {t} passes has a variance within +-{tol_var[idx]:.2g})",
            "the standard deviation of the softmax probabilities over the T passes (np.std "
            "over axis 0), not of the scores",
        )


@check(
    "mc_dropout",
    "softmax and ensemble_average on (6, 5, 4) scores match torch.softmax (average of the "
    "members' probabilities); two_layer_forward in evaluation mode matches F.linear and "
    "torch.relu",
)
def mc_dropout_deterministic(s, rng):
    scores = 3.0 * rng.standard_normal((6, 5, 4))
    what = "softmax(scores of shape (5, 4))"
    close(
        run(what, lambda: s.call("softmax", scores[0])), torch_softmax(scores[0]), what, rtol=1e-9
    )
    check_ensemble(s, scores)
    params = random_net(rng, 6, 7, 3, 1.0)
    x = rng.standard_normal((4, 6))
    what = "two_layer_forward(x of shape (4, 6), params, p=0.5, training=False, rng=None)"
    got = run(what, lambda: s.call("two_layer_forward", x, params, 0.5, False, None))
    close(
        got,
        net_scores(x, params),
        what,
        "x @ W1.T + b1, ReLU, dropout (the identity in evaluation mode), then @ W2.T + b2",
        rtol=1e-9,
    )


@check(
    "mc_dropout",
    "mc_dropout_predict with p = 0.5 and T = 5000 passes on a network with 8 hidden units: the "
    "mean and standard deviation of the probabilities agree with their exact values over all "
    "256 dropout masks, within sampling bounds; with p = 0 the mean is the plain prediction and "
    "the spread zero",
)
def mc_dropout_statistics(s, rng):
    check_mc(s, rng, (5, 6), 8, 3, 0.5, 5000)
    params = random_net(rng, 4, 6, 3, 1.0)
    x = rng.standard_normal((3, 4))
    (res,), _, what = repeat(s, "mc_dropout_predict", [x, params, 0.0, 20], {}, seed_of(rng))
    got_mean, got_std = unpack(res, ("mean", "std"), what)
    close(got_mean, torch_softmax(net_scores(x, params)), f"mean of {what}", rtol=1e-9)
    # 1e-7, not 0: the spread through E[P^2] - E[P]^2 loses about half of the digits
    close(got_std, np.zeros((3, 3)), f"std of {what}", atol=1e-7)


# -- Part 2: L2 penalty -------------------------------------------------------------------------


def l2_oracle(params: dict, lam: float):
    tensors = {k: torch.tensor(v, dtype=F64, requires_grad=True) for k, v in params.items()}
    penalty = sum(
        (0.5 * lam * (t * t).sum() for k, t in tensors.items() if k.startswith("W")),
        torch.zeros((), dtype=F64),
    )
    penalty.backward()
    grads = {
        k: (t.grad.numpy() if t.grad is not None else np.zeros(t.shape)) for k, t in tensors.items()
    }
    return float(penalty.detach()), grads


def check_l2(s, params: dict, lam: float, label="") -> None:
    what = f"l2_penalty(params with keys {sorted(params)}, weight_decay={lam}){label}"
    res = run(what, lambda: s.call("l2_penalty", params, lam))
    penalty, grads = unpack(res, ("penalty", "grads"), what)
    exp_penalty, exp_grads = l2_oracle(params, lam)
    squares = {k: float(np.sum(v * v)) for k, v in params.items()}
    weights_sq = sum(v for k, v in squares.items() if k.startswith("W"))
    close(
        penalty,
        exp_penalty,
        f"penalty of {what}",
        "lambda / 2 times the sum of the squared entries of the weight matrices (names "
        "starting with 'W')",
        mistakes={
            "the factor 1/2 is missing: R = lambda / 2 * sum ||W||^2": lam * weights_sq,
            "the biases were penalised too: only names starting with 'W' count": 0.5
            * lam
            * sum(squares.values()),
            "the norms were not squared": 0.5
            * lam
            * sum(math.sqrt(v) for k, v in squares.items() if k.startswith("W")),
        },
        rtol=1e-9,
        atol=1e-15,
    )
    if not isinstance(grads, dict) or sorted(map(str, grads)) != sorted(params):
        raise CheckFailure(
            f"grads of {what}: expected a dict with the keys {sorted(params)}, got "
            f"{sorted(map(str, grads)) if isinstance(grads, dict) else describe(grads)}",
            "return a gradient for every parameter, zeros for the ones that are not penalised",
        )
    for k in sorted(params):
        close(
            grads[k],
            exp_grads[k],
            f"grads[{k!r}] of {what}",
            "lambda * W for weight matrices, zeros for the others",
            mistakes={
                "the gradient is 2 * lambda * W: with the factor 1/2 in the penalty it is "
                "lambda * W": 2 * lam * params[k],
                "a bias got a gradient: only names starting with 'W' are penalised": lam
                * params[k],
                "the gradient has the wrong sign": -lam * params[k],
            },
            rtol=1e-9,
            atol=1e-15,
        )


@check(
    "l2_penalty",
    "a two-layer network's parameters (W1, b1, W2, b2) with weight_decay = 0.01: the penalty "
    "and every gradient match autograd of (lambda / 2) * sum ||W||^2 over the weights only",
)
def l2_basic(s, rng):
    params = {
        "W1": rng.standard_normal((5, 4)),
        "b1": rng.standard_normal(5),
        "W2": rng.standard_normal((3, 5)),
        "b2": rng.standard_normal(3),
    }
    check_l2(s, params, 0.01)


# -- Part 2: early stopping ---------------------------------------------------------------------


class EarlyStoppingOracle:
    """The specification of the notebook, written independently."""

    def __init__(self, patience, min_delta, mode):
        self.patience, self.min_delta, self.sign = (
            patience,
            min_delta,
            1.0 if mode == "min" else -1.0,
        )
        self.best_value = math.inf * self.sign
        self.best_epoch, self.bad_epochs, self.epoch = -1, 0, -1

    def step(self, value):
        self.epoch += 1
        if self.sign * value < self.sign * self.best_value - self.min_delta:
            self.best_value, self.best_epoch, self.bad_epochs = value, self.epoch, 0
            return False
        self.bad_epochs += 1
        return self.bad_epochs >= self.patience


def curve(rng, length, mode, step=1.0 / 64.0):
    """A validation curve on a grid of ``step`` (exact in binary): noisy progress, then a
    worsening tail. Values are multiples of ``step``, so ties and exact min_delta gaps occur."""
    ticks = [int(rng.integers(40, 80))]
    for t in range(1, length):
        drift = -2 if t < length * 0.6 else 1
        ticks.append(ticks[-1] + drift + int(rng.integers(-2, 3)))
    values = np.array(ticks, dtype=np.float64) * step
    return values if mode == "min" else 2.0 - values


def scripted_run(rng, kwargs, values):
    """Updates for the probe and the expected records (up to the first stop)."""
    oracle = EarlyStoppingOracle(kwargs["patience"], kwargs["min_delta"], kwargs["mode"])
    updates = [(rng.standard_normal((2, 3)), rng.standard_normal(2)) for _ in values]
    cum_w, cum_b = (
        np.cumsum([u[0] for u in updates], axis=0),
        np.cumsum([u[1] for u in updates], axis=0),
    )
    expected = []
    for value in values:
        stop = oracle.step(float(value))
        e = oracle.best_epoch
        expected.append(
            {
                "returned": stop,
                "best_value": oracle.best_value,
                "best_epoch": e,
                "bad_epochs": oracle.bad_epochs,
                "params": None if e < 0 else {"W": cum_w[e], "b": cum_b[e]},
            }
        )
        if stop:
            break
    return updates, expected


def check_early_stopping(s, rng, kwargs, values, label="") -> None:
    updates, expected = scripted_run(rng, kwargs, values)
    what = f"EarlyStopping({', '.join(f'{k}={v!r}' for k, v in kwargs.items())}){label}"
    records = run(
        what,
        lambda: s.probe("a5_dropout.early_stopping", kwargs, list(map(float, values)), updates),
    )
    if not isinstance(records, list) or len(records) != len(values):
        raise CheckFailure(f"{what}: the tracker could not be driven through the curve")
    for t, (got, exp) in enumerate(zip(records[: len(expected)], expected, strict=True)):
        so_far = ", ".join(f"{v:g}" for v in values[: t + 1])
        where = f"{what}, after step() of epoch {t} (values so far: {so_far})"
        if got["returned"] != exp["returned"]:
            raise CheckFailure(
                f"{where}: step returned {got['returned']}, expected {exp['returned']} (bad "
                f"epochs: expected {exp['bad_epochs']})",
                "stop when the epoch did not improve and bad_epochs >= patience; an improvement "
                "must beat the best value by MORE than min_delta",
            )
        for name in ("best_epoch", "bad_epochs"):
            value = got[name]
            if isinstance(value, dict) or value is None or int(value) != exp[name]:
                raise CheckFailure(
                    f"{where}: {name} is {value!r}, expected {exp[name]}",
                    "reset bad_epochs to 0 on every improvement"
                    if name == "bad_epochs" and exp["bad_epochs"] == 0
                    else "an epoch improves only if value < best_value - min_delta (mode 'min') "
                    "or value > best_value + min_delta (mode 'max')",
                )
        best = got["best_value"]
        if (
            isinstance(best, dict)
            or best is None
            or not math.isclose(float(best), exp["best_value"])
        ):
            raise CheckFailure(
                f"{where}: best_value is {best!r}, expected {exp['best_value']}",
                "best_value changes only on an improvement, to the value of that epoch",
            )
        if got.get("should_stop") != exp["returned"]:
            raise CheckFailure(
                f"{where}: should_stop is {got.get('should_stop')!r}, expected {exp['returned']}"
            )
        snap, want = got["best_params"], exp["params"]
        if want is not None:
            if not isinstance(snap, dict) or sorted(snap) != ["W", "b"]:
                raise CheckFailure(f"{where}: best_params is {describe(snap)}, expected a dict")
            if not (np.allclose(snap["W"], want["W"]) and np.allclose(snap["b"], want["b"])):
                hint = "store a deep copy: copy.deepcopy(params)"
                cur_w = np.sum([u[0] for u in updates[: t + 1]], axis=0)
                if np.allclose(snap["W"], cur_w):
                    hint = (
                        "best_params follows the current parameters: the loop updates them in "
                        "place, so a reference (or dict(params), a shallow copy) changes with "
                        "them; store copy.deepcopy(params)"
                    )
                raise CheckFailure(
                    f"{where}: best_params does not hold the parameters of epoch "
                    f"{exp['best_epoch']} (the best one)",
                    hint,
                )


@check(
    "early_stopping",
    "mode 'min', patience 3, min_delta 1/64 on a noisy validation curve whose parameters change "
    "in place every epoch: what step returns, best_value, best_epoch, bad_epochs and a "
    "best_params snapshot that does not follow later updates, epoch by epoch until it stops",
)
def early_stopping_min(s, rng):
    kwargs = {"patience": 3, "min_delta": 1.0 / 64.0, "mode": "min"}
    check_early_stopping(s, rng, kwargs, curve(rng, 40, "min"))


@check(
    "early_stopping",
    "mode 'max' (an accuracy), patience 2, min_delta 0",
)
def early_stopping_max(s, rng):
    kwargs = {"patience": 2, "min_delta": 0.0, "mode": "max"}
    check_early_stopping(s, rng, kwargs, curve(rng, 40, "max"))


# -- Part 3: flips and crops --------------------------------------------------------------------


def check_hflip(s, x) -> None:
    what = f"hflip(x of shape {x.shape})"
    once = run(what, lambda: s.call("hflip", x))
    close(
        once,
        x[..., ::-1],
        what,
        "reverse the last (width) axis: x[..., ::-1]",
        mistakes={
            "you flipped vertically (the height axis): a horizontal flip reverses the width, "
            "the last axis": x[..., ::-1, :],
            "you reversed the channel axis": x[:, ::-1],
            "you reversed the order of the batch": x[::-1],
        },
        rtol=0.0,
        atol=0.0,
    )
    twice = run("hflip(hflip(x))", lambda: s.call("hflip", as_array(once, what)))
    close(twice, x, "hflip(hflip(x)), which must be x", rtol=0.0, atol=0.0)


def flipped_mask(out, x, what) -> np.ndarray:
    """Which images of ``out`` are flips of ``x`` (the others must equal x)."""
    out = as_array(out, what, x.shape)
    same = np.all(out == x, axis=(1, 2, 3))
    flipped = np.all(out == x[..., ::-1], axis=(1, 2, 3))
    neither = ~(same | flipped)
    if neither.any():
        i = int(np.argmax(neither))
        hint = None
        if np.all(out[i] == x[i, :, ::-1]):
            hint = "image flipped vertically: a horizontal flip reverses the last axis"
        raise CheckFailure(
            f"{what}: image {i} (and {int(neither.sum()) - 1} more) is neither the input image "
            "nor its horizontal flip",
            hint,
        )
    return flipped


def check_random_flip(s, rng, n, p, module=False) -> None:
    x = noise_images(rng, (n, 1, 3, 5))
    if module:
        out, what = run_module(s, "BatchHFlip", [], {"p": p}, seed_of(rng), x, "float32")
        x = x.astype(np.float32).astype(np.float64)
    else:
        (out,), unchanged, what = repeat(s, "random_hflip", [x], {"p": p}, seed_of(rng))
        expect_unchanged(unchanged, what)
    flipped = flipped_mask(out, x, f"output of {what}")

    def hint(f):
        if f in (0.0, 1.0):
            return "one coin flip per image, not one for the whole batch"
        if abs(f - (1.0 - p)) < 0.03:
            return "flip when the draw is < p: p is the probability of flipping"
        return None

    expect_count(int(flipped.sum()), n, p, f"flipped images in {what}", hint)


def np_pad(x, padding, fill, value=0.0) -> np.ndarray:
    pad_width = ((0, 0), (0, 0), (padding, padding), (padding, padding))
    if fill == "constant":
        return np.pad(x, pad_width, mode="constant", constant_values=value)
    return np.pad(x, pad_width, mode=fill)


def window_matches(padded, out, size) -> np.ndarray:
    """(N, positions in y, positions in x): whether out[n] is that window of padded[n]."""
    windows = sliding_window_view(padded, (size, size), axis=(2, 3))
    return np.all(windows == out[:, :, None, None], axis=(1, 4, 5))


def position_hints(name: str):
    def hints(counts):
        if counts[-1] == 0 and counts[:-1].sum() > 0:
            return (
                f"the last {name} never occurs: the high end of rng.integers (and torch.randint) "
                "is exclusive, so it must be H + 2 * padding - size + 1"
            )
        if counts[0] == 0 and counts[1:].sum() > 0:
            return f"the {name} 0 never occurs: the window can start at the very first row"
        if np.count_nonzero(counts) == 1:
            return "every image was cropped at the same position: draw one position per image"
        return None

    return hints


def check_crop_output(out, x, size, padding, fill, value, what) -> None:
    n, c, h, w = x.shape
    out = as_array(out, f"output of {what}", (n, c, size, size))
    match = window_matches(np_pad(x, padding, fill, value), out, size)
    found = match.reshape(n, -1).any(axis=1)
    if not found.all():
        i = int(np.argmin(found))
        hint = None
        for other in FILL_MODES:
            if (
                other != fill
                and window_matches(
                    np_pad(x[i : i + 1], padding, other, 0.0), out[i : i + 1], size
                ).any()
            ):
                hint = (
                    f"the crop is a window of the image padded in mode {other!r}, not {fill!r}: "
                    "pass the fill mode to np.pad (and constant_values=value for 'constant')"
                )
                break
        raise CheckFailure(
            f"output of {what}: crop {i} (and {int((~found).sum()) - 1} more) is not a "
            f"{size}x{size} window of the input padded by {padding} in mode {fill!r}",
            hint
            or "pad on all four sides by `padding`, then cut rows top:top+size and columns "
            "left:left+size of that image",
        )
    flat = match.reshape(n, -1).argmax(axis=1)
    ny, nx = match.shape[1:]
    tops, lefts = flat // nx, flat % nx
    expect_uniform_counts(
        tops, np.arange(ny), f"top rows of the crops of {what}", position_hints("top row")
    )
    expect_uniform_counts(
        lefts, np.arange(nx), f"left columns of the crops of {what}", position_hints("left column")
    )
    if n / (ny * nx) >= 50:  # enough draws per cell to see a dependence between the two
        expect_uniform_counts(
            flat,
            np.arange(ny * nx),
            f"positions (top * {nx} + left) of the crops of {what}",
            lambda counts: (
                "the top row and the left column must be drawn independently"
                if np.count_nonzero(counts) <= max(ny, nx)
                else None
            ),
        )


def check_random_crop(s, rng, n, shape, size, padding, fill="constant", value=None, module=False):
    x = noise_images(rng, (n, *shape))
    kwargs = {"fill": fill}
    if value is not None:
        kwargs["value"] = value
    if module:
        out, what = run_module(
            s, "BatchRandomCrop", [size], {"padding": padding, **kwargs}, seed_of(rng), x, "float32"
        )
        x = x.astype(np.float32).astype(np.float64)
    else:
        (out,), unchanged, what = repeat(s, "random_crop", [x, size, padding], kwargs, seed_of(rng))
        expect_unchanged(unchanged, what)
    check_crop_output(out, x, size, padding, fill, value or 0.0, what)


@check(
    "flip_crop",
    "hflip reverses the width axis, and hflip(hflip(x)) is x; random_hflip with p = 0.5 and "
    "p = 0.2 on 3000 images: each output image is the input or its flip, and the fraction "
    "flipped is about p",
)
def flip_basic(s, rng):
    check_hflip(s, noise_images(rng, (3, 2, 4, 5)))
    check_random_flip(s, rng, 3000, 0.5)
    check_random_flip(s, rng, 3000, 0.2)


@check(
    "flip_crop",
    "random_crop(size 6, padding 2, fill 'constant') on 2000 images of 2 x 6 x 7: every crop is "
    "a window of the zero-padded image, and all 5 x 6 positions occur equally often (top rows "
    "and left columns drawn uniformly and independently, both ends included)",
)
def crop_constant(s, rng):
    check_random_crop(s, rng, 2000, (2, 6, 7), 6, 2)


# -- Part 3: colour jitter and noise ------------------------------------------------------------


def jitter_factors(out, x, what):
    """Recover each image's brightness b and contrast c from out = c b x + (1 - c) b mean(x)."""
    n = x.shape[0]
    out = as_array(out, f"output of {what}", x.shape)
    xs, os_ = x.reshape(n, -1), out.reshape(n, -1)
    xm = xs.mean(axis=1)
    xc = xs - xm[:, None]
    a = np.sum(xc * (os_ - os_.mean(axis=1, keepdims=True)), axis=1) / np.sum(xc * xc, axis=1)
    d = os_.mean(axis=1) - a * xm
    resid = np.abs(os_ - (a[:, None] * xs + d[:, None])).max(axis=1)
    scale = np.abs(os_).max(axis=1) + 1e-12
    bad = resid > 1e-9 * scale
    if bad.any():
        i = int(np.argmax(bad))
        raise CheckFailure(
            f"output of {what}: image {i} (and {int(bad.sum()) - 1} more) is not a * x + d for "
            "one pair of numbers (a, d) per image",
            "use one brightness and one contrast factor per image, the same for all its channels "
            "and pixels, and blend with the mean over (C, H, W) of the brightened image",
        )
    b = a + d / xm
    with np.errstate(divide="ignore", invalid="ignore"):
        c = np.where(np.abs(b) > 1e-12, a / b, np.nan)
    return b, c


def check_jitter(s, rng, n, brightness, contrast) -> None:
    x = noise_images(rng, (n, 3, 4, 5))
    (out,), unchanged, what = repeat(s, "color_jitter", [x, brightness, contrast], {}, seed_of(rng))
    expect_unchanged(unchanged, what)
    b, c = jitter_factors(out, x, what)
    blend = blend_mistake(out, x, brightness, contrast)
    for name, values, spread in (("brightness", b, brightness), ("contrast", c, contrast)):
        lo, hi = max(0.0, 1.0 - spread), 1.0 + spread
        use = values[np.isfinite(values)] if name == "contrast" else values
        if name == "contrast" and brightness >= 1.0:
            use = c[b > 0.05]  # c is ill-determined when b is nearly 0
        if spread == 0.0:
            close(
                use,
                np.ones_like(use),
                f"{name} factors of {what}",
                "a spread of 0 means the factor 1",
                atol=1e-9,
            )
            continue
        outside = (use < lo - 1e-9) | (use > hi + 1e-9)
        if outside.any():
            raise CheckFailure(
                f"{what}: {int(outside.sum())} {name} factors outside [{lo:g}, {hi:g}] (e.g. "
                f"{use[outside][0]:.4g})",
                blend or f"draw the {name} factor from U[max(0, 1 - {name}), 1 + {name}]",
            )
        expect_distribution(
            use,
            uniform_cdf(lo, hi),
            f"U[{lo:g}, {hi:g}]",
            f"{name} factors of {what} (recovered from each image)",
            blend
            or "one uniform draw per image; contrast blends the brightened image with its own mean",
        )


def blend_mistake(out, x, brightness: float, contrast: float) -> str | None:
    """The hint for out = c b x + (1 - c) mean(x) (contrast towards the mean of the original
    image, not of the brightened one), when every image fits that model with factors in range."""
    n = x.shape[0]
    xs, os_ = x.reshape(n, -1), np.asarray(out, dtype=np.float64).reshape(n, -1)
    xm = xs.mean(axis=1)
    xc = xs - xm[:, None]
    a = np.sum(xc * (os_ - os_.mean(axis=1, keepdims=True)), axis=1) / np.sum(xc * xc, axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        c = 1.0 - (os_.mean(axis=1) - a * xm) / xm  # d = (1 - c) mean(x)
        b = a / c
    if not np.all(np.isfinite(b) & np.isfinite(c)):
        return None
    # The model fits when the factors it recovers follow their uniform distributions (one
    # contrast factor for the whole batch also fits the ranges, but not the distribution).
    for values, spread in ((b, brightness), (c, contrast)):
        lo, hi = max(0.0, 1.0 - spread), 1.0 + spread
        if spread == 0.0 or np.any((values < lo - 1e-9) | (values > hi + 1e-9)):
            return None
        if ks_distance(values, uniform_cdf(lo, hi)) > dkw_limit(values.size):
            return None
    return (
        "contrast blends towards the mean of the brightened image, b * mean(x), not mean(x): "
        "scale by b first, then blend with the mean of the result"
    )


def check_noise(s, rng, shape, std) -> None:
    x = noise_images(rng, shape)
    (out,), unchanged, what = repeat(s, "gaussian_noise", [x, std], {}, seed_of(rng))
    expect_unchanged(unchanged, what)
    r = as_array(out, f"output of {what}", shape) - x
    n = r.size
    mean = float(r.mean())
    expect(
        abs(mean) <= 6.5 * std / math.sqrt(n),
        f"{what}: the noise (out - x) has mean {mean:.4g}; expected 0 (+-{6.5 * std / math.sqrt(n):.2g})",
    )
    ratio = float(np.mean(r * r)) / std**2
    if abs(ratio - 1.0) > 6.5 * math.sqrt(2.0 / n):
        hint = None
        if abs(ratio - std**2) < 0.05 * std**2:
            hint = "std is the standard deviation: scale standard normal draws by std, not std**2"
        elif abs(math.sqrt(ratio) - 1 / std) < 0.05 / std:
            hint = "the noise was not scaled by std"
        raise CheckFailure(
            f"{what}: the noise has a standard deviation of {math.sqrt(ratio) * std:.5g}; "
            f"expected {std:.5g} (+-{50 * 6.5 * math.sqrt(2.0 / n):.2g}%)",
            hint,
        )
    expect_distribution(
        r, normal_cdf(std), f"N(0, {std:g}^2)", f"noise (out - x) of {what}", "draw N(0, 1) values"
    )
    flat = r.reshape(shape[0], -1)
    corr = float(np.mean(flat[1:] * flat[:-1])) / std**2
    limit = 6.5 / math.sqrt(flat[1:].size)
    expect(
        abs(corr) <= limit,
        f"{what}: the noise of consecutive images is correlated ({corr:.3g}); independent draws "
        f"give 0 +- {limit:.2g}",
        "draw independent noise for every value: rng.standard_normal(x.shape)",
    )


@check(
    "photometric",
    "color_jitter(brightness 0.4, contrast 0.3) on 3000 images of 3 x 4 x 5: every output image "
    "is c * b * x + (1 - c) * b * mean(x), and the recovered factors b and c are uniform on "
    "[0.6, 1.4] and [0.7, 1.3] (Kolmogorov-Smirnov bound)",
)
def jitter_basic(s, rng):
    check_jitter(s, rng, 3000, 0.4, 0.3)


@check(
    "photometric",
    "gaussian_noise(std 0.3) on (300, 3, 8, 8) images: the noise has mean 0, standard deviation "
    "0.3, a normal distribution, and is independent between images; the input is not modified",
)
def noise_basic(s, rng):
    check_noise(s, rng, (300, 3, 8, 8), 0.3)


# -- Part 3: cutout -----------------------------------------------------------------------------


def cutout_corners(out, x, size, what):
    """The (top, left) corner of each image's square, before clipping."""
    n, c, h, w = x.shape
    out = as_array(out, f"output of {what}", x.shape)
    zero = out == 0.0
    changed = out != x
    if np.any(changed & ~zero):
        i = int(np.argmax(np.any(changed & ~zero, axis=(1, 2, 3))))
        raise CheckFailure(
            f"output of {what}: image {i} has values that are neither unchanged nor zero",
            "set the square to zero and leave every other value as it was",
        )
    if c > 1 and np.any(zero != zero[:, :1]):
        i = int(np.argmax(np.any(zero != zero[:, :1], axis=(1, 2, 3))))
        raise CheckFailure(
            f"output of {what}: image {i} has different zeroed pixels in different channels",
            "zero the same square in every channel: index with [:, :, rows, cols] or a mask of "
            "shape (N, 1, H, W)",
        )
    z = zero[:, 0]
    rows, cols = z.any(axis=2), z.any(axis=1)
    if not rows.any(axis=1).all():
        i = int(np.argmin(rows.any(axis=1)))
        raise CheckFailure(
            f"output of {what}: image {i} has no zeroed pixel", "every image gets a square"
        )
    rect = rows[:, :, None] & cols[:, None, :]
    if np.any(rect != z):
        i = int(np.argmax(np.any(rect != z, axis=(1, 2))))
        raise CheckFailure(
            f"output of {what}: the zeroed pixels of image {i} do not form a rectangle"
        )
    top, left = rows.argmax(axis=1), cols.argmax(axis=1)
    height, width = rows.sum(axis=1), cols.sum(axis=1)
    for name, start, extent, limit in (("rows", top, height, h), ("columns", left, width, w)):
        end = start + extent
        wrong = (extent > size) | ((extent < size) & (start > 0) & (end < limit))
        if wrong.any():
            i = int(np.argmax(wrong))
            raise CheckFailure(
                f"output of {what}: the square of image {i} spans {int(extent[i])} {name} "
                f"({int(start[i])} to {int(end[i]) - 1}); expected {size}, fewer only where it is "
                "clipped at the border",
                "the square covers [c - size // 2, c - size // 2 + size), clipped to the image",
            )
    y0 = np.where((top == 0) & (height < size), top + height - size, top)
    x0 = np.where((left == 0) & (width < size), left + width - size, left)
    return y0, x0


def corner_hints(name):
    def hints(counts):
        half = len(counts)
        if counts[0] == 0 and counts[-1] == 0:
            return (
                f"the square never sticks out over the border: draw the centre among all "
                f"{name} (rng.integers(0, H)) and clip the square, do not keep it inside"
            )
        if counts[-1] == 0:
            return "the last centre never occurs: rng.integers(0, H) already includes H - 1"
        if counts[0] == 0:
            return "the first centre (row or column 0) never occurs"
        del half
        return None

    return hints


def check_cutout_output(out, x, size, what) -> None:
    h, w = x.shape[2:]
    y0, x0 = cutout_corners(out, x, size, what)
    expect_uniform_counts(
        y0,
        np.arange(-(size // 2), h - size // 2),
        f"top rows (cy - size // 2) of the squares of {what}",
        corner_hints("rows"),
    )
    expect_uniform_counts(
        x0,
        np.arange(-(size // 2), w - size // 2),
        f"left columns (cx - size // 2) of the squares of {what}",
        corner_hints("columns"),
    )


def check_cutout(s, rng, n, shape, size, module=False) -> None:
    x = noise_images(rng, (n, *shape))
    if module:
        out, what = run_module(s, "BatchCutout", [size], {}, seed_of(rng), x, "float32")
        x = x.astype(np.float32).astype(np.float64)
    else:
        (out,), unchanged, what = repeat(s, "cutout", [x, size], {}, seed_of(rng))
        expect_unchanged(unchanged, what)
    check_cutout_output(out, x, size, what)


@check(
    "cutout",
    "cutout(size 4) on 3000 images of 2 x 7 x 9: each image differs from its input by exactly "
    "one zeroed 4 x 4 square (the same in both channels), clipped only at the border, whose "
    "centre is uniform over all pixels",
)
def cutout_basic(s, rng):
    check_cutout(s, rng, 3000, (2, 7, 9), 4)


# -- Part 3: mixup ------------------------------------------------------------------------------


def recover_mix(x, outs, what, tol=1e-9):
    """For M mixups of the rows of ``x`` (N, ...), given as ``outs`` (M, N, ...): each call's lam
    and, per row, its partner.

    Returns ``(lam, partner, known)`` of shapes (M,), (M, N), (M, N): ``partner[m, i]`` is the
    j != i with out_i = lam x_i + (1 - lam) x_j, and ``known[m, i]`` whether that partner is
    certain. It is not when out_i = x_i (the permutation kept i in place, or lam is 1 to within
    rounding) or when several j fit (lam within about 1e-9 of 1); such rows equal x_i to about
    1e-8. ``lam`` is nan for a call where no row tells it. Fails when a row is not a blend of two
    rows, or the rows of one call disagree on lam.
    """
    n = x.shape[0]
    m = outs.shape[0]
    x = x.reshape(n, -1)
    out = outs.reshape(m, n, -1)
    scale = np.abs(x).max() + 1e-300
    fixed = np.abs(out - x).max(axis=2) <= 1e-12 * scale  # (M, N)
    diff = x[:, None, :] - x[None, :, :]  # x_i - x_j, (N, N, D)
    target = out[:, :, None, :] - x[None, None, :, :]  # out_i - x_j, (M, N, N, D)
    denom = np.sum(diff * diff, axis=2)
    np.fill_diagonal(denom, 1.0)
    lam = np.sum(target * diff, axis=3) / denom  # (M, N, N)
    resid = np.abs(target - lam[..., None] * diff).max(axis=3)
    resid[:, np.arange(n), np.arange(n)] = np.inf
    order = np.argsort(resid, axis=2)
    partner, second = order[..., 0], order[..., 1]
    rows = np.arange(n)[None, :]
    calls = np.arange(m)[:, None]
    best = resid[calls, rows, partner]
    bad = ~fixed & (best > tol * scale)
    if bad.any():
        c, i = (int(v) for v in np.argwhere(bad)[0])
        where = f"call {c}: " if m > 1 else ""
        raise CheckFailure(
            f"{what}: {where}row {i} (and {int(bad.sum()) - 1} more) of the mixed inputs is "
            "not lam * x[i] + (1 - lam) * x[j] for any other row j",
            "blend every example with the example the permutation assigns to it: "
            "lam * x + (1 - lam) * x[perm]",
        )
    known = ~fixed & (resid[calls, rows, second] > tol * scale)
    row_lam = lam[calls, rows, partner]
    spread = np.where(fixed, -np.inf, row_lam).max(axis=1) - np.where(fixed, np.inf, row_lam).min(
        axis=1
    )
    if np.any(spread > 1e-7):
        c = int(np.argmax(spread))
        where = f" (call {c})" if m > 1 else ""
        raise CheckFailure(
            f"{what}: different rows were mixed with different weights{where}, from "
            f"{row_lam[c][~fixed[c]].min():.4f} to {row_lam[c][~fixed[c]].max():.4f}",
            "draw ONE lam per batch and use it for every example",
        )
    count = np.count_nonzero(~fixed, axis=1)
    total = np.where(fixed, 0.0, row_lam).sum(axis=1)
    call_lam = np.where(count > 0, total / np.maximum(count, 1), np.nan)
    return call_lam, np.where(known, partner, rows), known


def check_mixup_calls(x, y, outs, what, need_perm=True) -> np.ndarray:
    """Each output ``(x_mix, y_mix)`` of ``mixup(x, y, ...)`` must be one blend of the batch with
    a permutation of it, inputs and targets alike. Returns the weights lam (1 where x_mix = x)."""
    pairs = [unpack(o, ("x_mix", "y_mix"), what) for o in outs]
    x_mix = np.stack([as_array(a, f"x_mix of {what}", x.shape) for a, _ in pairs])
    y_mix = np.stack([as_array(b, f"y_mix of {what}", y.shape) for _, b in pairs])
    lam, partner, known = recover_mix(x, x_mix, f"x_mix of {what}")
    if need_perm:
        for c in range(len(outs)):
            if np.unique(partner[c][known[c]]).size != np.count_nonzero(known[c]):
                raise CheckFailure(
                    f"x_mix of {what}: two rows were mixed with the same partner",
                    "use a permutation of the batch (rng.permutation(N)), so that every example "
                    "is used once as a partner",
                )
    lam_b = np.nan_to_num(lam, nan=1.0)[:, None, None]
    mixed = lam_b * y[None] + (1.0 - lam_b) * y[partner]
    expected = np.where(known[..., None], mixed, y[None])
    err = np.abs(y_mix - expected)
    tol = np.where(known[..., None], 1e-12 + 1e-9 * np.abs(expected), 1e-6)
    if np.any(err > tol):
        c, i, j = (int(v) for v in np.argwhere(err > tol)[0])
        hint = "mix the targets with the same lam and the same permutation as the inputs"
        if np.allclose(y_mix[c], y):
            hint = "the targets were not mixed"
        where = f"call {c}, " if len(outs) > 1 else ""
        raise CheckFailure(
            f"y_mix of {what}: {where}row {i}, class {j}: got {y_mix[c, i, j]:.6g}, expected "
            f"{expected[c, i, j]:.6g} = lam * y[i] + (1 - lam) * y[perm[i]] with lam = "
            f"{lam_b[c, 0, 0]:.6f} and the permutation read from x_mix",
            hint,
        )
    return lam_b[:, 0, 0]


def one_hot(rng, n, k):
    return np.eye(k)[rng.integers(0, k, size=n)]


def check_mixup_once(s, rng, n, alpha, soft=False) -> None:
    x = rng.standard_normal((n, 1, 3, 4))
    y = rng.dirichlet(np.ones(5), size=n) if soft else one_hot(rng, n, 5)
    outs, unchanged, what = repeat(s, "mixup", [x, y, alpha], {}, seed_of(rng))
    expect_unchanged(unchanged, what)
    check_mixup_calls(x, y, outs, what)


def check_beta(lams, alpha, what, hint_extra) -> None:
    hint = None
    if abs(np.mean(lams) - 0.5) > 0.1:
        hint = "lam ~ Beta(alpha, alpha) is symmetric around 0.5"
    elif abs(np.var(lams) - 1.0 / 12.0) < 0.01 and abs(alpha - 1.0) > 0.3:
        hint = "lam looks uniform: draw it from Beta(alpha, alpha)"
    expect_distribution(
        lams, beta_cdf(alpha, alpha), f"Beta({alpha:g}, {alpha:g})", what, hint or hint_extra
    )


def check_mixup_distribution(s, rng, alpha, calls) -> None:
    x = rng.standard_normal((6, 5))
    y = one_hot(rng, 6, 3)
    outs, _, what = repeat(s, "mixup", [x, y, alpha], {}, seed_of(rng), calls)
    lams = check_mixup_calls(x, y, outs, what, need_perm=False)
    check_beta(
        lams, alpha, f"the weights lam of {calls} calls of {what}", "use rng.beta(alpha, alpha)"
    )


@check(
    "mixup",
    "mixup(alpha = 1) on 24 images with one-hot targets: x_mix is lam * x + (1 - lam) * x[perm] "
    "for one lam and a permutation perm (read back from the data), and y_mix uses the same lam "
    "and perm; the inputs are not modified",
)
def mixup_basic(s, rng):
    check_mixup_once(s, rng, 24, 1.0)


@check(
    "mixup",
    "the weights lam of 1500 calls with alpha = 0.4 follow Beta(0.4, 0.4) (Kolmogorov-Smirnov "
    "bound)",
)
def mixup_beta(s, rng):
    check_mixup_distribution(s, rng, 0.4, 1500)


# -- Part 3: label smoothing --------------------------------------------------------------------


def check_smooth(s, labels, k, eps, label="") -> None:
    what = f"smooth_labels(labels of shape {labels.shape}, num_classes={k}, eps={eps}){label}"
    got = run(what, lambda: s.call("smooth_labels", labels, k, eps))
    got = as_array(got, what, (labels.size, k))
    sums = got.sum(axis=1)
    onehot = np.eye(k)[labels]
    expected = onehot * (1.0 - eps) + (1.0 - onehot) * eps / (k - 1)
    if not np.allclose(sums, 1.0, rtol=0, atol=1e-12):
        raise CheckFailure(
            f"{what}: the rows sum to {sums[0]:.6g} (row 0), not 1",
            "the k - 1 wrong classes share eps: eps / (k - 1) each, and the right class gets "
            "1 - eps"
            if np.allclose(got, onehot * (1 - eps) + (1 - onehot) * eps / k)
            else None,
        )
    close(
        got,
        expected,
        what,
        "1 - eps on the label, eps / (k - 1) on every other class",
        mistakes={
            "this is PyTorch's convention (eps / k everywhere plus 1 - eps on the label); the "
            "lecture's puts eps / (k - 1) on the other classes and 1 - eps on the label": onehot
            * (1 - eps)
            + eps / k,
        },
        rtol=1e-12,
        atol=1e-15,
    )


@check(
    "label_smoothing",
    "smooth_labels with k = 7 classes and eps = 0.1: 0.9 on the label, 0.1 / 6 on the others, "
    "every row sums to one",
)
def smooth_basic(s, rng):
    check_smooth(s, rng.integers(0, 7, size=20), 7, 0.1)


# -- Part 4: PyTorch modules ----------------------------------------------------------------------


def run_module(s, cls, args, kwargs, seed, x, dtype, train=True, dout=None):
    """One training-mode (or eval-mode) call of ``cls(*args, generator=g, **kwargs)`` on x."""
    shown = ", ".join([repr(a) for a in args] + [f"{k}={v!r}" for k, v in kwargs.items()])
    what = f"{cls}({shown}, generator=g){'' if train else '.eval()'} on a {dtype} batch {tuple(x.shape)}"
    step = {"x": x, "dtype": dtype, "train": train, "dout": dout}
    (rec,) = run(what, lambda: s.probe("a5_dropout.torch_module", cls, args, kwargs, seed, [step]))
    expect(
        rec["dtype"] == dtype,
        f"{what}: the output has dtype {rec['dtype']}, expected {dtype} (the input's)",
        "keep the input's dtype: build masks as booleans and multiply, or use torch.where",
    )
    if dout is not None:
        return rec, what
    return rec["out"], what


def check_module_eval_identity(s, rng, cls, args, kwargs, shape) -> None:
    x = noise_images(rng, shape)
    rec_out, what = run_module(s, cls, args, kwargs, seed_of(rng), x, "float32", train=False)
    close(
        rec_out,
        x.astype(np.float32),
        f"output of {what}",
        "in evaluation mode (not self.training) return the input unchanged",
        rtol=0.0,
        atol=0.0,
    )


def check_torch_dropout(s, rng, shape, p, dtype="float32") -> None:
    x = signed_inputs(rng, shape)
    dout = rng.standard_normal(shape)
    rec, what = run_module(s, "MyDropout", [], {"p": p}, seed_of(rng), x, dtype, dout=dout)
    xs = torch.tensor(x, dtype=getattr(torch, dtype)).numpy().astype(np.float64)
    keep = check_dropout_sample(rec["out"], xs, p, what, rtol=1e-6 if dtype == "float32" else 1e-12)
    if rec["grad_x"] is None:
        raise CheckFailure(
            f"{what}: no gradient reached the input (the output does not require grad)",
            "compute the output with differentiable tensor operations on x (x * mask / (1 - p)), "
            "not under torch.no_grad() or on x.detach()",
        )
    close(
        rec["grad_x"],
        dout * keep / (1.0 - p),
        f"gradient of {what} with respect to x",
        "autograd multiplies dout by the same mask / (1 - p)",
        rtol=1e-6 if dtype == "float32" else 1e-12,
        atol=0.0,
    )


def module_seeded(s, rng, cls, args, kwargs, shape) -> None:
    """Same seed: same output; different seeds: different; two calls in a row: different."""
    x = noise_images(rng, shape)
    a = seed_of(rng)
    b = (a + 1 + seed_of(rng)) % (2**31 - 1)
    step = {"x": x, "dtype": "float32", "train": True}
    what = f"{cls}(..., generator=g)"
    r1 = run(what, lambda: s.probe("a5_dropout.torch_module", cls, args, kwargs, a, [step, step]))
    r2 = run(what, lambda: s.probe("a5_dropout.torch_module", cls, args, kwargs, a, [step]))
    r3 = run(what, lambda: s.probe("a5_dropout.torch_module", cls, args, kwargs, b, [step]))
    same = np.array_equal(r1[0]["out"], r2[0]["out"])
    expect(
        same,
        f"{what}: two modules with generators seeded alike gave different outputs",
        "draw with generator=self.generator (torch.rand/torch.randint(..., generator=...)), not "
        "from PyTorch's global generator",
    )
    expect(
        not np.array_equal(r1[0]["out"], r3[0]["out"]),
        f"{what}: generators with different seeds gave the same output",
        "the random draws must come from self.generator",
    )
    expect(
        not np.array_equal(r1[0]["out"], r1[1]["out"]),
        f"{what}: two calls in a row gave the same output",
        "draw new random numbers at every forward call (the generator advances by itself)",
    )


@check(
    "torch_dropout",
    "MyDropout(p = 0.3) in training mode on a (200, 500) float32 batch: every output is 0 or "
    "x / (1 - p), about 30% dropped, independent masks; the gradient with respect to x is "
    "dout * mask / (1 - p) with the same mask; evaluation mode returns x",
)
def torch_dropout_training(s, rng):
    check_torch_dropout(s, rng, (200, 500), 0.3)
    check_module_eval_identity(s, rng, "MyDropout", [], {"p": 0.3}, (30, 40))


@check(
    "torch_dropout",
    "MyDropout draws from its generator: the same seed gives the same mask, another seed another "
    "one, and consecutive calls new ones",
)
def torch_dropout_generator(s, rng):
    module_seeded(s, rng, "MyDropout", [], {"p": 0.5}, (20, 30))


@check(
    "torch_augment",
    "BatchHFlip(p = 0.3) on 2000 float32 images: each image is the input or its flip, about 30% "
    "flipped; BatchRandomCrop(6, padding 2) on 2000 images of 2 x 6 x 7: every crop a window of "
    "the zero-padded image, all 30 positions equally likely",
)
def torch_flip_crop(s, rng):
    check_random_flip(s, rng, 2000, 0.3, module=True)
    check_random_crop(s, rng, 2000, (2, 6, 7), 6, 2, module=True)


@check(
    "torch_augment",
    "BatchCutout(4) on 2000 images of 2 x 7 x 9: one clipped 4 x 4 square zeroed per image, "
    "uniform centres; all three modules return the input unchanged in evaluation mode",
)
def torch_cutout_and_eval(s, rng):
    check_cutout(s, rng, 2000, (2, 7, 9), 4, module=True)
    check_module_eval_identity(s, rng, "BatchHFlip", [], {"p": 1.0}, (4, 1, 3, 5))
    check_module_eval_identity(s, rng, "BatchRandomCrop", [5], {"padding": 1}, (4, 1, 5, 5))
    check_module_eval_identity(s, rng, "BatchCutout", [2], {}, (4, 2, 5, 6))


# -- Part 4: smoothed cross-entropy ---------------------------------------------------------------


def check_mapping(s, eps, k) -> None:
    what = f"lecture_to_torch_smoothing({eps}, {k})"
    got = run(what, lambda: s.call("lecture_to_torch_smoothing", eps, k))
    close(
        got,
        eps * k / (k - 1),
        what,
        "PyTorch puts s / k on every class; the lecture eps / (k - 1) on each wrong class: "
        "s = eps * k / (k - 1)",
        mistakes={"the mapping is inverted: s = eps * k / (k - 1)": eps * (k - 1) / k},
        rtol=1e-12,
    )


def check_smoothed_ce(s, logits, target, eps, dtype="float64", label="") -> None:
    k = logits.shape[1]
    what = f"smoothed_cross_entropy(logits of shape {logits.shape}, target, eps={eps}){label}"
    res = run(what, lambda: s.probe("a5_dropout.smoothed_ce", logits, target, eps, dtype))
    expect(
        res["shape"] == [],
        f"{what}: the loss has shape {tuple(res['shape'])}, expected a 0-dimensional tensor",
        "average over the batch: .mean()",
    )
    z = torch.tensor(logits, dtype=F64, requires_grad=True)
    loss = F.cross_entropy(z, torch.tensor(target), label_smoothing=eps * k / (k - 1))
    loss.backward()
    rtol, atol = (1e-9, 1e-12) if dtype == "float64" else (1e-5, 1e-7)

    def wrong(s_value, reduction="mean"):
        zz = torch.tensor(logits, dtype=F64)
        return F.cross_entropy(
            zz, torch.tensor(target), label_smoothing=s_value, reduction=reduction
        )

    onehot = np.eye(k)[target]
    logp = torch.log_softmax(torch.tensor(logits, dtype=F64), dim=1).numpy()
    close(
        res["loss"],
        float(loss.detach()),
        f"loss of {what}",
        "mean over the batch of -sum_j q_j log softmax(s)_j with q = 1 - eps on the label and "
        "eps / (k - 1) elsewhere",
        mistakes=lambda: {
            "this is PyTorch's convention with s = eps; the lecture's eps corresponds to "
            "s = eps * k / (k - 1)": float(wrong(eps)),
            "the loss was summed over the batch instead of averaged": float(
                wrong(eps * k / (k - 1), "sum")
            ),
            "the wrong classes got eps / k (the targets do not sum to one)": float(
                -np.mean(np.sum((onehot * (1 - eps) + (1 - onehot) * eps / k) * logp, axis=1))
            ),
        },
        rtol=rtol,
        atol=1e-12,
    )
    close(
        res["grad"],
        z.grad.numpy(),
        f"gradient of the loss of {what} with respect to the logits",
        rtol=rtol,
        atol=atol,
    )


@check(
    "smoothed_ce",
    "lecture_to_torch_smoothing(0.1, 10) = 1/9 and (0.3, 4) = 0.4; smoothed_cross_entropy on "
    "(16, 7) float64 logits with eps = 0.1: loss and gradient equal F.cross_entropy with "
    "label_smoothing = eps * k / (k - 1)",
)
def smoothed_ce_basic(s, rng):
    check_mapping(s, 0.1, 10)
    check_mapping(s, 0.3, 4)
    logits = 2.0 * rng.standard_normal((16, 7))
    check_smoothed_ce(s, logits, rng.integers(0, 7, size=16), 0.1)


# -- Part 4: mixup in PyTorch ----------------------------------------------------------------------


def check_mixup_batch_results(x, y, results, what) -> np.ndarray:
    """Each result of ``mixup_batch`` must blend x with the lam it returns, and return y and the
    labels permuted like the inputs. Returns the lams."""
    lams = []
    for r in results:
        lam = r["lam"]
        if not isinstance(lam, float):
            raise CheckFailure(
                f"{what}: lam is {describe(lam)}, expected a Python float", "return float(lam)"
            )
        lams.append(lam)
    x_mix = np.stack([as_array(r["x_mix"], f"x_mix of {what}", x.shape) for r in results])
    y_a = np.stack([as_array(r["y_a"], f"y_a of {what}", y.shape) for r in results])
    y_b = np.stack([as_array(r["y_b"], f"y_b of {what}", y.shape) for r in results])
    rec_lam, partner, known = recover_mix(x, x_mix, f"x_mix of {what}")
    expect(
        np.array_equal(y_a, np.broadcast_to(y, y_a.shape)),
        f"y_a of {what}: not y itself",
        "y_a = y",
    )
    lams = np.array(lams)
    have = np.isfinite(rec_lam)
    close(
        lams[have],
        rec_lam[have],
        f"lam returned by {what} (compared with the weight of x in x_mix)",
        "return the lam that mixed the inputs",
        rtol=1e-9,
        atol=1e-12,
    )
    expect(
        np.array_equal(y_b[known], y[partner][known]),
        f"y_b of {what}: not y[perm] for the permutation that mixed the inputs",
        "y_b = y[perm] with the same perm as x[perm]",
    )
    return lams


def check_mixup_step(s, rng, n, k, alpha) -> None:
    x = rng.standard_normal((n, 2, 3))
    y = rng.integers(0, k, size=n)
    w, b = 0.5 * rng.standard_normal((k, 6)), 0.1 * rng.standard_normal(k)
    lr = 0.1
    what = f"mixup_train_step(model, SGD(lr={lr}), x of shape {x.shape}, y, alpha={alpha}, g)"
    res = run(what, lambda: s.probe("a5_dropout.mixup_step", w, b, x, y, alpha, seed_of(rng), lr))
    expect(bool(res["seen"]), f"{what}: the model was never called")
    seen = as_array(res["seen"][0], f"input that {what} gave the model", x.shape)
    for other in res["seen"][1:]:
        expect(
            np.array_equal(other, res["seen"][0]),
            f"{what}: the model saw different inputs in one step",
        )
    lams, partners, _ = recover_mix(x, seen[None], f"the input that {what} gave the model")
    lam, partner = float(np.nan_to_num(lams[0], nan=1.0)), partners[0]
    expect(
        res["training"], f"{what}: the model is in evaluation mode afterwards", "call model.train()"
    )
    z = torch.tensor(seen.reshape(n, -1), dtype=F64)
    wt = torch.tensor(w, dtype=F64, requires_grad=True)
    bt = torch.tensor(b, dtype=F64, requires_grad=True)
    scores = F.linear(z, wt, bt)
    ya, yb = torch.tensor(y), torch.tensor(y[partner])
    loss = lam * F.cross_entropy(scores, ya) + (1 - lam) * F.cross_entropy(scores, yb)
    loss.backward()
    scores = scores.detach()
    if res["loss"] is None:
        raise CheckFailure(f"{what} returned {res['loss_kind']}, expected the loss (a 0-d tensor)")
    close(
        res["loss"],
        float(loss.detach()),
        f"loss returned by {what} (lam = {lam:.5f} read from the mixed inputs)",
        "lam * CE(scores, y) + (1 - lam) * CE(scores, y[perm]), with the lam and perm that mixed x",
        mistakes={
            "the two labels are swapped: lam goes with y (the unpermuted labels)": float(
                (1 - lam) * F.cross_entropy(scores, ya) + lam * F.cross_entropy(scores, yb)
            ),
            "only the first label was used": float(F.cross_entropy(scores, ya)),
        },
        rtol=1e-9,
        atol=1e-12,
    )
    expect(not res["loss_requires_grad"], f"{what}: return the loss detached (loss.detach())")
    close(
        res["weight"],
        w - lr * wt.grad.numpy(),
        f"the weights after {what}",
        "optimizer.zero_grad(), loss.backward(), optimizer.step(), in this order",
        mistakes={
            "the weights did not change: call optimizer.step()": w,
            "stale gradients were kept: call optimizer.zero_grad() before backward()": w
            - lr * (wt.grad.numpy() + 3.0),
        },
        rtol=1e-9,
        atol=1e-12,
    )
    close(res["bias"], b - lr * bt.grad.numpy(), f"the bias after {what}", rtol=1e-9, atol=1e-12)


@check(
    "mixup_step",
    "mixup_batch on 16 float64 inputs: x_mix = lam * x + (1 - lam) * x[perm] with the lam it "
    "returns, y_a = y and y_b = y[perm]",
)
def mixup_batch_basic(s, rng):
    x = rng.standard_normal((16, 3, 2, 2))
    y = rng.integers(0, 10, size=16)
    what = "mixup_batch(x of shape (16, 3, 2, 2), y, alpha=1.0, g)"
    res = run(what, lambda: s.probe("a5_dropout.mixup_batch", x, y, 1.0, seed_of(rng), 1))
    check_mixup_batch_results(x, y, res["results"], what)


@check(
    "mixup_step",
    "mixup_train_step on a linear model with stale gradients: the returned loss is "
    "lam * CE(y) + (1 - lam) * CE(y[perm]) for the lam and perm read from what the model saw, "
    "and the parameters took one SGD step with fresh gradients",
)
def mixup_step_basic(s, rng):
    check_mixup_step(s, rng, 12, 4, 1.0)


# -- Part 4: expected calibration error ------------------------------------------------------------


def check_ece(s, probs, labels, expected, mistakes, n_bins=None, label="") -> None:
    """The student's ECE against ``expected`` (with ``mistakes``: description -> value). The
    values come from the grader's own implementation (hidden checks) or, for the public check,
    from the values it computed at release time (:mod:`.public_values`): no implementation of
    the ECE ships with the public checks."""
    kwargs = {} if n_bins is None else {"n_bins": n_bins}
    shown = "" if n_bins is None else f", n_bins={n_bins}"
    what = f"expected_calibration_error(probs of shape {probs.shape}, labels{shown}){label}"
    got = run(what, lambda: s.call("expected_calibration_error", probs, labels, **kwargs))
    close(
        got,
        expected,
        what,
        "bins (e_b, e_(b+1)] of the confidence max_k P with e = np.linspace(0, 1, n_bins + 1); "
        "sum over non-empty bins of (count / N) * |accuracy - mean confidence|",
        mistakes=mistakes,
        rtol=1e-9,
        atol=1e-12,
    )


def calibration_data(rng, n, k, sharpness=3.0):
    """Predictions of a somewhat over-confident classifier and labels drawn near them."""
    scores = sharpness * rng.standard_normal((n, k))
    probs = torch_softmax(scores)
    soft = torch_softmax(scores / 1.8)
    labels = np.array([rng.choice(k, p=row) for row in soft])
    return probs, labels


@check(
    "ece",
    "expected_calibration_error with 10 bins on 500 predictions over 4 classes (a fixed sample) "
    "matches the value the grader's own implementation computed for it",
)
def ece_basic(s, rng):
    # A fixed sample: its ECE and its mistakes' values ship as data (public_values.py).
    probs, labels = calibration_data(np.random.default_rng(PUBLIC_ECE["seed"]), 500, 4)
    check_ece(s, probs, labels, PUBLIC_ECE["ece"], PUBLIC_ECE["mistakes"], 10)
