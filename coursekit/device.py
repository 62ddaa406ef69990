"""One place that decides where tensors live, so every notebook runs on a GPU or a CPU unchanged."""

from __future__ import annotations

import torch

__all__ = ["pick_device", "autocast_dtype"]


def pick_device(prefer: str | None = None) -> torch.device:
    """``cuda`` when a GPU is visible, ``mps`` on Apple silicon, ``cpu`` otherwise.

    Args:
        prefer: force a device ("cpu", "cuda", "cuda:1", ...); the environment variable
            ``COURSE_DEVICE`` does the same without editing a notebook.
    """
    import os

    choice = prefer or os.environ.get("COURSE_DEVICE")
    if choice:
        return torch.device(choice)
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def autocast_dtype(device: torch.device) -> torch.dtype | None:
    """The mixed-precision dtype for ``device``: bf16 (or fp16 on older GPUs) on CUDA, None elsewhere.

    The course uses mixed precision only on CUDA, where it pays; on a CPU it returns None and the
    training loops run in float32.
    """
    if device.type != "cuda":
        return None
    return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
