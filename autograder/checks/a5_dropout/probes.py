"""Probes of A5: drivers that run beside the student's code and return plain data.

They judge nothing: the checks compare what they return with oracles and statistical bounds
computed in the grader. Generators (``np.random.Generator``, ``torch.Generator``) and modules
cannot cross the wire by value, so the probes build them here from integer seeds; a generator
built by :func:`np_rng` comes back to the check as a handle that can be passed to the student's
functions.
"""

from __future__ import annotations

import contextlib

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from autograder.endpoint import probe

DTYPES = {"float32": torch.float32, "float64": torch.float64}


def dtype_name(dtype) -> str:
    return str(dtype).replace("torch.", "")


def _lookup(ns, name: str):
    if name not in ns:
        raise NameError(
            f"name {name!r} is not defined: run its answer cell, and keep the name exactly as given"
        )
    return ns[name]


def _as_numpy(t):
    """A detached NumPy copy of a tensor; other values unchanged."""
    if isinstance(t, torch.Tensor):
        return t.detach().cpu().numpy().copy()
    return t


def _copy_args(args):
    return [np.array(a, copy=True) if isinstance(a, np.ndarray) else a for a in args]


def _same(a, b) -> bool:
    if isinstance(a, np.ndarray):
        return isinstance(b, np.ndarray) and a.shape == b.shape and np.array_equal(a, b)
    return True


# -- NumPy functions that take a generator ------------------------------------------------------


@probe("a5_dropout.np_rng")
def np_rng(ns, seed):
    """A ``np.random.Generator`` seeded with ``seed``, kept beside the student's code."""
    return np.random.default_rng(int(seed))


@probe("a5_dropout.repeat")
def repeat(ns, name, args, kwargs, seed, times):
    """``ns[name](*args, rng=g, **kwargs)`` ``times`` times with one generator ``g`` seeded with
    ``seed``: the outputs, and whether any call modified its array arguments."""
    fn = _lookup(ns, name)
    gen = np.random.default_rng(int(seed))
    outputs, unchanged = [], True
    for _ in range(int(times)):
        work, pristine = _copy_args(args), _copy_args(args)
        outputs.append(fn(*work, rng=gen, **kwargs))
        unchanged = unchanged and all(_same(w, p) for w, p in zip(work, pristine, strict=True))
    return {"outputs": outputs, "inputs_unchanged": unchanged}


# -- early stopping -----------------------------------------------------------------------------


def _read(obj, name):
    value = getattr(obj, name, "<missing>")
    if isinstance(value, str) and value == "<missing>":
        return {"missing": name}
    return _as_numpy(value)


def _snapshot(value):
    """What the student's best_params holds right now, as plain data (None if it is not a dict
    of arrays)."""
    if not isinstance(value, dict):
        return None if value is None else {"not_a_dict": type(value).__name__}
    return {str(k): np.array(_as_numpy(v), dtype=np.float64, copy=True) for k, v in value.items()}


@probe("a5_dropout.early_stopping")
def early_stopping(ns, kwargs, values, updates):
    """Drive ``EarlyStopping(**kwargs)`` through a validation curve like a training loop would.

    Before epoch t the parameters ``{"W": ..., "b": ...}`` are updated **in place** by
    ``updates[t]`` (a pair of arrays), then ``step(values[t], params)`` is called. After every
    call the probe records what ``step`` returned and the tracker's attributes, including the
    current content of ``best_params``.
    """
    tracker = _lookup(ns, "EarlyStopping")(**kwargs)
    params = {"W": np.zeros(np.asarray(updates[0][0]).shape), "b": np.zeros(len(updates[0][1]))}
    records = []
    for value, (dw, db) in zip(values, updates, strict=True):
        params["W"] += np.asarray(dw)
        params["b"] += np.asarray(db)
        returned = tracker.step(float(value), params)
        records.append(
            {
                "returned": returned if isinstance(returned, bool | np.bool_) else repr(returned),
                "best_value": _read(tracker, "best_value"),
                "best_epoch": _read(tracker, "best_epoch"),
                "bad_epochs": _read(tracker, "bad_epochs"),
                "should_stop": _read(tracker, "should_stop"),
                "best_params": _snapshot(getattr(tracker, "best_params", None)),
            }
        )
    return records


