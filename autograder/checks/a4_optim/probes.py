"""Probes of A4: drivers that run the student's update rules, schedules, optimisers and scheduler
beside them and return plain data.

They judge nothing: the checks compare what they return with oracles computed in the grader.
The drivers (:func:`run_update_rule`, :class:`SyntheticTrainer`, :func:`drive_optimizer`,
:func:`drive_scheduler`) are also what the checks run on ``torch.optim`` and
``torch.optim.lr_scheduler`` to get the expected values, so the student's code and PyTorch's go
through exactly the same steps.
"""

from __future__ import annotations

import io
import math

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from autograder.endpoint import probe

F64 = torch.float64


def as_plain(value):
    """A value the wire can carry and the checks can read: arrays, numbers, None, or the name of
    the type (for anything else, so that a check can say what came back)."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, np.integer | np.floating):
        return value.item()
    if isinstance(value, torch.Tensor):
        t = value.detach().cpu()
        return t.item() if t.dim() == 0 else t.numpy().copy()
    if isinstance(value, np.ndarray):
        if value.dtype.kind in "biuf":
            return value.copy()
        return f"<array of dtype {value.dtype}>"
    return f"<{type(value).__name__}>"


# -- Part 1: NumPy update rules -------------------------------------------------------------------


def _snapshot(state) -> dict:
    """A deep copy of a state dict (its arrays copied), to find out later whether it changed."""
    if not isinstance(state, dict):
        return state
    return {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in state.items()}


def _same(a, b) -> bool:
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return (
            isinstance(a, np.ndarray)
            and isinstance(b, np.ndarray)
            and a.shape == b.shape
            and np.array_equal(a, b, equal_nan=True)
        )
    try:
        return bool(a == b)
    except Exception:  # noqa: BLE001 -- an odd object in the state: compare identities
        return a is b


def _changed(before: dict, after) -> str | None:
    """Which part of a state dict changed (None if nothing did)."""
    if not isinstance(after, dict):
        return None
    if set(before) != set(after):
        return f"its keys changed from {sorted(before)} to {sorted(after)}"
    for k, v in before.items():
        if not _same(v, after[k]):
            return f"state[{k!r}] changed"
    return None


@probe("a4_optim.update_rule")
def update_rule(ns, name, param0, curvature, noise, kwargs, lrs=None):
    """Run the student's ``name(param, grad, state, **kwargs)`` with :func:`run_update_rule`."""
    return run_update_rule(ns[name], param0, curvature, noise, kwargs, lrs, watch=True)


def run_update_rule(fn, param0, curvature, noise, kwargs, lrs=None, watch=False) -> dict:
    """``len(noise)`` steps of an update rule on a noisy quadratic, from ``state = {}``.

    Step t uses the gradient ``curvature * param + noise[t]`` (the loss
    ``sum(curvature * param**2) / 2`` with noise) and, when ``lrs`` is given, ``lr=lrs[t]``.
    With ``watch``, copies of everything passed in are compared with the originals after each
    call; the first change is reported in ``"mutated"`` and the run stops there.

    Returns ``params`` (T, *shape) after each step, ``state_keys`` (the sorted keys after each
    step), ``states`` ({key: (T, *shape) array, nan where a step lacked it} for the array-valued
    entries), ``steps`` (the value of ``state["step"]`` after each step, or None) and
    ``mutated``.
    """
    param = np.array(param0, dtype=np.float64)
    curvature = np.asarray(curvature, dtype=np.float64)
    noise = np.asarray(noise, dtype=np.float64)
    state: dict = {}
    params, keys, steps, raw_states = [], [], [], []
    mutated = None
    for t in range(len(noise)):
        grad = curvature * param + noise[t]
        kw = dict(kwargs)
        if lrs is not None:
            kw["lr"] = float(lrs[t])
        if watch:
            copies = (param.copy(), grad.copy(), _snapshot(state))
        new_param, new_state = _unpack_step(fn(param, grad, state, **kw), t)
        if watch:
            for what, before, now in (("param", copies[0], param), ("grad", copies[1], grad)):
                if not _same(before, now):
                    mutated = {"step": t + 1, "what": f"the `{what}` array it was given"}
            change = _changed(copies[2], state)
            if change is not None and mutated is None:
                mutated = {"step": t + 1, "what": f"the `state` it was given ({change})"}
            if mutated is not None:
                break
        param = _as_param(new_param, param.shape, t)
        if not isinstance(new_state, dict):
            raise TypeError(
                f"at step {t + 1}: new_state is a {type(new_state).__name__}, expected a dict"
            )
        state = new_state
        params.append(param.copy())
        keys.append(sorted(map(str, state)))
        steps.append(as_plain(state.get("step")) if "step" in state else None)
        raw_states.append(
            {k: np.array(v, dtype=np.float64) for k, v in state.items() if _is_array_like(v)}
        )
    shape = np.shape(param0)
    names = sorted({k for st in raw_states for k in st})
    states = {}
    for k in names:
        stack = np.full((len(raw_states), *shape), np.nan)
        for i, st in enumerate(raw_states):
            if k in st and st[k].shape == shape:
                stack[i] = st[k]
        states[k] = stack
    return {
        "params": np.array(params).reshape(len(params), *shape),
        "state_keys": keys,
        "states": states,
        "steps": steps,
        "mutated": mutated,
    }


