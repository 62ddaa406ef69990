"""A training loop that uses the hardware it finds and runs unchanged on a CPU.

The book's chapter on the training loop builds these pieces one at a time; this module packages
them for the later chapters and the capstone assignment:

- ``tensor_loader``: mini-batches of in-memory tensors, shuffled by an explicit generator, with
  pinned (page-locked) host memory when the model lives on a CUDA device;
- ``to_device``: host-to-device copies that are non-blocking on CUDA;
- ``fit``: the loop itself, with mixed precision (bf16, or fp16 with loss scaling) on CUDA only,
  optional gradient clipping, a learning-rate scheduler, atomic checkpoints and exact resume, a
  tqdm progress bar (off by default), a per-epoch log callback, and a ``history`` dict;
- ``evaluate``: loss and accuracy over a loader, in ``eval()`` mode and without autograd;
- ``save_checkpoint`` / ``load_checkpoint``: everything a resumed run needs to continue exactly
  as if it had never stopped;
- ``maybe_compile``: ``torch.compile`` on CUDA where Triton works, falling back to eager mode
  when compilation fails; the model unchanged elsewhere;
- ``plot_history``: loss and accuracy curves in the course style.

Typical use::

    device = pick_device()
    gen = torch.Generator().manual_seed(0)
    model = make_model(gen).to(device)          # move the model before creating the optimizer
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    train = tensor_loader(x_train, y_train, 128, shuffle=True, generator=gen, device=device)
    val = tensor_loader(x_val, y_val, 512, device=device)
    history = fit(model, train, optimizer, epochs=5, val_loader=val, device=device)
    plot_history(history)

Nothing here reads or sets a global seed, except ``fit(seed=...)``, which seeds the global
generator only *inside* a ``torch.random.fork_rng`` block for the operations that take no
generator argument (dropout), and restores the caller's state afterwards.
"""

from __future__ import annotations

import math
import os
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import (
    BatchSampler,
    DataLoader,
    RandomSampler,
    SequentialSampler,
    TensorDataset,
)

from coursekit.device import autocast_dtype, pick_device

__all__ = [
    "HISTORY_KEYS",
    "evaluate",
    "fit",
    "fork_all_rng",
    "format_record",
    "get_rng_states",
    "load_checkpoint",
    "maybe_compile",
    "plot_history",
    "save_checkpoint",
    "set_rng_states",
    "tensor_loader",
    "to_device",
]

#: The lists in the dict that ``fit`` returns. Per epoch: ``epoch`` (1, 2, ...), ``train_loss``
#: (mean mini-batch loss over the epoch), ``train_acc`` (share of the epoch's training examples
#: classified correctly while training), ``val_loss``, ``val_acc`` (NaN without a validation
#: loader), ``lr`` (first parameter group's rate at the end of the epoch), ``time`` (seconds).
#: Per optimisation step: ``step_loss`` and ``step_lr``.
HISTORY_KEYS = (
    "epoch",
    "train_loss",
    "train_acc",
    "val_loss",
    "val_acc",
    "lr",
    "time",
    "step_loss",
    "step_lr",
)


