"""Hidden checks of A4, run only by official grading: runs of 500 steps, other shapes (a
0-dimensional parameter, three axes) and hyperparameters, learning rates that change at every
step (where PyTorch's momentum buffer and the classical velocity part ways, and AdamW's decay
follows the rate), gradients so small that eps dominates, schedules with one-step phases and past
their end, the three-phase one-cycle, range tests that never diverge or whose loss becomes nan,
parameter groups with different momenta, parameters without gradients, a convolutional model,
and the scheduler's floor after its last step."""

from __future__ import annotations

import numpy as np
from torch.optim import lr_scheduler

from autograder.checking import CheckFailure, expect

from .public import (
    check,
    check_cyclic,
    check_one_cycle,
    check_optimizer,
    check_range_test,
    check_schedule,
    check_scheduler,
    check_warmup,
    cosine_mistakes,
    expect_value_error,
    inverse_sqrt_mistakes,
    linear_mistakes,
    optimizer_spec,
    reference_scheduler,
    run_rule,
    scheduler_spec,
    sequential_warmup,
    step_mistakes,
    torch_lrs,
    warmup_cosine_closed,
    weight_bias_groups,
)


def cosine_lrs(rng, steps, high=0.1):
    """A learning rate for every step: a cosine from ``high`` to ``high / 100`` with a random
    wobble, as a schedule (or a hand-tuned loop) would set it."""
    t = np.arange(steps)
    base = high / 100 + 0.5 * (high - high / 100) * (1 + np.cos(np.pi * t / steps))
    return base * rng.uniform(0.8, 1.2, steps)


# -- sgd -----------------------------------------------------------------------------------------


@check(
    "sgd",
    "500 steps with a parameter of shape (3, 4): Nesterov momentum 0.95 with weight decay 0.02, "
    "and momentum 0.5 with dampening 0.2",
)
def sgd_long(s, rng):
    run_rule(
        s,
        rng,
        "sgd",
        {"lr": 0.02, "momentum": 0.95, "nesterov": True, "weight_decay": 0.02},
        shape=(3, 4),
        steps=500,
    )
    run_rule(s, rng, "sgd", {"lr": 0.2, "momentum": 0.5, "dampening": 0.2}, steps=500)


@check(
    "sgd",
    "the learning rate changes at every step (passed as lr=...): momentum 0.9 with dampening 0.3, "
    "and Nesterov momentum; PyTorch multiplies the whole buffer by the current rate",
)
def sgd_changing_lr(s, rng):
    lrs = cosine_lrs(rng, 150, 0.2)
    run_rule(s, rng, "sgd", {"momentum": 0.9, "dampening": 0.3}, steps=150, lrs=lrs)
    run_rule(s, rng, "sgd", {"momentum": 0.9, "nesterov": True}, steps=150, lrs=lrs, shape=(3,))


@check(
    "sgd",
    "a 0-dimensional parameter with the default learning rate 1e-3 and momentum 0.99; without "
    "momentum the state stays empty",
)
def sgd_scalar_defaults(s, rng):
    run_rule(s, rng, "sgd", {"momentum": 0.99}, shape=(), steps=120)
    x = rng.standard_normal(4)
    res = s.call("sgd_step", x, x, {}, lr=0.1)
    if not isinstance(res, tuple | list) or len(res) != 2 or not isinstance(res[1], dict):
        raise CheckFailure("sgd_step(param, grad, {}, lr=0.1) must return (new_param, new_state)")
    expect(
        res[1] == {},
        f"sgd_step(param, grad, {{}}, lr=0.1) (no momentum) returned a state with the keys "
        f"{sorted(res[1])}; plain SGD has no state",
        "create momentum_buffer only when momentum != 0, as torch.optim.SGD does",
    )


# -- adagrad -------------------------------------------------------------------------------------


@check(
    "adagrad",
    "500 steps, shape (4, 5), with lr_decay 0.01, weight_decay 0.1, initial_accumulator_value 0.5 "
    "and eps 1e-6",
)
def adagrad_long(s, rng):
    kwargs = {
        "lr": 0.1,
        "lr_decay": 0.01,
        "weight_decay": 0.1,
        "initial_accumulator_value": 0.5,
        "eps": 1e-6,
    }
    run_rule(s, rng, "adagrad", kwargs, shape=(4, 5), steps=500)


