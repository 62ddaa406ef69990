"""A CIFAR-10 speed run: about 94% test accuracy in seconds on one modern GPU.

Our own compact implementation of the ideas behind the published fastest CIFAR-10 recipes (Page's
DAWNBench ResNet, 2018; tysam-code's hlb-CIFAR10, 2023; Keller Jordan's airbench, 2024: 94% in
2.59 s on one A100):

* **patch whitening**: the first layer is a frozen 2x2 convolution whose filters whiten 2x2
  patches of the training set (their PCA, scaled by 1/sqrt(eigenvalue)), in both signs so that
  the following nonlinearity keeps all the information; later layers see decorrelated inputs;
* a small VGG-like network (three groups of two 3x3 convolutions with max pooling, batch norm and
  GELU; widths 64-256-256), channels-last, bf16/fp16 autocast on CUDA;
* SGD with Nesterov momentum, a short warm-up then linear decay, batch 1024; no weight decay on
  batch-norm parameters; label smoothing 0.2;
* augmentation on the GPU: random horizontal flips and random 2-pixel translations (reflect
  padding), drawn per example from an explicit generator;
* test-time augmentation: the logits of an image and of its mirror image are averaged.

It runs on a CPU too (slowly: the tests run it on a few synthetic images), and it is not tuned
on a GPU in this project (its machines have none and no CIFAR-10); the figures it prints are
whatever the machine it runs on achieves.
"""

from __future__ import annotations

import math
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

CIFAR10_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR10_STD = (0.2470, 0.2435, 0.2616)


def whitening_filters(images: torch.Tensor, patch: int = 2, eps: float = 5e-4) -> torch.Tensor:
    """Filters that whiten the ``patch`` x ``patch`` patches of ``images``.

    With ``C`` the covariance of the (flattened, centred) patches and ``C = V diag(l) V^T`` its
    eigendecomposition, filter ``i`` is ``v_i / sqrt(l_i + eps)``: the responses to a patch have
    covariance close to the identity. Each filter is returned with both signs.

    Shape:
        images: (N, C, H, W) float, normalised. Returns: (2 * C * patch**2, C, patch, patch).
    """
    c = images.shape[1]
    p = images.unfold(2, patch, 1).unfold(3, patch, 1)  # N, C, H', W', patch, patch
    p = p.permute(0, 2, 3, 1, 4, 5).reshape(-1, c * patch * patch).double()
    p = p - p.mean(dim=0)
    cov = p.T @ p / (len(p) - 1)
    eigval, eigvec = torch.linalg.eigh(cov)
    w = (eigvec.T / torch.sqrt(eigval + eps)[:, None]).float()
    w = w.reshape(-1, c, patch, patch)
    return torch.cat([w, -w])


class ConvGroup(nn.Sequential):
    """conv3x3 -> maxpool2 -> BN -> GELU -> conv3x3 -> BN -> GELU. (N, c_in, H, W) -> (N, c_out, H/2, W/2)."""

    def __init__(self, c_in: int, c_out: int):
        super().__init__(
            nn.Conv2d(c_in, c_out, 3, padding=1, bias=False),
            nn.MaxPool2d(2),
            nn.BatchNorm2d(c_out),
            nn.GELU(),
            nn.Conv2d(c_out, c_out, 3, padding=1, bias=False),
            nn.BatchNorm2d(c_out),
            nn.GELU(),
        )


class SpeedNet(nn.Module):
    """The speed-run network. Input (N, 3, 32, 32) normalised; output (N, 10) logits."""

    def __init__(self, widths=(64, 256, 256), patch: int = 2, scale: float = 1 / 9):
        super().__init__()
        self.whiten = nn.Conv2d(3, 2 * 3 * patch * patch, patch, bias=True)
        self.whiten.weight.requires_grad_(False)  # set from the data, then frozen
        c = 2 * 3 * patch * patch
        groups = []
        for w in widths:
            groups.append(ConvGroup(c, w))
            c = w
        self.groups = nn.Sequential(*groups)
        self.head = nn.Linear(c, 10, bias=False)
        self.scale = scale  # small logits at the start: label smoothing's targets are soft

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.gelu(self.whiten(x))
        x = self.groups(x)
        x = F.adaptive_max_pool2d(x, 1).flatten(1)
        return self.head(x) * self.scale


def augment(x: torch.Tensor, generator: torch.Generator, pad: int = 2) -> torch.Tensor:
    """Per-example random flips and translations by up to ``pad`` pixels (reflect padding).

    Shape: (N, C, H, W) -> (N, C, H, W)."""
    n, c, h, w = x.shape
    dev = x.device
    flip = torch.rand(n, device=dev, generator=generator) < 0.5
    x = torch.where(flip[:, None, None, None], x.flip(-1), x)
    padded = F.pad(x, (pad, pad, pad, pad), mode="reflect")
    dy = torch.randint(0, 2 * pad + 1, (n,), device=dev, generator=generator)
    dx = torch.randint(0, 2 * pad + 1, (n,), device=dev, generator=generator)
    rows = dy[:, None] + torch.arange(h, device=dev)  # (N, H): the rows each example keeps
    cols = dx[:, None] + torch.arange(w, device=dev)
    out = padded.gather(2, rows[:, None, :, None].expand(n, c, h, padded.shape[3]))
    return out.gather(3, cols[:, None, None, :].expand(n, c, h, w))