@probe("a5_dropout.early_stopping_initial")
def early_stopping_initial(ns, kwargs):
    """The attributes of a new tracker, before any call to ``step``."""
    tracker = _lookup(ns, "EarlyStopping")(**kwargs)
    return {
        name: _read(tracker, name)
        for name in ("best_value", "best_epoch", "best_params", "bad_epochs", "should_stop")
    }


# -- PyTorch modules ----------------------------------------------------------------------------


@probe("a5_dropout.torch_module")
def torch_module(ns, cls, args, kwargs, seed, steps):
    """``ns[cls](*args, generator=g, **kwargs)`` with ``g`` a CPU generator seeded with ``seed``
    (no generator when ``seed`` is None), driven through ``steps``.

    A step is a dict: ``x`` (an array), ``dtype``, ``train`` (the mode to set) and optionally
    ``dout`` (an upstream gradient to backpropagate to ``x``).
    """
    kw = dict(kwargs)
    if seed is not None:
        kw["generator"] = torch.Generator().manual_seed(int(seed))
    module = _lookup(ns, cls)(*args, **kw)
    if not isinstance(module, nn.Module):
        raise TypeError(f"{cls}(...) is a {type(module).__name__}, not an nn.Module")
    records = []
    for step in steps:
        module.train(bool(step["train"]))
        x = torch.tensor(np.asarray(step["x"]), dtype=DTYPES[step["dtype"]])
        want_grad = step.get("dout") is not None
        if want_grad:
            x.requires_grad_(True)
        out = module(x)
        if not isinstance(out, torch.Tensor):
            raise TypeError(f"the module returned a {type(out).__name__}, not a tensor")
        rec = {
            "out": _as_numpy(out),
            "dtype": dtype_name(out.dtype),
            "same_object": out is x,
            "grad_x": None,
            "requires_grad": bool(out.requires_grad),
        }
        if want_grad and out.requires_grad:
            out.backward(torch.tensor(np.asarray(step["dout"]), dtype=out.dtype))
            rec["grad_x"] = _as_numpy(x.grad) if x.grad is not None else None
        records.append(rec)
    return records


# -- label-smoothed cross-entropy ---------------------------------------------------------------


@contextlib.contextmanager
def no_builtin_cross_entropy():
    """While the student's loss runs, ``F.cross_entropy`` refuses to work: the assignment is to
    build the smoothed targets by hand. (Restored afterwards, also in a notebook.)"""

    def refuse(*args, **kwargs):
        raise RuntimeError(
            "F.cross_entropy / nn.CrossEntropyLoss are not allowed in smoothed_cross_entropy: "
            "build the targets q and use F.log_softmax"
        )

    saved = F.cross_entropy
    F.cross_entropy = refuse
    try:
        yield
    finally:
        F.cross_entropy = saved


@probe("a5_dropout.smoothed_ce")
def smoothed_ce(ns, logits, target, eps, dtype):
    """``smoothed_cross_entropy(logits, target, eps)`` on a leaf tensor, then ``backward()``."""
    z = torch.tensor(np.asarray(logits), dtype=DTYPES[dtype], requires_grad=True)
    t = torch.tensor(np.asarray(target), dtype=torch.long)
    with no_builtin_cross_entropy():
        loss = _lookup(ns, "smoothed_cross_entropy")(z, t, float(eps))
        if not isinstance(loss, torch.Tensor):
            raise TypeError(f"smoothed_cross_entropy returned a {type(loss).__name__}")
        result = {
            "shape": list(loss.shape),
            "dtype": dtype_name(loss.dtype),
            "loss": float(loss.detach().reshape(-1)[0]) if loss.numel() >= 1 else None,
            "grad": None,
        }
        if loss.numel() == 1 and loss.requires_grad:
            loss.reshape(()).backward()
            result["grad"] = _as_numpy(z.grad)
    return result


