"""Strict-device mode makes a CPU run fail where a GPU run would (coursekit.strict_device)."""

from __future__ import annotations

import copy
import os
import subprocess
import sys

import numpy as np
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from coursekit.data import make_loader
from coursekit.device import pick_device
from coursekit.strict_device import STRICT_DEVICE, is_enabled, strict_device, where
from coursekit.training import fit, tensor_loader, to_device

MISMATCH = "Expected all tensors to be on the same device"


def _mlp(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)  # tests only: the weights' values do not matter here
    return nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Linear(16, 3))


def _data(n: int = 40, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(n, 6, generator=gen), torch.randint(0, 3, (n,), generator=gen)


def _dead_fraction(model: nn.Module, x: torch.Tensor) -> list[float]:
    """book/babysitting.md's helper: a forward hook on each ReLU."""
    shares = []

    def record(module, inputs, output):
        shares.append((~(output > 0).any(dim=0)).float().mean().item())

    handles = [m.register_forward_hook(record) for m in model if isinstance(m, nn.ReLU)]
    with torch.no_grad():
        model(x)
    for h in handles:
        h.remove()
    return shares


def _babysitting(fixed: bool) -> list[float]:
    """The babysitting chapter's train() + dead_fraction(), before and after the fix."""
    device = pick_device()
    x_tr, y_tr = _data()
    x_val, _ = _data(seed=1)
    model = _mlp()
    if fixed:
        model.to(device)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    loader = tensor_loader(x_tr, y_tr, 8, shuffle=True, generator=torch.Generator().manual_seed(0))
    if not fixed:
        model.to(device)  # after the optimizer: fine on CUDA (parameters keep their identity)
    fit(model, loader, optimizer, epochs=1, device=device)
    return _dead_fraction(model, x_val.to(device) if fixed else x_val)


def test_old_babysitting_code_passes_without_the_mode():
    assert not is_enabled()
    assert len(_babysitting(fixed=False)) == 1


def test_old_babysitting_code_raises_under_the_mode():
    with strict_device(), pytest.raises(RuntimeError, match=MISMATCH):
        _babysitting(fixed=False)
    assert not is_enabled()


def test_fixed_babysitting_code_passes_under_the_mode():
    with strict_device():
        assert len(_babysitting(fixed=True)) == 1


def test_pick_device_is_the_indexed_cpu_only_in_the_mode():
    with strict_device() as device:
        assert device == STRICT_DEVICE == pick_device()
        assert pick_device("cpu") == torch.device("cpu")
    assert pick_device() != STRICT_DEVICE


def test_cross_entropy_with_host_targets_raises():
    with strict_device() as device:
        logits = torch.randn(4, 3).to(device)
        targets = torch.tensor([0, 1, 2, 0])
        with pytest.raises(RuntimeError, match=r"strict-device mode.*cross_entropy"):
            F.cross_entropy(logits, targets)
        assert F.cross_entropy(logits, targets.to(device)).ndim == 0


def test_numpy_of_a_device_tensor_raises_like_cuda():
    with strict_device() as device:
        x = torch.randn(3).to(device)
        with pytest.raises(TypeError, match="can't convert cuda:0 device type tensor to numpy"):
            x.numpy()
        with pytest.raises(TypeError, match="Use Tensor.cpu"):
            np.asarray(x * 2)
        assert x.cpu().numpy().shape == (3,)
        assert where(x) == "device"  # .cpu() made a copy; the original stays on the device


def test_allowed_mixes_as_on_cuda():
    with strict_device() as device:
        x = torch.arange(12.0).reshape(4, 3).to(device)
        host = torch.ones(4, 3)
        assert where(x * torch.tensor(2.0)) == "device"  # a 0-dim host tensor is fine
        x.copy_(host)
        assert where(x[torch.tensor([0, 2])]) == "device"  # host indices
        x[torch.tensor([1])] = torch.zeros(1, 3)  # host indices and values
        assert where(host.to(x)) == "device"
        assert x.device == device  # so that x.to(param.device) goes to the device
        with pytest.raises(RuntimeError, match=MISMATCH):
            torch.cat([x, host])
        with pytest.raises(RuntimeError, match=MISMATCH):
            _ = host + x.sum()  # a 0-dim *device* tensor with a host tensor is not


def test_factories_and_modules_are_tagged():
    with strict_device() as device:
        assert where(torch.zeros(2, device=device)) == "device"
        assert where(torch.zeros(2)) == "host"
        assert where(torch.from_numpy(np.ones(2))) == "host"
        assert where(torch.zeros(2, device="cpu")) == "host"
        lin = nn.Linear(2, 2)
        weight = lin.weight
        assert where(weight) == "host"
        lin.to(device)
        assert lin.weight is weight and where(weight) == "device"
        assert where(nn.Linear(2, 2, device=device).weight) == "device"
        assert where(copy.deepcopy(lin).weight) == "device"  # as a GPU module's copy is
        lin.cpu()
        assert where(lin.weight) == "host"


@pytest.mark.parametrize(
    "make",
    [
        lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9, foreach=False),
        lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9, nesterov=True, foreach=True),
        lambda p: torch.optim.Adam(p, lr=1e-2, foreach=False),
        lambda p: torch.optim.Adam(p, lr=1e-2, foreach=True),
        lambda p: torch.optim.AdamW(p, lr=1e-2, weight_decay=0.1),
    ],
    ids=["sgd", "sgd-foreach", "adam", "adam-foreach", "adamw"],
)
def test_optimizers_step_under_the_mode(make):
    with strict_device() as device:
        model = _mlp().to(device)
        optimizer = make(model.parameters())
        x, y = (t.to(device) for t in _data())
        losses = []
        for _ in range(5):
            loss = F.cross_entropy(model(x), y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
        assert losses[-1] < losses[0]
        assert all(where(p) == "device" for p in model.parameters())


def test_fit_with_tensor_loader_passes_under_the_mode(tmp_path):
    with strict_device() as device:
        model = _mlp().to(device)
        optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
        scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, 0.1, total_steps=15)
        x, y = _data()
        gen = torch.Generator().manual_seed(0)
        train = tensor_loader(x, y, 8, shuffle=True, generator=gen, device=device)
        val = tensor_loader(x, y, 20, device=device)
        history = fit(
            model, train, optimizer, epochs=2, val_loader=val, device=device,
            scheduler=scheduler, seed=0, checkpoint_path=tmp_path / "ck.pt", grad_clip=1.0,
        )  # fmt: skip
        assert len(history["val_loss"]) == 2 and np.isfinite(history["val_loss"]).all()
        history = fit(
            model, train, optimizer, epochs=3, val_loader=val, device=device,
            scheduler=scheduler, seed=0, checkpoint_path=tmp_path / "ck.pt", resume=True,
        )  # fmt: skip
        assert len(history["val_loss"]) == 3  # resumed from the checkpoint of epoch 2


def test_dataloader_batches_moved_with_to_device_pass():
    images = np.random.default_rng(0).integers(0, 256, (20, 4, 4), dtype=np.uint8)
    labels = np.arange(20) % 3
    with strict_device() as device:
        model = nn.Sequential(nn.Flatten(), nn.Linear(16, 3)).to(device)
        loader = make_loader(images, labels, 5)
        for batch in loader:
            x, y = to_device(batch, device)
            F.cross_entropy(model(x), y).backward()
        x, y = next(iter(loader))
        with pytest.raises(RuntimeError, match=MISMATCH):
            model(x)  # a batch left on the host


def test_environment_variable_switches_the_mode_on():
    code = (
        "import coursekit.device as d, coursekit.strict_device as s; "
        "print(s.is_enabled(), d.pick_device())"
    )
    env = dict(os.environ, COURSE_STRICT_DEVICE="1")
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    assert out.stdout.split() == ["True", "cpu:0"]
