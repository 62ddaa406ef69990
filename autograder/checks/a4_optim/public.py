"""Public checks of A4: what students run from their notebook with ``checker.check("<item>")``.

Oracles: ``torch.optim`` (SGD, Adagrad, RMSprop, Adam, AdamW) in float64 on exactly the
gradients the student's code saw; the real scheduler objects of ``torch.optim.lr_scheduler``
(``StepLR``, ``ExponentialLR``, ``LinearLR``, ``LambdaLR``, ``CosineAnnealingLR``,
``SequentialLR``, ``CyclicLR``, ``OneCycleLR``) stepped next to the student's functions; a
reference range test on a synthetic training run. Typical mistakes are simulated in NumPy so that
a wrong answer that matches one of them gets a hint. The helpers at the top are shared with
:mod:`.hidden`.
"""

from __future__ import annotations

import functools
import math

import numpy as np
import torch
from torch.optim import lr_scheduler

from autograder.checking import CheckFailure, close, describe, expect, expect_equal
from autograder.checking import check as _check
from autograder.student import Remote, StudentError

from .probes import SyntheticTrainer, drive_optimizer, drive_scheduler

F64 = torch.float64
RTOL, ATOL = 1e-10, 1e-12  # the bar: 1e-10 relative, over 100 steps and more

# -- generic helpers ----------------------------------------------------------------------------


# Every check here runs on one PyTorch thread (tiny tensors), with 20 s instead of 5: several
# checks train a model for 200 steps twice (the student's optimiser in the worker, PyTorch's in
# the grader): well under a second on an idle machine, several on a busy grading machine; the
# limit only has to stop hangs.
check = functools.partial(_check, one_thread=True, timeout=20.0)


def _warm_up() -> None:
    """Create an optimiser and a scheduler once at import: the first ones a process creates
    import torch._dynamo (one to two seconds), which must not count against a check's time."""
    p = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([p], lr=0.1)
    lr_scheduler.StepLR(opt, 1)


_warm_up()


def fmt(kwargs: dict) -> str:
    def one(v):
        if isinstance(v, float):
            return f"{v:g}"
        if isinstance(v, tuple):
            return "(" + ", ".join(one(x) for x in v) + ")"
        return repr(v)

    return ", ".join(f"{k}={one(v)}" for k, v in kwargs.items())


def first_bad(got: np.ndarray, exp: np.ndarray, rtol=RTOL, atol=ATOL) -> int | None:
    """The first index along axis 0 where ``got`` and ``exp`` differ (NaN only matches NaN)."""
    got, exp = np.asarray(got, dtype=np.float64), np.asarray(exp, dtype=np.float64)
    if got.shape != exp.shape:
        return 0
    with np.errstate(invalid="ignore"):
        ok = np.abs(got - exp) <= atol + rtol * np.abs(exp)
    ok |= (got == exp) | (np.isnan(got) & np.isnan(exp))
    rows = ok.reshape(len(ok), -1).all(axis=1)
    bad = np.flatnonzero(~rows)
    return int(bad[0]) if len(bad) else None


def compare_series(
    got, exp, what, where, mistakes=None, hint=None, rtol=RTOL, atol=ATOL, whole=False
):
    """``got`` must match ``exp`` row by row (axis 0 counts steps). On a mismatch the message
    names the first step that differs, ``where(i)``, and the hint comes from the mistakes (a dict
    or a function returning one: description -> series) whose whole series the student's matches
    (to 1e-6, or with ``whole``, for series without feedback such as schedules, to 1e-9)."""
    if isinstance(got, Remote | str) or got is None:
        raise CheckFailure(f"{what}: expected numbers, got {describe(got)}")
    got = np.asarray(got, dtype=np.float64)
    exp = np.asarray(exp, dtype=np.float64)
    if got.shape != exp.shape:
        raise CheckFailure(f"{what}: shape {got.shape}, expected {exp.shape}", hint)
    i = first_bad(got, exp, rtol, atol)
    if i is None:
        return

    if mistakes:
        # A mistake names the student's bug only when its whole series is the student's: one row
        # alone (the first that differs) is shared by several mistakes, e.g. every Nesterov bug
        # whose first step is plain momentum's.
        found = mistakes() if callable(mistakes) else mistakes
        tol = max(rtol, 1e-9) if whole else max(rtol, 1e-6)
        matched = []
        for text, series in found.items():
            series = np.asarray(series, dtype=np.float64)
            if (
                series.shape == got.shape
                and first_bad(series, exp, rtol, atol) is not None  # else it explains nothing
                and np.allclose(got, series, rtol=tol, atol=atol, equal_nan=True)
            ):
                matched.append(text)
        if matched:  # several: on these inputs the mistakes cannot be told apart
            hint = "; or ".join(matched)

    before = " (everything before matches)" if i else ""
    close(
        got[i],
        exp[i],
        f"{what}, {where(i)}{before}",
        hint,
        rtol=rtol,
        atol=atol,
    )
    # close() passes when row i is within its own looser test; report the strict failure anyway
    raise CheckFailure(f"{what}, {where(i)}: got {got[i]!r}, expected {exp[i]!r}", hint)


def field(result, key: str, what: str):
    if not isinstance(result, dict) or key not in result:
        keys = sorted(result) if isinstance(result, dict) else describe(result)
        raise CheckFailure(f"{what}: the result has no {key!r} (it has: {keys})")
    return result[key]


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


# -- Part 1: oracles and simulated mistakes for the update rules --------------------------------

RULES = {  # item -> (student function, torch.optim class, default hyperparameters)
    "sgd": (
        "sgd_step",
        torch.optim.SGD,
        {"lr": 1e-3, "momentum": 0.0, "dampening": 0.0, "nesterov": False, "weight_decay": 0.0},
    ),
    "adagrad": (
        "adagrad_step",
        torch.optim.Adagrad,
        {
            "lr": 1e-2,
            "lr_decay": 0.0,
            "weight_decay": 0.0,
            "initial_accumulator_value": 0.0,
            "eps": 1e-10,
        },
    ),
    "rmsprop": (
        "rmsprop_step",
        torch.optim.RMSprop,
        {
            "lr": 1e-2,
            "alpha": 0.99,
            "eps": 1e-8,
            "weight_decay": 0.0,
            "momentum": 0.0,
            "centered": False,
        },
    ),
    "adam": (
        "adam_step",
        torch.optim.Adam,
        {"lr": 1e-3, "betas": (0.9, 0.999), "eps": 1e-8, "weight_decay": 0.0},
    ),
    "adamw": (
        "adamw_step",
        torch.optim.AdamW,
        {"lr": 1e-3, "betas": (0.9, 0.999), "eps": 1e-8, "weight_decay": 1e-2},
    ),
}


def quadratic_problem(rng, shape, steps, curvature=(0.2, 1.5), spread=(1e-4, 1.0)):
    """A start, curvatures and gradient noise for a run on a noisy quadratic.

    The start and the noise of each coordinate have a scale drawn log-uniformly from ``spread``:
    some coordinates see gradients near 1, others near 1e-4, where eps matters."""
    scale = np.exp(rng.uniform(np.log(spread[0]), np.log(spread[1]), shape))
    param0 = scale * rng.standard_normal(shape)
    h = rng.uniform(curvature[0], curvature[1], shape)
    noise = scale * rng.standard_normal((steps, *np.shape(param0)))
    return np.asarray(param0, dtype=np.float64), np.asarray(h), noise


def torch_trajectory(item, kwargs, param0, curvature, noise, lrs=None) -> dict:
    """``torch.optim`` on the same gradients ``curvature * param + noise[t]``, in float64."""
    cls = RULES[item][1]
    shape = np.shape(param0)
    p = torch.tensor(np.asarray(param0, dtype=np.float64), dtype=F64, requires_grad=True)
    opt = cls([p], **kwargs)
    h = torch.as_tensor(np.asarray(curvature, dtype=np.float64))
    n = torch.as_tensor(np.asarray(noise, dtype=np.float64))
    params, states, steps = [], {}, []
    for t in range(len(noise)):
        if lrs is not None:
            opt.param_groups[0]["lr"] = float(lrs[t])
        p.grad = h * p.detach() + n[t]
        opt.step()
        params.append(p.detach().numpy().copy())
        for k, v in opt.state[p].items():
            if k == "step":
                steps.append(float(v))
            else:
                states.setdefault(k, []).append(v.detach().numpy().copy())
    T = len(noise)
    return {
        "params": np.array(params).reshape(T, *shape),
        "states": {k: np.array(v).reshape(T, *shape) for k, v in states.items()},
        "steps": steps or None,
    }


def _sgd_ref(p, g, st, hp, variant):
    lr, mu, tau, wd = hp["lr"], hp["momentum"], hp["dampening"], hp["weight_decay"]
    nesterov = hp["nesterov"] and variant != "nesterov_plain"
    if variant == "no_weight_decay":
        wd = 0.0
    d = g if variant == "decay_after_momentum" else g + wd * p
    if variant == "classical":  # velocity with the learning rate inside it
        vel = st.get("vel")
        vel = -lr * d if vel is None else mu * vel - lr * (1 - tau) * d
        return p + (mu * vel - lr * d if nesterov else vel), {"vel": vel}
    if mu == 0:
        return p - lr * d, st
    b = st.get("b")
    if b is None:
        b = (1 - tau) * d if variant == "first_dampened" else d
    else:
        b = mu * b + (1 - (0.0 if variant == "dampening_ignored" else tau)) * d
    if nesterov:
        step = d + mu * (st.get("b", 0.0) if variant == "nesterov_old_buffer" else b)
    else:
        step = b
    if variant == "decay_after_momentum":
        step = step + wd * p
    return p - lr * step, {"b": b}


def _adagrad_ref(p, g, st, hp, variant):
    t = st.get("t", 0) + 1
    wd = 0.0 if variant == "no_weight_decay" else hp["weight_decay"]
    gg = g + wd * p
    G = st.get("G")
    if G is None:
        start = 0.0 if variant == "init_ignored" else hp["initial_accumulator_value"]
        G = np.full(np.shape(p), start)
    G = G + (g * g if variant == "decay_not_accumulated" else gg * gg)
    count = t if variant == "lr_decay_from_t" else t - 1
    rate = hp["lr"] / (1 + count * hp["lr_decay"])
    eps = hp["eps"]
    denom = np.sqrt(G + eps) if variant == "eps_inside" else np.sqrt(G) + eps
    return p - rate * gg / denom, {"t": t, "G": G}