def tensor_loader(
    x: torch.Tensor,
    y: torch.Tensor,
    batch_size: int,
    *,
    shuffle: bool = False,
    generator: torch.Generator | None = None,
    drop_last: bool = False,
    device: torch.device | str | None = None,
) -> DataLoader:
    """A ``DataLoader`` over in-memory tensors that indexes a whole batch at once.

    ``coursekit.data.make_loader`` converts one uint8 image at a time, which is right for
    augmentation; when the data are already preprocessed tensors, gathering a batch with one
    indexing operation is about ten times faster on small models. The batches come from a
    ``BatchSampler`` (the dataset receives a list of indices), so ``batch_size=None`` disables
    the loader's own batching.

    Args:
        x: inputs, shape (N, ...).
        y: targets, shape (N, ...).
        batch_size: examples per batch.
        shuffle: a new order at every epoch, drawn from ``generator`` (required then).
        generator: e.g. ``torch.Generator().manual_seed(0)``; it is also the loader's
            ``generator`` attribute, which ``fit`` saves in checkpoints so that a resumed run
            sees the same batches.
        drop_last: drop a last, smaller batch.
        device: where the model lives; on CUDA the batches of host tensors are copied to pinned
            memory, so that the host-to-device copy can be asynchronous (``non_blocking=True``).
            Tensors already on the GPU (small data sets can live there whole) are not pinned.

    Returns:
        A loader yielding ``(x_batch, y_batch)`` with shapes (B, ...).

    Raises:
        ValueError: different lengths, or ``shuffle=True`` without a generator.
    """
    if len(x) != len(y):
        raise ValueError(f"x has {len(x)} examples, y has {len(y)}")
    if shuffle and generator is None:
        raise ValueError("shuffle=True needs generator=torch.Generator().manual_seed(...)")
    dataset = TensorDataset(x, y)
    order = RandomSampler(dataset, generator=generator) if shuffle else SequentialSampler(dataset)
    # Only host memory can be pinned: pin_memory=True raises for tensors already on the GPU.
    on_host = x.device.type == "cpu" and y.device.type == "cpu"
    pin = device is not None and torch.device(device).type == "cuda" and on_host
    return DataLoader(
        dataset,
        sampler=BatchSampler(order, batch_size, drop_last),
        batch_size=None,
        generator=generator,
        pin_memory=pin,
    )


def to_device(batch, device: torch.device):
    """Move a tensor, or a tuple, list or dict of tensors, to ``device``.

    On CUDA the copy is non-blocking: from pinned memory it is queued on the GPU's stream and
    the CPU goes on to prepare the next batch (from ordinary memory it silently falls back to a
    synchronous copy). Copies to the CPU stay blocking: a non-blocking device-to-host copy may be
    read before it has arrived.
    """
    if isinstance(batch, torch.Tensor):
        return batch.to(device, non_blocking=device.type == "cuda")
    if isinstance(batch, dict):
        return {k: to_device(v, device) for k, v in batch.items()}
    if isinstance(batch, (list, tuple)):
        return type(batch)(to_device(v, device) for v in batch)
    return batch


def _autocast(device: torch.device, dtype: torch.dtype | None):
    """Autocast to ``dtype`` on ``device``, or a no-op context when ``dtype`` is None."""
    if dtype is None:
        return nullcontext()
    return torch.autocast(device_type=device.type, dtype=dtype)


def _unwrap(model: nn.Module) -> nn.Module:
    """The original module behind ``torch.compile``'s wrapper (whose state_dict keys differ)."""
    return getattr(model, "_orig_mod", model)


def _device_of(model: nn.Module) -> torch.device:
    param = next(model.parameters(), None)
    return param.device if param is not None else torch.device("cpu")


def _triton_problem(device: torch.device) -> str | None:
    """Why ``torch.compile`` cannot generate GPU kernels for ``device``, or None if it can."""
    if device.type != "cuda":
        return f"the model is on {device.type}, not CUDA"
    if sys.platform == "win32":
        return "Triton does not run on native Windows"
    major, minor = torch.cuda.get_device_capability(device)
    if major < 7:
        return f"Triton needs compute capability 7.0 or more, this GPU has {major}.{minor}"
    try:
        import triton  # noqa: F401
    except ImportError:
        return "Triton is not installed"
    return None


