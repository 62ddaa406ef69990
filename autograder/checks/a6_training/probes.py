"""Probes of A6: drivers that run beside the student's code and return plain data.

They judge nothing: the checks compare what they return with oracles computed in the grader.
Models, optimisers, generators and objective functions cannot cross the wire, so the probes
build them here from arrays and seeds the checks send, run the student's code on them, and
report numbers, names and flags. Every model is float64 on the CPU, so that the grader's own
computation matches to rounding.
"""

from __future__ import annotations

import math
import os

import numpy as np
import torch
import torch.nn as nn

from autograder.endpoint import probe

F64 = torch.float64
HOOK_DICTS = ("_forward_hooks", "_forward_pre_hooks", "_backward_hooks", "_backward_pre_hooks")
LAYER_TYPES = {"ReLU": nn.ReLU, "Tanh": nn.Tanh, "Linear": nn.Linear}


def _lookup(ns, name: str):
    if name not in ns:
        raise NameError(
            f"name {name!r} is not defined: run its answer cell, and keep the name exactly as given"
        )
    return ns[name]


def _t(a, dtype=F64):
    return torch.tensor(np.asarray(a), dtype=dtype)


def _plain(value):
    """Numbers as Python floats where possible; tensors as NumPy; everything else unchanged."""
    if isinstance(value, torch.Tensor):
        return value.detach().cpu().numpy().copy()
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def linear(w, b, dtype=F64) -> nn.Linear:
    """An ``nn.Linear`` holding the given weight (out, in) and bias."""
    layer = nn.Linear(w.shape[1], w.shape[0], dtype=dtype)
    with torch.no_grad():
        layer.weight.copy_(_t(w, dtype))
        layer.bias.copy_(_t(b, dtype))
    return layer


def tiny_mlp(widths, generator) -> nn.Sequential:
    """The float64 ReLU MLP that ``overfit_tiny_sample`` trains: Kaiming-normal weights from
    ``generator``, zero biases. Shared by the probe and the grader's oracle (same model, seed)."""
    layers = []
    for d_in, d_out in zip(widths[:-1], widths[1:], strict=True):
        layers += [nn.Linear(d_in, d_out, dtype=F64), nn.ReLU()]
    model = nn.Sequential(*layers[:-1])
    for layer in model:
        if isinstance(layer, nn.Linear):
            nn.init.kaiming_normal_(layer.weight, nonlinearity="relu", generator=generator)
            nn.init.zeros_(layer.bias)
    return model


# -- sanity checks ------------------------------------------------------------------------------


def bn_net(a: dict) -> nn.Sequential:
    """Linear -> BatchNorm1d (given running statistics) -> ReLU -> Dropout(p) -> Linear."""
    bn = nn.BatchNorm1d(a["W1"].shape[0], dtype=F64)
    with torch.no_grad():
        bn.weight.copy_(_t(a["gamma"]))
        bn.bias.copy_(_t(a["beta"]))
        bn.running_mean.copy_(_t(a["mean"]))
        bn.running_var.copy_(_t(a["var"]))
    return nn.Sequential(
        linear(a["W1"], a["b1"]), bn, nn.ReLU(), nn.Dropout(float(a["p"])), linear(a["W2"], a["b2"])
    )


@probe("a6_training.initial_loss")
def initial_loss(ns, arrays, x, y, train, fn, extra):
    """``fn(model, x, y, *extra)`` on :func:`bn_net` (in training mode when ``train``); whether
    gradients were enabled during the forward pass, the mode afterwards, the running statistics
    afterwards and whether a ``.grad`` appeared."""
    model = bn_net(arrays)
    model.train(bool(train))
    grad_modes = []
    model.register_forward_hook(lambda m, i, o: grad_modes.append(torch.is_grad_enabled()))
    out = _lookup(ns, fn)(model, _t(x), torch.tensor(np.asarray(y)), *extra)
    if isinstance(out, torch.Tensor):
        kind = "tensor"
    elif isinstance(out, tuple | list):
        kind = f"{type(out).__name__} of length {len(out)}"
        out = [
            o if not isinstance(o, torch.Tensor) else ("tensor", o.detach().numpy().copy())
            for o in out
        ]
    else:
        kind = type(out).__name__
    return {
        "out": _plain(out),
        "kind": kind,
        "grad_modes": grad_modes,
        "training_after": bool(model.training),
        "running_mean": model[1].running_mean.numpy().copy(),
        "grads": any(p.grad is not None for p in model.parameters()),
    }