def _unpack_step(result, t: int):
    if not isinstance(result, tuple | list) or len(result) != 2:
        kind = type(result).__name__
        raise TypeError(f"at step {t + 1}: returned a {kind}, expected (new_param, new_state)")
    return result


def _as_param(value, shape, t: int) -> np.ndarray:
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(
            f"at step {t + 1}: new_param is a {type(value).__name__}, expected a float64 array"
        ) from None
    if arr.shape != shape:
        raise ValueError(f"at step {t + 1}: new_param has shape {arr.shape}, expected {shape}")
    return arr


def _is_array_like(v) -> bool:
    """Arrays, tensors and numbers (a 0-dimensional parameter's state may be a NumPy scalar)."""
    if isinstance(v, bool | np.bool_):
        return False
    if isinstance(v, np.ndarray):
        return v.dtype.kind in "biuf"
    return isinstance(v, torch.Tensor | int | float | np.integer | np.floating)


# -- Part 2: schedules ------------------------------------------------------------------------------


def _as_rate(value, what: str) -> float:
    if isinstance(value, bool) or not isinstance(
        value, int | float | np.integer | np.floating | np.ndarray | torch.Tensor
    ):
        raise TypeError(f"{what} returned a {type(value).__name__}, expected a float")
    if np.size(value) != 1:
        raise TypeError(f"{what} returned {np.size(value)} numbers, expected one float")
    return float(np.asarray(value, dtype=np.float64).reshape(()))


@probe("a4_optim.schedule")
def schedule(ns, name, steps, kwargs):
    """The student's ``name(t, **kwargs)`` for every ``t`` in ``steps``."""
    fn = ns[name]
    return [_as_rate(fn(int(t), **kwargs), f"{name}(t={int(t)}, ...)") for t in steps]


class TableSchedule:
    """A schedule given by its values: ``schedule(t) = values[t]``, refusing other arguments
    with a message that says what was asked for; the calls are recorded."""

    def __init__(self, values):
        self.values = [float(v) for v in values]
        self.calls: list = []

    def __call__(self, t):
        self.calls.append(t)
        if isinstance(t, bool) or not isinstance(t, int | np.integer | float | np.floating):
            raise TypeError(f"the schedule was called with a {type(t).__name__}, not a step")
        if float(t) != math.floor(float(t)):
            raise ValueError(f"the schedule was called with t = {t}, not an integer step")
        i = int(t)
        if i < 0:
            raise ValueError(f"the schedule was called with a negative step, t = {i}")
        if i >= len(self.values):
            raise ValueError(
                f"the schedule was called with t = {i}, beyond the {len(self.values)} steps "
                "it can be asked about here"
            )
        return self.values[i]