def _rmsprop_ref(p, g, st, hp, variant):
    t = st.get("t", 0) + 1
    alpha, eps, mu = hp["alpha"], hp["eps"], hp["momentum"]
    gg = g + (0.0 if variant == "no_weight_decay" else hp["weight_decay"]) * p
    keep, new = (1 - alpha, alpha) if variant == "alpha_swapped" else (alpha, 1 - alpha)
    s = keep * st.get("s", 0.0) + new * gg * gg
    out = {"t": t, "s": s}
    s_use = s / (1 - alpha**t) if variant == "bias_corrected" else s
    if hp["centered"] and variant != "centered_ignored":
        a = keep * st.get("a", 0.0) + new * gg
        out["a"] = a
        a_use = gg if variant == "centered_current_grad" else a
        var = np.abs(s_use - a_use) if variant == "centered_no_square" else s_use - a_use * a_use
    else:
        var = s_use
    denom = np.sqrt(var + eps) if variant == "eps_inside" else np.sqrt(var) + eps
    r = gg / denom
    if mu > 0:
        b = mu * st.get("b", 0.0) + ((1 - mu) * r if variant == "buffer_dampened" else r)
        out["b"] = b
        return p - hp["lr"] * b, out
    return p - hp["lr"] * r, out


def _adam_ref(p, g, st, hp, variant):
    t = st.get("t", 0) + 1
    b1, b2 = hp["betas"]
    if variant == "betas_swapped":
        b1, b2 = b2, b1
    lr, eps, wd = hp["lr"], hp["eps"], hp["weight_decay"]
    decoupled = hp.get("decoupled", False)
    if variant == "coupling_flipped":
        decoupled = not decoupled
    if variant == "no_weight_decay":
        wd = 0.0
    if decoupled:
        shrink = wd if variant == "decay_without_lr" else lr * wd
        if variant != "decay_after_step":
            p = p * (1 - shrink)
        gg = g
    else:
        gg = g + wd * p
    m = b1 * st.get("m", 0.0) + (1 - b1) * gg
    v = b2 * st.get("v", 0.0) + (1 - b2) * gg * gg
    k = {"bias_from_zero": t - 1, "bias_plus_one": t + 1}.get(variant, t)
    c1, c2 = 1 - b1**k, 1 - b2**k
    if variant == "no_bias_correction":
        c1 = c2 = 1.0
    if variant == "only_m_corrected":
        c2 = 1.0
    if variant == "sqrt_missing_on_correction":
        denom = np.sqrt(v) / c2 + eps
    elif variant == "eps_inside":
        denom = np.sqrt(v / c2 + eps)
    else:
        denom = np.sqrt(v / c2) + eps
    new = p - lr * (m / c1) / denom
    if decoupled and variant == "decay_after_step":
        new = new * (1 - lr * wd)
    return new, {"t": t, "m": m, "v": v}


REFS = {
    "sgd": _sgd_ref,
    "adagrad": _adagrad_ref,
    "rmsprop": _rmsprop_ref,
    "adam": _adam_ref,
    "adamw": _adam_ref,
}

SGD_MISTAKES = {
    "nesterov_plain": "Nesterov treated as plain momentum: with nesterov=True the step is "
    "lr * (g + momentum * buffer), the fresh gradient plus momentum times the updated buffer",
    "nesterov_old_buffer": "the Nesterov step must use the buffer after this step's update "
    "(g + momentum * b_t), not the previous buffer",
    "first_dampened": "on the first step the buffer is a plain copy of the gradient: dampening "
    "applies only from the second step on",
    "dampening_ignored": "dampening is missing: b_t = momentum * b_(t-1) + (1 - dampening) * g_t",
    "decay_after_momentum": "weight decay belongs in the gradient, g = grad + weight_decay * "
    "param, before the momentum buffer, not added to the step afterwards",
    "no_weight_decay": "weight_decay was ignored: add weight_decay * param to the gradient",
    "classical": "this is the classical velocity v = momentum * v - lr * g, which keeps old "
    "learning rates inside it; PyTorch's buffer holds gradients only and multiplies the whole "
    "buffer by the current lr",
}
ADAGRAD_MISTAKES = {
    "eps_inside": "eps belongs outside the square root: sqrt(sum) + eps, as PyTorch does",
    "lr_decay_from_t": "lr_decay counts from the first step: lr / (1 + (t - 1) * lr_decay), so "
    "the first step uses lr itself (an off-by-one in the step count)",
    "init_ignored": "the accumulator must start at initial_accumulator_value, not at zero",
    "decay_not_accumulated": "the weight-decay term is part of the gradient everywhere: square "
    "g = grad + weight_decay * param when you accumulate",
    "no_weight_decay": "weight_decay was ignored: add weight_decay * param to the gradient",
}
RMSPROP_MISTAKES = {
    "eps_inside": "eps belongs outside the square root: sqrt(square_avg) + eps, as PyTorch does",
    "alpha_swapped": "alpha is the weight of the old average: square_avg = alpha * square_avg "
    "+ (1 - alpha) * g**2",
    "bias_corrected": "RMSProp does not correct the bias of square_avg (only Adam does)",
    "centered_no_square": "centred: subtract the square of grad_avg, sqrt(square_avg - "
    "grad_avg**2) + eps",
    "centered_current_grad": "centred: subtract the square of the moving average grad_avg, not "
    "of the current gradient",
    "centered_ignored": "centered=True was ignored: keep grad_avg and divide by "
    "sqrt(square_avg - grad_avg**2) + eps",
    "buffer_dampened": "RMSProp's momentum buffer is momentum * buffer + g / avg, without a "
    "factor (1 - momentum)",
    "no_weight_decay": "weight_decay was ignored: add weight_decay * param to the gradient",
}
ADAM_MISTAKES = {
    "no_bias_correction": "no bias correction: divide exp_avg by (1 - beta1**t) and exp_avg_sq "
    "by (1 - beta2**t)",
    "bias_from_zero": "the bias correction must use the step count after counting this step "
    "(t = 1 at the first step); with the count from 0, 1 - beta**0 = 0 divides by zero",
    "bias_plus_one": "the bias correction uses the step count t one too high: the first step "
    "has t = 1",
    "only_m_corrected": "only exp_avg was bias-corrected: exp_avg_sq needs its (1 - beta2**t) too",
    "sqrt_missing_on_correction": "the second moment's correction goes inside the square root: "
    "sqrt(exp_avg_sq / (1 - beta2**t)), i.e. divide sqrt(exp_avg_sq) by sqrt(1 - beta2**t)",
    "eps_inside": "eps belongs outside the square root: sqrt(v_hat) + eps, as PyTorch does",
    "betas_swapped": "beta1 belongs to the gradient average exp_avg and beta2 to exp_avg_sq",
    "coupling_flipped": "Adam's weight_decay is L2: add weight_decay * param to the gradient "
    "(coupled), not the decoupled shrink of AdamW",
    "no_weight_decay": "weight_decay was ignored: add weight_decay * param to the gradient",
}
ADAMW_MISTAKES = {
    "coupling_flipped": "coupled weight decay: AdamW does not add weight_decay * param to the "
    "gradient; it multiplies the parameters by (1 - lr * weight_decay) and leaves the gradient "
    "alone",
    "decay_without_lr": "the decoupled decay shrinks by (1 - lr * weight_decay), with the "
    "learning rate",
    "decay_after_step": "shrink the parameters before the Adam step, (1 - lr * wd) * param, "
    "not the result of the step",
    "no_weight_decay": "weight_decay was ignored (its default is 1e-2): shrink the parameters by "
    "(1 - lr * weight_decay)",
    "no_bias_correction": ADAM_MISTAKES["no_bias_correction"],
    "bias_from_zero": ADAM_MISTAKES["bias_from_zero"],
    "eps_inside": ADAM_MISTAKES["eps_inside"],
}
MISTAKES = {
    "sgd": SGD_MISTAKES,
    "adagrad": ADAGRAD_MISTAKES,
    "rmsprop": RMSPROP_MISTAKES,
    "adam": ADAM_MISTAKES,
    "adamw": ADAMW_MISTAKES,
}


def simulate(item, variant, kwargs, param0, curvature, noise, lrs=None) -> np.ndarray:
    """The parameter trajectory of a simulated mistake (NumPy), on the same gradients."""
    hp = {**RULES[item][2], **kwargs}
    if item == "adamw":
        hp["decoupled"] = True
    step = REFS[item]
    p, st, out = np.array(param0, dtype=np.float64), {}, []
    with np.errstate(all="ignore"):
        for t in range(len(noise)):
            if lrs is not None:
                hp["lr"] = float(lrs[t])
            g = curvature * p + noise[t]
            p, st = step(p, g, st, hp, variant)
            out.append(np.array(p, dtype=np.float64))
    return np.array(out).reshape(len(noise), *np.shape(param0))


