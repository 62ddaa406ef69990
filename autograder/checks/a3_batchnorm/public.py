"""Public checks of A3: what students run from their notebook with ``checker.check("<item>")``.

Oracles: ``F.batch_norm``, ``F.layer_norm``, ``F.group_norm``, ``F.conv2d`` and
``nn.BatchNorm2d`` with autograd, in float64. Typical mistakes are computed here too (in NumPy)
so that a wrong answer that matches one of them gets a hint. The helpers at the top are shared
with :mod:`.hidden`.
"""

from __future__ import annotations

import functools

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from autograder.checking import CheckFailure, close, describe, expect, expect_close, expect_equal
from autograder.checking import check as _check
from autograder.student import StudentError

from .probes import DTYPES, build_conv_bn, conv_settings, drive_module

F64 = torch.float64
TRAIN_ERROR = "Expected more than 1 value per channel when training"

# -- generic helpers ----------------------------------------------------------------------------


# Every check here runs its oracles on tiny tensors: on one PyTorch thread.
check = functools.partial(_check, one_thread=True)


def unpack(result, names: tuple[str, ...], what: str) -> tuple:
    if not isinstance(result, tuple | list) or len(result) != len(names):
        raise CheckFailure(
            f"{what} must return a tuple ({', '.join(names)}), got {describe(result)}"
        )
    return tuple(result)


def field(result, key: str, what: str):
    if not isinstance(result, dict) or key not in result:
        raise CheckFailure(f"{what}: the result has no {key!r}")
    return result[key]


def t64(a, grad: bool = False) -> torch.Tensor:
    return torch.tensor(np.asarray(a, dtype=np.float64), dtype=F64, requires_grad=grad)


def expect_value_error(fn, what: str, hint: str) -> None:
    """``fn()`` must raise ValueError in the student's code."""
    try:
        fn()
    except StudentError as err:
        kind = err.error.get("type")
        if kind == "ValueError":
            return
        if kind == "NotImplementedError":
            raise
        raise CheckFailure(
            f"{what} raised {kind}: {err.error.get('message', '')[:200]}; expected a ValueError",
            hint,
        ) from None
    raise CheckFailure(f"{what} returned normally; expected a ValueError", hint)


PROBE_SUBJECTS = {
    "a3_batchnorm.bn_function": "BatchNormFunction.apply(...)",
    "a3_batchnorm.bn_module": "MyBatchNorm2d",
    "a3_batchnorm.fuse": "fuse_conv_bn(conv, bn)",
}


def probe(s, name: str, *args):
    """``s.probe`` whose errors name the student's code rather than the probe."""
    return s.probe(name, *args, what=PROBE_SUBJECTS.get(name))


def features(rng, n: int, d: int, scales=None) -> np.ndarray:
    """A batch whose features have different offsets and scales (some small, so that eps
    matters at the 1e-3 level)."""
    if scales is None:
        scales = np.exp(rng.uniform(np.log(0.02), np.log(5.0), d))
    offsets = rng.uniform(-3.0, 3.0, d)
    return offsets + scales * rng.standard_normal((n, d))


def running_stats(rng, d: int) -> tuple[np.ndarray, np.ndarray]:
    return rng.uniform(-1.0, 1.0, d), rng.uniform(0.3, 3.0, d)


# -- oracles ------------------------------------------------------------------------------------


def torch_batch_norm(x, gamma, beta, rm, rv, training, momentum, eps, dout=None):
    """``F.batch_norm`` in float64: (out, new running mean, new running var, grads or None)."""
    xt, gt, bt = t64(x, True), t64(gamma, True), t64(beta, True)
    rmt, rvt = t64(rm), t64(rv)
    out = F.batch_norm(xt, rmt, rvt, gt, bt, training=training, momentum=momentum, eps=eps)
    grads = None
    if dout is not None:
        grads = [g.numpy() for g in torch.autograd.grad(out, (xt, gt, bt), t64(dout))]
    return out.detach().numpy(), rmt.numpy(), rvt.numpy(), grads


def torch_vjp(fn, inputs, dout):
    ts = [t64(a, True) for a in inputs]
    out = fn(*ts)
    grads = torch.autograd.grad(out, ts, t64(dout))
    return out.detach().numpy(), [g.numpy() for g in grads]


def standardise(x, axis, eps, unbiased=False, eps_outside=False):
    """``(x - mean) / sqrt(var + eps)`` over ``axis`` in NumPy, with optional mistakes."""
    mu = x.mean(axis=axis, keepdims=True)
    var = x.var(axis=axis, keepdims=True, ddof=1 if unbiased else 0)
    if eps_outside:
        return (x - mu) / (np.sqrt(var) + eps)
    return (x - mu) / np.sqrt(var + eps)


def standardise_grad(g, x_hat, inv_sd, axis, variant=None):
    """Gradient through ``(x - mean) / sqrt(var + eps)`` given ``g`` = dL/dx_hat; variants are
    mistakes: "no_mean", "no_var", "constants", "sign"."""
    mean_g = g.mean(axis=axis, keepdims=True)
    mean_gx = (g * x_hat).mean(axis=axis, keepdims=True)
    if variant == "no_mean":
        return inv_sd * (g - x_hat * mean_gx)
    if variant == "no_var":
        return inv_sd * (g - mean_g)
    if variant == "constants":
        return inv_sd * g
    if variant == "sign":
        return inv_sd * (g - mean_g + x_hat * mean_gx)
    return inv_sd * (g - mean_g - x_hat * mean_gx)


GRAD_VARIANTS = {
    "no_mean": "dx ignores that the batch mean depends on x: the term with the sum of the "
    "upstream gradient is missing",
    "no_var": "dx ignores that the variance depends on x: the term x_hat * sum(dout * gamma * "
    "x_hat) is missing",
    "constants": "dx treats the mean and the variance as constants (that is only the "
    "evaluation-mode gradient)",
    "sign": "the term with x_hat has the wrong sign",
}


# -- Part 1: batch norm forward -----------------------------------------------------------------


def call_bn(s, x, gamma, beta, rm, rv, training, momentum=0.1, eps=1e-5, name="batchnorm_forward"):
    what = (
        f"{name}(x, gamma, beta, running_mean, running_var, training={training}, "
        f"momentum={momentum:g}, eps={eps:g}) with x of shape {tuple(x.shape)}"
    )
    res = s.call(name, x, gamma, beta, rm, rv, training, momentum=momentum, eps=eps)
    return unpack(res, ("out", "cache", "new_running_mean", "new_running_var"), what), what