@probe("a4_optim.warmup")
def warmup(ns, inner_values, steps, warmup_steps, start_factor=None):
    """``linear_warmup(schedule, warmup_steps[, start_factor])`` over a tabulated schedule."""
    inner = TableSchedule(inner_values)
    kw = {} if start_factor is None else {"start_factor": start_factor}
    fn = ns["linear_warmup"](inner, warmup_steps, **kw)
    if not callable(fn):
        raise TypeError(f"linear_warmup returned a {type(fn).__name__}, expected a function of t")
    return [_as_rate(fn(int(t)), f"the warmed-up schedule at t={int(t)}") for t in steps]


# -- Part 2: the range test -------------------------------------------------------------------------


class SyntheticTrainer:
    """What a range test trains: plain SGD on a noisy quadratic in ``dim`` dimensions.

    ``train_step(lr)`` returns the loss ``sum(h * theta**2) / 2 + offset`` at the current point
    (plus measurement noise), then steps along the noisy gradient with that learning rate. With
    curvatures up to ``h_max`` it diverges once ``lr > 2 / h_max``. ``nan_above``: from the first
    call with a larger rate on, the loss is ``nan`` (a run whose loss became nan).
    """

    def __init__(
        self,
        seed: int,
        dim: int = 10,
        h_min: float = 0.1,
        h_max: float = 10.0,
        grad_noise: float = 0.1,
        loss_noise: float = 0.02,
        offset: float = 0.2,
        nan_above: float | None = None,
    ):
        self.rng = np.random.default_rng(seed)
        self.h = np.geomspace(h_min, h_max, dim)
        self.theta = self.rng.standard_normal(dim)
        self.grad_noise, self.loss_noise, self.offset = grad_noise, loss_noise, offset
        self.nan_above = nan_above
        self.broken = False
        self.calls: list[float] = []
        self.returned: list[float] = []

    def __call__(self, lr):
        lr = float(lr)
        self.calls.append(lr)
        with np.errstate(all="ignore"):
            loss = 0.5 * float(np.sum(self.h * self.theta**2)) + self.offset
            loss *= 1.0 + self.loss_noise * float(self.rng.standard_normal())
            grad = self.h * self.theta + self.grad_noise * self.rng.standard_normal(len(self.h))
            self.theta = self.theta - lr * grad
        if self.nan_above is not None and lr > self.nan_above:
            self.broken = True
        self.returned.append(math.nan if self.broken else loss)
        return self.returned[-1]


@probe("a4_optim.range_test")
def range_test(ns, trainer, kwargs):
    """The student's ``lr_range_test(train_step, **kwargs)`` on a :class:`SyntheticTrainer`."""
    step = SyntheticTrainer(**trainer)
    result = ns["lr_range_test"](step, **kwargs)
    out = {
        "calls": list(step.calls),
        "returned": list(step.returned),
        "type": type(result).__name__,
        "result": None,
    }
    if isinstance(result, dict):
        out["result"] = {str(k): as_plain(_listy(v)) for k, v in result.items()}
    return out


def _listy(v):
    return np.asarray(v, dtype=np.float64) if isinstance(v, list | tuple) else v


# -- Part 3: PyTorch optimisers and schedulers ----------------------------------------------------