@check(
    "adagrad",
    "a learning rate that changes at every step together with lr_decay, and a 0-dimensional "
    "parameter with gradients near 1e-5 (where eps outside the square root matters)",
)
def adagrad_changing(s, rng):
    run_rule(s, rng, "adagrad", {"lr_decay": 0.1}, steps=150, lrs=cosine_lrs(rng, 150, 0.5))
    run_rule(s, rng, "adagrad", {"lr": 1e-6}, shape=(), steps=100, spread=(1e-5, 3e-5))


# -- rmsprop -------------------------------------------------------------------------------------


@check(
    "rmsprop",
    "500 steps, shape (3, 4): momentum 0.8, weight decay 0.01, alpha 0.95 and eps 1e-6",
)
def rmsprop_long(s, rng):
    kwargs = {"lr": 2e-3, "alpha": 0.95, "eps": 1e-6, "weight_decay": 0.01, "momentum": 0.8}
    run_rule(s, rng, "rmsprop", kwargs, shape=(3, 4), steps=500)


@check(
    "rmsprop",
    "a learning rate that changes at every step, centred with momentum 0.9; a 0-dimensional "
    "parameter",
)
def rmsprop_changing(s, rng):
    # Centred RMSProp divides by sqrt(square_avg - grad_avg**2), a difference that cancels when
    # the gradients barely vary: its rounding grows with the run, so the centred runs stay short.
    lrs = cosine_lrs(rng, 120, 0.01)
    run_rule(s, rng, "rmsprop", {"momentum": 0.9, "centered": True}, steps=120, lrs=lrs)
    run_rule(s, rng, "rmsprop", {"lr": 0.02}, shape=(), steps=100)


# -- adam ----------------------------------------------------------------------------------------


@check(
    "adam",
    "500 steps with a parameter of shape (3, 4, 2), betas (0.95, 0.9999) and lr 3e-3",
)
def adam_long(s, rng):
    run_rule(s, rng, "adam", {"lr": 3e-3, "betas": (0.95, 0.9999)}, shape=(3, 4, 2), steps=500)


@check(
    "adam",
    "a learning rate that changes at every step, with weight decay 0.01; a 0-dimensional parameter "
    "whose gradients are about 1e-8, as large as eps",
)
def adam_changing(s, rng):
    lrs = cosine_lrs(rng, 200, 0.05)
    run_rule(s, rng, "adam", {"weight_decay": 0.01}, steps=200, lrs=lrs)
    run_rule(s, rng, "adam", {"lr": 1e-9}, shape=(), steps=100, spread=(1e-8, 3e-8))


# -- adamw ---------------------------------------------------------------------------------------


@check(
    "adamw",
    "500 steps, shape (5, 2), weight decay 0.3 and eps 1e-6",
)
def adamw_long(s, rng):
    run_rule(
        s, rng, "adamw", {"lr": 5e-3, "weight_decay": 0.3, "eps": 1e-6}, shape=(5, 2), steps=500
    )


@check(
    "adamw",
    "a learning rate that changes at every step (the decay factor 1 - lr * weight_decay follows "
    "it), and weight_decay 0 (plain Adam)",
)
def adamw_changing(s, rng):
    lrs = cosine_lrs(rng, 200, 0.05)
    run_rule(s, rng, "adamw", {"weight_decay": 0.2}, steps=200, lrs=lrs)
    run_rule(s, rng, "adamw", {"lr": 0.01, "weight_decay": 0.0}, shape=(2, 2), steps=100)


# -- decay_schedules -----------------------------------------------------------------------------


@check(
    "decay_schedules",
    "step_lr with step_size 1 and with step_size 100 (gamma 0.9); exponential_lr with gamma 0.999 "
    "over 3000 steps",
)
def decay_long(s, rng):
    base = float(rng.uniform(0.05, 0.5))
    t = np.arange(400)
    for size in (1, 100):
        exp = torch_lrs(lambda o, k=size: lr_scheduler.StepLR(o, step_size=k, gamma=0.9), 400, base)
        kw = {"base_lr": base, "step_size": size, "gamma": 0.9}
        check_schedule(s, "step_lr", kw, 400, exp, "StepLR", step_mistakes(t, base, size, 0.9))
    exp = torch_lrs(lambda o: lr_scheduler.ExponentialLR(o, gamma=0.999), 3000, base)
    check_schedule(
        s, "exponential_lr", {"base_lr": base, "gamma": 0.999}, 3000, exp, "ExponentialLR"
    )