def bn_out_mistakes(x, gamma, beta, rm, rv, eps):
    """Outputs of wrong training-mode forward passes on an (N, D) batch."""
    n = x.shape[0]
    with np.errstate(all="ignore"):
        return {
            "you normalised with the running statistics during training: training mode uses "
            "the mean and variance of the batch": gamma * (x - rm) / np.sqrt(rv + eps) + beta,
            "the normalisation used the unbiased variance (divided by N - 1); it must use the "
            "biased one (divided by N): only the running variance is unbiased": gamma
            * standardise(x, 0, eps, unbiased=n > 1)
            + beta,
            "eps belongs inside the square root: (x - mean) / sqrt(var + eps)": gamma
            * standardise(x, 0, eps, eps_outside=True)
            + beta,
            "the statistics were taken per example (over axis 1) instead of per feature over "
            "the batch (axis 0)": gamma * standardise(x, 1, eps) + beta,
            "gamma and beta are swapped": beta * standardise(x, 0, eps) + gamma,
            "gamma and beta were not applied": standardise(x, 0, eps),
        }


def running_mistakes(x_rows, rm, rv, momentum):
    """(mean mistakes, var mistakes) for the running-statistics update from (M, C) rows."""
    n = x_rows.shape[0]
    mu, var = x_rows.mean(axis=0), x_rows.var(axis=0)
    unbiased = var * n / max(n - 1, 1)
    keep = 1.0 - momentum
    flipped = (
        "momentum is the weight of the new batch statistic in PyTorch: "
        "new = (1 - momentum) * running + momentum * batch"
    )
    frozen = "the running statistics were not updated (or not returned)"
    biased = (
        "the running variance is biased: it must accumulate the unbiased batch variance, "
        "N / (N - 1) times the biased one"
    )
    as_sd = "the running variance was updated with the standard deviation, not the variance"
    mean_m = {
        frozen: rm,
        flipped: momentum * rm + keep * mu,
        "the running mean was replaced by the batch mean instead of averaged": mu,
    }
    var_m = {
        biased: keep * rv + momentum * var,
        frozen: rv,
        flipped: momentum * rv + keep * unbiased,
        as_sd: keep * rv + momentum * np.sqrt(unbiased),
    }
    if momentum != 0.1:
        ignored = f"the momentum argument was ignored: use it ({momentum:g} here), not 0.1"
        mean_m[ignored] = 0.9 * rm + 0.1 * mu
        var_m[ignored] = 0.9 * rv + 0.1 * unbiased
    return mean_m, var_m


def check_bn_train_out(s, x, gamma, beta, rm, rv, momentum=0.1, eps=1e-5, label=""):
    (out, _, _, _), what = call_bn(s, x, gamma, beta, rm, rv, True, momentum, eps)
    exp_out, _, _, _ = torch_batch_norm(x, gamma, beta, rm, rv, True, momentum, eps)
    close(
        out,
        exp_out,
        f"out of {what}{label}",
        "per feature j: (x[:, j] - mean) / sqrt(var + eps) * gamma[j] + beta[j], with the "
        "biased variance of the batch",
        mistakes=bn_out_mistakes(x, gamma, beta, rm, rv, eps),
    )


def check_bn_running(s, x, gamma, beta, rm, rv, momentum=0.1, eps=1e-5, label=""):
    """Training mode: the returned running statistics; returns them."""
    (_, _, new_rm, new_rv), what = call_bn(s, x, gamma, beta, rm, rv, True, momentum, eps)
    _, exp_rm, exp_rv, _ = torch_batch_norm(x, gamma, beta, rm, rv, True, momentum, eps)
    mean_m, var_m = running_mistakes(x, rm, rv, momentum)
    close(
        new_rm,
        exp_rm,
        f"new_running_mean returned by {what}{label}",
        "(1 - momentum) * running_mean + momentum * batch_mean",
        mistakes=mean_m,
    )
    close(
        new_rv,
        exp_rv,
        f"new_running_var returned by {what}{label}",
        "(1 - momentum) * running_var + momentum * N / (N - 1) * biased_batch_var",
        mistakes=var_m,
    )
    return exp_rm, exp_rv


def check_bn_eval(s, x, gamma, beta, rm, rv, eps=1e-5, label=""):
    (out, _, new_rm, new_rv), what = call_bn(s, x, gamma, beta, rm, rv, False, 0.1, eps)
    exp_out, _, _, _ = torch_batch_norm(x, gamma, beta, rm, rv, False, 0.1, eps)
    mistakes = {}
    if x.shape[0] > 1:
        mistakes[
            "batch statistics at test time: evaluation mode must normalise with "
            "running_mean and running_var"
        ] = gamma * standardise(x, 0, eps) + beta
    with np.errstate(all="ignore"):
        mistakes["the running variance was used as a standard deviation (no square root)"] = (
            gamma * (x - rm) / (rv + eps) + beta
        )
        mistakes["eps belongs inside the square root: sqrt(running_var + eps)"] = (
            gamma * (x - rm) / (np.sqrt(rv) + eps) + beta
        )
        mistakes["eps is missing in evaluation mode: divide by sqrt(running_var + eps)"] = (
            gamma * (x - rm) / np.sqrt(rv) + beta
        )
    close(
        out,
        exp_out,
        f"out of {what}{label}",
        "evaluation mode: gamma * (x - running_mean) / sqrt(running_var + eps) + beta",
        mistakes=mistakes,
    )
    frozen = "evaluation mode must return the running statistics unchanged"
    if x.shape[0] > 1:
        _, upd_rm, upd_rv, _ = torch_batch_norm(x, gamma, beta, rm, rv, True, 0.1, eps)
        close(
            new_rm,
            rm,
            f"new_running_mean returned by {what}{label}",
            frozen,
            mistakes={"evaluation mode updated the running mean: " + frozen: upd_rm},
        )
        close(
            new_rv,
            rv,
            f"new_running_var returned by {what}{label}",
            frozen,
            mistakes={"evaluation mode updated the running variance: " + frozen: upd_rv},
        )
    else:
        close(new_rm, rm, f"new_running_mean returned by {what}{label}", frozen)
        close(new_rv, rv, f"new_running_var returned by {what}{label}", frozen)


ONE_EXAMPLE_HINT = (
    "in training mode a batch with a single value per feature cannot be normalised: raise "
    f"ValueError('{TRAIN_ERROR}, ...') as PyTorch does"
)


@check(
    "bn_forward",
    "training mode on a (16, 5) batch with features of very different offsets and scales: out "
    "matches F.batch_norm (batch mean, biased variance, eps inside the square root, gamma, beta)",
)
def bn_forward_basic(s, rng):
    x = features(rng, 16, 5)
    gamma, beta = rng.uniform(0.5, 2.0, 5), rng.standard_normal(5)
    rm, rv = running_stats(rng, 5)
    check_bn_train_out(s, x, gamma, beta, rm, rv)


