"""The CIFAR-10 speed run's pieces (bench/cifar10_speedrun.py), on synthetic data on the CPU."""

from __future__ import annotations

import sys
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))

from cifar10_speedrun import augment, train, whitening_filters  # noqa: E402


def _correlated_images(n=400, seed=0):
    g = torch.Generator().manual_seed(seed)
    base = torch.randn(n, 3, 8, 8, generator=g)
    # neighbouring pixels and channels share a component: patches are strongly correlated
    smooth = F.avg_pool2d(F.pad(base, (1, 1, 1, 1), mode="replicate"), 3, stride=1)
    return smooth + 0.3 * smooth.mean(dim=1, keepdim=True) + 0.05 * base


def test_whitening_filters_decorrelate_patches():
    x = _correlated_images()
    w = whitening_filters(x, patch=2, eps=1e-8)
    assert w.shape == (24, 3, 2, 2)
    torch.testing.assert_close(w[12:], -w[:12])
    out = F.conv2d(x.double(), w[:12].double())  # (N, 12, 7, 7): one response per direction
    resp = out.permute(0, 2, 3, 1).reshape(-1, 12)
    cov = torch.cov(resp.T)
    torch.testing.assert_close(cov, torch.eye(12, dtype=cov.dtype), atol=1e-6, rtol=0)
    raw = x.unfold(2, 2, 1).unfold(3, 2, 1).permute(0, 2, 3, 1, 4, 5).reshape(-1, 12)
    off_diagonal = torch.corrcoef(raw.T.double()) - torch.eye(12, dtype=torch.float64)
    assert off_diagonal.abs().max() > 0.5  # the input really was correlated


def test_augment_flips_and_translates_each_example():
    g = torch.Generator().manual_seed(1)
    x = torch.arange(2 * 3 * 6 * 6, dtype=torch.float32).reshape(2, 3, 6, 6)
    out = augment(x, g, pad=2)
    assert out.shape == x.shape
    for n in range(2):
        padded = [F.pad(v[None], (2, 2, 2, 2), mode="reflect")[0] for v in (x[n], x[n].flip(-1))]
        crops = [
            p[:, dy : dy + 6, dx : dx + 6] for p in padded for dy in range(5) for dx in range(5)
        ]
        assert any(torch.equal(out[n], c) for c in crops)


def test_train_runs_on_cpu_and_is_deterministic():
    g = torch.Generator().manual_seed(2)
    x = torch.randn(192, 3, 32, 32, generator=g)
    y = torch.randint(0, 10, (192,), generator=g)
    x[:, 0] += y[:, None, None].float() / 3  # a learnable signal
    runs = [
        train(x, y, x, y, epochs=2, batch_size=64, widths=(8, 16, 16), seed=3, log=lambda *_: None)
        for _ in range(2)
    ]
    assert [r["final_accuracy"] for r in runs][0] == runs[1]["final_accuracy"]
    assert len(runs[0]["epochs"]) == 2 and runs[0]["epochs"][-1]["seconds"] > 0
