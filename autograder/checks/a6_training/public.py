"""Public checks of A6: what students run from their notebook with ``checker.check("<item>")``.

Oracles: PyTorch in float64 in the grader's own process (``F.cross_entropy`` with the running
statistics of batch norm, the same MLP trained with ``torch.optim.Adam`` step for step, the
activations and gradients of a model rebuilt here from the same weights, one step of
``torch.optim`` for the update ratios), exact formulas (positions on a log scale, learning rates
per block) and properties of random draws (log-uniform samples, choices, seeded repeats) tested
with the calibrated bounds of :mod:`autograder.stats`. The helpers here are
shared with :mod:`.hidden`.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

from autograder.checking import CheckFailure, check, expect, expect_close, expect_equal, fmt_pair
from autograder.stats import expect_distribution, expect_uniform_counts

from .capstone import (  # noqa: F401 -- the capstone's public checks
    capstone_accuracy_88,
    capstone_accuracy_91,
    capstone_accuracy_93,
)
from .probes import hook_net, layout_net, make_optimizer, ratio_net, tiny_mlp

F64 = torch.float64
STAT_KEYS = ("mean", "std", "zeros", "saturated", "grad_mean", "grad_std")


def seed_of(rng) -> int:
    return int(rng.integers(0, 2**31 - 1))


def t64(a) -> torch.Tensor:
    return torch.tensor(np.asarray(a), dtype=F64)


def number(value, what: str) -> float:
    """A real number the student returned (a float, or a 0-d/1-element tensor or array)."""
    if isinstance(value, bool) or value is None:
        raise CheckFailure(f"{what}: expected a number, got {value!r}")
    if isinstance(value, int | float | np.floating | np.integer):
        return float(value)
    if isinstance(value, np.ndarray) and value.size == 1:
        return float(value.reshape(()))
    raise CheckFailure(f"{what}: expected a number, got {type(value).__name__}")


# -- Part 1: sanity checks ----------------------------------------------------------------------


def bn_net_arrays(rng, d: int, h: int, c: int, p: float = 0.5) -> dict:
    """Weights of the probe's Linear-BN-ReLU-Dropout-Linear network; running statistics far
    from those of the batch, so that training mode gives another loss than evaluation mode."""
    return {
        "W1": rng.standard_normal((h, d)) / math.sqrt(d),
        "b1": 0.1 * rng.standard_normal(h),
        "gamma": rng.uniform(0.5, 1.5, h),
        "beta": 0.2 * rng.standard_normal(h),
        "mean": rng.uniform(-1.0, 1.0, h),
        "var": rng.uniform(0.2, 3.0, h),
        "W2": rng.standard_normal((c, h)) * 0.5 / math.sqrt(h),
        "b2": 0.1 * rng.standard_normal(c),
        "p": p,
    }


def bn_net_eval_loss(a: dict, x, y) -> float:
    """The oracle: the network in evaluation mode, written with functional operations."""
    h = F.linear(t64(x), t64(a["W1"]), t64(a["b1"]))
    h = F.batch_norm(h, t64(a["mean"]), t64(a["var"]), t64(a["gamma"]), t64(a["beta"]), False)
    scores = F.linear(torch.relu(h), t64(a["W2"]), t64(a["b2"]))
    return F.cross_entropy(scores, torch.tensor(np.asarray(y))).item()


def bn_net_train_loss(a: dict, x, y) -> float:
    """The loss with batch statistics (a known mistake: training mode), without dropout."""
    h = F.linear(t64(x), t64(a["W1"]), t64(a["b1"]))
    h = F.batch_norm(h, None, None, t64(a["gamma"]), t64(a["beta"]), True)
    scores = F.linear(torch.relu(h), t64(a["W2"]), t64(a["b2"]))
    return F.cross_entropy(scores, torch.tensor(np.asarray(y))).item()


def run_initial_loss(s, a, x, y, train, fn="initial_loss", extra=()) -> dict:
    label = f"{fn}(model, x, y{', ...' if extra else ''})"
    return s.probe("a6_training.initial_loss", a, x, y, train, fn, list(extra), what=label)


def check_initial_loss_value(s, rng, n: int, d: int, h: int, c: int, train: bool) -> None:
    a = bn_net_arrays(rng, d, h, c)
    x, y = rng.standard_normal((n, d)), rng.integers(0, c, n)
    got = run_initial_loss(s, a, x, y, train)
    what = f"initial_loss(model, x, y) of a model in {'training' if train else 'evaluation'} mode"
    expect(
        got["kind"] in ("float", "int"),
        f"{what}: returned a {got['kind']}, expected a Python float",
        "return loss.item()" if got["kind"] == "tensor" else None,
    )
    expected = bn_net_eval_loss(a, x, y)
    loss = got["out"]
    mistakes = {"the sum over the batch instead of the mean": expected * n}
    if abs(loss - expected) > 1e-9 * max(1.0, expected):
        hint = next((k for k, v in mistakes.items() if abs(loss - v) < 1e-6 * v), None)
        if hint is None and train:
            hint = (
                "the loss was measured in training mode (batch statistics, dropout): call "
                "model.eval() first"
            )
        got_text, want = fmt_pair(float(loss), float(expected))
        raise CheckFailure(
            f"{what}: got {got_text}, expected {want} (mean cross-entropy in evaluation "
            "mode, with the running statistics of batch norm and without dropout)",
            hint,
        )
    expect(
        got["grad_modes"] and not any(got["grad_modes"]),
        f"{what}: the forward pass ran with gradients enabled",
        "wrap the forward pass in `with torch.no_grad():`",
    )
    expect(
        got["training_after"] == train,
        f"{what}: the model was left in {'training' if got['training_after'] else 'evaluation'} "
        f"mode, expected the mode it was in before the call ({'training' if train else 'eval'})",
        "remember model.training before model.eval() and restore it with model.train(was)",
    )
    expect_close(got["running_mean"], a["mean"], f"{what}: batch norm's running mean afterwards")


def check_check_initial_loss(s, rng, c: int, tol: float, scale: float) -> None:
    """``check_initial_loss`` on a model whose scores are ``scale`` times larger; with
    ``tol > 0.5``, the tolerance is ``tol`` times the loss's actual relative deviation."""
    n, d, h = 40, 6, 8
    a = bn_net_arrays(rng, d, h, c)
    a["W2"] = a["W2"] * scale
    x, y = rng.standard_normal((n, d)), rng.integers(0, c, n)
    if tol > 0.5:
        tol = tol * abs(bn_net_eval_loss(a, x, y) - math.log(c)) / math.log(c)
    got = run_initial_loss(s, a, x, y, False, "check_initial_loss", (c, tol))
    what = f"check_initial_loss(model, x, y, {c}, {tol:.4g})"
    out = got["out"]
    expect(
        isinstance(out, list) and len(out) == 3,
        f"{what}: returned a {got['kind']}, expected a tuple (loss, expected, ok)",
    )
    loss, expected, ok = out
    loss = number(loss, f"{what}: loss")
    expect_close(loss, bn_net_eval_loss(a, x, y), f"{what}: the loss", rtol=1e-9)
    expected_value = number(expected, f"{what}: expected")
    hints = {
        math.log2(c): "log2(C): use the natural logarithm (math.log)",
        math.log10(c): "log10(C): use the natural logarithm (math.log)",
        1.0 / c: "1/C is the initial probability; the initial loss is -ln(1/C) = ln(C)",
    }
    if abs(expected_value - math.log(c)) > 1e-9:
        hint = next((v for k, v in hints.items() if abs(expected_value - k) < 1e-9), None)
        raise CheckFailure(f"{what}: expected = {expected_value:.6g}, should be ln({c})", hint)
    want = abs(loss - math.log(c)) <= tol * math.log(c)
    expect(
        isinstance(ok, bool | np.bool_),
        f"{what}: ok is a {type(ok).__name__}, expected a bool",
    )
    expect(
        bool(ok) == want,
        f"{what}: ok = {ok} for a loss of {loss:.4f} against ln({c}) = {math.log(c):.4f}; "
        f"|loss - ln C| / ln C = {abs(loss - math.log(c)) / math.log(c):.3f}, tolerance {tol:.4g}",
        "the tolerance is relative: |loss - ln C| <= tolerance * ln C",
    )