@probe("a6_training.overfit")
def overfit(ns, x, y, widths, seed, steps, lr):
    """``overfit_tiny_sample(make_model, x, y, steps, lr, g)`` with ``make_model`` building
    :func:`tiny_mlp`; how ``make_model`` was called."""
    gen = torch.Generator().manual_seed(int(seed))
    calls = []

    def make_model(generator):
        calls.append(generator is gen)
        return tiny_mlp(list(widths), generator)

    xt, yt = _t(x), torch.tensor(np.asarray(y))
    x_before = xt.clone()
    history = _lookup(ns, "overfit_tiny_sample")(make_model, xt, yt, int(steps), float(lr), gen)
    return {
        "history": _plain(history),
        "kind": type(history).__name__,
        "calls": calls,
        "x_unchanged": bool(torch.equal(xt, x_before)),
    }


# -- hyperparameter search ----------------------------------------------------------------------


@probe("a6_training.log_uniform")
def log_uniform(ns, low, high, size, seed, times):
    """``sample_log_uniform(low, high, size, rng)`` ``times`` times with one generator."""
    rng = np.random.default_rng(int(seed))
    fn = _lookup(ns, "sample_log_uniform")
    outs = [fn(low, high, size, rng) for _ in range(int(times))]
    return {"outputs": _plain(outs), "kinds": [type(o).__name__ for o in outs]}


def score_of(params: dict, space: dict, weights: dict, ties: bool) -> float:
    """A deterministic objective: a weighted sum of the parameters' positions (log scale for
    log ranges) and of the index of each choice; rounded to a coarse grid for ``ties``."""
    total = 0.0
    for name, (kind, *spec) in space.items():
        v = params[name]
        if kind == "log":
            total += weights[name] * math.log10(v)
        elif kind == "linear":
            total += weights[name] * v
        else:
            total += weights[name] * list(spec[0]).index(v)
    return float(round(total * 2) / 2) if ties else total


@probe("a6_training.random_search")
def random_search(ns, space, n_trials, seed, minimize, weights, ties):
    """``random_search(objective, space, n_trials, rng, minimize=...)`` with an objective that
    records every call; the calls and the result."""
    space = {k: tuple(v) for k, v in space.items()}
    calls = []

    def objective(params):
        if not isinstance(params, dict):
            raise TypeError(f"objective() expects a dict of parameters, got {type(params)}")
        snapshot = dict(params)
        try:
            score = score_of(snapshot, space, weights, bool(ties))
        except (KeyError, ValueError, TypeError) as err:
            raise ValueError(f"objective() got parameters {snapshot!r} ({err})") from None
        calls.append({"params": snapshot, "score": score})
        return score

    result = _lookup(ns, "random_search")(
        objective, space, int(n_trials), np.random.default_rng(int(seed)), minimize=bool(minimize)
    )
    return {"calls": _plain(calls), "result": _plain(result), "kind": type(result).__name__}


# -- hooks and update ratios --------------------------------------------------------------------


def hook_net(a: dict) -> nn.Sequential:
    """Linear -> ReLU -> [Linear -> Tanh] -> Linear -> ReLU -> Linear (a nested block)."""
    return nn.Sequential(
        linear(a["W1"], a["b1"]),
        nn.ReLU(),
        nn.Sequential(linear(a["W2"], a["b2"]), nn.Tanh()),
        linear(a["W3"], a["b3"]),
        nn.ReLU(),
        linear(a["W4"], a["b4"]),
    )


def hooks_left(model: nn.Module) -> list[str]:
    return [
        f"{name or 'model'}.{attr}"
        for name, m in model.named_modules()
        for attr in HOOK_DICTS
        if len(getattr(m, attr))
    ]


@probe("a6_training.layer_stats")
def layer_stats(ns, arrays, batches, types):
    """``LayerStats(model, types)`` over the training steps ``batches`` (forward, mean
    cross-entropy, backward), with a forward pass under ``no_grad`` after each; then
    ``remove()`` and one more step, which must not be recorded."""
    model = hook_net(arrays)
    stats = _lookup(ns, "LayerStats")(model, tuple(LAYER_TYPES[t] for t in types))

    def step(x, y):
        model.zero_grad()
        torch.nn.functional.cross_entropy(model(_t(x)), torch.tensor(np.asarray(y))).backward()
        with torch.no_grad():
            model(_t(x))

    for x, y in batches:
        step(x, y)
    records = _plain(stats.records)
    counts = {k: len(v) for k, v in stats.records.items()}
    stats.remove()
    left = hooks_left(model)
    step(*batches[0])
    after = {k: len(v) for k, v in stats.records.items()}
    return {"records": records, "hooks_left": left, "grew_after_remove": after != counts}