@check(
    "bn_forward",
    "training mode with eps = 0.01 and a batch of N = 3, and a batch of one "
    "raises ValueError (as PyTorch does)",
)
def bn_forward_eps_and_one(s, rng):
    x = features(rng, 3, 4, scales=np.array([0.05, 0.2, 1.0, 3.0]))
    gamma, beta = rng.uniform(0.5, 2.0, 4), rng.standard_normal(4)
    rm, rv = running_stats(rng, 4)
    check_bn_train_out(s, x, gamma, beta, rm, rv, eps=0.01)
    one = rng.standard_normal((1, 4))
    expect_value_error(
        lambda: s.call("batchnorm_forward", one, gamma, beta, rm, rv, True),
        "batchnorm_forward(x of shape (1, 4), ..., training=True)",
        ONE_EXAMPLE_HINT,
    )


@check(
    "bn_running",
    "training mode: new_running_mean and new_running_var after one (12, 4) batch match "
    "F.batch_norm's buffers (momentum 0.1 on the new batch, unbiased variance)",
)
def bn_running_one_step(s, rng):
    x = features(rng, 12, 4)
    gamma, beta = rng.uniform(0.5, 2.0, 4), rng.standard_normal(4)
    rm, rv = running_stats(rng, 4)
    check_bn_running(s, x, gamma, beta, rm, rv)


@check(
    "bn_running",
    "evaluation mode on a (6, 4) batch normalises with the running statistics and returns them "
    "unchanged",
)
def bn_running_eval(s, rng):
    x = features(rng, 6, 4)
    gamma, beta = rng.uniform(0.5, 2.0, 4), rng.standard_normal(4)
    rm, rv = running_stats(rng, 4)
    check_bn_eval(s, x, gamma, beta, rm, rv)


# -- Part 2: backward passes --------------------------------------------------------------------


def bn_grad_mistakes(x, gamma, dout, eps):
    """(dx, dgamma, dbeta) mistakes of a training-mode backward pass on (M, C) rows."""
    x_hat = standardise(x, 0, eps)
    inv_sd = 1.0 / np.sqrt(x.var(axis=0) + eps)
    g = dout * gamma
    dx = {
        "gamma is missing from dx: the gradient reaching x_hat is dout * gamma": (
            standardise_grad(dout, x_hat, inv_sd, 0)
        )
    }
    for key, text in GRAD_VARIANTS.items():
        dx[text] = standardise_grad(g, x_hat, inv_sd, 0, key)
    dgamma = {
        "dgamma must sum dout * x_hat (the normalised input), not dout * x": (dout * x).sum(0),
        "dgamma was averaged over the batch instead of summed": (dout * x_hat).mean(0),
    }
    dbeta = {"dbeta was averaged over the batch instead of summed": dout.mean(0)}
    return dx, dgamma, dbeta


def check_bn_backward(s, fn, x, gamma, beta, dout, eps=1e-5, label=""):
    d = x.shape[1]
    rm, rv = np.zeros(d), np.ones(d)
    (out, cache, _, _), what = call_bn(s, x, gamma, beta, rm, rv, True, 0.1, eps)
    exp_out, _, _, (dx, dgamma, dbeta) = torch_batch_norm(
        x, gamma, beta, rm, rv, True, 0.1, eps, dout
    )
    close(
        out,
        exp_out,
        f"out of {what}{label} (needed before {fn} can be checked)",
        "fix batchnorm_forward first: the backward pass uses its cache",
    )
    res = s.call(fn, dout, cache)
    got = unpack(res, ("dx", "dgamma", "dbeta"), f"{fn}(dout, cache)")
    m_dx, m_dgamma, m_dbeta = bn_grad_mistakes(x, gamma, dout, eps)
    where = f"returned by {fn}(dout, cache) for x of shape {tuple(x.shape)}{label}"
    close(got[0], dx, f"dx {where}", mistakes=m_dx, rtol=1e-6, atol=1e-9)
    close(got[1], dgamma, f"dgamma {where}", mistakes=m_dgamma)
    close(got[2], dbeta, f"dbeta {where}", mistakes=m_dbeta)


@check(
    "bn_backward",
    "batchnorm_backward: dx, dgamma and dbeta match autograd through F.batch_norm "
    "(training mode, (8, 5) batch)",
)
def bn_backward_basic(s, rng):
    x = features(rng, 8, 5)
    gamma, beta = rng.uniform(0.5, 2.0, 5), rng.standard_normal(5)
    check_bn_backward(s, "batchnorm_backward", x, gamma, beta, rng.standard_normal(x.shape))


@check(
    "bn_backward_alt",
    "batchnorm_backward_alt: dx, dgamma and dbeta match autograd through F.batch_norm "
    "(training mode, (8, 5) batch)",
)
def bn_backward_alt_basic(s, rng):
    x = features(rng, 8, 5)
    gamma, beta = rng.uniform(0.5, 2.0, 5), rng.standard_normal(5)
    check_bn_backward(s, "batchnorm_backward_alt", x, gamma, beta, rng.standard_normal(x.shape))


# -- Part 3: spatial batch norm -----------------------------------------------------------------


def channel_rows(x):
    """(N, C, H, W) -> (N*H*W, C), one column per channel."""
    return np.moveaxis(x, 1, -1).reshape(-1, x.shape[1])


def spatial_out_mistakes(x, gamma, beta, eps):
    n, c, h, w = x.shape
    shape4 = (1, c, 1, 1)
    naive = gamma * standardise(x.reshape(-1, c), 0, eps) + beta  # rows that mix channels
    mixed = (
        "the channels were mixed up: x.reshape(-1, C) of an (N, C, H, W) array does not give "
        "one channel per column; move the channel axis last first (and back afterwards)"
    )
    return {
        mixed: naive.reshape(x.shape),
        mixed.replace(" (and back afterwards)", ", before flattening"): np.moveaxis(
            naive.reshape(n, h, w, c), -1, 1
        ),
        "the statistics were taken over N only, per channel and position; spatial batch norm "
        "uses one mean and variance per channel over N, H and W": gamma.reshape(shape4)
        * standardise(x, 0, eps)
        + beta.reshape(shape4),
        "the statistics were taken over H and W per image (that is instance norm); batch norm "
        "also averages over the batch": gamma.reshape(shape4) * standardise(x, (2, 3), eps)
        + beta.reshape(shape4),
    }