class CompiledWithFallback(nn.Module):
    """A compiled model that runs the original one eagerly if its first call fails to compile.

    Compilation happens at the first forward pass, so an unsupported GPU or a missing compiler
    shows up only there; after one successful call the compiled model is used as is.
    """

    def __init__(self, compiled: nn.Module, original: nn.Module):
        super().__init__()
        self.compiled = compiled
        self._orig_mod = original  # what _unwrap and checkpoints see
        self._checked = False

    def forward(self, *args, **kwargs):
        if self._checked:
            return self.compiled(*args, **kwargs)
        try:
            out = self.compiled(*args, **kwargs)
        except Exception as exc:  # noqa: BLE001 -- any compiler failure: fall back to eager
            warnings.warn(
                f"maybe_compile: torch.compile failed ({type(exc).__name__}: {exc}); "
                "running eagerly",
                stacklevel=2,
            )
            self.compiled = self._orig_mod
            out = self._orig_mod(*args, **kwargs)
        self._checked = True
        return out


def maybe_compile(model: nn.Module, enabled: bool | None = None) -> nn.Module:
    """``torch.compile(model)`` when it is likely to pay and can work, else ``model`` itself.

    Compilation traces the model into a graph and generates fused kernels (Triton on a GPU,
    C++ on a CPU). It costs tens of seconds up front, so it pays on a GPU over a run of many
    steps with fixed shapes; for the book's CPU runs of a few seconds it would dominate.
    Triton needs a CUDA GPU of compute capability 7.0 or more (not a P100 or a GTX 10xx) and
    does not run on native Windows: there the model is returned unchanged with a warning. If
    compilation still fails at the first forward pass, that call and all later ones run eagerly.

    Args:
        model: the module (already on its device).
        enabled: force compilation on or off; default: on when the model is on a CUDA device
            where Triton works.

    Returns:
        The compiled model (its ``_orig_mod`` is ``model``), or ``model``.
    """
    device = _device_of(model)
    if enabled is None:
        problem = _triton_problem(device)
        if problem is not None:
            if device.type == "cuda":
                warnings.warn(f"maybe_compile: not compiling: {problem}", stacklevel=2)
            return model
        enabled = True
    if not enabled:
        return model
    return CompiledWithFallback(torch.compile(model), model)


@torch.no_grad()
def evaluate(
    model: nn.Module,
    loader: Iterable,
    *,
    device: torch.device | None = None,
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] = F.cross_entropy,
    amp: bool = False,
) -> dict[str, float]:
    r"""Mean loss and accuracy of ``model`` over ``loader``, in ``eval()`` mode.

    .. math:: \bar L = \frac{1}{N}\sum_{\text{batches } b} |b|\, L_b, \qquad
              \text{acc} = \frac{1}{N}\sum_i [\arg\max_k f_k(x_i) = y_i]

    where ``loss_fn`` returns the mean loss ``L_b`` of a batch. The model's train/eval mode is
    restored afterwards. Accuracy is NaN when the outputs are not (B, K) class scores.

    Args:
        model: the network.
        loader: yields ``(x, y)`` batches.
        device: default: the device of the model's parameters.
        loss_fn: mean loss of a batch, ``loss_fn(outputs, targets)``.
        amp: autocast on CUDA (ignored elsewhere). Off by default: validation runs in float32,
            so that early stopping and hyperparameter search decide on the same numbers as a
            CPU run; turn it on for speed when those decisions can bear bf16's 3 digits.

    Returns:
        ``{"loss": ..., "accuracy": ...}``.
    """
    device = device if device is not None else _device_of(model)
    dtype = autocast_dtype(device) if amp else None
    was_training = model.training
    model.eval()
    total_loss = torch.zeros((), dtype=torch.float64, device=device)
    correct = torch.zeros((), dtype=torch.int64, device=device)
    n, classify = 0, True
    try:
        for batch in loader:
            x, y = to_device(batch, device)
            with _autocast(device, dtype):
                out = model(x)
                loss = loss_fn(out, y)
            total_loss += loss.double() * len(y)
            if out.ndim == 2 and y.ndim == 1:
                correct += (out.argmax(dim=1) == y).sum()
            else:
                classify = False
            n += len(y)
    finally:
        model.train(was_training)
    if n == 0:
        raise ValueError("evaluate: the loader yielded no examples")
    # One synchronisation for the whole pass: .item() waits for the device.
    return {
        "loss": total_loss.item() / n,
        "accuracy": correct.item() / n if classify else math.nan,
    }