@check("initial_loss", "initial_loss: mean cross-entropy in eval mode, no_grad, mode restored")
def initial_loss_basic(s, rng):
    check_initial_loss_value(s, rng, 32, 6, 8, 5, train=True)


@check("initial_loss", "check_initial_loss: ln C and the relative tolerance")
def initial_loss_compare(s, rng):
    check_check_initial_loss(s, rng, 10, 0.1, 0.3)
    check_check_initial_loss(s, rng, 10, 0.1, 40.0)
    # a tolerance just above / below the measured relative deviation, where an absolute
    # tolerance would decide the other way
    check_check_initial_loss(s, rng, 10, 1.25, 8.0)
    check_check_initial_loss(s, rng, 10, 0.8, 8.0)


def tiny_sample(rng, per_class: int, d: int, c: int):
    x = rng.standard_normal((per_class * c, d))
    y = rng.permutation(np.repeat(np.arange(c), per_class))
    return x, y


def overfit_oracle(x, y, widths, seed, steps, lr) -> np.ndarray:
    """The same model, optimiser and steps in the grader: the accuracy history."""
    model = tiny_mlp(widths, torch.Generator().manual_seed(seed))
    xt, yt = t64(x), torch.tensor(y)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)

    def accuracy():
        with torch.no_grad():
            return (model(xt).argmax(dim=1) == yt).double().mean().item()

    history = [accuracy()]
    for _ in range(steps):
        loss = F.cross_entropy(model(xt), yt)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        history.append(accuracy())
    return np.array(history)


#: Samples drawn until the reference training reaches 100%: a single draw misses for about 2 seeds
#: in 1000 (bench/calibrate_overfit.py measures it), so a correct answer fails only when all
#: draws miss, at a rate of about p**3 < 1e-6.
OVERFIT_DRAWS = 3