def check_rule(s, item, kwargs, param0, curvature, noise, lrs=None, label=""):
    """The student's update rule against ``torch.optim`` on the same run: inputs untouched,
    parameters after every step, the state (torch's names) after every step."""
    fn = RULES[item][0]
    shape = tuple(np.shape(param0))
    args = ", " + fmt(kwargs) if kwargs else ""
    lr_note = ", lr changing at every step" if lrs is not None else ""
    what = f"{fn}(param, grad, state{args}) on a noisy quadratic (param of shape {shape}{lr_note})"
    res = s.probe(
        "a4_optim.update_rule", fn, param0, curvature, noise, kwargs, lrs, what=f"{fn}(...)"
    )
    mutated = field(res, "mutated", what)
    if mutated:
        raise CheckFailure(
            f"{fn} modified {mutated['what']} at step {mutated['step']}{label}",
            "the update rule must be pure: build new arrays (x = x - y, dict(state) or a new "
            "dict) instead of changing the caller's in place (x -= y, state[k] = ...)",
        )
    exp = torch_trajectory(item, kwargs, param0, curvature, noise, lrs)

    def sims():
        return {
            text: simulate(item, v, kwargs, param0, curvature, noise, lrs)
            for v, text in MISTAKES[item].items()
        }

    compare_series(
        res["params"],
        exp["params"],
        f"{what}{label}: the parameters",
        lambda i: f"after step {i + 1} of {len(noise)}",
        mistakes=sims,
    )
    torch_name = RULES[item][1].__name__
    keys = res["state_keys"]
    for name, stack in exp["states"].items():
        missing = [i for i, k in enumerate(keys) if name not in k]
        if missing:
            raise CheckFailure(
                f"{what}{label}: new_state after step {missing[0] + 1} has no {name!r} "
                f"(its keys: {keys[missing[0]]}); torch.optim.{torch_name} keeps {name!r}",
                "use torch.optim's state names",
            )
        got = res["states"].get(name)
        if got is None:
            raise CheckFailure(
                f"{what}{label}: new_state[{name!r}] is not an array",
                f"keep state[{name!r}] as a NumPy array shaped like param",
            )
        # Relative to the largest entry: a buffer that sums terms of both signs can be small
        # where its terms are not, and its rounding error is that of the terms.
        scale = float(np.nanmax(np.abs(stack))) if np.isfinite(stack).any() else 1.0
        compare_series(
            got,
            stack,
            f"{what}{label}: new_state[{name!r}]",
            lambda i: f"after step {i + 1}",
            hint=f"state[{name!r}] must hold what torch.optim.{torch_name} stores under that "
            "name (the raw moving averages, not bias-corrected ones)",
            atol=max(ATOL, RTOL * scale),
        )
    if exp["steps"] is not None:
        got = res["steps"]
        expected = [float(t) for t in range(1, len(noise) + 1)]
        bad = [i for i, (a, e) in enumerate(zip(got, expected, strict=True)) if a != e]
        if bad:
            i = bad[0]
            raise CheckFailure(
                f"{what}{label}: new_state['step'] after step {i + 1} is {got[i]!r}, "
                f"expected {i + 1}",
                "state['step'] counts the steps taken, this one included: 1 after the first",
            )


def run_rule(s, rng, item, kwargs, shape=(6,), steps=100, lrs=None, label="", **problem):
    if item != "sgd" and "spread" not in problem:
        # An adaptive method moves every coordinate by about lr per step. A coordinate whose
        # gradients are much smaller than that bounces around its minimum in a way that
        # amplifies rounding differences exponentially (the steps depend on the sign of tiny
        # gradients), so the smallest gradients here stay above a few times lr.
        lr = max(lrs) if lrs is not None else kwargs.get("lr", RULES[item][2]["lr"])
        problem["spread"] = (min(max(1e-4, 4.0 * lr), 0.3), 1.0)
    param0, h, noise = quadratic_problem(rng, shape, steps, **problem)
    check_rule(s, item, kwargs, param0, h, noise, lrs, label)


# -- sgd -----------------------------------------------------------------------------------------


@check(
    "sgd",
    "plain SGD with and without weight decay, 100 steps on a noisy quadratic: the parameters "
    "after every step match torch.optim.SGD in float64 (1e-10 relative), and the arrays passed "
    "in are left unchanged",
)
def sgd_plain(s, rng):
    run_rule(s, rng, "sgd", {"lr": 0.3})
    run_rule(s, rng, "sgd", {"lr": 0.2, "weight_decay": 0.05}, shape=(2, 3))


@check(
    "sgd",
    "momentum 0.9, 100 steps: parameters and momentum_buffer after every step match "
    "torch.optim.SGD (the buffer starts as a copy of the gradient)",
)
def sgd_momentum(s, rng):
    run_rule(s, rng, "sgd", {"lr": 0.05, "momentum": 0.9})


# One option per check from here on (issue 17, point 4): a correct plain momentum keeps its
# points when dampening, weight decay with momentum or Nesterov is wrong.
@check(
    "sgd",
    "momentum 0.9 with weight decay 0.01, 100 steps: the decay is added to the gradient before "
    "it enters the buffer",
)
def sgd_momentum_decay(s, rng):
    run_rule(s, rng, "sgd", {"lr": 0.05, "momentum": 0.9, "weight_decay": 0.01})


@check(
    "sgd",
    "momentum 0.9 with dampening 0.5, 100 steps: parameters and momentum_buffer match "
    "torch.optim.SGD (dampening applies from the second step on)",
)
def sgd_dampening(s, rng):
    run_rule(s, rng, "sgd", {"lr": 0.1, "momentum": 0.9, "dampening": 0.5}, shape=(4,))


@check(
    "sgd",
    "Nesterov momentum 0.9, 100 steps: parameters and momentum_buffer match "
    "torch.optim.SGD(nesterov=True)",
)
def sgd_nesterov(s, rng):
    run_rule(s, rng, "sgd", {"lr": 0.05, "momentum": 0.9, "nesterov": True})


@check("sgd", "nesterov=True with dampening raises ValueError, as torch.optim.SGD does")
def sgd_nesterov_validation(s, rng):
    x = rng.standard_normal(3)
    expect_value_error(
        lambda: s.call("sgd_step", x, x, {}, lr=0.1, momentum=0.9, dampening=0.1, nesterov=True),
        "sgd_step(..., momentum=0.9, dampening=0.1, nesterov=True)",
        "PyTorch refuses Nesterov momentum with dampening (and without momentum): raise ValueError",
    )


# -- adagrad -------------------------------------------------------------------------------------


@check(
    "adagrad",
    "AdaGrad with PyTorch's defaults (lr 1e-2, eps 1e-10 outside the square root), 100 steps on "
    "gradients from 1e-4 to 1: parameters, sum and step match torch.optim.Adagrad",
)
def adagrad_defaults(s, rng):
    run_rule(s, rng, "adagrad", {})
    run_rule(s, rng, "adagrad", {"lr": 0.5}, shape=(3, 2))


@check(
    "adagrad",
    "AdaGrad with lr_decay 0.05, weight_decay 0.01 and initial_accumulator_value 0.1, 100 steps: "
    "parameters, sum and step match torch.optim.Adagrad",
)
def adagrad_options(s, rng):
    kwargs = {"lr": 0.3, "lr_decay": 0.05, "weight_decay": 0.01, "initial_accumulator_value": 0.1}
    run_rule(s, rng, "adagrad", kwargs)


# -- rmsprop -------------------------------------------------------------------------------------


@check(
    "rmsprop",
    "RMSProp with PyTorch's defaults (lr 1e-2, alpha 0.99, eps 1e-8 outside the root), 100 steps: "
    "parameters, square_avg and step match torch.optim.RMSprop",
)
def rmsprop_defaults(s, rng):
    run_rule(s, rng, "rmsprop", {})
    run_rule(s, rng, "rmsprop", {"lr": 0.03, "alpha": 0.9}, shape=(2, 2))


@check(
    "rmsprop",
    "RMSProp with momentum 0.9 and weight decay: parameters and momentum_buffer (from zeros) "
    "match torch.optim.RMSprop over 100 steps",
)
def rmsprop_momentum(s, rng):
    run_rule(s, rng, "rmsprop", {"lr": 3e-3, "momentum": 0.9, "weight_decay": 0.01})


@check(
    "rmsprop",
    "centred RMSProp (centered=True), with and without momentum: parameters, square_avg and "
    "grad_avg match torch.optim.RMSprop over 100 steps",
)
def rmsprop_centered(s, rng):
    run_rule(s, rng, "rmsprop", {"lr": 0.01, "centered": True})
    run_rule(s, rng, "rmsprop", {"lr": 3e-3, "centered": True, "momentum": 0.5}, shape=(5,))


# -- adam ----------------------------------------------------------------------------------------


@check(
    "adam",
    "Adam with PyTorch's defaults, 100 steps on gradients from 1e-4 to 1: parameters, exp_avg, "
    "exp_avg_sq (uncorrected) and step match torch.optim.Adam (bias correction with t from 1, "
    "eps outside the root)",
)
def adam_defaults(s, rng):
    run_rule(s, rng, "adam", {})
    run_rule(s, rng, "adam", {"lr": 0.05}, shape=(3, 3))


@check(
    "adam",
    "Adam with betas (0.8, 0.99), eps 1e-6 and weight decay 0.05 (L2, coupled), 100 steps: "
    "parameters and state match torch.optim.Adam",
)
def adam_options(s, rng):
    kwargs = {"lr": 0.02, "betas": (0.8, 0.99), "eps": 1e-6, "weight_decay": 0.05}
    run_rule(s, rng, "adam", kwargs)


# -- adamw ---------------------------------------------------------------------------------------


@check(
    "adamw",
    "AdamW with PyTorch's defaults (weight_decay 1e-2, decoupled), 100 steps: parameters and "
    "state match torch.optim.AdamW",
)
def adamw_defaults(s, rng):
    run_rule(s, rng, "adamw", {}, curvature=(0.2, 1.5))
    run_rule(s, rng, "adamw", {"lr": 0.05}, shape=(2, 4))


@check(
    "adamw",
    "AdamW with weight decay 0.1 and betas (0.9, 0.99), 100 steps: parameters and state match "
    "torch.optim.AdamW (parameters shrunk by 1 - lr * weight_decay, moments of the plain "
    "gradient)",
)
def adamw_options(s, rng):
    run_rule(s, rng, "adamw", {"lr": 0.02, "weight_decay": 0.1, "betas": (0.9, 0.99)})


# -- Part 2: schedules ---------------------------------------------------------------------------


def torch_lrs(make_scheduler, steps: int, lr: float = 0.1, momentum: float = 0.9) -> np.ndarray:
    """The learning rate that ``make_scheduler(optimizer)`` sets before each of ``steps``
    optimiser steps: after t calls of ``scheduler.step()``, for t = 0 .. steps - 1."""
    p = torch.nn.Parameter(torch.zeros(1, dtype=F64))
    opt = torch.optim.SGD([p], lr=lr, momentum=momentum)
    sched = make_scheduler(opt)
    out = []
    for _ in range(steps):
        out.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    return np.array(out, dtype=np.float64)


