"""One place that decides where tensors live, so every notebook runs on a GPU or a CPU unchanged."""

from __future__ import annotations

import os

import torch

from coursekit import strict_device as _strict

__all__ = ["pick_device", "autocast_dtype", "bf16_native"]


def pick_device(prefer: str | None = None) -> torch.device:
    """``cuda`` when a GPU is visible, ``mps`` on Apple silicon, ``cpu`` otherwise.

    In strict-device mode (``COURSE_STRICT_DEVICE=1``, see ``coursekit.strict_device``) it
    returns ``cpu:0``, a CPU that stands in for the accelerator so that tensors left on the host
    raise as they would on a GPU.

    Args:
        prefer: force a device ("cpu", "cuda", "cuda:1", ...); the environment variable
            ``COURSE_DEVICE`` does the same without editing a notebook.
    """
    if prefer is None and _strict.is_enabled():
        return _strict.STRICT_DEVICE
    choice = prefer or os.environ.get("COURSE_DEVICE")
    if choice:
        return torch.device(choice)
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def bf16_native(device: torch.device | None = None) -> bool:
    """Whether the CUDA device computes in bfloat16 in hardware (compute capability >= 8.0).

    ``torch.cuda.is_bf16_supported()`` also counts emulation, which a T4 or a V100 offers but
    which is slower than float16 with loss scaling.
    """
    try:
        return bool(torch.cuda.is_bf16_supported(including_emulation=False))
    except TypeError:  # an older PyTorch without the argument
        major, _ = torch.cuda.get_device_capability(device)
        return major >= 8


def autocast_dtype(device: torch.device) -> torch.dtype | None:
    """The mixed-precision dtype for ``device``: bf16 (fp16 on GPUs without native bf16) on CUDA.

    The course uses mixed precision only on CUDA, where it pays; on a CPU it returns None and the
    training loops run in float32. GPUs without native bfloat16 (compute capability below 8.0:
    T4, V100, P100) get float16, which ``coursekit.training.fit`` pairs with a ``GradScaler``.
    """
    if device.type != "cuda":
        return None
    return torch.bfloat16 if bf16_native(device) else torch.float16