@check(
    "decay_schedules",
    "linear_lr over one step (total_iters 1) and from 0.5 to 0.9 over 37 steps; step_lr with the "
    "default gamma 0.1",
)
def decay_linear_edges(s, rng):
    base = float(rng.uniform(0.05, 0.5))
    t = np.arange(60)
    for a, b, T in ((0.25, 1.0, 1), (0.5, 0.9, 37)):
        kw = {"start_factor": a, "end_factor": b, "total_iters": T}
        exp = torch_lrs(lambda o, k=kw: lr_scheduler.LinearLR(o, **k), 60, base)
        check_schedule(
            s,
            "linear_lr",
            {"base_lr": base, **kw},
            60,
            exp,
            "LinearLR",
            linear_mistakes(t, base, a, b, T),
        )
    exp = torch_lrs(lambda o: lr_scheduler.StepLR(o, step_size=5), 60, base)
    check_schedule(s, "step_lr", {"base_lr": base, "step_size": 5}, 60, exp, "StepLR")


@check(
    "decay_schedules",
    "cosine_lr past T_max (it climbs back, as CosineAnnealingLR does) with eta_min 0 and with a "
    "floor, and with T_max = 1; inverse_sqrt_lr with t0 = 1 and t0 = 1000",
)
def decay_cosine_edges(s, rng):
    base = float(rng.uniform(0.05, 0.5))
    for T, floor in ((80, 0.0), (50, 0.2 * base), (1, 0.0)):
        steps = max(2 * T, 6)
        exp = torch_lrs(
            lambda o, k=T, f=floor: lr_scheduler.CosineAnnealingLR(o, T_max=k, eta_min=f),
            steps,
            base,
        )
        check_schedule(
            s,
            "cosine_lr",
            {"base_lr": base, "T_max": T, "eta_min": floor},
            steps,
            exp,
            "CosineAnnealingLR",
            cosine_mistakes(np.arange(steps), base, T, floor),
        )
    for t0 in (1, 1000):
        exp = torch_lrs(
            lambda o, k=t0: lr_scheduler.LambdaLR(o, lambda t: (1 + t / k) ** -0.5), 500, base
        )
        check_schedule(
            s,
            "inverse_sqrt_lr",
            {"base_lr": base, "t0": t0},
            500,
            exp,
            "LambdaLR",
            inverse_sqrt_mistakes(np.arange(500), base, t0),
        )


# -- warmup --------------------------------------------------------------------------------------


@check(
    "warmup",
    "warm-ups of one step and of 40 steps in front of exponential decay, against SequentialLR, "
    "with start_factor 0.5 and the default 0.01",
)
def warmup_exponential(s, rng):
    base = float(rng.uniform(0.05, 0.5))

    def decay(o):
        return lr_scheduler.ExponentialLR(o, gamma=0.97)

    for w, a in ((1, 0.5), (40, None)):
        inner = torch_lrs(decay, 201, base)
        exp = sequential_warmup(decay, 200, base, w, 0.01 if a is None else a)
        check_warmup(s, inner, 200, w, a, exp, "SequentialLR")


@check(
    "warmup",
    "a warm-up in front of an arbitrary schedule (random values; it is called only at t >= 0) and "
    "warmup_steps = 0, which leaves the schedule unchanged",
)
def warmup_arbitrary(s, rng):
    table = rng.uniform(0.01, 0.2, 120)
    w, a, steps = 17, 0.2, 100
    t = np.arange(steps)
    exp = np.where(t < w, table[0] * (a + (1 - a) * t / w), table[np.maximum(t - w, 0)])
    check_warmup(s, table, steps, w, a, exp, "the formula", label=" (random schedule)")
    check_warmup(s, table, steps, 0, a, table[:steps], "the schedule itself", label=" (no warm-up)")


# -- cyclical ------------------------------------------------------------------------------------