def save_checkpoint(
    path,
    *,
    model: nn.Module,
    optimizer: torch.optim.Optimizer | None = None,
    scheduler=None,
    scaler: torch.amp.GradScaler | None = None,
    generator: torch.Generator | None = None,
    epoch: int = 0,
    history: dict | None = None,
    rng_state: dict | None = None,
) -> Path:
    """Write the state a run needs to continue exactly, atomically.

    The file is written to a temporary name in the same folder and renamed onto ``path`` with
    ``os.replace``, so a crash while saving leaves the previous checkpoint intact.

    Args:
        path: the checkpoint file (its folder is created).
        model, optimizer, scheduler, scaler: saved through their ``state_dict()``.
        generator: the shuffling generator; its state decides the next epoch's batches.
        epoch: the number of completed epochs.
        history: the ``fit`` history so far.
        rng_state: global generator states (``fit(seed=...)`` saves them for dropout).

    Returns:
        ``path`` as a ``Path``.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {
        "model": _unwrap(model).state_dict(),
        "optimizer": optimizer.state_dict() if optimizer is not None else None,
        "scheduler": scheduler.state_dict() if scheduler is not None else None,
        "scaler": scaler.state_dict() if scaler is not None else None,
        "generator": generator.get_state() if generator is not None else None,
        "epoch": epoch,
        "history": history,
        "rng_state": rng_state,
    }
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        torch.save(state, tmp)
        os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)  # no-op after a successful rename
    return path


def load_checkpoint(
    path,
    *,
    model: nn.Module,
    optimizer: torch.optim.Optimizer | None = None,
    scheduler=None,
    scaler: torch.amp.GradScaler | None = None,
    generator: torch.Generator | None = None,
    map_location: torch.device | str | None = None,
) -> dict:
    """Restore what ``save_checkpoint`` wrote into the given objects.

    Only tensors, numbers, strings and containers are unpickled (``weights_only=True``), so a
    checkpoint from elsewhere cannot run code when it is loaded.

    Args:
        path: the checkpoint file.
        model, optimizer, scheduler, scaler, generator: restored in place when given.
        map_location: where to put the tensors, default the model's device (a checkpoint
            written on a GPU loads on a CPU).

    Returns:
        The whole checkpoint dict (``epoch``, ``history``, ``rng_state``, ...).
    """
    if map_location is None:
        map_location = _device_of(model)
    state = torch.load(path, map_location=map_location, weights_only=True)
    _unwrap(model).load_state_dict(state["model"])
    for obj, key in [(optimizer, "optimizer"), (scheduler, "scheduler"), (scaler, "scaler")]:
        if obj is not None and state.get(key) is not None:
            obj.load_state_dict(state[key])
    if generator is not None and state.get("generator") is not None:
        generator.set_state(state["generator"].cpu())
    return state


def _mps_available() -> bool:
    mps = getattr(torch.backends, "mps", None)
    return mps is not None and mps.is_available()


@contextmanager
def fork_all_rng() -> Iterator[None]:
    """Like ``torch.random.fork_rng``, for the CPU, every CUDA device and MPS at once.

    ``torch.manual_seed`` reseeds all of them, so restoring only the current GPU (what
    ``fork_rng()`` does by default, with a warning past one device) would leak the seed into the
    caller's other devices; ``fork_rng`` does not know MPS at the same time as CUDA.
    """
    devices = list(range(torch.cuda.device_count())) if torch.cuda.is_available() else []
    mps_state = torch.mps.get_rng_state() if _mps_available() else None
    with torch.random.fork_rng(devices=devices):
        try:
            yield
        finally:
            if mps_state is not None:
                torch.mps.set_rng_state(mps_state)


def get_rng_states() -> dict:
    """The global generators' states: ``cpu``, ``cuda`` (one per device) and ``mps`` if any."""
    state: dict = {"cpu": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    if _mps_available():
        state["mps"] = torch.mps.get_rng_state()
    return state


def set_rng_states(state: dict) -> None:
    """Restore what ``get_rng_states`` returned (a device missing here is skipped)."""
    torch.set_rng_state(state["cpu"].cpu())
    cuda = state.get("cuda")
    if cuda is not None and torch.cuda.is_available():
        if isinstance(cuda, torch.Tensor):  # checkpoints before the all-devices format
            torch.cuda.set_rng_state(cuda.cpu())
        elif len(cuda) == torch.cuda.device_count():
            torch.cuda.set_rng_state_all([s.cpu() for s in cuda])
    if state.get("mps") is not None and _mps_available():
        torch.mps.set_rng_state(state["mps"].cpu())


def _new_history() -> dict[str, list]:
    return {key: [] for key in HISTORY_KEYS}


def format_record(record: dict) -> str:
    """One line for an epoch's record, e.g. for ``fit(log=lambda r: print(format_record(r)))``."""
    parts = [f"epoch {record['epoch']:>3}"]
    for key in ("train_loss", "train_acc", "val_loss", "val_acc"):
        value = record.get(key, math.nan)
        if not math.isnan(value):
            parts.append(f"{key} {value:.4f}")
    parts.append(f"lr {record['lr']:.3g}")
    parts.append(f"{record['time']:.1f} s")
    return "  ".join(parts)


def fit(
    model: nn.Module,
    train_loader: Iterable,
    optimizer: torch.optim.Optimizer,
    *,
    epochs: int,
    val_loader: Iterable | None = None,
    device: torch.device | None = None,
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] = F.cross_entropy,
    scheduler=None,
    scheduler_interval: str = "step",
    amp: bool = True,
    eval_amp: bool = False,
    grad_clip: float | None = None,
    checkpoint_path=None,
    resume: bool = False,
    seed: int | None = None,
    progress: bool = False,
    log: Callable[[dict], None] | None = None,
) -> dict[str, list]:
    r"""Train ``model`` for ``epochs`` epochs and return its history.

    One step is the usual five lines, with the hardware switches around them:

    .. math:: \theta \leftarrow \operatorname{step}\big(\theta,\ \nabla_\theta\,
              \tfrac{1}{|b|}\textstyle\sum_{i \in b} \ell(f_\theta(x_i), y_i)\big)

    - the batch is copied to ``device`` (non-blocking on CUDA);
    - on CUDA with ``amp=True`` the forward pass runs under ``torch.autocast`` in bf16 (or fp16
      on GPUs without bf16, with a ``GradScaler`` that multiplies the loss before ``backward`` so
      that small fp16 gradients do not underflow, and skips steps whose gradients overflowed);
      on other devices everything stays float32;
    - losses and accuracies are accumulated on the device and read once per epoch, so the CPU
      never waits for the GPU in the middle of an epoch;
    - training stops early, with ``history["diverged"] = True``, when an epoch's mean loss is
      not finite.

    Args:
        model: the network; moved to ``device`` (do this yourself before creating the optimizer,
            so that its state is created on the right device).
        train_loader: yields ``(x, y)`` batches; its ``generator`` attribute, if any, is saved in
            checkpoints.
        optimizer: any ``torch.optim`` optimizer over the model's parameters.
        epochs: the total number of epochs (a resumed run continues up to this number).
        val_loader: evaluated after every epoch when given.
        device: default ``pick_device()``.
        loss_fn: mean loss of a batch, ``loss_fn(outputs, targets)``.
        scheduler: a ``torch.optim.lr_scheduler`` object. ``ReduceLROnPlateau`` is stepped once
            per epoch with the validation loss (the training loss without a validation loader);
            any other one after every optimizer step, or once per epoch with
            ``scheduler_interval="epoch"``.
        scheduler_interval: ``"step"`` or ``"epoch"``.
        amp: mixed precision on CUDA (``coursekit.device.autocast_dtype``); ignored elsewhere.
            With fp16, a step that ``GradScaler`` skips (inf or NaN gradients) does not step a
            per-step scheduler either.
        eval_amp: validate with mixed precision too; off by default, so that validation (and
            the decisions taken on it) uses float32 numbers, as on a CPU.
        grad_clip: clip the global gradient norm to this value before each step.
        checkpoint_path: save a checkpoint there after every epoch (atomically).
        resume: continue from ``checkpoint_path`` if the file exists.
        seed: run inside ``torch.random.fork_rng`` with the global generator seeded to this
            value, for operations that take no generator (dropout); the caller's global state
            is restored afterwards, and checkpoints carry it so that a resumed run matches.
        progress: show a tqdm progress bar over each epoch's batches.
        log: called after every epoch with that epoch's record (the per-epoch keys of
            ``HISTORY_KEYS``), e.g. ``lambda r: print(format_record(r))``.

    Returns:
        The history: a dict of lists, keys ``HISTORY_KEYS`` (see there); a resumed run returns
        the history since the first epoch.
    """
    if scheduler_interval not in ("step", "epoch"):
        raise ValueError(
            f"scheduler_interval must be 'step' or 'epoch', not {scheduler_interval!r}"
        )
    device = device if device is not None else pick_device()
    model.to(device)
    dtype = autocast_dtype(device) if amp else None
    # Loss scaling is needed for fp16 only: bf16 has float32's exponent range.
    scaler_device = "cuda" if device.type == "cuda" else "cpu"
    scaler = torch.amp.GradScaler(scaler_device, enabled=dtype == torch.float16)
    generator = getattr(train_loader, "generator", None)
    plateau = isinstance(scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau)

    history, start_epoch, saved_rng = _new_history(), 0, None
    if resume and checkpoint_path is not None and Path(checkpoint_path).exists():
        state = load_checkpoint(
            checkpoint_path,
            model=model,
            optimizer=optimizer,
            scheduler=scheduler,
            scaler=scaler,
            generator=generator,
            map_location=device,
        )
        start_epoch, history, saved_rng = state["epoch"], state["history"], state["rng_state"]

    with fork_all_rng() if seed is not None else nullcontext():
        if seed is not None:
            torch.manual_seed(seed)
            if saved_rng is not None:
                set_rng_states(saved_rng)
        for epoch in range(start_epoch + 1, epochs + 1):
            start = time.perf_counter()
            model.train()
            step_losses, step_lrs = [], []
            correct = torch.zeros((), dtype=torch.int64, device=device)
            n_seen, classify = 0, True
            batches = train_loader
            if progress:
                from tqdm.auto import tqdm

                batches = tqdm(train_loader, desc=f"epoch {epoch}/{epochs}", leave=False)
            for batch in batches:
                x, y = to_device(batch, device)
                with _autocast(device, dtype):
                    out = model(x)
                    loss = loss_fn(out, y)
                optimizer.zero_grad(set_to_none=True)
                scaler.scale(loss).backward()
                if grad_clip is not None:
                    scaler.unscale_(optimizer)  # clip the true gradients, not the scaled ones
                    nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
                step_lrs.append(optimizer.param_groups[0]["lr"])
                # GradScaler skips a step with inf/NaN gradients and lowers its scale: the
                # scheduler must not advance then (a sync per step, on the fp16 path only).
                scale = scaler.get_scale() if scaler.is_enabled() else None
                scaler.step(optimizer)
                scaler.update()
                stepped = scale is None or scaler.get_scale() >= scale
                if scheduler is not None and not plateau and scheduler_interval == "step":
                    if stepped:
                        scheduler.step()
                step_losses.append(loss.detach())  # no .item(): that would wait for the GPU
                if out.ndim == 2 and y.ndim == 1:
                    correct += (out.detach().argmax(dim=1) == y).sum()
                else:
                    classify = False
                n_seen += len(y)
            losses = torch.stack(step_losses).float().cpu().tolist() if step_losses else []
            record = {
                "epoch": epoch,
                "train_loss": sum(losses) / max(len(losses), 1),
                "train_acc": correct.item() / max(n_seen, 1) if classify else math.nan,
                "val_loss": math.nan,
                "val_acc": math.nan,
            }
            if val_loader is not None:
                metrics = evaluate(
                    model, val_loader, device=device, loss_fn=loss_fn, amp=amp and eval_amp
                )
                record["val_loss"], record["val_acc"] = metrics["loss"], metrics["accuracy"]
            if scheduler is not None and plateau:
                watch = record["val_loss"] if val_loader is not None else record["train_loss"]
                scheduler.step(watch)
            elif scheduler is not None and scheduler_interval == "epoch":
                scheduler.step()
            record["lr"] = optimizer.param_groups[0]["lr"]
            record["time"] = time.perf_counter() - start
            for key, value in record.items():
                history[key].append(value)
            history["step_loss"].extend(losses)
            history["step_lr"].extend(step_lrs)
            if log is not None:
                log(record)
            if checkpoint_path is not None:
                rng = get_rng_states() if seed is not None else None
                save_checkpoint(
                    checkpoint_path,
                    model=model,
                    optimizer=optimizer,
                    scheduler=scheduler,
                    scaler=scaler,
                    generator=generator,
                    epoch=epoch,
                    history=history,
                    rng_state=rng,
                )
            if not math.isfinite(record["train_loss"]):
                history["diverged"] = True
                break
    return history


