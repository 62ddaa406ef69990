"""Probes of A2: small drivers that run beside the student's code and return plain data.

They never judge anything: the checks compare what they return with oracles in the grader.
Generators (``np.random.Generator``, ``torch.Generator``) and modules cannot cross the wire, so
the probes build them here from integer seeds and model specifications; the grader builds the
same ones on its side for the oracle.

A model specification (see :func:`build_model`) is a list of layers, each a list whose first entry
names the layer:

    ["linear", in_features, out_features, bias]
    ["conv1d" | "conv2d" | "conv3d", in_channels, out_channels, kernel_size, bias]
    ["bn1d" | "bn2d", channels]      ["layernorm", features]      ["embedding", n, dim]
    ["relu"]      ["tanh"]      ["seq", [layers...]]   (a nested nn.Sequential)
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from autograder.endpoint import probe

_DTYPES = {"float32": torch.float32, "float64": torch.float64}


def _describe(err: BaseException) -> dict:
    """Type, message and the last frame of the student's code (outside the autograder)."""
    where = None
    tb = err.__traceback__
    while tb is not None:
        if "/autograder/" not in tb.tb_frame.f_code.co_filename:
            code = tb.tb_frame.f_code
            where = f"{code.co_filename}:{tb.tb_lineno} in {code.co_name}"
        tb = tb.tb_next
    try:
        message = str(err)
    except Exception:  # noqa: BLE001 -- a student exception whose __str__ raises
        message = "<unprintable>"
    return {"type": type(err).__name__, "message": message[:600], "where": where}


def _failed(step: str, err: BaseException, **partial) -> dict:
    return {"failed": step, "error": _describe(err), **partial}


def _lookup(ns, name: str):
    if name not in ns:
        raise NameError(
            f"name {name!r} is not defined: run its answer cell, and keep the name exactly as given"
        )
    return ns[name]


# -- preprocessing ------------------------------------------------------------------------------


@probe("a2_init.fit_apply")
def fit_apply(ns, cls, kwargs, fit_x, calls, attrs):
    """``obj = ns[cls](**kwargs)``; ``ret = obj.fit(fit_x)``; then each ``(method, x, kw)`` of
    ``calls`` as ``getattr(obj, method)(x, **kw)``.

    Returns whether ``fit`` returned the object itself, the attributes named in ``attrs`` (after
    ``fit``), each call's output, and whether any call modified the array it was given. A step
    that raises ends the run; the result then says which step (``failed``) and why (``error``).
    """
    result = {"fit_returned_self": None, "attrs": {}, "outputs": [], "changed_input": []}
    make = _lookup(ns, cls)
    try:
        obj = make(**kwargs)
    except Exception as err:  # noqa: BLE001 -- reported to the check
        return _failed("constructor", err, **result)
    work, pristine = np.array(fit_x, copy=True), np.array(fit_x, copy=True)
    try:
        returned = obj.fit(work)
    except Exception as err:  # noqa: BLE001
        return _failed("fit", err, **result)
    result["fit_returned_self"] = returned is obj
    result["changed_input"].append(not _same(work, pristine))
    for name in attrs:
        result["attrs"][name] = getattr(obj, name, None)
    for k, (method, x, kw) in enumerate(calls):
        work, pristine = np.array(x, copy=True), np.array(x, copy=True)
        try:
            out = getattr(obj, method)(work, **kw)
        except Exception as err:  # noqa: BLE001
            return _failed(f"call {k}", err, **result)
        result["outputs"].append(out)
        result["changed_input"].append(not _same(work, pristine))
    return result


def _same(a: np.ndarray, b: np.ndarray) -> bool:
    return a.shape == b.shape and bool(np.array_equal(a, b, equal_nan=True))


# -- NumPy initialisers -------------------------------------------------------------------------


@probe("a2_init.draw")
def draw(ns, name, shape, kwargs, seeds):
    """``ns[name](shape, rng=np.random.default_rng(seed), **kwargs)`` for each seed in turn."""
    fn = _lookup(ns, name)
    return [fn(tuple(shape), rng=np.random.default_rng(seed), **kwargs) for seed in seeds]


# -- PyTorch initialisers -----------------------------------------------------------------------


@probe("a2_init.torch_init")
def torch_init(ns, name, shape, dtype, kwargs, seed, parameter=False):
    """Call ``ns[name](t, generator=g, **kwargs)`` on a fresh tensor ``t`` (an ``nn.Parameter``
    when ``parameter``), with ``g`` a CPU generator seeded with ``seed`` (None: no generator).

    Returns the tensor's values after the call, whether the function returned ``t`` itself,
    and what became of ``requires_grad``.
    """
    t = torch.full(tuple(shape), float("nan"), dtype=_DTYPES[dtype])
    if parameter:
        t = nn.Parameter(t)
    gen = None if seed is None else torch.Generator().manual_seed(int(seed))
    returned = _lookup(ns, name)(t, generator=gen, **kwargs)
    return {
        "values": t.detach().cpu().numpy().copy(),
        "same_object": returned is t,
        "returned_kind": type(returned).__name__,
        "requires_grad": bool(t.requires_grad),
        "dtype": str(t.dtype).replace("torch.", ""),
    }


# -- whole models -------------------------------------------------------------------------------


def build_model(spec) -> nn.Sequential:
    """The ``nn.Sequential`` that ``spec`` describes (module docstring), with every parameter set
    to a recognisable constant that depends on its position, so that "left unchanged" can be seen.
    Used by the probe and, with the same spec, by the grader's oracle."""
    model = _sequential(spec)
    with torch.no_grad():
        for i, p in enumerate(model.parameters()):
            p.fill_(0.25 + 0.125 * (i % 7))
    return model


def _sequential(spec) -> nn.Sequential:
    return nn.Sequential(*[_layer(entry) for entry in spec])


def _layer(entry) -> nn.Module:
    kind, *args = entry
    if kind == "linear":
        return nn.Linear(args[0], args[1], bias=bool(args[2]))
    if kind in ("conv1d", "conv2d", "conv3d"):
        cls = {"conv1d": nn.Conv1d, "conv2d": nn.Conv2d, "conv3d": nn.Conv3d}[kind]
        return cls(args[0], args[1], args[2], bias=bool(args[3]))
    if kind == "bn1d":
        return nn.BatchNorm1d(args[0])
    if kind == "bn2d":
        return nn.BatchNorm2d(args[0])
    if kind == "layernorm":
        return nn.LayerNorm(args[0])
    if kind == "embedding":
        return nn.Embedding(args[0], args[1])
    if kind == "relu":
        return nn.ReLU()
    if kind == "tanh":
        return nn.Tanh()
    if kind == "seq":
        return _sequential(args[0])
    raise ValueError(f"unknown layer kind {kind!r}")


@probe("a2_init.init_model")
def init_model(ns, spec, scheme, seed, kwargs):
    """``init_model_(build_model(spec), scheme, generator=<seed>, **kwargs)``: every parameter
    after the call, whether it returned the model itself, and whether gradients are still on."""
    fn = _lookup(ns, "init_model_")
    model = build_model(spec)
    gen = None if seed is None else torch.Generator().manual_seed(int(seed))

    def params():
        return {n: p.detach().cpu().numpy().copy() for n, p in model.named_parameters()}

    try:
        returned = fn(model, scheme, generator=gen, **kwargs)
    except Exception as err:  # noqa: BLE001 -- reported to the check, with the parameters then
        return _failed("init_model_", err, params=params())
    return {
        "params": params(),
        "same_object": returned is model,
        "returned_kind": type(returned).__name__,
        "requires_grad": all(p.requires_grad for p in model.parameters()),
    }