def check_spatial(s, x, gamma, beta, rm, rv, training, dout=None, momentum=0.1, eps=1e-5):
    name = "spatial_batchnorm_forward"
    (out, cache, new_rm, new_rv), what = call_bn(
        s, x, gamma, beta, rm, rv, training, momentum, eps, name=name
    )
    exp_out, exp_rm, exp_rv, grads = torch_batch_norm(
        x, gamma, beta, rm, rv, training, momentum, eps, dout
    )
    mistakes = spatial_out_mistakes(x, gamma, beta, eps) if training else {}
    close(out, exp_out, f"out of {what}", mistakes=mistakes)
    rows = channel_rows(x)
    mean_m, var_m = running_mistakes(rows, rm, rv, momentum) if training else ({}, {})
    if training:
        n = x.shape[0]
        var_m[
            "the unbiased correction must count the N*H*W values of each channel: the "
            "factor is NHW / (NHW - 1), not N / (N - 1)"
        ] = (1 - momentum) * rv + (momentum * rows.var(axis=0) * n / max(n - 1, 1))
    close(new_rm, exp_rm, f"new_running_mean returned by {what}", mistakes=mean_m)
    close(new_rv, exp_rv, f"new_running_var returned by {what}", mistakes=var_m)
    if dout is None:
        return
    got = unpack(
        s.call("spatial_batchnorm_backward", dout, cache),
        ("dx", "dgamma", "dbeta"),
        "spatial_batchnorm_backward(dout, cache)",
    )
    where = f"returned by spatial_batchnorm_backward(dout, cache) for x of shape {x.shape}"
    m_dx, m_dgamma, m_dbeta = bn_grad_mistakes(rows, gamma, channel_rows(dout), eps)

    def back(d):  # (N*H*W, C) rows -> (N, C, H, W)
        return np.moveaxis(d.reshape(x.shape[0], x.shape[2], x.shape[3], -1), -1, 1)

    m_dx = {k: back(v) for k, v in m_dx.items()}
    m_dx[
        "dx was reshaped straight to (N, C, H, W) from the (N*H*W, C) rows: move the "
        "channel axis back to position 1"
    ] = grads[0].transpose(0, 2, 3, 1).reshape(x.shape)
    close(
        got[0],
        grads[0],
        f"dx {where}",
        "turn dout into (N*H*W, C) rows exactly as the forward pass turned x, and dx back",
        mistakes=m_dx,
        rtol=1e-6,
        atol=1e-9,
    )
    close(got[1], grads[1], f"dgamma {where}", mistakes=m_dgamma)
    close(got[2], grads[2], f"dbeta {where}", mistakes=m_dbeta)


@check(
    "spatial_bn",
    "spatial_batchnorm_forward in training mode on (3, 4, 2, 3) feature maps: out and the "
    "running statistics match F.batch_norm (one mean and variance per channel over N, H, W)",
)
def spatial_forward(s, rng):
    c = 4
    x = features(rng, 3 * 2 * 3, c).reshape(3, 2, 3, c).transpose(0, 3, 1, 2).copy()
    gamma, beta = rng.uniform(0.5, 2.0, c), rng.standard_normal(c)
    rm, rv = running_stats(rng, c)
    check_spatial(s, x, gamma, beta, rm, rv, True)


@check(
    "spatial_bn",
    "spatial_batchnorm_backward: dx, dgamma and dbeta on (2, 3, 4, 4) feature maps match "
    "autograd through F.batch_norm",
)
def spatial_backward(s, rng):
    c = 3
    x = features(rng, 2 * 4 * 4, c).reshape(2, 4, 4, c).transpose(0, 3, 1, 2).copy()
    gamma, beta = rng.uniform(0.5, 2.0, c), rng.standard_normal(c)
    rm, rv = running_stats(rng, c)
    check_spatial(s, x, gamma, beta, rm, rv, True, dout=rng.standard_normal(x.shape))


# -- Part 4: layer norm and group norm ----------------------------------------------------------


def eps_arg(eps: float) -> tuple[dict, str]:
    """Keyword arguments and their text: eps is passed only when it is not the default."""
    if eps == 1e-5:
        return {}, ""
    return {"eps": eps}, f", eps={eps:g}"


LAYERNORM_D1_HINT = (
    "with D = 1 (a single feature) each example is its own mean: x_hat is 0 and out is beta; "
    "keep the feature axis of length 1 (no np.squeeze) and use the biased variance"
)


def check_layernorm(s, x, gamma, beta, dout, eps=1e-5):
    n = x.shape[0]
    kw, text = eps_arg(eps)
    what = f"layernorm_forward(x, gamma, beta{text}) with x of shape {x.shape}"
    rows = x.reshape(n, -1)
    # D = 1 (one feature): x_hat is 0 and out is beta; a squeeze or ddof=1 breaks only here.
    d1 = LAYERNORM_D1_HINT if rows.shape[1] == 1 else None
    try:
        out, cache = unpack(
            s.call("layernorm_forward", x, gamma, beta, **kw), ("out", "cache"), what
        )
    except StudentError as err:
        raise CheckFailure(err.message, d1 or err.hint) from None
    exp_out, (dx, dgamma, dbeta) = torch_vjp(
        lambda a, g, b: F.layer_norm(a, a.shape[1:], g, b, eps), [x, gamma, beta], dout
    )
    mistakes = {}
    if n > 1:
        mistakes[
            "the statistics were taken over the batch axis (that is batch norm): layer "
            "norm standardises each example over its own features"
        ] = gamma * standardise(rows, 0, eps).reshape(x.shape) + beta
    mistakes["the variance must be the biased one (divided by the number of features)"] = (
        gamma * standardise(rows, 1, eps, unbiased=rows.shape[1] > 1).reshape(x.shape) + beta
    )
    mistakes["eps belongs inside the square root"] = (
        gamma * standardise(rows, 1, eps, eps_outside=True).reshape(x.shape) + beta
    )
    close(out, exp_out, f"out of {what}", d1, mistakes=mistakes)
    try:
        got = unpack(
            s.call("layernorm_backward", dout, cache),
            ("dx", "dgamma", "dbeta"),
            "layernorm_backward(dout, cache)",
        )
    except StudentError as err:
        raise CheckFailure(err.message, d1 or err.hint) from None
    x_hat = standardise(rows, 1, eps)
    inv_sd = 1.0 / np.sqrt(rows.var(axis=1, keepdims=True) + eps)
    g = (dout * gamma).reshape(n, -1)
    m_dx = {
        "gamma is missing from dx: the gradient reaching x_hat is dout * gamma": (
            standardise_grad(dout.reshape(n, -1), x_hat, inv_sd, 1).reshape(x.shape)
        )
    }
    for key, text in GRAD_VARIANTS.items():
        m_dx[text.replace("batch mean", "mean")] = standardise_grad(
            g, x_hat, inv_sd, 1, key
        ).reshape(x.shape)
    where = f"returned by layernorm_backward(dout, cache) for x of shape {x.shape}"
    close(got[0], dx, f"dx {where}", d1, mistakes=m_dx, rtol=1e-6, atol=1e-9)
    close(
        got[1],
        dgamma,
        f"dgamma {where}",
        mistakes={
            "dgamma was averaged over the batch instead of summed": (
                dout * x_hat.reshape(x.shape)
            ).mean(axis=0)
        },
    )
    close(got[2], dbeta, f"dbeta {where}")


@check(
    "layernorm",
    "layernorm_forward and layernorm_backward on a (4, 6) batch match F.layer_norm and autograd",
)
def layernorm_basic(s, rng):
    x = features(rng, 4, 6)
    gamma, beta = rng.uniform(0.5, 2.0, 6), rng.standard_normal(6)
    check_layernorm(s, x, gamma, beta, rng.standard_normal(x.shape))