@check(
    "cyclical",
    "triangular2 with 7 steps up and 3 down over 10 cycles, triangular with one step up, and a "
    "long symmetric run of 2000 steps against CyclicLR",
)
def cyclical_edges(s, rng):
    lo = float(rng.uniform(1e-3, 1e-2))
    check_cyclic(s, 100, lo, 8 * lo, 7, 3, "triangular2")
    check_cyclic(s, 60, lo, 3 * lo, 1, 4)
    check_cyclic(s, 2000, lo, 10 * lo, 33)


@check("cyclical", "triangular_lr raises ValueError for an unknown mode")
def cyclical_mode(s, rng):
    expect_value_error(
        lambda: s.call("triangular_lr", 3, 0.01, 0.1, 10, mode="sawtooth"),
        "triangular_lr(3, 0.01, 0.1, 10, mode='sawtooth')",
        "accept 'triangular' and 'triangular2' only",
    )


# -- one_cycle -----------------------------------------------------------------------------------


@check(
    "one_cycle",
    "three_phase=True with cosine and with linear annealing against OneCycleLR",
)
def one_cycle_three(s, rng):
    hi = float(rng.uniform(0.05, 0.5))
    check_one_cycle(s, hi, 200, {"three_phase": True})
    check_one_cycle(s, hi, 90, {"three_phase": True, "anneal_strategy": "linear", "pct_start": 0.2})


@check(
    "one_cycle",
    "short cycles: 10 and 17 steps with pct_start 0.4 and 0.5, where the phases end at "
    "fractional steps",
)
def one_cycle_short(s, rng):
    hi = float(rng.uniform(0.05, 0.5))
    check_one_cycle(s, hi, 10, {"pct_start": 0.4})
    check_one_cycle(s, hi, 17, {"pct_start": 0.5, "div_factor": 5.0})


# -- range_test ----------------------------------------------------------------------------------


@check(
    "range_test",
    "a range test that never diverges (all num_steps steps are taken) and one with beta 0 (no "
    "smoothing) and diverge_factor 10",
)
def range_test_edges(s, rng):
    calm = {"seed": int(rng.integers(2**31)), "dim": 6, "h_max": 1.0}
    check_range_test(s, calm, {"lr_min": 1e-4, "lr_max": 0.5, "num_steps": 50})
    wild = {"seed": int(rng.integers(2**31)), "dim": 12, "h_max": 20.0, "loss_noise": 0.2}
    kwargs = {"lr_min": 1e-3, "lr_max": 100.0, "num_steps": 80, "beta": 0.0, "diverge_factor": 10.0}
    check_range_test(s, wild, kwargs)


@check(
    "range_test",
    "a run whose loss becomes nan before it diverges: the test stops at the first nan and the "
    "suggestion ignores it",
)
def range_test_nan(s, rng):
    trainer = {"seed": int(rng.integers(2**31)), "dim": 10, "h_max": 2.0, "nan_above": 0.3}
    check_range_test(s, trainer, {"lr_min": 1e-4, "lr_max": 10.0, "num_steps": 100})


# -- torch_sgd -----------------------------------------------------------------------------------


@check(
    "torch_sgd",
    "plain MySGD (no momentum) with weight decay on a small CNN, 150 steps with a checkpoint at "
    "step 75: no state at all, parameters as torch.optim.SGD's",
)
def torch_sgd_plain_cnn(s, rng):
    groups = weight_bias_groups("cnn", biases={"weight_decay": 0.0})
    spec = optimizer_spec(rng, groups, steps=150, kind="cnn", reload_at=75)
    check_optimizer(s, "MySGD", {"lr": 0.1, "weight_decay": 1e-3}, spec)


@check(
    "torch_sgd",
    "Nesterov momentum on the weights, no momentum on the biases (two groups), a parameter that "
    "never gets a gradient, and a learning rate changed before every step, with a checkpoint",
)
def torch_sgd_groups_unused(s, rng):
    groups = weight_bias_groups(unused=True, biases={"momentum": 0.0, "nesterov": False})
    spec = optimizer_spec(
        rng, groups, steps=150, unused=True, reload_at=60, lr_factors=rng.uniform(0.3, 1.0, 150)
    )
    kwargs = {"lr": 0.05, "momentum": 0.9, "nesterov": True, "weight_decay": 1e-3}
    check_optimizer(s, "MySGD", kwargs, spec)


# -- torch_adam ----------------------------------------------------------------------------------