def check_schedule(s, name, kwargs, steps, expected, reference, mistakes=None, hint=None):
    """The student's ``name(t, **kwargs)`` for t = 0 .. steps - 1 against ``expected``."""
    what = f"{name}(t, {fmt(kwargs)})"
    got = s.probe("a4_optim.schedule", name, list(range(steps)), kwargs, what=what)
    compare_series(
        got,
        expected,
        what,
        lambda i: f"at t = {i} (compared with {reference} after {i} calls of step())",
        mistakes=mistakes,
        hint=hint,
        whole=True,
    )


def step_mistakes(t, base, size, gamma):
    return {
        "off by one step: the first drop comes after step_size steps, gamma ** (t // "
        "step_size)": base * gamma ** ((t + 1) // size),
        "the rate must stay constant between drops (integer division t // step_size)": base
        * gamma ** (t / size),
        "gamma ** (t // step_size) is the factor; one drop too few": base
        * gamma ** np.maximum(t // size - 1, 0),
    }


def cosine_closed(t, base, T, floor):
    return floor + 0.5 * (base - floor) * (1 + np.cos(np.pi * t / T))


def cosine_mistakes(t, base, T, floor):
    with np.errstate(all="ignore"):
        return _cosine_mistakes(t, base, T, floor)


def _cosine_mistakes(t, base, T, floor):
    return {
        "off by one step: at t = 0 the rate is base_lr, the floor is reached at t = T_max": (
            cosine_closed(t + 1, base, T, floor)
        ),
        "off by one step the other way (t - 1)": cosine_closed(t - 1, base, T, floor),
        "the floor eta_min was ignored: eta_min + (base_lr - eta_min) * (1 + cos(pi t / T)) / 2": (
            cosine_closed(t, base, T, 0.0)
        ),
        "the floor was added on top: the cosine term is scaled by (base_lr - eta_min)": floor
        + cosine_closed(t, base, T, 0.0),
        "a whole period instead of half: cos(pi * t / T_max), not cos(2 pi t / T_max)": (
            cosine_closed(2 * t, base, T, floor)
        ),
        "the cosine was computed over T_max - 1 steps": cosine_closed(t, base, T - 1, floor),
    }


def linear_closed(t, base, a, b, T):
    return base * (a + (b - a) * np.minimum(t, T) / T)


def linear_mistakes(t, base, a, b, T):
    return {
        "the factor must stay at end_factor after total_iters steps (min(t, total_iters))": base
        * (a + (b - a) * t / T),
        "off by one step: the factor is start_factor at t = 0": linear_closed(t + 1, base, a, b, T),
        "the factors are swapped: start_factor at t = 0, end_factor from t = total_iters": (
            linear_closed(t, base, b, a, T)
        ),
    }


def inverse_sqrt_mistakes(t, base, t0):
    with np.errstate(divide="ignore"):
        return {
            "base_lr / sqrt(1 + t / t0): without the 1 the rate is infinite at t = 0": base
            / np.sqrt(t / t0),
            "the square root is missing: base_lr / sqrt(1 + t / t0)": base / (1 + t / t0),
            "off by one step: the rate at t = 0 is base_lr": base / np.sqrt(1 + (t + 1) / t0),
            "t0 multiplies t: base_lr / sqrt(1 + t / t0)": base / np.sqrt(1 + t * t0),
        }


@check(
    "decay_schedules",
    "step_lr and exponential_lr over 300 steps match StepLR(step_size=7, gamma=0.5) and "
    "ExponentialLR(gamma=0.98) step for step",
)
def decay_step_exponential(s, rng):
    base = float(rng.uniform(0.05, 0.5))
    t = np.arange(300)
    exp = torch_lrs(lambda o: lr_scheduler.StepLR(o, step_size=7, gamma=0.5), 300, base)
    check_schedule(
        s,
        "step_lr",
        {"base_lr": base, "step_size": 7, "gamma": 0.5},
        300,
        exp,
        "StepLR",
        step_mistakes(t, base, 7, 0.5),
    )
    exp = torch_lrs(lambda o: lr_scheduler.ExponentialLR(o, gamma=0.98), 300, base)
    check_schedule(
        s,
        "exponential_lr",
        {"base_lr": base, "gamma": 0.98},
        300,
        exp,
        "ExponentialLR",
        {
            "off by one step: gamma ** t, so the rate at t = 0 is base_lr": base * 0.98 ** (t + 1),
            "off by one step the other way: gamma ** t": base * 0.98 ** (t - 1.0),
        },
    )


@check(
    "decay_schedules",
    "linear_lr as a warm-up (1/3 to 1 over 5 steps, PyTorch's defaults) and as a decay (1 to "
    "0.05 over 150 steps) matches LinearLR over 200 steps",
)
def decay_linear(s, rng):
    base = float(rng.uniform(0.05, 0.5))
    t = np.arange(200)
    exp = torch_lrs(lambda o: lr_scheduler.LinearLR(o), 200, base)
    check_schedule(
        s,
        "linear_lr",
        {"base_lr": base},
        200,
        exp,
        "LinearLR",
        linear_mistakes(t, base, 1 / 3, 1.0, 5),
    )
    kw = {"start_factor": 1.0, "end_factor": 0.05, "total_iters": 150}
    exp = torch_lrs(lambda o: lr_scheduler.LinearLR(o, **kw), 200, base)
    check_schedule(
        s,
        "linear_lr",
        {"base_lr": base, **kw},
        200,
        exp,
        "LinearLR",
        linear_mistakes(t, base, 1.0, 0.05, 150),
    )


@check(
    "decay_schedules",
    "inverse_sqrt_lr with t0 = 20 matches LambdaLR(lambda t: (1 + t / t0) ** -0.5) over 400 steps",
)
def decay_inverse_sqrt(s, rng):
    base = float(rng.uniform(0.05, 0.5))
    t0 = 20
    exp = torch_lrs(lambda o: lr_scheduler.LambdaLR(o, lambda k: (1 + k / t0) ** -0.5), 400, base)
    check_schedule(
        s,
        "inverse_sqrt_lr",
        {"base_lr": base, "t0": t0},
        400,
        exp,
        "LambdaLR",
        inverse_sqrt_mistakes(np.arange(400), base, t0),
    )


@check(
    "decay_schedules",
    "cosine_lr with a floor eta_min = 0.1 * base_lr and T_max = 200 matches CosineAnnealingLR "
    "over 201 steps (base_lr at t = 0, the floor at t = T_max)",
)
def decay_cosine(s, rng):
    base = float(rng.uniform(0.05, 0.5))
    floor = 0.1 * base
    exp = torch_lrs(
        lambda o: lr_scheduler.CosineAnnealingLR(o, T_max=200, eta_min=floor), 201, base
    )
    check_schedule(
        s,
        "cosine_lr",
        {"base_lr": base, "T_max": 200, "eta_min": floor},
        201,
        exp,
        "CosineAnnealingLR",
        cosine_mistakes(np.arange(201), base, 200, floor),
    )


# -- warmup --------------------------------------------------------------------------------------


def sequential_warmup(inner, steps, base, w, a):
    """``SequentialLR([LinearLR(start_factor=a, total_iters=w), inner(opt)], milestones=[w])``."""

    def make(o):
        ramp = lr_scheduler.LinearLR(o, start_factor=a, end_factor=1.0, total_iters=w)
        return lr_scheduler.SequentialLR(o, [ramp, inner(o)], milestones=[w])

    return torch_lrs(make, steps, base)


def warmup_mistakes(table, steps, w, a):
    t = np.arange(steps)
    peak = table[0]
    inner = np.array([table[k] for k in range(steps)])
    shifted = np.array([table[k - w] if k >= w else 0.0 for k in t])
    ramp = a + (1 - a) * t / w
    late = t >= w
    return {
        "the warm-up starts at the full rate: at t = 0 the rate is start_factor * schedule(0), "
        "rising linearly to schedule(0) at t = warmup_steps": np.where(late, shifted, peak),
        "after the warm-up the schedule starts from its beginning: schedule(t - warmup_steps), "
        "not schedule(t)": np.where(late, inner, peak * ramp),
        "off by one step: the ramp reaches the peak at t = warmup_steps, (a + (1 - a) t / w)": (
            np.where(late, shifted, peak * (a + (1 - a) * t / max(w - 1, 1)))
        ),
        "off by one step: at t = 0 the rate is start_factor * schedule(0)": np.where(
            late, shifted, peak * (a + (1 - a) * (t + 1) / w)
        ),
        "the ramp starts at start_factor * peak, not at zero": np.where(
            late, shifted, peak * t / w
        ),
        "the ramp multiplies the peak, schedule(0), not the schedule at t": np.where(
            late, shifted, inner * ramp
        ),
    }


def check_warmup(s, inner_values, steps, w, a, expected, reference, label=""):
    kw = {} if a is None else {"start_factor": a}
    what = f"linear_warmup(schedule, warmup_steps={w}{', ' + fmt(kw) if kw else ''}){label}"
    got = s.probe(
        "a4_optim.warmup", list(inner_values), list(range(steps)), w, a, what="linear_warmup(...)"
    )
    compare_series(
        got,
        expected,
        what,
        lambda i: f"at t = {i} (compared with {reference})",
        mistakes=lambda: warmup_mistakes(inner_values, steps, w, 0.01 if a is None else a),
        whole=True,
    )


@check(
    "warmup",
    "a warm-up of 20 steps (start_factor 0.1) in front of a cosine schedule matches "
    "SequentialLR([LinearLR, CosineAnnealingLR], milestones=[20]) over 150 steps",
)
def warmup_cosine(s, rng):
    base, w, steps = float(rng.uniform(0.05, 0.5)), 20, 150

    def cosine(o):
        return lr_scheduler.CosineAnnealingLR(o, T_max=steps - w, eta_min=0.01 * base)

    inner = torch_lrs(cosine, steps + 1, base)
    exp = sequential_warmup(cosine, steps, base, w, 0.1)
    check_warmup(s, inner, steps, w, 0.1, exp, "SequentialLR")


@check(
    "warmup",
    "a warm-up of 10 steps with the default start_factor 0.01 in front of a step schedule matches "
    "SequentialLR([LinearLR, StepLR]) over 100 steps",
)
def warmup_step(s, rng):
    base, w, steps = float(rng.uniform(0.05, 0.5)), 10, 100

    def step_decay(o):
        return lr_scheduler.StepLR(o, step_size=15, gamma=0.3)

    inner = torch_lrs(step_decay, steps + 1, base)
    exp = sequential_warmup(step_decay, steps, base, w, 0.01)
    check_warmup(s, inner, steps, w, None, exp, "SequentialLR")


# -- cyclical ------------------------------------------------------------------------------------


def cyclic_lrs(steps, lo, hi, up, down=None, mode="triangular"):
    return torch_lrs(
        lambda o: lr_scheduler.CyclicLR(
            o, base_lr=lo, max_lr=hi, step_size_up=up, step_size_down=down, mode=mode
        ),
        steps,
        lo,
    )


def cyclic_mistakes(exp, steps, lo, hi, up, down, mode):
    """Classic mistakes, simulated with CyclicLR itself (no closed form of the schedule here:
    the public checks must not spell out the answer)."""
    d = up if down is None else down
    out = {
        "off by one step: the rate is base_lr at t = 0 and max_lr at t = step_size_up": (
            cyclic_lrs(steps + 1, lo, hi, up, d, mode)[1:]
        ),
        "step_size_down was ignored: the way down takes step_size_down steps": cyclic_lrs(
            steps, lo, hi, up, up, mode
        ),
        "the bounds are swapped: the cycle starts at base_lr and peaks at max_lr": lo + hi - exp,
    }
    if mode == "triangular2":
        out[
            "triangular2 halves the amplitude after each cycle: the first cycle has the full "
            "amplitude, 2 ** -(cycle - 1) with cycles counted from 1"
        ] = lo + (exp - lo) * 0.5
        out["mode='triangular2' was ignored"] = cyclic_lrs(steps, lo, hi, up, d, "triangular")
    return out


def check_cyclic(s, steps, lo, hi, up, down=None, mode=None):
    kwargs = {"base_lr": lo, "max_lr": hi, "step_size_up": up}
    if down is not None:
        kwargs["step_size_down"] = down
    if mode is not None:
        kwargs["mode"] = mode
    exp = cyclic_lrs(steps, lo, hi, up, down, mode or "triangular")
    check_schedule(
        s,
        "triangular_lr",
        kwargs,
        steps,
        exp,
        "CyclicLR",
        lambda: cyclic_mistakes(exp, steps, lo, hi, up, down, mode or "triangular"),
    )


@check(
    "cyclical",
    "triangular_lr with step_size_up = 25 (symmetric) matches CyclicLR(mode='triangular') over "
    "4 cycles",
)
def cyclical_symmetric(s, rng):
    lo = float(rng.uniform(1e-3, 1e-2))
    check_cyclic(s, 200, lo, 10 * lo, 25)


@check(
    "cyclical",
    "triangular_lr with 10 steps up and 30 down matches CyclicLR over 300 steps, and "
    "mode='triangular2' halves the amplitude after each cycle",
)
def cyclical_asymmetric(s, rng):
    lo = float(rng.uniform(1e-3, 1e-2))
    check_cyclic(s, 300, lo, 5 * lo, 10, 30)
    check_cyclic(s, 300, lo, 5 * lo, 20, 20, "triangular2")


# -- one_cycle -----------------------------------------------------------------------------------


def one_cycle_closed(t, hi, T, pct=0.3, div=25.0, final=1e4, strategy="cos", three=False, bug=""):
    """OneCycleLR's learning rate; ``bug`` selects a simulated mistake."""
    start = hi / div
    end = hi / final if bug == "final_from_max" else start / final
    e1 = pct * T if bug == "peak_late" else pct * T - 1
    last = T if bug == "end_late" else T - 1
    if three and bug != "three_ignored":
        phases = [(e1, start, hi), (2 * pct * T - 2, hi, start), (last, start, end)]
    else:
        phases = [(e1, start, hi), (last, hi, end)]
    if bug == "linear":
        strategy = "linear" if strategy == "cos" else "cos"
    out = []
    for k in np.asarray(t, dtype=np.float64):
        begin = 0.0
        for i, (stop, rate_from, rate_to) in enumerate(phases):
            if k <= stop or i == len(phases) - 1:
                a, b, q = rate_from, rate_to, (k - begin) / (stop - begin)
                break
            begin = stop
        if strategy == "cos":
            out.append(b + (a - b) / 2 * (math.cos(math.pi * q) + 1))
        else:
            out.append(a + (b - a) * q)
    return np.array(out)


ONE_CYCLE_MISTAKES = {
    "peak_late": "off by one step: the first phase ends at step pct_start * total_steps - 1 "
    "(a fractional step, as OneCycleLR defines it)",
    "end_late": "the last phase ends at step total_steps - 1, where the rate reaches its end value",
    "final_from_max": "the final rate is the starting rate divided by final_div_factor, "
    "max_lr / (div_factor * final_div_factor), not max_lr / final_div_factor",
    "linear": "anneal_strategy: 'cos' is a cosine between the two rates of the phase, 'linear' a "
    "straight line",
    "three_ignored": "three_phase=True: up to max_lr, back down to the starting rate by step "
    "2 * pct_start * total_steps - 2, then down to the final rate",
}


def one_cycle_mistakes(t, hi, T, **kw):
    return {
        text: one_cycle_closed(t, hi, T, **kw, bug=bug) for bug, text in ONE_CYCLE_MISTAKES.items()
    }


def check_one_cycle(s, hi, T, kwargs):
    """``one_cycle_lr`` with ``kwargs`` (OneCycleLR's names) against OneCycleLR."""
    exp = torch_lrs(lambda o: lr_scheduler.OneCycleLR(o, max_lr=hi, total_steps=T, **kwargs), T)
    names = {
        "pct_start": "pct",
        "div_factor": "div",
        "final_div_factor": "final",
        "anneal_strategy": "strategy",
        "three_phase": "three",
    }
    closed_kw = {names[k]: v for k, v in kwargs.items()}
    check_schedule(
        s,
        "one_cycle_lr",
        {"max_lr": hi, "total_steps": T, **kwargs},
        T,
        exp,
        "OneCycleLR",
        lambda: one_cycle_mistakes(np.arange(T), hi, T, **closed_kw),
    )


@check(
    "one_cycle",
    "one_cycle_lr with OneCycleLR's defaults (pct_start 0.3, div_factor 25, final_div_factor "
    "1e4, cosine) matches OneCycleLR over all 250 steps",
)
def one_cycle_defaults(s, rng):
    check_one_cycle(s, float(rng.uniform(0.05, 0.5)), 250, {})


@check(
    "one_cycle",
    "one_cycle_lr with pct_start 0.25, div_factor 10, final_div_factor 100 and linear annealing "
    "matches OneCycleLR over 120 steps",
)
def one_cycle_linear(s, rng):
    kwargs = {
        "pct_start": 0.25,
        "div_factor": 10.0,
        "final_div_factor": 100.0,
        "anneal_strategy": "linear",
    }
    check_one_cycle(s, float(rng.uniform(0.05, 0.5)), 120, kwargs)


@check(
    "one_cycle",
    "one_cycle_lr over 103 steps with pct_start 0.3: the warm-up phase ends at step "
    "0.3 * 103 - 1 = 29.9, a fractional step (round nothing)",
)
def one_cycle_fractional(s, rng):
    check_one_cycle(s, float(rng.uniform(0.05, 0.5)), 103, {"pct_start": 0.3})


# -- range_test ----------------------------------------------------------------------------------

RANGE_DEFAULTS = {
    "lr_min": 1e-7,
    "lr_max": 10.0,
    "num_steps": 100,
    "beta": 0.95,
    "diverge_factor": 4.0,
}


def reference_range_test(trainer: dict, kwargs: dict, bug: str = "") -> dict:
    """The range test of the assignment, run on a fresh :class:`SyntheticTrainer`; ``bug``
    selects a simulated mistake."""
    hp = {**RANGE_DEFAULTS, **kwargs}
    lo, hi, n, beta, factor = (hp[k] for k in RANGE_DEFAULTS)
    step = SyntheticTrainer(**trainer)
    lrs, losses, smooth = [], [], []
    avg, best = 0.0, math.inf
    with np.errstate(all="ignore"):
        for k in range(n):
            if bug == "linear_sweep":
                lr = lo + (hi - lo) * k / (n - 1)
            else:
                lr = lo * (hi / lo) ** (k / (n - 1))
            loss = float(step(lr))
            avg = beta * avg + (1 - beta) * loss
            if bug == "no_bias_correction":
                value = avg
            elif bug == "correction_from_zero":  # k = 0 special-cased to dodge 1 / 0
                value = avg / (1 - beta**k) if k else loss
            else:
                value = avg / (1 - beta ** (k + 1))
            lrs.append(lr)
            losses.append(loss)
            smooth.append(value)
            ref = smooth[0] if bug == "against_first" else min(best, value)
            best = min(best, value)
            if bug == "never_stop":
                continue
            if not math.isfinite(value) or value > factor * ref:
                if bug == "exclude_last":
                    lrs.pop(), losses.pop(), smooth.pop()
                break
    smooth_arr = np.array(smooth)
    finite = np.isfinite(smooth_arr)
    at = int(np.nanargmin(np.where(finite, smooth_arr, np.nan))) if finite.any() else 0
    if bug == "raw_minimum":
        at = int(np.nanargmin(np.array(losses))) if np.isfinite(losses).any() else 0
    suggested = lrs[at] if bug == "suggest_minimum" else lrs[at] / 10
    return {
        "lrs": np.array(lrs),
        "losses": np.array(losses),
        "smoothed": smooth_arr,
        "suggested_lr": suggested,
        "calls": list(step.calls),
    }


RANGE_MISTAKES = {
    "no_bias_correction": "the smoothed loss needs the bias correction: divide the average by "
    "1 - beta ** (k + 1) (k counted from 0)",
    "correction_from_zero": "the bias correction at step k (from 0) is 1 - beta ** (k + 1); "
    "with beta ** k the first step divides by zero",
    "linear_sweep": "the sweep is exponential: lr_k = lr_min * (lr_max / lr_min) ** (k / (n - "
    "1)), evenly spaced on a log scale",
    "never_stop": "stop once the smoothed loss exceeds diverge_factor times its minimum so far "
    "(or is not finite)",
    "against_first": "compare the smoothed loss with the smallest smoothed loss so far, not with "
    "the first one",
    "exclude_last": "the step that triggers the stop is part of the result (its lr, loss and "
    "smoothed loss are recorded)",
    "suggest_minimum": "the suggestion is a tenth of the learning rate at the minimum of the "
    "smoothed loss",
    "raw_minimum": "the suggestion comes from the minimum of the smoothed loss, not of the raw "
    "losses",
}


def smooth_and_stop(losses, beta: float, factor: float) -> tuple[np.ndarray, int]:
    """The bias-corrected smoothed losses of a sequence, and how many steps the range test takes
    on it (up to and including the first non-finite value or value above factor x the minimum)."""
    out, avg, best = [], 0.0, math.inf
    with np.errstate(all="ignore"):
        for k, loss in enumerate(losses):
            avg = beta * avg + (1 - beta) * loss
            value = avg / (1 - beta ** (k + 1))
            out.append(value)
            best = min(best, value)
            if not math.isfinite(value) or value > factor * best:
                return np.array(out), k + 1
    return np.array(out), len(out)


def check_range_test(s, trainer: dict, kwargs: dict, label: str = "") -> None:
    """The student's range test on a :class:`SyntheticTrainer`. The sweep is compared with the
    reference; the smoothed losses, the stop and the suggestion are recomputed from the losses
    that the student's own calls of train_step returned (so that rounding in the learning rates,
    amplified by a diverging run, cannot matter)."""
    hp = {**RANGE_DEFAULTS, **kwargs}
    what = f"lr_range_test(train_step{', ' + fmt(kwargs) if kwargs else ''}){label}"
    res = s.probe("a4_optim.range_test", trainer, kwargs, what="lr_range_test(...)")
    exp = reference_range_test(trainer, kwargs)
    sims: dict = {}

    def mistakes(key, n=None):
        def build():
            found = _fill(sims, trainer, kwargs)
            out = {}
            for text, r in found.items():
                series = np.asarray(r[key], dtype=np.float64)
                if n is not None:
                    if len(series) < n:
                        continue
                    series = series[:n]
                if np.shape(series) == np.shape(got_shape[key]):
                    out[text] = series
            return out

        return build

    calls = np.array(field(res, "calls", what), dtype=np.float64)
    returned = np.array(res["returned"], dtype=np.float64)
    n = min(len(calls), len(exp["calls"]))
    got_shape = {"calls": calls[:n]}
    compare_series(
        calls[:n],
        np.array(exp["calls"][:n]),
        f"{what}: the learning rate passed to train_step",
        lambda i: f"at step k = {i}",
        mistakes=mistakes("calls", n),
        rtol=1e-9,
        atol=0.0,
    )
    smoothed, stop = smooth_and_stop(returned, hp["beta"], hp["diverge_factor"])
    if stop != len(calls) or len(calls) > hp["num_steps"]:
        if stop < len(calls):
            why = (
                f"after step k = {stop - 1} the smoothed loss {smoothed[stop - 1]:.4g} is not "
                f"finite or above {hp['diverge_factor']:g} x its minimum so far, "
                f"{np.nanmin(smoothed[:stop]):.4g}: stop there"
            )
        else:
            why = f"the smoothed losses stay below {hp['diverge_factor']:g} x their minimum"
        found = [
            t for t, r in _fill(sims, trainer, kwargs).items() if len(r["calls"]) == len(calls)
        ]
        raise CheckFailure(
            f"{what} called train_step {len(calls)} times, expected {min(stop, hp['num_steps'])} "
            f"({why})",
            found[0] if found else None,
        )
    result = res["result"]
    if result is None:
        raise CheckFailure(f"{what} returned {_kind_name(res['type'])}, expected a dict")
    expected = {"lrs": calls, "losses": returned, "smoothed": smoothed}
    for key in ("lrs", "losses", "smoothed"):
        got_shape[key] = expected[key]
        compare_series(
            field(result, key, what),
            expected[key],
            f"{what}[{key!r}]",
            lambda i: f"at step k = {i}",
            mistakes=mistakes(key, len(calls)),
            hint="the losses are what train_step returned" if key == "losses" else None,
            rtol=1e-9,
            atol=1e-12,
        )
    finite = np.where(np.isfinite(smoothed), smoothed, np.inf)
    suggested = calls[int(np.argmin(finite))] / 10 if np.isfinite(finite).any() else calls[0] / 10
    close(
        field(result, "suggested_lr", what),
        suggested,
        f"{what}['suggested_lr']",
        rtol=1e-9,
        mistakes=lambda: {t: r["suggested_lr"] for t, r in _fill(sims, trainer, kwargs).items()},
    )


def _kind_name(name: str) -> str:
    return f"{'an' if name[:1].lower() in 'aeiou' else 'a'} {name}"


def _fill(sims: dict, trainer, kwargs) -> dict:
    """The simulated mistakes of the range test, computed once (only when needed)."""
    if not sims:
        sims.update(
            {t: reference_range_test(trainer, kwargs, b) for b, t in RANGE_MISTAKES.items()}
        )
    return sims


@check(
    "range_test",
    "lr_range_test from 1e-5 to 10 in 150 steps on a synthetic training run that diverges: the "
    "learning rates passed to train_step, the losses, the bias-corrected smoothed losses, the "
    "stop after the first step above 4 x the minimum, and the suggestion (minimum / 10)",
)
def range_test_diverging(s, rng):
    trainer = {"seed": int(rng.integers(2**31)), "dim": 10, "h_max": 10.0}
    check_range_test(s, trainer, {"lr_min": 1e-5, "lr_max": 10.0, "num_steps": 150})


@check(
    "range_test",
    "lr_range_test with its defaults (1e-7 to 10, 100 steps, beta 0.95, diverge_factor 4) and "
    "with beta 0.8 and diverge_factor 2",
)
def range_test_defaults(s, rng):
    trainer = {"seed": int(rng.integers(2**31)), "dim": 8, "h_max": 30.0}
    check_range_test(s, trainer, {})
    trainer = {"seed": int(rng.integers(2**31)), "dim": 8, "h_max": 5.0}
    kwargs = {"lr_min": 1e-4, "lr_max": 3.0, "num_steps": 120, "beta": 0.8, "diverge_factor": 2.0}
    check_range_test(s, trainer, kwargs)


# -- Part 3: PyTorch optimisers ----------------------------------------------------------------

TORCH_KEYS = {
    "MySGD": ["dampening", "lr", "momentum", "nesterov", "weight_decay"],
    "MyAdam": ["betas", "eps", "lr", "weight_decay"],
    "MyAdamW": ["betas", "eps", "lr", "weight_decay"],
}
TORCH_CLASSES = {
    "MySGD": torch.optim.SGD,
    "MyAdam": torch.optim.Adam,
    "MyAdamW": torch.optim.AdamW,
}
STATE_KEYS = {
    "MySGD": ["momentum_buffer"],
    "MyAdam": ["exp_avg", "exp_avg_sq", "step"],
    "MyAdamW": ["exp_avg", "exp_avg_sq", "step"],
}


def model_spec(rng, kind="mlp", unused=False) -> dict:
    """A small float64 model with initial values drawn from ``rng``."""
    if kind == "mlp":
        d_in, hidden, d_out = 5, 12, 3
        shapes = {
            "0.weight": (hidden, d_in),
            "0.bias": (hidden,),
            "2.weight": (d_out, hidden),
            "2.bias": (d_out,),
        }
        sizes = [d_in, hidden, d_out]
        fans = {"0": d_in, "2": hidden}
    else:
        c_in, channels, side, d_out = 2, 4, 6, 3
        shapes = {
            "0.weight": (channels, c_in, 3, 3),
            "0.bias": (channels,),
            "4.weight": (d_out, channels * (side // 2) ** 2),
            "4.bias": (d_out,),
        }
        sizes = [c_in, channels, side, d_out]
        fans = {"0": c_in * 9, "4": channels * (side // 2) ** 2}
    init = {}
    for name, shape in shapes.items():
        bound = fans[name.split(".")[0]] ** -0.5
        init[name] = rng.uniform(-bound, bound, shape)
    if unused:
        init["unused"] = rng.standard_normal(3)
    return {"kind": kind, "sizes": sizes, "init": init, "unused": unused}


def data_spec(rng, model: dict, steps: int, n: int = 96, batch: int = 16) -> dict:
    if model["kind"] == "mlp":
        x = rng.standard_normal((n, model["sizes"][0]))
    else:
        c_in, _, side, _ = model["sizes"]
        x = rng.standard_normal((n, c_in, side, side))
    y = rng.integers(0, 3, n)
    batches = np.array([rng.choice(n, batch, replace=False) for _ in range(steps)])
    return {"x": x, "y": y, "batches": batches}


def optimizer_spec(rng, groups, steps=200, kind="mlp", unused=False, **extra) -> dict:
    model = model_spec(rng, kind, unused)
    spec = {"model": model, "groups": groups, **data_spec(rng, model, steps), **extra}
    spec.setdefault("record", sorted({1, 2, 5, 10, 25, 50, steps // 2, steps // 2 + 1, steps}))
    return spec


def weight_bias_groups(kind="mlp", unused=False, **per_group) -> list[dict]:
    """Two groups: the weights (and the unused parameter) with ``per_group["weights"]``, the
    biases with ``per_group["biases"]``."""
    layers = ("0", "2") if kind == "mlp" else ("0", "4")
    weights = [f"{k}.weight" for k in layers] + (["unused"] if unused else [])
    biases = [f"{k}.bias" for k in layers]
    return [
        {"names": weights, **per_group.get("weights", {})},
        {"names": biases, **per_group.get("biases", {})},
    ]


GROUPS_IGNORED = (
    "the settings of the parameter groups were ignored: read lr, momentum, betas, weight_decay, "
    "... from each group (group['lr']), not from the constructor's arguments or self.defaults"
)


def param_names(spec: dict) -> list[str]:
    return list(spec["model"]["init"])


def check_optimizer(s, cls_name, kwargs, spec, variants=None, label=""):
    """The student's ``cls_name`` against ``torch.optim`` on the same run of ``spec``; both go
    through :func:`drive_optimizer`. ``variants``: description -> (torch class, kwargs) of
    classic mistakes that torch.optim itself can simulate, for the hints."""
    torch_cls = TORCH_CLASSES[cls_name]
    variants = dict(variants or {})
    if any(len(g) > 1 for g in spec["groups"]):
        variants.setdefault(GROUPS_IGNORED, (torch_cls, kwargs, True))
    groups_text = "; ".join(
        f"group {i}: " + (fmt({k: v for k, v in g.items() if k != "names"}) or "no own settings")
        for i, g in enumerate(spec["groups"])
    )
    steps = len(spec["batches"])
    what = (
        f"{cls_name}(param_groups, {fmt(kwargs)}) training a float64 {spec['model']['kind'].upper()}"
        f" for {steps} steps ({groups_text}){label}"
    )
    res = s.probe("a4_optim.optimizer", cls_name, kwargs, spec, what=f"{cls_name}")
    expect(
        field(res, "is_optimizer", what),
        f"{cls_name}(...) is a {res.get('type')}, not a torch.optim.Optimizer",
        "derive the class from torch.optim.Optimizer",
    )
    ref = drive_optimizer(lambda g: torch_cls(g, **kwargs), {**spec, "reload_at": None})
    for i, (got_g, exp_g) in enumerate(zip(res["groups"], ref["groups"], strict=True)):
        for key in TORCH_KEYS[cls_name]:
            expect(
                key in got_g,
                f"{what}: param_groups[{i}] has no {key!r} (its keys: {sorted(got_g)})",
                "pass every hyperparameter in `defaults` to super().__init__(params, defaults)",
            )
            close(
                got_g[key],
                exp_g[key],
                f"{what}: param_groups[{i}][{key!r}] right after construction",
                "a group's own settings win; the others come from the constructor's arguments",
            )
    record = sorted(spec["record"])
    reload_at = spec.get("reload_at")

    def where(i):
        text = f"after step {record[i]} of {steps}"
        if reload_at is not None and record[i] > reload_at:
            text += f" (the run continued after step {reload_at} in a new optimiser loaded from "
            text += "the state_dict of the old one)"
        return text

    def sims():
        out = {}
        for text, (cls, kw, *strip) in (variants or {}).items():
            run_spec = {**spec, "reload_at": None}
            if strip and strip[0]:  # every group with the constructor's settings only
                run_spec["groups"] = [{"names": g["names"]} for g in spec["groups"]]
            out[text] = drive_optimizer(lambda g, c=cls, k=kw: c(g, **k), run_spec)["params"]
        return out

    i = first_bad(res["params"], ref["params"])
    hint = None
    if i is not None and reload_at is not None and record[i] > reload_at:
        if i == 0 or record[i - 1] <= reload_at:
            hint = (
                "the parameters matched until the optimiser was rebuilt from its state_dict: "
                "keep everything you remember between steps in self.state[p] (a dict per "
                "parameter) and every setting in the param_groups, so that state_dict() and "
                "load_state_dict() carry them"
            )
    if i is not None and hint is None:
        hint = group_hint(spec, np.asarray(res["params"])[i], ref["params"][i])
    compare_series(
        res["params"],
        ref["params"],
        f"{what}: all parameters",
        where,
        mistakes=sims,
        hint=hint,
    )
    expect(
        np.allclose(res["losses"], ref["losses"], rtol=1e-9, atol=1e-12, equal_nan=True),
        f"{what}: the losses differ although the parameters match",
    )
    names = param_names(spec)
    for name in names:
        exp_state = ref["state"].get(name)
        got_state = res["state"].get(name, {})
        if not exp_state:
            continue
        expected_keys = STATE_KEYS[cls_name]
        got_keys = sorted(got_state)
        missing = [k for k in expected_keys if k not in got_state]
        expect(
            not missing,
            f"{what}: optimizer.state for parameter {name!r} has the keys {got_keys}, expected "
            f"{expected_keys} (torch.optim.{torch_cls.__name__}'s names)",
            "keep the state in self.state[p] under torch.optim's names",
        )
        for key in expected_keys:
            if key == "step":
                expect(
                    isinstance(got_state[key], int | float) and got_state[key] == exp_state[key],
                    f"{what}: state['step'] of {name!r} at the end is {got_state[key]!r}, "
                    f"expected {int(exp_state[key])}",
                    "count the steps of each parameter in self.state[p]['step']",
                )
                continue
            close(
                got_state[key],
                exp_state[key],
                f"{what}: state[{key!r}] of {name!r} at the end",
                rtol=RTOL,
                atol=ATOL,
            )


def group_hint(spec: dict, got: np.ndarray, exp: np.ndarray) -> str | None:
    """When the parameters of only some groups are wrong, say which: a setting of theirs is
    not applied."""
    init = spec["model"]["init"]
    if got.shape != exp.shape:
        return None
    wrong, start = set(), 0
    for name, value in init.items():
        size = int(np.size(value))
        a, e = got[start : start + size], exp[start : start + size]
        if not np.allclose(a, e, rtol=RTOL, atol=ATOL):
            wrong.add(name)
        start += size
    groups = [i for i, g in enumerate(spec["groups"]) if wrong & set(g["names"])]
    if not wrong or len(groups) == len(spec["groups"]):
        return None
    k = groups[0]
    own = {key: v for key, v in spec["groups"][k].items() if key != "names"}
    settings = f" ({fmt(own)})" if own else ""
    return (
        f"only the parameters of group {k} ({', '.join(sorted(wrong))}) are wrong: apply that "
        f"group's own settings{settings}, reading every hyperparameter from the group"
    )


def check_optimizer_defaults(s, cls_name, kwargs, label=""):
    """The param_groups that ``cls_name([p], **kwargs)`` builds equal torch.optim's."""
    res = s.probe("a4_optim.optimizer_defaults", cls_name, kwargs, what=cls_name)
    what = f"{cls_name}([p]{', ' + fmt(kwargs) if kwargs else ''}){label}"
    if res.get("raised"):
        raise CheckFailure(f"{what} raised ValueError: {res.get('message')}")
    expect(
        res.get("is_optimizer"),
        f"{what} is a {res.get('type')}, not a torch.optim.Optimizer",
        "derive the class from torch.optim.Optimizer",
    )
    p = torch.nn.Parameter(torch.zeros(2, dtype=F64))
    exp = TORCH_CLASSES[cls_name]([p], **kwargs).param_groups[0]
    got = res["groups"][0]
    for key in TORCH_KEYS[cls_name]:
        expect(
            key in got,
            f"{what}: param_groups[0] has no {key!r} (its keys: {sorted(got)})",
            "pass every hyperparameter in `defaults` to super().__init__(params, defaults)",
        )
        value = exp[key]
        close(
            got[key],
            np.asarray(value, dtype=np.float64) if isinstance(value, tuple) else float(value),
            f"{what}: param_groups[0][{key!r}]",
            f"the default of {key} is {value!r}, as in torch.optim.{type_name(cls_name)}",
        )


def type_name(cls_name: str) -> str:
    return TORCH_CLASSES[cls_name].__name__


def check_closure(s, cls_name, kwargs, rng):
    """``step(closure)`` calls the closure once with gradients enabled and returns its loss."""
    spec = optimizer_spec(rng, weight_bias_groups(), steps=3, closure_at=1, record=[1, 2, 3])
    res = s.probe("a4_optim.optimizer", cls_name, kwargs, spec, what=cls_name)
    expect(res.get("is_optimizer"), f"{cls_name}(...) is not a torch.optim.Optimizer")
    info = res["closure"]
    what = f"{cls_name}.step(closure)"
    expect_equal(info["calls"], 1, f"number of times {what} called the closure")
    returned = info["returned"]
    expect(
        isinstance(returned, int | float) and math.isclose(returned, info["loss"], rel_tol=1e-12),
        f"{what} returned {returned!r}, expected the closure's loss {info['loss']:.6g}",
        "loss = None; if closure is not None: with torch.enable_grad(): loss = closure(); "
        "... return loss",
    )
    ref = drive_optimizer(lambda g: TORCH_CLASSES[cls_name](g, **kwargs), spec)
    compare_series(
        res["params"], ref["params"], f"{what}: all parameters", lambda i: f"after step {i + 1}"
    )


# -- torch_sgd -----------------------------------------------------------------------------------


def sgd_variants(kwargs: dict, groups: list[dict]) -> dict:
    out = {}
    if kwargs.get("nesterov"):
        out[SGD_MISTAKES["nesterov_plain"]] = (torch.optim.SGD, {**kwargs, "nesterov": False})
    return out


@check(
    "torch_sgd",
    "MySGD is a torch.optim.Optimizer whose param_groups hold lr, momentum, dampening, "
    "weight_decay and nesterov with torch.optim.SGD's defaults; step(closure) returns the "
    "closure's loss; nesterov with dampening raises ValueError",
)
def torch_sgd_structure(s, rng):
    check_optimizer_defaults(s, "MySGD", {})
    check_optimizer_defaults(s, "MySGD", {"lr": 0.1, "momentum": 0.9, "nesterov": True})
    check_closure(s, "MySGD", {"lr": 0.1, "momentum": 0.9}, rng)
    res = s.probe(
        "a4_optim.optimizer_defaults",
        "MySGD",
        {"lr": 0.1, "momentum": 0.9, "dampening": 0.5, "nesterov": True},
        what="MySGD",
    )
    expect(
        res.get("raised") == "ValueError",
        "MySGD(params, lr=0.1, momentum=0.9, dampening=0.5, nesterov=True) did not raise "
        "ValueError",
        "PyTorch refuses Nesterov momentum with dampening: raise ValueError in __init__",
    )


@check(
    "torch_sgd",
    "MySGD with Nesterov momentum 0.9 and two parameter groups (weights: lr 0.05, weight decay "
    "1e-3; biases: lr 0.1, no decay) trains an MLP for 200 steps exactly like torch.optim.SGD "
    "(1e-10 relative), also after a state_dict round trip at step 100; momentum_buffer in "
    "optimizer.state",
)
def torch_sgd_nesterov(s, rng):
    groups = weight_bias_groups(
        weights={"lr": 0.05, "weight_decay": 1e-3}, biases={"lr": 0.1, "weight_decay": 0.0}
    )
    kwargs = {"lr": 0.05, "momentum": 0.9, "nesterov": True}
    spec = optimizer_spec(rng, groups, reload_at=100)
    check_optimizer(s, "MySGD", kwargs, spec, sgd_variants(kwargs, groups))


@check(
    "torch_sgd",
    "MySGD with momentum 0.9, dampening 0.1 and weight decay 5e-4 on two groups (the biases with "
    "momentum 0.5) matches torch.optim.SGD over 200 steps, with a state_dict round trip at step "
    "77",
)
def torch_sgd_dampening(s, rng):
    groups = weight_bias_groups(biases={"momentum": 0.5, "lr": 0.02})
    kwargs = {"lr": 0.05, "momentum": 0.9, "dampening": 0.1, "weight_decay": 5e-4}
    spec = optimizer_spec(rng, groups, reload_at=77)
    check_optimizer(s, "MySGD", kwargs, spec)


# -- torch_adam ----------------------------------------------------------------------------------


@check(
    "torch_adam",
    "MyAdam is a torch.optim.Optimizer whose param_groups hold lr, betas, eps and weight_decay "
    "with torch.optim.Adam's defaults; step(closure) returns the closure's loss",
)
def torch_adam_structure(s, rng):
    check_optimizer_defaults(s, "MyAdam", {})
    check_optimizer_defaults(s, "MyAdam", {"lr": 0.01, "betas": (0.8, 0.99), "eps": 1e-6})
    check_closure(s, "MyAdam", {"lr": 0.01}, rng)


@check(
    "torch_adam",
    "MyAdam on two parameter groups (weights: lr 1e-2, weight decay 1e-3; biases: lr 3e-3, "
    "betas (0.8, 0.99)) trains an MLP for 200 steps exactly like torch.optim.Adam, also after a "
    "state_dict round trip at step 100; step, exp_avg and exp_avg_sq in optimizer.state",
)
def torch_adam_groups(s, rng):
    groups = weight_bias_groups(
        weights={"lr": 1e-2, "weight_decay": 1e-3}, biases={"lr": 3e-3, "betas": (0.8, 0.99)}
    )
    kwargs = {"lr": 1e-2}
    spec = optimizer_spec(rng, groups, reload_at=100)
    variants = {ADAM_MISTAKES["coupling_flipped"]: (torch.optim.AdamW, kwargs)}
    check_optimizer(s, "MyAdam", kwargs, spec, variants)


# -- torch_adamw ---------------------------------------------------------------------------------


@check(
    "torch_adamw",
    "MyAdamW is a torch.optim.Optimizer with AdamW's defaults (weight_decay 1e-2) in its "
    "param_groups",
)
def torch_adamw_structure(s, rng):
    check_optimizer_defaults(s, "MyAdamW", {})
    check_optimizer_defaults(s, "MyAdamW", {"lr": 0.01, "weight_decay": 0.1})


@check(
    "torch_adamw",
    "MyAdamW on two parameter groups (weights: default weight decay 1e-2; biases: lr 5e-3, "
    "weight decay 0.1) trains an MLP for 200 steps exactly like torch.optim.AdamW (decoupled "
    "decay), also after a state_dict round trip at step 100",
)
def torch_adamw_groups(s, rng):
    groups = weight_bias_groups(biases={"lr": 5e-3, "weight_decay": 0.1})
    kwargs = {"lr": 2e-2}
    spec = optimizer_spec(rng, groups, reload_at=100)
    variants = {
        ADAMW_MISTAKES["coupling_flipped"]: (torch.optim.Adam, {**kwargs, "weight_decay": 1e-2})
    }
    check_optimizer(s, "MyAdamW", kwargs, spec, variants)


# -- torch_warmup_cosine -------------------------------------------------------------------------


def reference_scheduler(w, T, a=0.01, eta_min=0.0):
    """The reference of WarmupCosineLR up to step T: PyTorch's own schedulers, chained."""

    def make(o):
        cosine = lr_scheduler.CosineAnnealingLR(o, T_max=T - w, eta_min=eta_min)
        if w == 0:
            return cosine
        ramp = lr_scheduler.LinearLR(o, start_factor=a, end_factor=1.0, total_iters=w)
        return lr_scheduler.SequentialLR(o, [ramp, cosine], milestones=[w])

    return make


def scheduler_spec(rng, steps, base_lrs=(0.1, 0.03), train=False, **extra) -> dict:
    model = model_spec(rng)
    groups = weight_bias_groups(weights={"lr": base_lrs[0]}, biases={"lr": base_lrs[1]})
    spec = {"model": model, "groups": groups, "steps": steps, "train": train, **extra}
    if train:
        spec.update(data_spec(rng, model, steps))
    return spec


def warmup_cosine_closed(t, base, w, T, a, eta_min):
    t = np.asarray(t, dtype=np.float64)
    ramp = base * (a + (1 - a) * t / max(w, 1))
    cos = eta_min + 0.5 * (base - eta_min) * (1 + np.cos(np.pi * (t - w) / (T - w)))
    return np.where(t < w, ramp, np.where(t >= T, eta_min, cos))


def scheduler_mistakes(steps, bases, w, T, a, eta_min):
    t = np.arange(steps + 1)

    def both(fn):
        return np.stack([fn(b) for b in bases], axis=1)

    return {
        "the cosine starts when the warm-up ends: cos(pi * (t - w) / (T - w))": both(
            lambda b: np.where(
                t < w,
                b * (a + (1 - a) * t / max(w, 1)),
                eta_min + 0.5 * (b - eta_min) * (1 + np.cos(np.pi * t / T)),
            )
        ),
        "off by one step: self.last_epoch is the number of step() calls so far, and the rate "
        "for it is what get_lr() returns": both(
            lambda b: warmup_cosine_closed(t + 1, b, w, T, a, eta_min)
        ),
        "the floor eta_min was ignored": both(lambda b: warmup_cosine_closed(t, b, w, T, a, 0.0)),
        "after total_steps the rate stays at eta_min": both(
            lambda b: np.where(
                t >= T,
                eta_min + 0.5 * (b - eta_min) * (1 + np.cos(np.pi * (t - w) / (T - w))),
                warmup_cosine_closed(t, b, w, T, a, eta_min),
            )
        ),
        "the warm-up starts at start_factor * base_lr": both(
            lambda b: warmup_cosine_closed(t, b, w, T, 0.0, eta_min)
        ),
    }


def check_scheduler(s, kwargs, spec, expected_lrs=None, reference=None, label=""):
    """The student's WarmupCosineLR driven by :func:`drive_scheduler`: the group lrs before every
    optimiser step, get_last_lr() after every scheduler step, and (when training) the final
    parameters, against ``reference`` (a scheduler factory) or ``expected_lrs``."""
    what = f"WarmupCosineLR(optimizer, {fmt(kwargs)}){label}"
    res = s.probe("a4_optim.scheduler", kwargs, spec, what="WarmupCosineLR")
    expect(
        field(res, "is_scheduler", what),
        f"WarmupCosineLR(...) is a {res.get('type')}, not a torch.optim.lr_scheduler.LRScheduler",
        "derive the class from torch.optim.lr_scheduler.LRScheduler",
    )
    ref = None if reference is None else drive_scheduler(reference, {**spec, "reload_at": None})
    exp = ref["lrs"] if expected_lrs is None else expected_lrs
    bases = [g["lr"] for g in spec["groups"]]
    w, T = kwargs["warmup_steps"], kwargs["total_steps"]
    a, eta_min = kwargs.get("start_factor", 0.01), kwargs.get("eta_min", 0.0)
    reload_at = spec.get("reload_at")

    def where(i):
        text = f"after {i} calls of scheduler.step() (rates of the {len(bases)} groups)"
        if reload_at is not None and i > reload_at:
            text += f"; the schedule continued after step {reload_at} from state dicts"
        return text

    compare_series(
        res["lrs"],
        exp,
        f"{what}: optimizer.param_groups[i]['lr']",
        where,
        mistakes=lambda: scheduler_mistakes(spec["steps"], bases, w, T, a, eta_min),
    )
    compare_series(
        res["last_lrs"],
        exp[1:],
        f"{what}: scheduler.get_last_lr()",
        lambda i: f"after {i + 1} calls of scheduler.step()",
        hint="get_last_lr() returns what get_lr() returned at the last step, one rate per group",
    )
    if spec.get("train") and ref is not None:
        close(
            res["params"],
            ref["params"],
            f"{what}: the parameters after {spec['steps']} steps of torch.optim.SGD scheduled by it",
            rtol=RTOL,
            atol=ATOL,
        )


@check(
    "torch_warmup_cosine",
    "WarmupCosineLR(optimizer, warmup_steps=10, total_steps=100) sets the lr of two groups "
    "(0.1 and 0.03) and get_last_lr() exactly like SequentialLR([LinearLR, CosineAnnealingLR]) at "
    "every step",
)
def scheduler_values(s, rng):
    kwargs = {"warmup_steps": 10, "total_steps": 100}
    spec = scheduler_spec(rng, 100)
    check_scheduler(s, kwargs, spec, reference=reference_scheduler(10, 100))


@check(
    "torch_warmup_cosine",
    "WarmupCosineLR with start_factor 0.1 and eta_min 1e-3 composes with torch.optim.SGD: 120 "
    "training steps with a checkpoint (optimizer and scheduler state_dict) at step 50 give the "
    "same learning rates and parameters as SequentialLR without the checkpoint",
)
def scheduler_training(s, rng):
    kwargs = {"warmup_steps": 12, "total_steps": 120, "start_factor": 0.1, "eta_min": 1e-3}
    spec = scheduler_spec(rng, 120, train=True, reload_at=50)
    check_scheduler(s, kwargs, spec, reference=reference_scheduler(12, 120, 0.1, 1e-3))