def check_overfit(s, rng, per_class: int, d: int, hidden: int, c: int, steps: int, lr: float):
    for _ in range(OVERFIT_DRAWS):
        x, y = tiny_sample(rng, per_class, d, c)
        widths, seed = [d, hidden, c], seed_of(rng)
        oracle = overfit_oracle(x, y, widths, seed, steps, lr)
        if oracle[-1] == 1.0:
            break
    got = s.probe(
        "a6_training.overfit", x, y, widths, seed, steps, lr, what="overfit_tiny_sample(...)"
    )
    what = f"overfit_tiny_sample(make_model, x, y, steps={steps}, lr={lr}, generator)"
    expect(
        got["calls"] == [True],
        f"{what}: make_model was called {len(got['calls'])} times"
        + ("" if all(got["calls"]) else ", not always with the generator argument")
        + "; expected once, with the generator",
    )
    expect(got["x_unchanged"], f"{what}: modified the input x")
    history = got["history"]
    expect(
        isinstance(history, list),
        f"{what}: returned a {got['kind']}, expected a list of accuracies",
    )
    if len(history) != steps + 1:
        hint = (
            "record the accuracy before the first step too"
            if len(history) == steps
            else "one accuracy before training and one after every step"
        )
        raise CheckFailure(f"{what}: {len(history)} accuracies, expected steps + 1", hint)
    hist = np.array([number(h, f"{what}: accuracy") for h in history])
    expect(
        np.all((hist >= 0) & (hist <= 1)),
        f"{what}: accuracies outside [0, 1] (largest {hist.max():.4g})",
        "the fraction of correct predictions: a mean, not a count, and not the loss",
    )
    expect_close(
        hist,
        oracle,
        f"{what}: the accuracy history (compared with the same model trained here)",
        atol=1e-6,  # accuracies in float32 are fine; real mistakes differ by at least 1 / N
        mistakes=lambda: {
            "the history is one step late: the first entry is after the first step": np.append(
                oracle[1:], oracle[-1]
            ),
        },
        hint="Adam(model.parameters(), lr=lr), full batch, zero_grad before backward, "
        "accuracy under no_grad before training and after each step",
    )
    expect(hist[-1] == 1.0, f"{what}: final training accuracy {hist[-1]:.3f}, expected 1.0")


@check(
    "overfit_tiny", "overfit_tiny_sample: reaches 100% and matches Adam step for step", timeout=10.0
)
def overfit_basic(s, rng):
    check_overfit(s, rng, 20, 16, 64, 5, 60, 0.01)


# -- Part 2: hyperparameter search --------------------------------------------------------------


def log_uniform_samples(s, low, high, size, seed, times=1) -> list:
    return s.probe(
        "a6_training.log_uniform",
        low,
        high,
        size,
        seed,
        times,
        what=f"sample_log_uniform({low:g}, {high:g}, {size}, rng)",
    )


def check_log_uniform(s, rng, low: float, high: float, n: int) -> None:
    seed = seed_of(rng)
    got = log_uniform_samples(s, low, high, n, seed, times=2)
    what = f"sample_log_uniform({low:g}, {high:g}, {n}, rng)"
    first, second = (np.asarray(o, dtype=np.float64) for o in got["outputs"])
    expect_equal(first.shape, (n,), f"{what}: shape")
    expect(
        np.all(np.isfinite(first)) and first.min() >= low and first.max() <= high,
        f"{what}: samples outside [{low:g}, {high:g}]: from {np.nanmin(first):.4g} to "
        f"{np.nanmax(first):.4g}",
        "the exponent is uniform on [log10(low), log10(high)], and the sample is 10**exponent",
    )
    expect(not np.array_equal(first, second), f"{what}: two calls with one generator gave the same")
    again = np.asarray(log_uniform_samples(s, low, high, n, seed)["outputs"][0], dtype=np.float64)
    expect(
        np.array_equal(first, again),
        f"{what}: two generators seeded alike gave different samples",
        "draw from rng only (not np.random)",
    )
    lo, hi = math.log10(low), math.log10(high)
    uniform_in_value = (np.mean(first < math.sqrt(low * high)) < 0.25) and high / low > 100
    expect_distribution(
        np.log10(first),
        lambda v: np.clip((v - lo) / (hi - lo), 0.0, 1.0),
        f"U({lo:.3g}, {hi:.3g})",
        f"{what}: log10 of the samples",
        "the samples look uniform in the value, not in its logarithm"
        if uniform_in_value
        else "draw the exponent uniformly on [log10(low), log10(high)]",
    )


@check("log_uniform", "sample_log_uniform: log10 of the samples is uniform; seeded")
def log_uniform_basic(s, rng):
    check_log_uniform(s, rng, 1e-5, 1e-1, 20_000)


SPACE = {
    "lr": ("log", 1e-4, 1.0),
    "dropout": ("linear", 0.0, 0.5),
    "width": ("choice", [32, 64, 128, 256]),
}