# -- mixup in PyTorch ---------------------------------------------------------------------------


@probe("a5_dropout.mixup_batch")
def mixup_batch(ns, x, y, alpha, seed, times):
    """``mixup_batch(x, y, alpha, g)`` ``times`` times with one generator seeded with ``seed``."""
    fn = _lookup(ns, "mixup_batch")
    gen = torch.Generator().manual_seed(int(seed))
    xt = torch.tensor(np.asarray(x), dtype=torch.float64)
    yt = torch.tensor(np.asarray(y), dtype=torch.long)
    results = []
    for _ in range(int(times)):
        out = fn(xt, yt, float(alpha), gen)
        if not isinstance(out, tuple | list) or len(out) != 4:
            raise TypeError("mixup_batch must return a tuple (x_mix, y_a, y_b, lam)")
        x_mix, y_a, y_b, lam = out
        if isinstance(lam, torch.Tensor):
            lam = lam.item() if lam.numel() == 1 else _as_numpy(lam)
        results.append(
            {
                "x_mix": _as_numpy(x_mix),
                "y_a": _as_numpy(y_a),
                "y_b": _as_numpy(y_b),
                "lam": float(lam) if isinstance(lam, int | float | np.floating) else lam,
            }
        )
    return {"results": results, "inputs_unchanged": bool(torch.equal(xt, torch.tensor(x)))}


class _Recorder(nn.Module):
    """A linear classifier on flattened inputs that keeps a copy of every input it sees."""

    def __init__(self, weight, bias):
        super().__init__()
        self.layer = nn.Linear(weight.shape[1], weight.shape[0], dtype=torch.float64)
        with torch.no_grad():
            self.layer.weight.copy_(torch.tensor(weight))
            self.layer.bias.copy_(torch.tensor(bias))
        self.seen = []

    def forward(self, x):
        self.seen.append(x.detach().clone())
        return self.layer(x.flatten(1))


@probe("a5_dropout.mixup_step")
def mixup_step(ns, weight, bias, x, y, alpha, seed, lr):
    """``mixup_train_step(model, SGD(lr), x, y, alpha, g)`` on a linear model whose gradients
    hold stale values before the call (as after a previous step without ``zero_grad``)."""
    model = _Recorder(np.asarray(weight), np.asarray(bias))
    model.eval()  # the step has to switch it to training mode itself
    optimizer = torch.optim.SGD(model.parameters(), lr=float(lr))
    for p in model.parameters():
        p.grad = torch.full_like(p, 3.0)
    gen = torch.Generator().manual_seed(int(seed))
    xt = torch.tensor(np.asarray(x), dtype=torch.float64)
    yt = torch.tensor(np.asarray(y), dtype=torch.long)
    loss = _lookup(ns, "mixup_train_step")(model, optimizer, xt, yt, float(alpha), gen)
    if isinstance(loss, torch.Tensor):
        info = {
            "loss": float(loss.detach().reshape(-1)[0]) if loss.numel() == 1 else None,
            "loss_kind": "tensor",
            "loss_requires_grad": bool(loss.requires_grad),
        }
    elif isinstance(loss, int | float):
        info = {"loss": float(loss), "loss_kind": "float", "loss_requires_grad": False}
    else:
        info = {"loss": None, "loss_kind": type(loss).__name__, "loss_requires_grad": False}
    info.update(
        seen=[_as_numpy(s) for s in model.seen],
        weight=_as_numpy(model.layer.weight),
        bias=_as_numpy(model.layer.bias),
        training=bool(model.training),
    )
    return info