def ratio_net(a: dict) -> nn.Sequential:
    return nn.Sequential(linear(a["W1"], a["b1"]), nn.ReLU(), linear(a["W2"], a["b2"]))


def make_optimizer(model: nn.Module, spec: dict) -> torch.optim.Optimizer:
    spec = dict(spec)
    kind = spec.pop("kind")
    cls = {"sgd": torch.optim.SGD, "adam": torch.optim.Adam, "adamw": torch.optim.AdamW}[kind]
    if "betas" in spec:
        spec["betas"] = tuple(spec["betas"])
    return cls(model.parameters(), **spec)


@probe("a6_training.update_ratio")
def update_ratio(ns, arrays, batches, spec):
    """``update_ratios(model, optimizer, x, y)`` once per batch, on a model in evaluation mode
    whose gradients hold stale values before the first call."""
    model = ratio_net(arrays)
    model.eval()  # the step has to switch it to training mode itself
    optimizer = make_optimizer(model, spec)
    for p in model.parameters():
        p.grad = torch.full_like(p, 3.0)
    outs = []
    for x, y in batches:
        outs.append(
            _plain(_lookup(ns, "update_ratios")(model, optimizer, _t(x), _t(y, torch.long)))
        )
    return {
        "ratios": outs,
        "params": {n: p.detach().numpy().copy() for n, p in model.named_parameters()},
        "training": bool(model.training),
    }


# -- transfer learning --------------------------------------------------------------------------


def encoder_head(a: dict, dtype=F64) -> nn.Sequential:
    """[Linear -> ReLU] -> Linear: a one-block encoder and its head."""
    return nn.Sequential(
        nn.Sequential(linear(a["W1"], a["b1"], dtype), nn.ReLU()), linear(a["W2"], a["b2"], dtype)
    )


@probe("a6_training.new_head")
def new_head(ns, arrays, num_classes, seed, dtype):
    """``new_head(model, num_classes, g)`` twice, on two copies of one model and generators
    seeded alike, with PyTorch's global generator advanced in between (and restored after)."""
    dt = {"float32": torch.float32, "float64": F64}[dtype]
    fn = _lookup(ns, "new_head")
    runs = []
    with torch.random.fork_rng(devices=[]):
        for shift in (1, 7):
            torch.rand(shift)  # a student who uses the global generator gets other weights
            model = encoder_head(arrays, dt)
            encoder, old_head = model[0], model[1]
            out = fn(model, int(num_classes), torch.Generator().manual_seed(int(seed)))
            head = model[-1]
            info = {
                "returned_model": out is model,
                "length": len(model),
                "encoder_same": model[0] is encoder
                and torch.equal(model[0][0].weight, _t(arrays["W1"], dt)),
                "head_type": type(head).__name__,
                "head_replaced": head is not old_head,
            }
            if isinstance(head, nn.Linear):
                info.update(
                    in_features=head.in_features,
                    out_features=head.out_features,
                    dtype=str(head.weight.dtype).replace("torch.", ""),
                    weight=head.weight.detach().double().numpy().copy(),
                    bias=None if head.bias is None else head.bias.detach().double().numpy().copy(),
                    requires_grad=all(p.requires_grad for p in head.parameters()),
                )
            runs.append(info)
    return runs


def bn_encoder_net(a: dict) -> nn.Sequential:
    """[Linear -> BN -> ReLU] -> Dropout -> [Linear -> BN -> ReLU] -> Linear (the head)."""
    h = a["W1"].shape[0]
    return nn.Sequential(
        nn.Sequential(linear(a["W1"], a["b1"]), nn.BatchNorm1d(h, dtype=F64), nn.ReLU()),
        nn.Dropout(0.25),
        nn.Sequential(linear(a["W2"], a["b2"]), nn.BatchNorm1d(h, dtype=F64), nn.ReLU()),
        linear(a["W3"], a["b3"]),
    )