def groupnorm_mistakes(x, gamma, beta, groups, eps):
    n, c, h, w = x.shape
    shape4 = (1, c, 1, 1)

    def affine(x_hat):
        return gamma.reshape(shape4) * x_hat + beta.reshape(shape4)

    out = {}
    if 1 < groups < c:
        interleaved = x.reshape(n, c // groups, groups, h * w).transpose(0, 2, 1, 3)
        x_hat = standardise(interleaved.reshape(n, groups, -1), 2, eps)
        back = x_hat.reshape(n, groups, c // groups, h * w).transpose(0, 2, 1, 3)
        wrong_groups = (
            "the groups must be consecutive channels (channels 0 to C/G - 1 form group 0); "
            "this output uses interleaved channels, as from x.reshape(N, C // G, G, ...)"
        )
        out[wrong_groups] = affine(back.reshape(x.shape))
        out[wrong_groups + ", and the values were not put back in channel order"] = affine(
            x_hat.reshape(x.shape)
        )
    if groups < c:
        out[
            "every channel was normalised on its own (instance norm): group norm shares the "
            "statistics of the C/G channels of a group"
        ] = affine(standardise(x, (2, 3), eps))
    if groups > 1:
        out["the statistics were taken over all channels of an example (G = 1, layer norm)"] = (
            affine(standardise(x, (1, 2, 3), eps))
        )
    grouped = x.reshape(n, groups, -1)
    out["the variance must be the biased one"] = affine(
        standardise(grouped, 2, eps, unbiased=grouped.shape[2] > 1).reshape(x.shape)
    )
    out["eps belongs inside the square root"] = affine(
        standardise(grouped, 2, eps, eps_outside=True).reshape(x.shape)
    )
    return out


def check_groupnorm(s, x, gamma, beta, groups, dout, eps=1e-5):
    kw, text = eps_arg(eps)
    what = f"groupnorm_forward(x, gamma, beta, num_groups={groups}{text}) with x of shape {x.shape}"
    res = s.call("groupnorm_forward", x, gamma, beta, groups, **kw)
    out, cache = unpack(res, ("out", "cache"), what)
    exp_out, (dx, dgamma, dbeta) = torch_vjp(
        lambda a, g, b: F.group_norm(a, groups, g, b, eps), [x, gamma, beta], dout
    )
    close(out, exp_out, f"out of {what}", mistakes=groupnorm_mistakes(x, gamma, beta, groups, eps))
    got = unpack(
        s.call("groupnorm_backward", dout, cache),
        ("dx", "dgamma", "dbeta"),
        "groupnorm_backward(dout, cache)",
    )
    n, c = x.shape[:2]
    x_hat = standardise(x.reshape(n, groups, -1), 2, eps)
    inv_sd = 1.0 / np.sqrt(x.reshape(n, groups, -1).var(axis=2, keepdims=True) + eps)
    g = (dout * gamma.reshape(1, c, 1, 1)).reshape(n, groups, -1)
    m_dx = {
        "gamma is missing from dx: the gradient reaching x_hat is dout * gamma[c]": (
            standardise_grad(dout.reshape(n, groups, -1), x_hat, inv_sd, 2).reshape(x.shape)
        )
    }
    for key, text in GRAD_VARIANTS.items():
        m_dx[text.replace("batch mean", "group mean")] = standardise_grad(
            g, x_hat, inv_sd, 2, key
        ).reshape(x.shape)
    where = f"returned by groupnorm_backward(dout, cache) for x {x.shape}, G = {groups}"
    close(got[0], dx, f"dx {where}", mistakes=m_dx, rtol=1e-6, atol=1e-9)
    close(
        got[1],
        dgamma,
        f"dgamma {where}",
        mistakes={
            "dgamma must sum dout * x_hat over N, H and W": (dout * x_hat.reshape(x.shape)).sum(
                axis=(0, 2, 3)
            )
            / x.shape[0]
        },
    )
    close(got[2], dbeta, f"dbeta {where}")


@check(
    "groupnorm",
    "groupnorm_forward and groupnorm_backward on (2, 6, 3, 3) feature maps with 3 groups match "
    "F.group_norm and autograd",
)
def groupnorm_basic(s, rng):
    x = rng.standard_normal((2, 6, 3, 3)) * rng.uniform(0.5, 3.0, (1, 6, 1, 1)) + rng.uniform(
        -2, 2, (1, 6, 1, 1)
    )
    gamma, beta = rng.uniform(0.5, 2.0, 6), rng.standard_normal(6)
    check_groupnorm(s, x, gamma, beta, 3, rng.standard_normal(x.shape))


# -- Part 5: folding ----------------------------------------------------------------------------


def fold_reference(w, b, gamma, beta, rm, rv, eps):
    scale = gamma / np.sqrt(rv + eps)
    bias = np.zeros(w.shape[0]) if b is None else b
    shape = (-1,) + (1,) * (w.ndim - 1)
    return w * scale.reshape(shape), scale * (bias - rm) + beta


def fold_mistakes(w, b, gamma, beta, rm, rv, eps):
    bias = np.zeros(w.shape[0]) if b is None else b
    shape = (-1,) + (1,) * (w.ndim - 1)
    scale = gamma / np.sqrt(rv + eps)
    w_m = {
        "eps is missing: scale by gamma / sqrt(running_var + eps)": w
        * (gamma / np.sqrt(rv)).reshape(shape),
        "divided by the variance instead of its square root": w
        * (gamma / (rv + eps)).reshape(shape),
        "gamma is missing from the folded weights": w * (1.0 / np.sqrt(rv + eps)).reshape(shape),
    }
    if w.ndim == 2 and w.shape[0] == w.shape[1]:
        w_m["the columns (inputs) were scaled instead of the rows (output units)"] = w * scale
    if w.ndim == 4 and w.shape[0] == w.shape[1]:
        w_m["the input channels (axis 1) were scaled instead of the output channels (axis 0)"] = (
            w * scale.reshape(1, -1, 1, 1)
        )
    b_m = {
        "the running mean must be subtracted before scaling: b' = a * (b - mean) + beta": (
            scale * bias + beta
        ),
        "the old bias must be scaled too: b' = a * (b - mean) + beta": bias - scale * rm + beta,
        "beta is missing from the folded bias": scale * (bias - rm),
    }
    return w_m, b_m


def check_fold(s, name, w, b, gamma, beta, rm, rv, eps=1e-5):
    kw, text = eps_arg(eps)
    what = (
        f"{name}(w of shape {w.shape}, {'None' if b is None else 'b'}, gamma, beta, "
        f"running_mean, running_var{text})"
    )
    got = unpack(s.call(name, w, b, gamma, beta, rm, rv, **kw), ("w_folded", "b_folded"), what)
    exp_w, exp_b = fold_reference(w, b, gamma, beta, rm, rv, eps)
    w_m, b_m = fold_mistakes(w, b, gamma, beta, rm, rv, eps)
    close(got[0], exp_w, f"w_folded returned by {what}", mistakes=w_m)
    close(got[1], exp_b, f"b_folded returned by {what}", mistakes=b_m)
    return got


def bn_params(rng, c):
    return (
        rng.uniform(0.5, 2.0, c),
        rng.standard_normal(c),
        rng.standard_normal(c),
        rng.uniform(0.1, 3.0, c),
    )


@check(
    "fold_bn",
    "fold_bn_linear: the folded layer computes batch norm (evaluation mode) of the linear layer, "
    "with and without a bias",
)
def fold_linear_basic(s, rng):
    m, d = 4, 6
    w, b = rng.standard_normal((m, d)), rng.standard_normal(m)
    gamma, beta, rm, rv = bn_params(rng, m)
    w_f, b_f = check_fold(s, "fold_bn_linear", w, b, gamma, beta, rm, rv)
    x = rng.standard_normal((5, d))
    expect_close(
        np.asarray(x @ np.asarray(w_f).T + b_f),
        torch_batch_norm(x @ w.T + b, gamma, beta, rm, rv, False, 0.1, 1e-5)[0],
        "x @ w_folded.T + b_folded against BN(x @ w.T + b) in evaluation mode",
    )
    check_fold(s, "fold_bn_linear", w, None, gamma, beta, rm, rv)


@check(
    "fold_bn",
    "fold_bn_conv: F.conv2d with the folded filters and bias equals BN(conv2d(x)) in evaluation "
    "mode ((5, 3, 3, 3) filters, padding 1)",
)
def fold_conv_basic(s, rng):
    w, b = rng.standard_normal((5, 3, 3, 3)) * 0.5, rng.standard_normal(5)
    gamma, beta, rm, rv = bn_params(rng, 5)
    w_f, b_f = check_fold(s, "fold_bn_conv", w, b, gamma, beta, rm, rv)
    x = rng.standard_normal((2, 3, 5, 5))
    conv = F.conv2d(t64(x), t64(w), t64(b), padding=1).numpy()
    expect_close(
        F.conv2d(t64(x), t64(w_f), t64(b_f), padding=1).numpy(),
        torch_batch_norm(conv, gamma, beta, rm, rv, False, 0.1, 1e-5)[0],
        "conv2d with the folded filters against BN(conv2d(x)) in evaluation mode",
    )


# -- Part 6: PyTorch ----------------------------------------------------------------------------

FN_CALL = (
    "BatchNormFunction.apply(x, weight, bias, running_mean, running_var, {mode}, {m:g}, {eps:g})"
)


def run_function(s, x, gamma, beta, rm, rv, training, momentum, eps, dout, dtype="float64"):
    return probe(
        s, "a3_batchnorm.bn_function", x, gamma, beta, rm, rv, training, momentum, eps, dout, dtype
    )


def check_function(
    s, x, gamma, beta, rm, rv, training, momentum=0.1, eps=1e-5, dout=None, dtype="float64"
):
    res = run_function(s, x, gamma, beta, rm, rv, training, momentum, eps, dout, dtype)
    call = FN_CALL.format(mode=training, m=momentum, eps=eps)
    what = f"{call} for {dtype} x of shape {tuple(np.shape(x))}"
    exp_out, exp_rm, exp_rv, grads = torch_batch_norm(
        x, gamma, beta, rm, rv, training, momentum, eps, dout
    )
    tol = {"rtol": 1e-6, "atol": 1e-9} if dtype == "float64" else {"rtol": 1e-4, "atol": 2e-5}
    axes = (0, *range(2, np.ndim(x)))
    shape = (1, -1) + (1,) * (np.ndim(x) - 2)
    rows = np.moveaxis(np.asarray(x), 1, -1).reshape(-1, np.shape(x)[1])
    out_m = {}
    if training:
        out_m["normalised with the running buffers in training mode: use the batch statistics"] = (
            gamma.reshape(shape) * (x - rm.reshape(shape)) / np.sqrt(rv + eps).reshape(shape)
            + beta.reshape(shape)
        )
        out_m["the statistics must be taken per channel (axis 1) over all the other axes"] = (
            gamma.reshape(shape) * standardise(x, 0, eps) + beta.reshape(shape)
        )
    elif rows.shape[0] > 1:
        out_m[
            "batch statistics at test time: evaluation mode uses running_mean and running_var"
        ] = gamma.reshape(shape) * standardise(x, axes, eps) + beta.reshape(shape)
    close(field(res, "out", what), exp_out, f"output of {what}", mistakes=out_m, **tol)
    expect_equal(res["out_dtype"], dtype, f"dtype of the output of {what}")
    in_place = (
        "update the buffers in place (running_mean.mul_(...).add_(...) or copy_): assigning a "
        "new tensor to the argument's name does not change the caller's buffer"
    )
    if training:
        mean_m, var_m = running_mistakes(rows, rm, rv, momentum)
        mean_m = {
            (in_place if k.startswith("the running statistics were not") else k): v
            for k, v in mean_m.items()
        }
        var_m = {
            (in_place if k.startswith("the running statistics were not") else k): v
            for k, v in var_m.items()
        }
    else:
        changed = "evaluation mode must leave the running buffers unchanged"
        mean_m, var_m = {}, {}
        if rows.shape[0] > 1:
            _, upd_rm, upd_rv, _ = torch_batch_norm(x, gamma, beta, rm, rv, True, momentum, eps)
            mean_m, var_m = {changed: upd_rm}, {changed: upd_rv}
    close(res["running_mean"], exp_rm, f"running_mean after {what}", mistakes=mean_m, **tol)
    close(res["running_var"], exp_rv, f"running_var after {what}", mistakes=var_m, **tol)
    if dout is None:
        return
    expect(
        res["requires_grad"],
        f"the output of {what} does not require grad",
        "return a tensor computed from the inputs inside forward",
    )
    for key, name, exp in zip(
        ("grad_x", "grad_weight", "grad_bias"), ("x", "weight", "bias"), grads, strict=True
    ):
        got = res[key]
        expect(
            got is not None,
            f"{name}.grad is None after backpropagating through {what}",
            f"backward must return the gradient with respect to {name}",
        )
        mistakes = {}
        if key == "grad_x":
            mistakes = function_dx_mistakes(x, gamma, rm, rv, training, eps, dout)
        close(
            got,
            exp,
            f"{name}.grad after backpropagating a random gradient through {what}",
            mistakes=mistakes,
            **tol,
        )


def function_dx_mistakes(x, gamma, rm, rv, training, eps, dout):
    nd = np.ndim(x)
    axes = (0, *range(2, nd))
    shape = (1, -1) + (1,) * (nd - 2)
    if training:
        x_hat = standardise(x, axes, eps)
        inv_sd = 1.0 / np.sqrt(np.var(x, axis=axes, keepdims=True) + eps)
    else:
        inv_sd = 1.0 / np.sqrt(rv + eps).reshape(shape)
        x_hat = (x - rm.reshape(shape)) * inv_sd
    g = dout * gamma.reshape(shape)
    out = {
        "gamma (weight) is missing from the gradient with respect to x": (
            standardise_grad(dout, x_hat, inv_sd, axes) if training else dout * inv_sd
        )
    }
    if training:
        for key, text in GRAD_VARIANTS.items():
            out[text] = standardise_grad(g, x_hat, inv_sd, axes, key)
    else:
        out[
            "in evaluation mode the mean and variance are constants: grad_x is just "
            "grad_output * weight / sqrt(running_var + eps)"
        ] = standardise_grad(g, x_hat, inv_sd, axes)
    return out


@check(
    "torch_bn_function",
    "training mode on (4, 3, 3, 3) float64 feature maps: output, gradients of x, weight and "
    "bias, and the running buffers (updated in place) match F.batch_norm",
)
def function_train(s, rng):
    x = features(rng, 4 * 3 * 3, 3).reshape(4, 3, 3, 3).transpose(0, 3, 1, 2).copy()
    gamma, beta = rng.uniform(0.5, 2.0, 3), rng.standard_normal(3)
    rm, rv = running_stats(rng, 3)
    check_function(s, x, gamma, beta, rm, rv, True, dout=rng.standard_normal(x.shape))


@check(
    "torch_bn_function",
    "evaluation mode on (4, 3, 3, 3) float64 feature maps: output and gradients with the running "
    "statistics as constants; the buffers are unchanged",
)
def function_eval(s, rng):
    x = features(rng, 4 * 3 * 3, 3).reshape(4, 3, 3, 3).transpose(0, 3, 1, 2).copy()
    gamma, beta = rng.uniform(0.5, 2.0, 3), rng.standard_normal(3)
    rm, rv = running_stats(rng, 3)
    check_function(s, x, gamma, beta, rm, rv, False, dout=rng.standard_normal(x.shape))


BN_KEYS = ["bias", "num_batches_tracked", "running_mean", "running_var", "weight"]


def module_steps(rng, c, modes, shape=(4, None, 3, 3), with_dout=True):
    steps = []
    for train in modes:
        dims = tuple(c if d is None else d for d in shape)
        scale = rng.uniform(0.5, 3.0, (1, c, 1, 1))
        offset = rng.uniform(-2.0, 2.0, (1, c, 1, 1))
        x = rng.standard_normal(dims) * scale + offset
        step = {"x": x, "train": bool(train)}
        if with_dout:
            step["dout"] = rng.standard_normal(dims)
        steps.append(step)
    return steps


def reference_module(c, kwargs, steps, dtype=None, params=None, state=None):
    kw = dict(kwargs)
    if "dtype" in kw:
        kw["dtype"] = DTYPES[kw["dtype"]]
    return drive_module(nn.BatchNorm2d(c, **kw), steps, dtype, params, state)


def check_module_run(s, c, kwargs, steps, dtype="float64", params=None, state=None, label=""):
    res = probe(s, "a3_batchnorm.bn_module", c, kwargs, steps, dtype, params, state)
    ref = reference_module(c, kwargs, steps, dtype, params, state)
    args = "".join(f", {k}={v!r}" for k, v in kwargs.items())
    what = f"MyBatchNorm2d({c}{args}){label}"
    tol = (
        {"rtol": 1e-6, "atol": 1e-9}
        if (dtype or kwargs.get("dtype")) == "float64"
        else {"rtol": 1e-4, "atol": 2e-5}
    )
    records = field(res, "records", what)
    expect_equal(len(records), len(steps), f"{what}: number of steps run")
    cumulative = "momentum" in kwargs and kwargs["momentum"] is None
    if cumulative:  # what a module that ignores momentum=None would hold
        as_default = reference_module(c, {**kwargs, "momentum": 0.1}, steps, dtype, params, state)
    affine = params or state or {}
    for i, (got, exp, step) in enumerate(zip(records, ref["records"], steps, strict=True)):
        mode = "train()" if step["train"] else "eval()"
        where = f"step {i + 1} ({mode}, x of shape {np.shape(step['x'])}) of {what}"
        mistakes = {}
        if not step["train"] and np.shape(step["x"])[0] > 1:
            mistakes["evaluation mode must normalise with the running buffers, not the batch"] = (
                standardise(step["x"], (0, 2, 3), float(kwargs.get("eps", 1e-5)))
                * np.asarray(affine.get("weight", np.ones(c))).reshape(1, -1, 1, 1)
                + np.asarray(affine.get("bias", np.zeros(c))).reshape(1, -1, 1, 1)
            )
        close(got["out"], exp["out"], f"output at {where}", mistakes=mistakes, **tol)
        expect_equal(got["out_dtype"], exp["out_dtype"], f"dtype of the output at {where}")
        if exp["grad_x"] is not None:
            close(got["grad_x"], exp["grad_x"], f"x.grad at {where}", **tol)
        buffers = got["buffers"]
        for name in ("running_mean", "running_var", "num_batches_tracked"):
            expect(
                name in buffers,
                f"{what} has no buffer named {name!r} (buffers: {sorted(buffers)})",
                "register it with self.register_buffer(name, tensor)",
            )
        frozen = "the running buffers must not change in evaluation mode"
        hint_nbt = (
            "num_batches_tracked counts the training-mode calls (in place, e.g. "
            "self.num_batches_tracked.add_(1)); evaluation-mode calls do not count"
        )
        got_n, exp_n = buffers["num_batches_tracked"], exp["buffers"]["num_batches_tracked"]
        if np.shape(got_n) != np.shape(exp_n) or not np.array_equal(got_n, exp_n):
            shown = got_n.tolist() if isinstance(got_n, np.ndarray) else got_n
            raise CheckFailure(
                f"num_batches_tracked after {where} is {shown!r}, expected {exp_n!r}", hint_nbt
            )
        for name in ("running_mean", "running_var"):
            if i:
                prev = ref["records"][i - 1]["buffers"][name]
            else:
                prev = ref["info"]["buffers"][name]["value"]
            m = {"the running buffers were not updated in training mode": prev}
            if cumulative:
                m[
                    "momentum=None means a cumulative average: the weight of the new batch is "
                    "1 / num_batches_tracked, not 0.1"
                ] = as_default["records"][i]["buffers"][name]
            close(
                buffers[name],
                exp["buffers"][name],
                f"{name} after {where}",
                None if step["train"] else frozen,
                mistakes=m if step["train"] else {},
                **tol,
            )
    for name in ("weight", "bias") if any("dout" in step for step in steps) else ():
        grads = field(res, "grads", what)
        expect(name in grads, f"{what} has no parameter named {name!r}")
        expect(
            grads[name] is not None,
            f"{name}.grad is None after the backward passes through {what}",
            "weight and bias must be nn.Parameters passed to BatchNormFunction.apply",
        )
        close(
            grads[name],
            ref["grads"][name],
            f"{name}.grad accumulated over the steps of {what}",
            **tol,
        )
    return res


@check(
    "torch_bn_module",
    "MyBatchNorm2d(3): parameters weight (ones) and bias (zeros), buffers running_mean (zeros), "
    "running_var (ones) and num_batches_tracked (0, int64), the same state_dict keys as "
    "nn.BatchNorm2d, and a forward pass through BatchNormFunction",
)
def module_structure(s, rng):
    steps = module_steps(rng, 3, [True], with_dout=False)
    res = probe(s, "a3_batchnorm.bn_module", 3, {}, steps, None, None, None)
    info = field(res, "info", "MyBatchNorm2d(3)")
    expect_equal(
        sorted(info["params"]),
        ["bias", "weight"],
        "names of the parameters of MyBatchNorm2d(3)",
        "create self.weight and self.bias as nn.Parameter",
    )
    expected = {
        "weight": (np.ones(3), "float32", "params"),
        "bias": (np.zeros(3), "float32", "params"),
        "running_mean": (np.zeros(3), "float32", "buffers"),
        "running_var": (np.ones(3), "float32", "buffers"),
        "num_batches_tracked": (np.array(0), "int64", "buffers"),
    }
    for name, (value, dtype, kind) in expected.items():
        group = info[kind]
        expect(
            name in group,
            f"MyBatchNorm2d(3) has no {kind[:-1]} named {name!r} (it has: {sorted(group)})",
            "buffers are registered with self.register_buffer(name, tensor); a plain "
            "attribute is not moved by .to(), not saved in state_dict()"
            if kind == "buffers"
            else None,
        )
        expect_equal(group[name]["dtype"], dtype, f"dtype of {name} of a fresh MyBatchNorm2d(3)")
        expect_equal(
            list(group[name]["shape"]), list(value.shape), f"shape of {name} of MyBatchNorm2d(3)"
        )
        expect_close(group[name]["value"], value, f"initial value of {name}")
    expect_equal(
        info["state_dict_keys"],
        BN_KEYS,
        "keys of MyBatchNorm2d(3).state_dict() (those of nn.BatchNorm2d(3))",
    )
    graph = res["records"][0]["graph"]
    expect(
        "BatchNormFunctionBackward" in graph,
        f"the output of MyBatchNorm2d in training mode was not computed by BatchNormFunction "
        f"(autograd nodes: {graph[:6]})",
        "call BatchNormFunction.apply(x, self.weight, self.bias, ...) in forward",
    )


@check(
    "torch_bn_module",
    "three training steps then two evaluation steps of MyBatchNorm2d(4) in float64 with random "
    "weight and bias: outputs, x.grad, running buffers, num_batches_tracked and the parameter "
    "gradients match nn.BatchNorm2d at every step",
)
def module_train_eval(s, rng):
    c = 4
    steps = module_steps(rng, c, [True, True, True, False, False])
    params = {"weight": rng.uniform(0.5, 2.0, c), "bias": rng.standard_normal(c)}
    check_module_run(s, c, {}, steps, "float64", params)


def fuse_case(rng, cfg, with_bias, dtype="float64", eps=1e-5, training=False, n=2, size=6):
    c_out, c_in, groups = cfg["out_channels"], cfg["in_channels"], cfg.get("groups", 1)
    k = cfg["kernel_size"]
    w = rng.standard_normal((c_out, c_in // groups, k, k)) * 0.4
    b = rng.standard_normal(c_out) if with_bias else None
    gamma, beta, rm, rv = bn_params(rng, c_out)
    state = {
        "weight": gamma,
        "bias": beta,
        "running_mean": rm,
        "running_var": rv,
        "eps": eps,
        "training": training,
    }
    x = rng.standard_normal((n, c_in, size, size))
    return w, b, state, x


def check_fuse(s, rng, cfg, with_bias=True, dtype="float64", eps=1e-5, training=False):
    w, b, state, x = fuse_case(rng, cfg, with_bias, dtype, eps, training)
    res = probe(s, "a3_batchnorm.fuse", cfg, w, b, state, dtype, x)
    opts = ", ".join(f"{k}={v}" for k, v in cfg.items()) + f", bias={with_bias}"
    what = f"fuse_conv_bn(nn.Conv2d({opts}), nn.BatchNorm2d(eps={eps:g})) in {dtype}"
    if training:
        what += " with bn in training mode"
    expect(
        field(res, "is_conv2d", what),
        f"{what} returned a {res['type']}, expected an nn.Conv2d",
    )
    expect(
        not res["is_input"],
        f"{what} returned the input conv itself",
        "build a new nn.Conv2d: the original layers must stay untouched",
    )
    expect(
        res["inputs_unchanged"],
        f"{what} changed conv or bn (their parameters, buffers or mode)",
        "copy the folded values into a new layer; do not modify conv or bn in place",
    )
    conv, bn = build_conv_bn(cfg, w, b, state, "float64")
    expect_equal(
        res["settings"],
        conv_settings(conv),
        f"hyperparameters of the layer from {what}",
        "create the new Conv2d with the kernel size, stride, padding, dilation, groups "
        "and padding mode of conv",
    )
    expect_equal(
        res["weight_dtype"],
        dtype,
        f"dtype of the weights from {what}",
        "create the new layer with dtype=conv.weight.dtype",
    )
    tol = {"rtol": 1e-6, "atol": 1e-9} if dtype == "float64" else {"rtol": 1e-4, "atol": 2e-5}
    exp_w, exp_b = fold_reference(
        w, b, state["weight"], state["bias"], state["running_mean"], state["running_var"], eps
    )
    w_m, b_m = fold_mistakes(
        w, b, state["weight"], state["bias"], state["running_mean"], state["running_var"], eps
    )
    close(res["weight"], exp_w, f"weight of the layer from {what}", mistakes=w_m, **tol)
    expect(res["bias"] is not None, f"the layer from {what} has no bias", "use bias=True")
    close(res["bias"], exp_b, f"bias of the layer from {what}", mistakes=b_m, **tol)
    with torch.no_grad():
        bn.eval()
        expected = bn(conv(torch.from_numpy(x))).numpy()
    close(res["out"], expected, f"output of the layer from {what} against bn(conv(x))", **tol)


@check(
    "fuse_conv_bn",
    "fuse_conv_bn on a float64 Conv2d(3, 4, 3, padding=1) with bias and an evaluation-mode "
    "BatchNorm2d: a new Conv2d whose weights, bias and output equal bn(conv(x)); the inputs are "
    "untouched",
)
def fuse_basic(s, rng):
    cfg = {"in_channels": 3, "out_channels": 4, "kernel_size": 3, "padding": 1}
    check_fuse(s, rng, cfg)
