"""Strict-device mode: make a CPU run fail where a GPU run would.

On a machine without a GPU, ``pick_device()`` returns the CPU and every tensor lives on it, so
code that forgets to move a batch, a target or a mask to the model's device runs fine here and
fails at once on CUDA or MPS. In strict-device mode:

- ``pick_device()`` returns ``torch.device("cpu", 0)``, an indexed CPU device that stands in
  for the accelerator;
- a ``torch.overrides.TorchFunctionMode`` tags every tensor on its Python object: ``"device"``
  for tensors created with ``device=cpu:0``, moved with ``.to(cpu:0)`` / ``.to(device_tensor)``
  (including a module's parameters and buffers by ``module.to(...)``), and results computed
  from them; ``"host"`` for tensors created without a device (``torch.tensor``,
  ``torch.from_numpy``, ``torch.randn``, a ``DataLoader``'s batches...), ``.cpu()``,
  ``.to("cpu")``, and results computed from them; an untagged ``nn.Parameter`` counts as host,
  other untagged tensors (gradients made by autograd) are neutral;
- an operation that mixes a device tensor with a host tensor of one dimension or more raises
  the ``RuntimeError`` CUDA would raise (a 0-dim host tensor is allowed, as on CUDA; so are
  ``copy_``, ``Tensor.to`` and indexing a device tensor with host indices or values);
- ``.numpy()`` and ``np.asarray`` of a device tensor raise CUDA's ``TypeError``;
- ``.device`` of a device tensor reads ``cpu:0``, so ``x.to(param.device)`` moves ``x`` to the
  device as it would on a GPU.

Switch it on with the environment variable ``COURSE_STRICT_DEVICE=1`` (read when ``coursekit``
is imported, so chapters and notebooks need no change) or, in tests, with::

    with strict_device():
        ...

``torch.load(..., map_location=cpu:0)`` loads on the CPU and tags the tensors as on the device.

Limits: tags live on Python objects, so tensors that come back from ``DataLoader`` worker
processes are untagged (neutral); a CPU ``torch.Generator`` used for
device tensors is not detected (``torch.Generator(device=...)`` cannot be told apart here).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

import torch
import torch.nn as nn
from torch.overrides import TorchFunctionMode

__all__ = ["STRICT_DEVICE", "StrictDeviceMode", "enable", "is_enabled", "strict_device", "where"]

#: What ``pick_device()`` returns in strict-device mode.
STRICT_DEVICE = torch.device("cpu", 0)

_TAG = "_coursekit_where"
_DEVICE, _HOST = "device", "host"
# Property accessors reach the mode as fresh method-wrapper objects: compare with ==.
_DATA_SET = torch.Tensor.data.__set__
_DATA_GET = torch.Tensor.data.__get__
_DEVICE_GET = torch.Tensor.device.__get__
_METHOD_WRAPPER = type(_DEVICE_GET)
_NUMPY = {torch.Tensor.numpy, torch.Tensor.__array__}
_MOVES = {torch.Tensor.to, torch.Tensor.cpu}
# Mixing allowed on CUDA: copies between devices, and indexing with host indices or values.
_INDEXING = {torch.Tensor.__getitem__, torch.Tensor.__setitem__}
_COPIES = {torch.Tensor.copy_, torch._has_compatible_shallow_copy_type}
_NUMPY_MESSAGE = (
    "can't convert cuda:0 device type tensor to numpy. Use Tensor.cpu() to copy the tensor to "
    "host memory first. (strict-device mode: this tensor was moved to pick_device())"
)

_stack: list[StrictDeviceMode] = []
_orig_parameter_new = nn.Parameter.__new__
_orig_parameter_new_attr = nn.Parameter.__dict__["__new__"]
_orig_from_numpy = torch.from_numpy
_orig_load = torch.load


def where(t: torch.Tensor) -> str | None:
    """The tag of ``t``: ``"device"``, ``"host"`` or None (untagged, neutral)."""
    tag = getattr(t, _TAG, None)
    if tag is None and isinstance(t, nn.Parameter):
        return _HOST
    return tag


def _tag(t: torch.Tensor, tag: str) -> None:
    try:
        setattr(t, _TAG, tag)
    except (AttributeError, TypeError):  # a tensor subclass without a __dict__
        pass


def _is_strict(device) -> bool:
    if isinstance(device, str):
        device = torch.device(device)
    return isinstance(device, torch.device) and device == STRICT_DEVICE


def _tensors(obj, out: list) -> list:
    """The tensors in ``obj``, looking inside lists, tuples and dicts (optimizers' foreach ops)."""
    # Called for every operation: recurse only into containers, test the rest once.
    items = obj.values() if isinstance(obj, dict) else obj
    for item in items:
        if isinstance(item, torch.Tensor):
            out.append(item)
        elif isinstance(item, (list, tuple, dict)) and item:
            _tensors(item, out)
    return out


def _name(func) -> str:
    return getattr(func, "__qualname__", None) or getattr(func, "__name__", None) or repr(func)


def _mismatch(func) -> RuntimeError:
    return RuntimeError(
        "Expected all tensors to be on the same device, but found at least two devices, cuda:0 "
        f"and cpu! (strict-device mode: a tensor moved to pick_device() met a host tensor in "
        f"{_name(func)})"
    )


def _move_target(args, kwargs) -> tuple[str | None, bool]:
    """Where ``Tensor.to(*args, **kwargs)`` goes: (tag or None for 'same place', parsed)."""
    other = args[1] if len(args) > 1 else kwargs.get("other")
    if isinstance(other, torch.Tensor):
        return where(other), True  # untagged: neutral, the tensor stays where it is
    device = kwargs.get("device")
    if device is None:
        for a in args[1:]:
            if isinstance(a, (str, torch.device)):
                device = a
                break
    if device is None:
        return None, True
    return (_DEVICE if _is_strict(device) else _HOST), True


class StrictDeviceMode(TorchFunctionMode):
    """The ``TorchFunctionMode`` behind :func:`strict_device` (see the module's docstring)."""

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if type(func) is _METHOD_WRAPPER:
            if func == _DEVICE_GET and where(args[0]) == _DEVICE:
                return STRICT_DEVICE
            if func == _DATA_SET:
                # module.to() assigns the moved tensor to param.data: the Parameter keeps its
                # identity and takes the tag of what it now holds.
                func(*args, **kwargs)
                tag = getattr(args[1], _TAG, None)
                if tag is not None:
                    _tag(args[0], tag)
                return None
            if func == _DATA_GET:
                # p.data shares p's memory, so it lives where p does (deepcopy relies on it).
                out = func(*args, **kwargs)
                tag = where(args[0])
                if tag is not None:
                    _tag(out, tag)
                return out
            return func(*args, **kwargs)
        if func in _NUMPY:
            if where(args[0]) == _DEVICE:
                raise TypeError(_NUMPY_MESSAGE)
            return func(*args, **kwargs)
        if func in _MOVES:
            return self._move(func, args, kwargs)

        inputs = _tensors(args, [])
        if kwargs:
            _tensors(kwargs, inputs)
        has_device = has_host = False
        all_host = True
        for t in inputs:
            tag = where(t)
            if tag == _DEVICE:
                has_device = True
            elif tag == _HOST:
                if t.dim() > 0:
                    has_host = True
                continue
            all_host = False
        if has_device and has_host and func not in _COPIES:
            if not (func in _INDEXING and where(args[0]) == _DEVICE):
                raise _mismatch(func)

        out = func(*args, **kwargs)

        device = kwargs.get("device")
        if device is not None:
            tag = _DEVICE if _is_strict(device) else _HOST
        elif has_device:
            tag = _DEVICE
        elif inputs:
            # A 0-dim host tensor (a scalar) does not make an untagged tensor a host one.
            tag = _HOST if has_host or all_host else None
        else:
            tag = _HOST  # a factory without a device: torch.tensor, torch.randn, from_numpy...
        if tag is not None:
            if isinstance(out, torch.Tensor):
                if getattr(out, _TAG, None) is None or not any(out is t for t in inputs):
                    _tag(out, tag)
            elif isinstance(out, (list, tuple)):
                for o in out:
                    if isinstance(o, torch.Tensor) and getattr(o, _TAG, None) is None:
                        _tag(o, tag)
        return out

    def _move(self, func, args, kwargs):
        src = args[0]
        if func is torch.Tensor.cpu:
            target = _HOST
        else:
            target, _ = _move_target(args, kwargs)
        out = func(*args, **kwargs)
        if target is None:  # a change of dtype only: same place
            target = where(src)
            if target is None:
                return out
        if out is src and where(src) != target and getattr(src, _TAG, None) is not None:
            # On a GPU, moving gives a new tensor; here .to() would return the tensor itself,
            # and tagging it would change the original's tag too.
            out = out.clone()
        _tag(out, target)
        return out


def _parameter_new(cls, data=None, requires_grad=True):
    param = _orig_parameter_new(cls, data, requires_grad)
    tag = getattr(data, _TAG, None)
    if tag is not None:
        _tag(param, tag)
    return param


def _from_numpy(array):
    out = _orig_from_numpy(array)
    _tag(out, _HOST)
    return out


def _load(*args, **kwargs):
    # torch.load cannot map storages to "cpu:0": load on the CPU and tag what the caller asked
    # to have on the device.
    target = kwargs.get("map_location")
    if target is None or not _is_strict(target):
        return _orig_load(*args, **kwargs)
    kwargs["map_location"] = "cpu"
    out = _orig_load(*args, **kwargs)
    for t in _tensors([out], []):
        _tag(t, _DEVICE)
    return out


def _push() -> StrictDeviceMode:
    mode = StrictDeviceMode()
    mode.__enter__()
    if not _stack:
        # These make tensors without a torch function call the mode could see.
        nn.Parameter.__new__ = staticmethod(_parameter_new)  # copy the tag of its data
        torch.from_numpy = _from_numpy
        torch.load = _load
    _stack.append(mode)
    return mode


def _pop(mode: StrictDeviceMode) -> None:
    mode.__exit__(None, None, None)
    _stack.remove(mode)
    if not _stack:
        nn.Parameter.__new__ = _orig_parameter_new_attr
        torch.from_numpy = _orig_from_numpy
        torch.load = _orig_load


def is_enabled() -> bool:
    """Whether strict-device mode is on (``pick_device()`` then returns ``cpu:0``)."""
    return bool(_stack)


def enable() -> None:
    """Switch strict-device mode on for the rest of the process (what the environment does)."""
    if not _stack:
        _push()


@contextlib.contextmanager
def strict_device() -> Iterator[torch.device]:
    """Strict-device mode inside a ``with`` block; yields the device to use (``cpu:0``).

    Example::

        with strict_device() as device:
            model = nn.Linear(3, 2).to(device)
            model(torch.randn(4, 3))   # RuntimeError: Expected all tensors to be on the same device
    """
    mode = _push()
    try:
        yield STRICT_DEVICE
    finally:
        _pop(mode)


def enable_from_environment() -> bool:
    """Switch the mode on when ``COURSE_STRICT_DEVICE=1``; returns whether it is on."""
    if os.environ.get("COURSE_STRICT_DEVICE", "").strip() == "1":
        enable()
    return is_enabled()