def run_search(s, space, n_trials, seed, minimize, weights, ties=False) -> dict:
    return s.probe(
        "a6_training.random_search",
        space,
        n_trials,
        seed,
        minimize,
        weights,
        ties,
        what=f"random_search(objective, space, {n_trials}, rng, minimize={minimize})",
    )


def check_trial_values(params: list[dict], space: dict, what: str) -> None:
    for p in params:
        expect(
            isinstance(p, dict) and sorted(p) == sorted(space),
            f"{what}: the objective got parameters {p!r}, expected the keys {sorted(space)}",
        )
        for name, (kind, *spec) in space.items():
            v = p[name]
            if kind == "choice":
                expect(v in spec[0], f"{what}: {name} = {v!r} is not one of {spec[0]}")
            else:
                expect(
                    isinstance(v, float) and spec[0] <= v <= spec[1],
                    f"{what}: {name} = {v!r}, expected a float in [{spec[0]}, {spec[1]}]",
                )


def check_ranking(got: dict, minimize: bool, what: str) -> None:
    calls, result = got["calls"], got["result"]
    expect(
        isinstance(result, list) and len(result) == len(calls),
        f"{what}: returned {len(result) if isinstance(result, list) else got['kind']} trials, "
        f"expected a list of {len(calls)}",
    )
    for r in result:
        expect(
            isinstance(r, dict) and set(r) == {"params", "score"},
            f"{what}: a trial is {r!r}, expected a dict with the keys 'params' and 'score'",
        )
    sign = 1.0 if minimize else -1.0
    want = sorted(calls, key=lambda t: sign * t["score"])
    if [r["score"] for r in result] != [t["score"] for t in want]:
        hint = None
        if [r["score"] for r in result] == [t["score"] for t in want[::-1]]:
            hint = "ranked worst first: look at the direction for minimize=True / False"
        elif [r["score"] for r in result] == [t["score"] for t in calls]:
            hint = "the trials are in the order they were run: sort them by score"
        raise CheckFailure(
            f"{what}: scores in the order {[round(r['score'], 4) for r in result][:6]}..., "
            f"expected {[round(t['score'], 4) for t in want][:6]}... (best first)",
            hint,
        )
    got_params, want_params = [r["params"] for r in result], [t["params"] for t in want]
    if got_params != want_params:
        hint = None
        if len(got_params) > 1 and all(p == got_params[0] for p in got_params):
            hint = (
                "every trial shows the same params: build a new dict for each trial (one dict "
                "shared by all of them ends up holding the last trial's values)"
            )
        elif sorted(map(repr, got_params)) == sorted(map(repr, want_params)):
            hint = (
                "sort the trials as a whole (a stable sort keeps ties in the order they were run)"
            )
        raise CheckFailure(
            f"{what}: the params of the ranked trials do not belong to their scores (or equal "
            "scores changed their order)",
            hint,
        )


def check_search(s, rng, space, n_trials, minimize, ties=False) -> dict:
    seed = seed_of(rng)
    weights = {k: float(rng.uniform(0.5, 2.0)) for k in space}
    got = run_search(s, space, n_trials, seed, minimize, weights, ties)
    what = f"random_search(objective, space, {n_trials}, rng, minimize={minimize})"
    expect(
        len(got["calls"]) == n_trials,
        f"{what}: the objective was called {len(got['calls'])} times, expected {n_trials}",
    )
    check_trial_values([c["params"] for c in got["calls"]], space, what)
    check_ranking(got, minimize, what)
    return got


def check_search_distribution(s, rng, n_trials: int) -> None:
    got = check_search(s, rng, SPACE, n_trials, True)
    what = f"random_search(objective, space, {n_trials}, rng)"
    params = [c["params"] for c in got["calls"]]
    lr = np.log10([p["lr"] for p in params])
    expect_distribution(
        lr,
        lambda v: np.clip((v + 4.0) / 4.0, 0.0, 1.0),
        "U(-4, 0)",
        f"{what}: log10 of the values of lr, a ('log', 1e-4, 1.0) range",
        "use sample_log_uniform for 'log' ranges",
    )
    drop = np.array([p["dropout"] for p in params])
    expect_distribution(
        drop,
        lambda v: np.clip(v / 0.5, 0.0, 1.0),
        "U(0, 0.5)",
        f"{what}: the values of dropout, a ('linear', 0.0, 0.5) range",
        "rng.uniform(low, high) for 'linear' ranges",
    )
    options = SPACE["width"][1]
    expect_uniform_counts(
        np.array([options.index(p["width"]) for p in params]),
        np.arange(len(options)),
        f"{what}: how often each option of width {options} was chosen",
    )
    n = min(n_trials, 200)
    for name in ("lr", "dropout", "width"):
        values = [p[name] for p in params[:n]]
        expect(
            len(set(values)) > 1,
            f"{what}: every trial has the same {name}",
            "draw new values for every trial",
        )
    seed = seed_of(rng)
    w = {k: 1.0 for k in SPACE}
    a = run_search(s, SPACE, 20, seed, True, w)
    b = run_search(s, SPACE, 20, seed, True, w)
    expect(
        a["calls"] == b["calls"],
        f"{what}: two generators seeded alike gave different trials",
        "draw from rng only (not np.random)",
    )