def normalise(images: np.ndarray, device) -> torch.Tensor:
    """uint8 (N, 3, 32, 32) -> float32 normalised with the CIFAR-10 channel statistics."""
    x = torch.from_numpy(images).to(device).float().div_(255)
    mean = torch.tensor(CIFAR10_MEAN, device=device)[:, None, None]
    std = torch.tensor(CIFAR10_STD, device=device)[:, None, None]
    return ((x - mean) / std).contiguous(memory_format=torch.channels_last)


def evaluate(model: nn.Module, x: torch.Tensor, y: torch.Tensor, amp, batch: int = 2000) -> float:
    """Accuracy with flip test-time augmentation (logits of x and its mirror image averaged)."""
    model.eval()
    correct = 0
    with torch.no_grad(), torch.autocast(x.device.type, dtype=amp, enabled=amp is not None):
        for i in range(0, len(x), batch):
            xb = x[i : i + batch]
            logits = model(xb) + model(xb.flip(-1))
            correct += int((logits.argmax(1) == y[i : i + batch]).sum())
    model.train()
    return correct / len(x)


def _sync(device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def train(
    x_train: torch.Tensor,
    y_train: torch.Tensor,
    x_test: torch.Tensor,
    y_test: torch.Tensor,
    *,
    epochs: int = 10,
    batch_size: int = 1024,
    lr: float = 0.2,
    momentum: float = 0.9,
    weight_decay: float = 5e-4,
    label_smoothing: float = 0.2,
    warmup: float = 0.2,
    target: float = 0.94,
    seed: int = 0,
    widths=(64, 256, 256),
    log=print,
) -> dict:
    """Train a :class:`SpeedNet`; return the time to ``target`` and the per-epoch record.

    The clock runs while training (the whitening set-up included) and stops during evaluation.
    """
    device = x_train.device
    amp = torch.bfloat16 if device.type == "cuda" and torch.cuda.is_bf16_supported() else None
    amp = amp or (torch.float16 if device.type == "cuda" else None)
    scaler = torch.amp.GradScaler("cuda", enabled=amp is torch.float16)
    gen = torch.Generator(device=device).manual_seed(seed)
    torch.manual_seed(seed)  # parameter initialisation
    _sync(device)
    t0 = time.perf_counter()
    model = SpeedNet(widths).to(device).to(memory_format=torch.channels_last)
    with torch.no_grad():
        model.whiten.weight.copy_(whitening_filters(x_train[:5000].float()))
    decay = [p for n, p in model.named_parameters() if p.requires_grad and p.ndim > 1]
    other = [p for n, p in model.named_parameters() if p.requires_grad and p.ndim <= 1]
    opt = torch.optim.SGD(
        [{"params": decay, "weight_decay": weight_decay}, {"params": other, "weight_decay": 0}],
        lr=lr,
        momentum=momentum,
        nesterov=True,
    )
    steps_per_epoch = math.ceil(len(x_train) / batch_size)
    total = epochs * steps_per_epoch
    warm = max(1, int(warmup * total))

    def factor(step: int) -> float:  # linear warm-up, then linear decay to zero
        return (step + 1) / warm if step < warm else max(0.0, (total - step) / (total - warm))

    sched = torch.optim.lr_scheduler.LambdaLR(opt, factor)
    record, reached, elapsed = [], None, 0.0
    for epoch in range(epochs):
        perm = torch.randperm(len(x_train), device=device, generator=gen)
        for i in range(0, len(x_train), batch_size):
            idx = perm[i : i + batch_size]
            xb = augment(x_train[idx], gen)
            with torch.autocast(device.type, dtype=amp, enabled=amp is not None):
                loss = F.cross_entropy(model(xb), y_train[idx], label_smoothing=label_smoothing)
            opt.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            scaler.step(opt)
            scaler.update()
            sched.step()
        _sync(device)
        elapsed += time.perf_counter() - t0
        acc = evaluate(model, x_test, y_test, amp)
        record.append({"epoch": epoch + 1, "seconds": elapsed, "test_accuracy": acc})
        log(f"epoch {epoch + 1:2d}  {elapsed:7.2f} s  test {acc:.4f}")
        if reached is None and acc >= target:
            reached = elapsed
        _sync(device)
        t0 = time.perf_counter()
    return {
        "time_to_target": reached,
        "final_accuracy": record[-1]["test_accuracy"],
        "epochs": record,
    }


def speedrun(data_dir=None, device=None, target: float = 0.94, seed: int = 0, epochs=None) -> dict:
    """Load CIFAR-10 (offline files, or ``data_dir``), train, and print the time to ``target``."""
    from coursekit.data import load_cifar10
    from coursekit.device import pick_device

    device = device or pick_device()
    x_tr, y_tr = load_cifar10("train", data_dir)
    x_te, y_te = load_cifar10("test", data_dir)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else str(device)
    print(f"CIFAR-10 speed run on {name}, torch {torch.__version__}, target {target:.0%}")
    if device.type == "cuda":  # warm up the kernels so that the clock measures training only
        warm = normalise(x_tr[:2048], device)
        train(
            warm,
            torch.from_numpy(y_tr[:2048]).to(device),
            warm,
            torch.from_numpy(y_tr[:2048]).to(device),
            epochs=1,
            log=lambda *_: None,
        )
    out = train(
        normalise(x_tr, device),
        torch.from_numpy(y_tr).to(device),
        normalise(x_te, device),
        torch.from_numpy(y_te).to(device),
        target=target,
        seed=seed,
        **({"epochs": epochs} if epochs else {}),
    )
    t = out["time_to_target"]
    print(
        f"time to {target:.0%}: {t:.2f} s" if t is not None else f"did not reach {target:.0%}",
        f"(final {out['final_accuracy']:.4f}); published record: 94% in 2.59 s on one A100",
    )
    return out