def build_model(spec: dict) -> nn.Module:
    """The float64 model of a spec: ``"mlp"`` (Linear-Tanh-Linear) or ``"cnn"`` (Conv-Tanh-
    pool-Linear), with the given initial values, and optionally an extra parameter that the
    forward pass never uses (it gets no gradient)."""
    if spec["kind"] == "mlp":
        d_in, hidden, d_out = spec["sizes"]
        model = nn.Sequential(nn.Linear(d_in, hidden), nn.Tanh(), nn.Linear(hidden, d_out))
    else:
        c_in, channels, side, d_out = spec["sizes"]
        pooled = channels * (side // 2) ** 2
        model = nn.Sequential(
            nn.Conv2d(c_in, channels, 3, padding=1),
            nn.Tanh(),
            nn.AvgPool2d(2),
            nn.Flatten(),
            nn.Linear(pooled, d_out),
        )
    model = model.to(F64)
    if spec.get("unused"):
        model.register_parameter("unused", nn.Parameter(torch.zeros(3, dtype=F64)))
    with torch.no_grad():
        for name, p in model.named_parameters():
            p.copy_(torch.as_tensor(np.asarray(spec["init"][name]), dtype=F64))
    return model


def param_groups(model: nn.Module, groups: list[dict]) -> list[dict]:
    named = dict(model.named_parameters())
    return [
        {"params": [named[n] for n in g["names"]], **{k: v for k, v in g.items() if k != "names"}}
        for g in groups
    ]


def flat_params(model: nn.Module) -> np.ndarray:
    return torch.cat([p.detach().reshape(-1) for p in model.parameters()]).numpy().copy()


def _group_info(optimizer) -> list[dict]:
    out = []
    for group in optimizer.param_groups:
        out.append({str(k): as_plain(_tuple_plain(v)) for k, v in group.items() if k != "params"})
    return out


def _tuple_plain(v):
    if isinstance(v, tuple | list) and all(isinstance(x, int | float) for x in v):
        return np.asarray(v, dtype=np.float64)
    return v


def _state_info(optimizer, model) -> dict:
    names = {id(p): n for n, p in model.named_parameters()}
    out = {}
    for p, st in optimizer.state.items():
        if not st:
            continue
        name = names.get(id(p), "<not a parameter of the model>")
        out[name] = {str(k): as_plain(v) for k, v in st.items()}
    return out


def _round_trip(optimizer_state: dict):
    """Through bytes, as a checkpoint on disk would be: nothing is shared with the original."""
    buffer = io.BytesIO()
    torch.save(optimizer_state, buffer)
    buffer.seek(0)
    return torch.load(buffer, weights_only=False)


def drive_optimizer(make_optimizer, spec: dict) -> dict:
    """Train ``build_model(spec["model"])`` with ``make_optimizer(param_groups)``.

    Mini-batches ``spec["batches"]`` (index arrays into ``spec["x"]``, ``spec["y"]``),
    cross-entropy loss. ``spec["lr_factors"]`` (optional): before step s, every group's lr is
    set to its initial lr times ``lr_factors[s]``. ``spec["reload_at"]`` (optional): after that
    many steps the optimiser's ``state_dict()`` goes through ``torch.save``/``torch.load`` into a
    new optimiser over the same parameters, which continues. ``spec["closure_at"]`` (optional):
    that step is taken as ``optimizer.step(closure)``. Records the parameters after the steps in
    ``spec["record"]``.
    """
    model = build_model(spec["model"])
    x = torch.as_tensor(np.asarray(spec["x"]), dtype=F64)
    y = torch.as_tensor(np.asarray(spec["y"]), dtype=torch.long)
    optimizer = make_optimizer(param_groups(model, spec["groups"]))
    out = {
        "is_optimizer": isinstance(optimizer, torch.optim.Optimizer),
        "type": type(optimizer).__name__,
    }
    if not out["is_optimizer"]:
        return out
    out["groups"] = _group_info(optimizer)
    base_lrs = [g["lr"] for g in optimizer.param_groups]
    record = set(spec.get("record", ()))
    recorded, losses = [], []
    closure_result = None
    for s, idx in enumerate(spec["batches"]):
        if spec.get("lr_factors") is not None:
            for group, base in zip(optimizer.param_groups, base_lrs, strict=True):
                group["lr"] = base * float(spec["lr_factors"][s])
        xb, yb = x[np.asarray(idx)], y[np.asarray(idx)]

        def closure(xb=xb, yb=yb):
            # the optimiser as it is when the closure runs (it is rebuilt at a checkpoint)
            optimizer.zero_grad()  # noqa: B023
            loss = F.cross_entropy(model(xb), yb)
            loss.backward()
            return loss

        if s == spec.get("closure_at"):
            seen = []

            def counted(seen=seen):
                seen.append(closure())
                return seen[-1]

            returned = optimizer.step(counted)
            closure_result = {
                "calls": len(seen),
                "returned": as_plain(returned),
                "loss": seen[0].item() if seen else None,
            }
            losses.append(closure_result["loss"] if seen else float("nan"))
        else:
            loss = closure()
            optimizer.step()
            losses.append(loss.item())
        if s + 1 in record:
            recorded.append(flat_params(model))
        if s + 1 == spec.get("reload_at"):
            saved = _round_trip(optimizer.state_dict())
            optimizer = make_optimizer(param_groups(model, spec["groups"]))
            optimizer.load_state_dict(saved)
    out.update(
        params=np.array(recorded),
        losses=np.array(losses),
        state=_state_info(optimizer, model),
        closure=closure_result,
    )
    return out


@probe("a4_optim.optimizer")
def optimizer_probe(ns, cls_name, kwargs, spec):
    """The student's ``cls_name(param_groups, **kwargs)`` driven by :func:`drive_optimizer`."""
    cls = ns[cls_name]
    return drive_optimizer(lambda groups: cls(groups, **kwargs), spec)


@probe("a4_optim.optimizer_defaults")
def optimizer_defaults(ns, cls_name, kwargs):
    """The param_groups of ``cls_name([a parameter], **kwargs)``, or the error it raised."""
    p = nn.Parameter(torch.zeros(2, dtype=F64))
    try:
        opt = ns[cls_name]([p], **kwargs)
    except ValueError as err:
        return {"raised": "ValueError", "message": str(err)[:300]}
    if not isinstance(opt, torch.optim.Optimizer):
        return {"raised": None, "is_optimizer": False, "type": type(opt).__name__}
    return {"raised": None, "is_optimizer": True, "groups": _group_info(opt)}


def drive_scheduler(make_scheduler, spec: dict) -> dict:
    """``torch.optim.SGD`` (momentum 0.9) over ``build_model(spec["model"])`` with two groups,
    and the scheduler ``make_scheduler(optimizer)``, stepped ``spec["steps"]`` times after each
    optimiser step; with ``spec["train"]`` each step trains on the next mini-batch, otherwise
    nothing is trained. Records every group's lr before each optimiser step and
    ``get_last_lr()`` after each scheduler step; with ``spec["reload_at"]`` the optimiser and
    scheduler state dicts go into new objects (through bytes) after that many steps."""
    model = build_model(spec["model"])

    def fresh():
        optimizer = torch.optim.SGD(param_groups(model, spec["groups"]), momentum=0.9)
        return optimizer, make_scheduler(optimizer)

    optimizer, scheduler = fresh()
    out = {
        "is_scheduler": isinstance(scheduler, torch.optim.lr_scheduler.LRScheduler),
        "type": type(scheduler).__name__,
    }
    if not out["is_scheduler"]:
        return out
    x = torch.as_tensor(np.asarray(spec["x"]), dtype=F64) if spec.get("train") else None
    y = torch.as_tensor(np.asarray(spec["y"]), dtype=torch.long) if spec.get("train") else None
    lrs, last = [], []
    for s in range(spec["steps"]):
        lrs.append([float(g["lr"]) for g in optimizer.param_groups])
        if spec.get("train"):
            idx = np.asarray(spec["batches"][s])
            optimizer.zero_grad()
            F.cross_entropy(model(x[idx]), y[idx]).backward()
        optimizer.step()
        scheduler.step()
        last.append([float(v) for v in scheduler.get_last_lr()])
        if s + 1 == spec.get("reload_at"):
            saved_opt = _round_trip(optimizer.state_dict())
            saved_sched = _round_trip(scheduler.state_dict())
            optimizer, scheduler = fresh()
            optimizer.load_state_dict(saved_opt)
            scheduler.load_state_dict(saved_sched)
    lrs.append([float(g["lr"]) for g in optimizer.param_groups])
    out.update(lrs=np.array(lrs), last_lrs=np.array(last), params=flat_params(model))
    return out


@probe("a4_optim.scheduler")
def scheduler_probe(ns, kwargs, spec):
    """The student's ``WarmupCosineLR(optimizer, **kwargs)`` driven by :func:`drive_scheduler`."""
    cls = ns["WarmupCosineLR"]
    return drive_scheduler(lambda opt: cls(opt, **kwargs), spec)


@probe("a4_optim.scheduler_raises")
def scheduler_raises(ns, kwargs):
    """Whether ``WarmupCosineLR(optimizer, **kwargs)`` raises ValueError."""
    opt = torch.optim.SGD([nn.Parameter(torch.zeros(2, dtype=F64))], lr=0.1)
    try:
        ns["WarmupCosineLR"](opt, **kwargs)
    except ValueError:
        return True
    return False