@check("random_search", "random_search: ranked best first, both directions")
def random_search_ranking(s, rng):
    check_search(s, rng, SPACE, 30, True)
    check_search(s, rng, SPACE, 30, False)


@check("random_search", "random_search: log, linear and choice ranges drawn correctly; seeded")
def random_search_draws(s, rng):
    check_search_distribution(s, rng, 1500)


def border_oracle(trials, space, top_k, fraction) -> dict:
    best = trials[:top_k]
    out = {}
    for name, (kind, *spec) in space.items():
        if kind == "choice" or not best:
            continue
        lo, hi = spec
        v = np.array([t["params"][name] for t in best], dtype=np.float64)
        if kind == "log":
            v, lo, hi = np.log10(v), math.log10(lo), math.log10(hi)
        pos = (v - lo) / (hi - lo)
        if np.all(pos <= fraction):
            out[name] = "low"
        elif np.all(pos >= 1.0 - fraction):
            out[name] = "high"
    return out


def position_to_value(kind: str, lo: float, hi: float, t: float) -> float:
    if kind == "log":
        return float(10.0 ** (math.log10(lo) + t * (math.log10(hi) - math.log10(lo))))
    return float(lo + t * (hi - lo))


def make_trials(rng, space: dict, positions: dict, n: int) -> list[dict]:
    """``n`` ranked trials; ``positions[name]`` gives the positions of the values (in [0, 1], on
    the range's own scale) of the trials in rank order, the rest drawn at random."""
    trials = []
    for i in range(n):
        params = {}
        for name, (kind, *spec) in space.items():
            if kind == "choice":
                params[name] = spec[0][int(rng.integers(len(spec[0])))]
            else:
                pos = positions.get(name)
                t = pos[i] if pos is not None and i < len(pos) else float(rng.uniform(0.2, 0.8))
                params[name] = position_to_value(kind, spec[0], spec[1], t)
        trials.append({"params": params, "score": float(i)})
    return trials


def check_border(s, trials, space, top_k, fraction, label="") -> None:
    got = s.call("border_warnings", trials, space, top_k=top_k, fraction=fraction)
    expected = border_oracle(trials, space, top_k, fraction)
    what = f"border_warnings(trials, space, top_k={top_k}, fraction={fraction}){label}"
    expect(isinstance(got, dict), f"{what}: returned a {type(got).__name__}, expected a dict")
    if got != expected:
        hint = None
        # The log-scale hint only when measuring log ranges linearly gives exactly this answer.
        linear = {n: ("linear", *r) if k == "log" else (k, *r) for n, (k, *r) in space.items()}
        wrong_logs = [
            name
            for name, (kind, *_r) in space.items()
            if kind == "log" and got.get(name) != expected.get(name)
        ]
        if wrong_logs and got == border_oracle(trials, linear, top_k, fraction):
            hint = f"{wrong_logs[0]} is a log range: measure positions on the log10 scale"
        for name, (kind, *_r) in space.items():
            if kind == "choice" and name in got:
                hint = "'choice' hyperparameters have no border: skip them"
        raise CheckFailure(f"{what}: got {got}, expected {expected}", hint)


BORDER_SPACE = {
    "lr": ("log", 1e-5, 1.0),
    "weight_decay": ("log", 1e-6, 1e-2),
    "dropout": ("linear", 0.0, 0.5),
    "batch": ("choice", [32, 64]),
}


@check("border_warnings", "border_warnings: both ends, log and linear scales, top_k")
def border_basic(s, rng):
    # lr: high on the log scale (but not on a linear one); weight decay low on the log scale only
    # (values around 1e-5 sit at 0.1% of the linear range); dropout: not all of the top 3 low.
    pos = {"lr": [0.97, 0.93, 0.95], "weight_decay": [0.05, 0.02, 0.08], "dropout": [0.02, 0.5]}
    check_border(s, make_trials(rng, BORDER_SPACE, pos, 8), BORDER_SPACE, 3, 0.1)
    # the best is on the border, the next one is not: no warning with top_k=2, one with top_k=1
    pos = {"lr": [0.99, 0.5], "dropout": [0.95, 0.97, 0.99, 0.3]}
    trials = make_trials(rng, BORDER_SPACE, pos, 6)
    check_border(s, trials, BORDER_SPACE, 2, 0.1, " (the second best is inside)")
    check_border(s, trials, BORDER_SPACE, 1, 0.1, " (only the best counts)")
    check_border(s, trials, BORDER_SPACE, 3, 0.1, " (dropout high)")


# -- Part 3: hooks and update ratios ------------------------------------------------------------