@check(
    "torch_adam",
    "MyAdam on a small CNN for 150 steps with eps 1e-6, betas (0.85, 0.995) and weight decay "
    "1e-2 on the weights, with a checkpoint at step 75",
)
def torch_adam_cnn(s, rng):
    groups = weight_bias_groups("cnn", weights={"weight_decay": 1e-2})
    spec = optimizer_spec(rng, groups, steps=150, kind="cnn", reload_at=75)
    check_optimizer(s, "MyAdam", {"lr": 5e-3, "eps": 1e-6, "betas": (0.85, 0.995)}, spec)


@check(
    "torch_adam",
    "MyAdam with a parameter that never gets a gradient and a learning rate changed before every "
    "step, with a checkpoint",
)
def torch_adam_unused(s, rng):
    groups = weight_bias_groups(unused=True, biases={"lr": 2e-3})
    spec = optimizer_spec(
        rng, groups, steps=150, unused=True, reload_at=90, lr_factors=rng.uniform(0.3, 1.0, 150)
    )
    check_optimizer(s, "MyAdam", {"lr": 1e-2, "weight_decay": 1e-3}, spec)


# -- torch_adamw ---------------------------------------------------------------------------------


@check(
    "torch_adamw",
    "MyAdamW with a learning rate changed before every step (the decay follows it) and a "
    "parameter that never gets a gradient, with a checkpoint",
)
def torch_adamw_changing(s, rng):
    groups = weight_bias_groups(unused=True, biases={"weight_decay": 0.0})
    spec = optimizer_spec(
        rng, groups, steps=150, unused=True, reload_at=90, lr_factors=rng.uniform(0.2, 1.0, 150)
    )
    check_optimizer(s, "MyAdamW", {"lr": 2e-2, "weight_decay": 0.1}, spec)


@check(
    "torch_adamw",
    "MyAdamW on a small CNN for 150 steps, weight decay 0.05 on the weights and none on the "
    "biases, betas (0.9, 0.99), with a checkpoint at step 100",
)
def torch_adamw_cnn(s, rng):
    groups = weight_bias_groups("cnn", weights={"weight_decay": 0.05}, biases={"weight_decay": 0.0})
    spec = optimizer_spec(rng, groups, steps=150, kind="cnn", reload_at=100)
    check_optimizer(s, "MyAdamW", {"lr": 3e-3, "betas": (0.9, 0.99)}, spec)


# -- torch_warmup_cosine -------------------------------------------------------------------------


@check(
    "torch_warmup_cosine",
    "WarmupCosineLR past total_steps: the rate stays at eta_min (2e-3) for 30 more steps",
)
def scheduler_past_end(s, rng):
    kwargs = {"warmup_steps": 5, "total_steps": 50, "eta_min": 2e-3}
    spec = scheduler_spec(rng, 80, base_lrs=(0.2, 0.05))
    t = np.arange(81)
    exp = np.stack([warmup_cosine_closed(t, b, 5, 50, 0.01, 2e-3) for b in (0.2, 0.05)], axis=1)
    check_scheduler(s, kwargs, spec, expected_lrs=exp)


@check(
    "torch_warmup_cosine",
    "WarmupCosineLR without warm-up (warmup_steps 0) and with one warm-up step over 300 steps, "
    "with a checkpoint, against PyTorch's schedulers",
)
def scheduler_edges(s, rng):
    for w in (0, 1):
        kwargs = {"warmup_steps": w, "total_steps": 300, "start_factor": 0.3}
        spec = scheduler_spec(rng, 300, reload_at=123)
        check_scheduler(s, kwargs, spec, reference=reference_scheduler(w, 300, 0.3))


@check(
    "torch_warmup_cosine",
    "WarmupCosineLR raises ValueError for warmup_steps >= total_steps and for start_factor 0",
)
def scheduler_errors(s, rng):
    for kwargs in (
        {"warmup_steps": 10, "total_steps": 10},
        {"warmup_steps": 2, "total_steps": 10, "start_factor": 0.0},
    ):
        raised = s.probe("a4_optim.scheduler_raises", kwargs, what="WarmupCosineLR")
        expect(
            raised is True,
            f"WarmupCosineLR(optimizer, {kwargs}) did not raise ValueError",
            "check the settings in __init__: 0 <= warmup_steps < total_steps, 0 < start_factor "
            "<= 1",
        )
