"""Probes of A3: drivers that run the student's PyTorch code beside it and return plain data.

They judge nothing: the checks compare what they return with oracles computed in the grader.
:func:`drive_module` is also what the checks run on ``nn.BatchNorm2d`` to get the expected
values, so the student's module and PyTorch's go through exactly the same steps.
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


def as_numpy(t):
    """A detached NumPy copy of a tensor (a Python number for a 0-dimensional one), or None.

    0-dimensional arrays would come back from the wire with shape (1,), hence the number."""
    if t is None:
        return None
    if not isinstance(t, torch.Tensor):
        raise TypeError(f"expected a tensor, got a {type(t).__name__}")
    if t.dim() == 0:
        return t.item()
    return t.detach().cpu().numpy().copy()


def graph_names(out, limit: int = 64) -> list[str]:
    """Class names of the autograd nodes reachable from ``out.grad_fn`` (breadth first)."""
    names, queue, seen = [], [getattr(out, "grad_fn", None)], set()
    while queue and len(names) < limit:
        node = queue.pop(0)
        if node is None or id(node) in seen:
            continue
        seen.add(id(node))
        names.append(type(node).__name__)
        queue.extend(nxt for nxt, _ in getattr(node, "next_functions", ()))
    return names


@contextlib.contextmanager
def own_batch_norm_only():
    """While the student's Function or module runs, PyTorch's own batch norm refuses to work:
    the assignment is to compute it by hand. (Restored afterwards, also in a notebook.)"""

    def refuse(*args, **kwargs):
        raise RuntimeError(
            "F.batch_norm / torch.batch_norm are not allowed here: compute the mean, the "
            "variance and the normalisation yourself"
        )

    saved = (F.batch_norm, torch.batch_norm)
    F.batch_norm = torch.batch_norm = refuse
    try:
        yield
    finally:
        F.batch_norm, torch.batch_norm = saved


def _leaf(a, dtype, grad: bool) -> torch.Tensor:
    return torch.tensor(np.asarray(a), dtype=dtype).requires_grad_(grad)


@probe("a3_batchnorm.bn_function")
def bn_function(
    ns, x, weight, bias, running_mean, running_var, training, momentum, eps, dout, dtype
):
    """``BatchNormFunction.apply`` on leaf tensors, then a backward pass with ``dout``."""
    dt = DTYPES[dtype]
    xt, wt, bt = _leaf(x, dt, True), _leaf(weight, dt, True), _leaf(bias, dt, True)
    rm, rv = _leaf(running_mean, dt, False), _leaf(running_var, dt, False)
    with own_batch_norm_only():
        out = ns["BatchNormFunction"].apply(
            xt, wt, bt, rm, rv, bool(training), float(momentum), float(eps)
        )
    if not isinstance(out, torch.Tensor):
        raise TypeError(f"BatchNormFunction.apply returned a {type(out).__name__}, not a tensor")
    result = {
        "out": as_numpy(out),
        "out_dtype": dtype_name(out.dtype),
        "running_mean": as_numpy(rm),
        "running_var": as_numpy(rv),
        "requires_grad": bool(out.requires_grad),
        "grad_x": None,
        "grad_weight": None,
        "grad_bias": None,
    }
    if out.requires_grad and dout is not None:
        with own_batch_norm_only():
            out.backward(torch.tensor(np.asarray(dout), dtype=out.dtype))
        result.update(grad_x=as_numpy(xt.grad), grad_weight=as_numpy(wt.grad))
        result.update(grad_bias=as_numpy(bt.grad))
    return result


def structure(module) -> dict:
    """Names, shapes, dtypes and values of a module's parameters and buffers."""

    def describe(t):
        return {"shape": list(t.shape), "dtype": dtype_name(t.dtype), "value": as_numpy(t)}

    return {
        "params": {name: describe(p) for name, p in module.named_parameters()},
        "buffers": {name: describe(b) for name, b in module.named_buffers()},
        "state_dict_keys": sorted(module.state_dict().keys()),
        "training": bool(module.training),
    }