def hook_arrays(rng, d: int, h: int, c: int) -> dict:
    """Weights with dead ReLU units (large negative biases) and a saturating tanh layer."""
    b1 = 0.3 * rng.standard_normal(h)
    b1[: h // 4] = -20.0  # always off: a quarter of the first ReLU layer is dead
    return {
        "W1": rng.standard_normal((h, d)) / math.sqrt(d),
        "b1": b1,
        "W2": 3.0 * rng.standard_normal((h, h)) / math.sqrt(h),  # tanh saturates
        "b2": 0.1 * rng.standard_normal(h),
        "W3": rng.standard_normal((h, h)) / math.sqrt(h),
        "b3": 0.1 * rng.standard_normal(h),
        "W4": rng.standard_normal((c, h)) / math.sqrt(h),
        "b4": 0.1 * rng.standard_normal(c),
    }


def hook_oracle(a: dict, batches, types) -> dict:
    """Per-layer statistics computed here with autograd (``retain_grad`` on the outputs)."""
    model = hook_net(a)
    watched = [
        (name, m)
        for name, m in model.named_modules()
        if any(type(m).__name__ == t for t in types) and name
    ]
    records = {name: [] for name, _ in watched}
    outs = {}

    def keep(name):
        def hook(module, inputs, output):
            output.retain_grad()
            outs[name] = output

        return hook

    for x, y in batches:
        handles = [m.register_forward_hook(keep(name)) for name, m in watched]
        F.cross_entropy(model(t64(x)), torch.tensor(np.asarray(y))).backward()
        for handle in handles:
            handle.remove()
        for name, _ in watched:
            a_, g = outs[name].detach(), outs[name].grad
            records[name].append(
                [
                    a_.mean().item(),
                    a_.std().item(),
                    (a_ == 0).double().mean().item(),
                    (a_.abs() >= 0.99).double().mean().item(),
                    g.mean().item(),
                    g.std().item(),
                ]
            )
    return records


def check_layer_stats(s, rng, d, h, c, n, steps, types) -> None:
    a = hook_arrays(rng, d, h, c)
    batches = [(rng.standard_normal((n, d)), rng.integers(0, c, n)) for _ in range(steps)]
    got = s.probe("a6_training.layer_stats", a, batches, list(types), what="LayerStats(...)")
    what = f"LayerStats(model, {tuple(types)})"
    expected = hook_oracle(a, batches, types)
    records = got["records"]
    expect(
        isinstance(records, dict),
        f"{what}.records is a {type(records).__name__}, expected a dict",
    )
    if list(records) != list(expected):
        hint = None
        if set(records) != set(expected) and len(records) == len(expected):
            hint = "use the names of model.named_modules() as keys"
        elif len(records) > len(expected):
            hint = "watch only the modules that are instances of layer_types"
        raise CheckFailure(
            f"{what}.records has the keys {list(records)}, expected {list(expected)}", hint
        )
    for name, want in expected.items():
        recs = records[name]
        expect(
            isinstance(recs, list) and len(recs) == len(want),
            f"{what}.records[{name!r}]: {len(recs)} records after {steps} training steps (each "
            f"followed by a forward pass under no_grad), expected {len(want)}",
            "skip forward passes whose output does not require a gradient"
            if len(recs) == 2 * len(want)
            else None,
        )
        for k, rec in enumerate(recs):
            expect(
                isinstance(rec, dict) and set(STAT_KEYS) <= set(rec),
                f"{what}.records[{name!r}][{k}] = {rec!r}, expected a dict with the keys "
                f"{STAT_KEYS}",
            )
            for key in STAT_KEYS:
                expect(
                    rec[key] is not None,
                    f"{what}.records[{name!r}][{k}][{key!r}] is None after the backward pass",
                    "register a hook on the output tensor (or a full backward hook) that fills in "
                    "the gradient statistics",
                )
        table = np.array([[number(r[key], f"{name} {key}") for key in STAT_KEYS] for r in recs])
        want = np.array(want)
        hints = {
            "std": "Tensor.std() uses Bessel's correction (divides by n - 1)",
        }
        for j, key in enumerate(STAT_KEYS):
            expect_close(
                table[:, j],
                want[:, j],
                f"{what}.records[{name!r}][step][{key!r}], over the {steps} steps",
                rtol=1e-7,
                atol=1e-12,
                hint=hints.get(key),
            )
    expect(
        not got["hooks_left"],
        f"{what}: after remove(), hooks are still registered on {got['hooks_left']}",
        "keep every handle that register_... returns and call handle.remove() on each",
    )
    expect(
        not got["grew_after_remove"],
        f"{what}: a training step after remove() still added records",
        "remove every hook, the tensor hooks included",
    )


@check("layer_stats", "LayerStats: activations and gradients of ReLU and Tanh layers; remove()")
def layer_stats_basic(s, rng):
    check_layer_stats(s, rng, 7, 12, 4, 16, 2, ("ReLU", "Tanh"))


def ratio_arrays(rng, d, h, c) -> dict:
    return {
        "W1": rng.standard_normal((h, d)) / math.sqrt(d),
        "b1": 0.2 * rng.standard_normal(h),
        "W2": rng.standard_normal((c, h)) / math.sqrt(h),
        "b2": 0.2 * rng.standard_normal(c),
    }


def ratio_oracle(a, batches, spec) -> tuple[list[dict], dict]:
    model = ratio_net(a)
    optimizer = make_optimizer(model, spec)
    out = []
    for x, y in batches:
        before = {n: p.detach().clone() for n, p in model.named_parameters()}
        optimizer.zero_grad()
        F.cross_entropy(model(t64(x)), torch.tensor(np.asarray(y))).backward()
        optimizer.step()
        out.append(
            {
                n: (
                    torch.linalg.vector_norm(p.detach() - before[n])
                    / (torch.linalg.vector_norm(before[n]) + 1e-12)
                ).item()
                for n, p in model.named_parameters()
            }
        )
    params = {n: p.detach().numpy() for n, p in model.named_parameters()}
    return out, params


def check_update_ratios(s, rng, spec: dict, steps: int = 1, d=6, h=10, c=4, n=12) -> None:
    a = ratio_arrays(rng, d, h, c)
    batches = [(rng.standard_normal((n, d)), rng.integers(0, c, n)) for _ in range(steps)]
    got = s.probe("a6_training.update_ratio", a, batches, spec, what="update_ratios(...)")
    what = f"update_ratios(model, {spec['kind']}, x, y)"
    expected, params = ratio_oracle(a, batches, spec)
    for k, (ratios, want) in enumerate(zip(got["ratios"], expected, strict=True)):
        step = f"{what}, call {k + 1}" if steps > 1 else what
        expect(
            isinstance(ratios, dict) and sorted(ratios) == sorted(want),
            f"{step}: returned {ratios!r:.200}, expected a dict with the keys {list(want)}",
            "one entry per model.named_parameters(), biases included",
        )
        for name in want:
            r = number(ratios[name], f"{step}['{name}']")
            if r == 0.0:
                raise CheckFailure(
                    f"{step}['{name}'] = 0: the parameter did not change?",
                    "the snapshot before the step must be a copy (p.detach().clone()): the "
                    "optimiser updates p in place",
                )
            expect_close(
                r,
                want[name],
                f"{step}['{name}']",
                rtol=1e-7,
                hint="||w_after - w_before|| / (||w_before|| + 1e-12), after one step with "
                "zero_grad first",
            )
    expect(got["training"], f"{what}: the model was left in evaluation mode", "model.train()")
    for name, value in params.items():
        expect_close(got["params"][name], value, f"{what}: the parameter {name} after the steps")


@check("update_ratio", "update_ratios: one SGD step with momentum and weight decay")
def update_ratio_sgd(s, rng):
    check_update_ratios(s, rng, {"kind": "sgd", "lr": 0.1, "momentum": 0.9, "weight_decay": 1e-3})


# -- Part 4: transfer learning ------------------------------------------------------------------


def head_arrays(rng, d, h, c) -> dict:
    return {
        "W1": rng.standard_normal((h, d)),
        "b1": rng.standard_normal(h),
        "W2": rng.standard_normal((c, h)),
        "b2": rng.standard_normal(c),
    }


def check_new_head(s, rng, d, h, c_old, c_new, dtype="float64") -> None:
    a = head_arrays(rng, d, h, c_old)
    runs = s.probe(
        "a6_training.new_head", a, c_new, seed_of(rng), dtype, what="new_head(model, ...)"
    )
    what = f"new_head(model, {c_new}, generator) on a {dtype} model with head Linear({h}, {c_old})"
    first, second = runs
    expect(first["returned_model"], f"{what}: did not return the model itself")
    expect(first["length"] == 2, f"{what}: the model has {first['length']} modules, expected 2")
    expect(first["encoder_same"], f"{what}: the encoder was replaced or changed")
    expect(
        first["head_type"] == "Linear" and first["head_replaced"],
        f"{what}: the last module is a {first['head_type']}"
        + ("" if first["head_replaced"] else " (the old head)")
        + ", expected a new nn.Linear",
    )
    expect(
        (first["in_features"], first["out_features"]) == (h, c_new),
        f"{what}: the new head is Linear({first['in_features']}, {first['out_features']}), "
        f"expected Linear({h}, {c_new})",
    )
    expect(
        first["dtype"] == dtype,
        f"{what}: the new head is {first['dtype']}",
        "create it with the old head's dtype and device",
    )
    expect(first["requires_grad"], f"{what}: the new head's parameters do not require gradients")
    expect(
        first["bias"] is not None and np.all(np.asarray(first["bias"]) == 0),
        f"{what}: the bias of the new head is not zero",
        "nn.init.zeros_(head.bias)",
    )
    w = np.asarray(first["weight"], dtype=np.float64)
    bound = 1.0 / math.sqrt(h)
    expect(
        np.all(np.abs(w) <= bound * (1 + 1e-6)),
        f"{what}: weights up to {np.abs(w).max():.4g}, expected within 1/sqrt({h}) = {bound:.4g}",
    )
    expect_distribution(
        w.ravel(),
        lambda v: np.clip((v + bound) / (2 * bound), 0.0, 1.0),
        f"U(-{bound:.3g}, {bound:.3g})",
        f"{what}: the new weights",
        "uniform on [-1/sqrt(in_features), 1/sqrt(in_features)]",
    )
    expect(
        np.array_equal(w, np.asarray(second["weight"])),
        f"{what}: two generators seeded alike gave different heads",
        "draw the weights with generator=generator (nn.init.uniform_(..., generator=...))",
    )


@check("new_head", "new_head: a new Linear with the right shape, initialisation and dtype")
def new_head_basic(s, rng):
    check_new_head(s, rng, 5, 400, 6, 3)


def freeze_arrays(rng, d, h, c) -> dict:
    return {
        "W1": rng.standard_normal((h, d)) / math.sqrt(d),
        "b1": rng.standard_normal(h),
        "W2": rng.standard_normal((h, h)) / math.sqrt(h),
        "b2": rng.standard_normal(h),
        "W3": rng.standard_normal((c, h)) / math.sqrt(h),
        "b3": rng.standard_normal(c),
    }


def check_freeze(s, rng, head_frozen: bool) -> None:
    d, h, c, n = 5, 6, 3, 10
    a = freeze_arrays(rng, d, h, c)
    x, y = rng.standard_normal((n, d)), rng.integers(0, c, n)
    got = s.probe("a6_training.freeze", a, x, y, 0.1, head_frozen, what="freeze_encoder(model)")
    what = "freeze_encoder(model)" + (" (head frozen before the call)" if head_frozen else "")
    head = ["3.weight", "3.bias"]
    wrong = [n for n, rg in got["requires_grad"].items() if rg != (n in head)]
    if wrong:
        hint = None
        if all(n in head or n.endswith("bias") for n in wrong):
            hint = "freeze every parameter of the encoder, the biases and batch norm's too"
        elif set(wrong) <= set(head):
            hint = "the head's parameters must require gradients (set them to True)"
        raise CheckFailure(
            f"{what}: requires_grad is wrong for {wrong} (only the head, {head}, should be "
            "trainable)",
            hint,
        )
    modes = got["training"]
    bn_in_train = [n for n in ("0.1", "2.1") if modes[n]]
    expect(
        not bn_in_train,
        f"{what}: the batch-norm modules {bn_in_train} are still in training mode",
        "put the encoder's batch-norm modules in eval mode, so their running statistics stay",
    )
    others = {n: m for n, m in modes.items() if n not in ("0.1", "2.1")}
    changed = [n for n, m in others.items() if not m]
    expect(
        not changed,
        f"{what}: the modules {changed} were put in evaluation mode; only batch norm should be",
    )
    returned = got["returned"]
    expect(
        returned is not None and sorted(returned) == sorted(head),
        f"{what}: returned {returned}, expected the head's parameters {head}",
        "return list(model[-1].parameters())",
    )
    expect(
        got["changed"] == sorted(head),
        f"{what}: one SGD step over the returned parameters changed {got['changed']}",
    )
    expect(
        not got["buffers_changed"],
        f"{what}: a training step changed the buffers {got['buffers_changed']}",
    )


@check("freeze_encoder", "freeze_encoder: flags, batch norm in eval, the head's parameters")
def freeze_basic(s, rng):
    check_freeze(s, rng, head_frozen=False)


def groups_oracle(layout: list, base_lr: float, decay: float) -> list[dict]:
    model = layout_net(layout, 0)
    blocks = [
        [f"{i}.{n}" for n, _ in m.named_parameters()]
        for i, m in enumerate(model)
        if any(True for _ in m.parameters())
    ]
    last = len(blocks) - 1
    return [{"names": b, "lr": base_lr * decay ** (last - i)} for i, b in enumerate(blocks)]


def check_groups(s, layout, base_lr, decay) -> None:
    got = s.probe(
        "a6_training.param_groups",
        layout,
        base_lr,
        decay,
        what="discriminative_param_groups(...)",
    )
    want = groups_oracle(layout, base_lr, decay)
    what = f"discriminative_param_groups(model, {base_lr}, {decay}) on a model {layout}"
    groups = got["groups"]
    expect(
        [g["names"] for g in groups] == [w["names"] for w in want],
        f"{what}: groups of parameters {[g['names'] for g in groups]}, expected "
        f"{[w['names'] for w in want]} (one group per top-level module with parameters, input "
        "first)",
    )
    lrs, want_lr = [g["lr"] for g in groups], [w["lr"] for w in want]
    if not np.allclose(lrs, want_lr, rtol=1e-9, atol=0):
        hint = None
        if any(lr == 123.0 for lr in lrs):
            hint = "every group needs its own 'lr'"
        elif np.allclose(lrs, want_lr[::-1], rtol=1e-9):
            hint = "count the depth from the head (depth 0), not from the input"
        raise CheckFailure(f"{what}: learning rates {lrs}, expected {want_lr}", hint)


@check("param_groups", "discriminative_param_groups: one group per block, lr * decay**depth")
def param_groups_basic(s, rng):
    check_groups(s, ["block", "block", "linear"], 0.1, 0.5)
    check_groups(s, ["flatten", "block", "dropout", "block", "relu", "linear"], 1e-3, 0.4)