def plot_history(history: dict, axes=None, label: str | None = None, color=None):
    """Loss and accuracy curves: training per step (faint) and per epoch, validation per epoch.

    Args:
        history: what ``fit`` returned.
        axes: two matplotlib Axes (loss, accuracy); default: a new figure with two panels.
        label: a name for the run in the legends (default: none).
        color: one colour for the run; default: the course palette's first two colours for
            training and validation.

    Returns:
        The two Axes.
    """
    import matplotlib.pyplot as plt
    import numpy as np

    from coursekit.plotting import PALETTE

    if axes is None:
        _, axes = plt.subplots(1, 2, figsize=(10, 3.6))
    ax_loss, ax_acc = axes
    epochs = np.asarray(history["epoch"], dtype=float)
    steps = np.asarray(history["step_loss"], dtype=float)
    c_train = color or PALETTE[0]
    c_val = color or PALETTE[1]
    prefix = f"{label}: " if label else ""
    if len(steps) and len(epochs):
        # Steps of epoch k lie in (k-1, k]: put each step at its fraction of the epoch.
        per_epoch = len(steps) / (epochs[-1] - epochs[0] + 1)
        x_steps = epochs[0] - 1 + np.arange(1, len(steps) + 1) / per_epoch
        ax_loss.plot(x_steps, steps, color=c_train, alpha=0.25, lw=0.8)
    ax_loss.plot(epochs, history["train_loss"], "o-", color=c_train, label=f"{prefix}train")
    has_val = not np.all(np.isnan(np.asarray(history["val_loss"], dtype=float)))
    if has_val:
        ax_loss.plot(epochs, history["val_loss"], "s--", color=c_val, label=f"{prefix}validation")
    ax_acc.plot(epochs, history["train_acc"], "o-", color=c_train, label=f"{prefix}train")
    if has_val:
        ax_acc.plot(epochs, history["val_acc"], "s--", color=c_val, label=f"{prefix}validation")
    ax_loss.set(xlabel="epoch", ylabel="loss")
    ax_acc.set(xlabel="epoch", ylabel="accuracy")
    ax_loss.legend()
    ax_acc.legend()
    return axes