def drive_module(module, steps: list, dtype: str | None, params=None, state=None) -> dict:
    """Cast ``module`` to ``dtype``, set its parameters (or load a state dict), run the steps.

    A step is a dict with ``x`` (an array), ``train`` (the mode to set) and optionally ``dout``
    (an upstream gradient to backpropagate). Parameter gradients accumulate over the steps.
    """
    info = structure(module)
    if dtype is not None:
        module = module.to(DTYPES[dtype])
    if state is not None:
        loaded = {}
        for k, v in state.items():
            arr = np.asarray(v)
            kind = torch.long if arr.dtype.kind in "iu" else next(module.parameters()).dtype
            loaded[k] = torch.tensor(arr, dtype=kind)
        module.load_state_dict(loaded)
    elif params:
        with torch.no_grad():
            for name, value in params.items():
                target = dict(module.named_parameters())[name]
                target.copy_(torch.tensor(np.asarray(value), dtype=target.dtype))
    if dtype is not None:
        x_dtype = DTYPES[dtype]
    else:  # the inputs follow the module's own floating-point type
        floats = [t for t in module.parameters() if t.is_floating_point()]
        x_dtype = floats[0].dtype if floats else torch.get_default_dtype()
    records = []
    for step in steps:
        module.train(bool(step["train"]))
        x = _leaf(step["x"], x_dtype, True)
        out = module(x)
        if not isinstance(out, torch.Tensor):
            raise TypeError(f"the module returned a {type(out).__name__}, not a tensor")
        rec = {
            "out": as_numpy(out),
            "out_dtype": dtype_name(out.dtype),
            "graph": graph_names(out),
            "grad_x": None,
        }
        if step.get("dout") is not None:
            if not out.requires_grad:
                raise TypeError("the output does not require grad: it is cut off from the input")
            out.backward(torch.tensor(np.asarray(step["dout"]), dtype=out.dtype))
            rec["grad_x"] = as_numpy(x.grad)
        rec["buffers"] = {name: as_numpy(b) for name, b in module.named_buffers()}
        records.append(rec)
    return {
        "info": info,
        "records": records,
        "grads": {name: as_numpy(p.grad) for name, p in module.named_parameters()},
    }


@probe("a3_batchnorm.bn_module")
def bn_module(ns, num_features, kwargs, steps, dtype=None, params=None, state=None):
    """``MyBatchNorm2d(num_features, **kwargs)`` driven through ``steps`` by drive_module."""
    kw = dict(kwargs)
    if "dtype" in kw:
        kw["dtype"] = DTYPES[kw["dtype"]]
    with own_batch_norm_only():
        module = ns["MyBatchNorm2d"](num_features, **kw)
        if not isinstance(module, nn.Module):
            raise TypeError(f"MyBatchNorm2d(...) is a {type(module).__name__}, not an nn.Module")
        return drive_module(module, steps, dtype, params, state)


def conv_settings(conv) -> dict:
    padding = conv.padding if isinstance(conv.padding, str) else list(conv.padding)
    return {
        "kernel_size": list(conv.kernel_size),
        "stride": list(conv.stride),
        "padding": padding,
        "dilation": list(conv.dilation),
        "groups": int(conv.groups),
        "padding_mode": str(conv.padding_mode),
        "in_channels": int(conv.in_channels),
        "out_channels": int(conv.out_channels),
    }


def build_conv_bn(cfg: dict, conv_w, conv_b, bn_state: dict, dtype: str):
    """An ``nn.Conv2d`` and an ``nn.BatchNorm2d`` holding the given numbers."""
    dt = DTYPES[dtype]
    conv = nn.Conv2d(**cfg, bias=conv_b is not None, dtype=dt)
    bn = nn.BatchNorm2d(cfg["out_channels"], eps=float(bn_state["eps"]), dtype=dt)
    with torch.no_grad():
        conv.weight.copy_(torch.tensor(np.asarray(conv_w), dtype=dt))
        if conv_b is not None:
            conv.bias.copy_(torch.tensor(np.asarray(conv_b), dtype=dt))
        for name in ("weight", "bias", "running_mean", "running_var"):
            getattr(bn, name).copy_(torch.tensor(np.asarray(bn_state[name]), dtype=dt))
    bn.train(bool(bn_state.get("training", False)))
    return conv, bn


def _snapshot(*modules) -> list:
    return [as_numpy(t) for m in modules for t in m.state_dict().values()]


@probe("a3_batchnorm.fuse")
def fuse(ns, cfg, conv_w, conv_b, bn_state, dtype, x):
    """``fuse_conv_bn(conv, bn)`` on freshly built modules: what came back, and its output."""
    conv, bn = build_conv_bn(cfg, conv_w, conv_b, bn_state, dtype)
    before, mode = _snapshot(conv, bn), bn.training
    fused = ns["fuse_conv_bn"](conv, bn)
    after = _snapshot(conv, bn)
    unchanged = all(np.array_equal(a, b) for a, b in zip(before, after, strict=True))
    result = {
        "type": type(fused).__name__,
        "is_conv2d": isinstance(fused, nn.Conv2d),
        "is_input": fused is conv,
        "inputs_unchanged": bool(unchanged and bn.training == mode),
    }
    if not result["is_conv2d"]:
        return result
    result.update(
        settings=conv_settings(fused),
        weight=as_numpy(fused.weight),
        bias=as_numpy(fused.bias),
        weight_dtype=dtype_name(fused.weight.dtype),
    )
    with torch.no_grad():
        result["out"] = as_numpy(fused(torch.tensor(np.asarray(x), dtype=fused.weight.dtype)))
    return result