@probe("a6_training.freeze")
def freeze(ns, arrays, x, y, lr, head_frozen):
    """``freeze_encoder(model)`` on a model in training mode (the head's parameters frozen
    beforehand when ``head_frozen``), then one SGD step over the returned parameters on a batch:
    flags, modes, names, and what the step changed."""
    model = bn_encoder_net(arrays)
    model.train()
    if head_frozen:
        for p in model[-1].parameters():
            p.requires_grad_(False)
    names = {id(p): n for n, p in model.named_parameters()}
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    buffers = {n: b.clone() for n, b in model.named_buffers()}
    out = _lookup(ns, "freeze_encoder")(model)
    if isinstance(out, torch.Tensor) or not isinstance(out, list | tuple):
        returned = None
    else:
        returned = [
            names.get(id(p), "<a tensor that is not a parameter of the model>") for p in out
        ]
    info = {
        "returned": returned,
        "requires_grad": {n: bool(p.requires_grad) for n, p in model.named_parameters()},
        "training": {n or "model": bool(m.training) for n, m in model.named_modules()},
    }
    if returned:
        optimizer = torch.optim.SGD(list(out), lr=float(lr))
        loss = torch.nn.functional.cross_entropy(model(_t(x)), torch.tensor(np.asarray(y)))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        info["changed"] = sorted(
            n for n, p in model.named_parameters() if not torch.equal(p.detach(), before[n])
        )
        info["buffers_changed"] = sorted(
            n
            for n, b in model.named_buffers()
            if b.dtype.is_floating_point and not torch.equal(b, buffers[n])
        )
    return info


def layout_net(layout: list, rng_seed: int) -> nn.Sequential:
    """A Sequential from a layout of "block" (Linear+BN+ReLU), "linear", "relu", "flatten",
    "dropout"; the widths are all 4 except the head, which has 3 outputs."""
    gen = torch.Generator().manual_seed(int(rng_seed))
    modules = []
    for i, kind in enumerate(layout):
        last = i == len(layout) - 1
        if kind == "block":
            modules.append(
                nn.Sequential(nn.Linear(4, 4, dtype=F64), nn.BatchNorm1d(4, dtype=F64), nn.ReLU())
            )
        elif kind == "linear":
            modules.append(nn.Linear(4, 3 if last else 4, dtype=F64))
        elif kind == "relu":
            modules.append(nn.ReLU())
        elif kind == "flatten":
            modules.append(nn.Flatten())
        else:
            modules.append(nn.Dropout(0.1))
    model = nn.Sequential(*modules)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn(p.shape, generator=gen, dtype=p.dtype))
    return model


@probe("a6_training.param_groups")
def param_groups(ns, layout, base_lr, decay):
    """``discriminative_param_groups(model, base_lr, decay)``, handed to ``torch.optim.SGD``
    with a default learning rate of 123 (which no group should keep): each group's parameter
    names and learning rate."""
    model = layout_net(list(layout), 0)
    names = {id(p): n for n, p in model.named_parameters()}
    groups = _lookup(ns, "discriminative_param_groups")(model, float(base_lr), float(decay))
    kind = type(groups).__name__
    optimizer = torch.optim.SGD(groups, lr=123.0)
    return {
        "kind": kind,
        "groups": [
            {
                "names": [names.get(id(p), "<not a parameter of the model>") for p in g["params"]],
                "lr": float(g["lr"]),
            }
            for g in optimizer.param_groups
        ],
    }


# -- the capstone ---------------------------------------------------------------------------------


@probe("a6_training.capstone_logits")
def capstone_logits(ns, state, images, batch_size=500):
    """Logits of ``build_capstone_model()`` loaded with ``state`` on uint8 ``images`` (N, 28, 28),
    fed as float32 in [0, 1] of shape (B, 1, 28, 28), in evaluation mode, without gradients."""
    model = _lookup(ns, "build_capstone_model")()
    if not isinstance(model, nn.Module):
        raise TypeError(f"build_capstone_model() returned {type(model).__name__}, not a Module")
    model = model.to("cpu")
    model.load_state_dict({k: torch.from_numpy(v) for k, v in state.items()}, strict=True)
    model.eval()
    x = torch.from_numpy(images).float().div_(255.0).unsqueeze(1)
    # Unlike the other probes' tiny tensors, 10,000 images are worth every core this process may
    # use (the notebook's checker pins PyTorch to one thread): 31 s on one core, 16 s on two.
    before = torch.get_num_threads()
    torch.set_num_threads(max(before, _usable_cores()))
    try:
        with torch.no_grad():
            out = [model(x[i : i + batch_size]).float() for i in range(0, len(x), batch_size)]
    finally:
        torch.set_num_threads(before)
    return torch.cat(out).numpy()


def _usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1
