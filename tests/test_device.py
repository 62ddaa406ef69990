"""The GPU-only code paths of coursekit, checked on the CPU: mixed-precision dtype, torch.compile
guard and fallback, worker generators, pinning, skipped fp16 steps, RNG forking, float32
validation (issue 20)."""

from __future__ import annotations

import inspect
import warnings

import numpy as np
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from coursekit import device as cdevice
from coursekit import training
from coursekit.data import make_loader
from coursekit.training import evaluate, fit, fork_all_rng, maybe_compile, tensor_loader

CUDA = torch.device("cuda")


def _bf16(native: bool):
    def is_bf16_supported(including_emulation: bool = True) -> bool:
        return native or including_emulation  # a T4 / V100 emulates bf16

    return is_bf16_supported


@pytest.mark.parametrize(("native", "expected"), [(True, torch.bfloat16), (False, torch.float16)])
def test_autocast_dtype_ignores_emulated_bf16(monkeypatch, native, expected):
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", _bf16(native))
    assert cdevice.autocast_dtype(CUDA) == expected
    assert cdevice.autocast_dtype(torch.device("cpu")) is None


@pytest.mark.parametrize(
    ("capability", "expected"), [((7, 5), torch.float16), ((8, 0), torch.bfloat16)]
)
def test_autocast_dtype_without_the_emulation_argument(monkeypatch, capability, expected):
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda: True)  # older PyTorch
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None: capability)
    assert cdevice.autocast_dtype(CUDA) == expected


@pytest.mark.parametrize(
    ("capability", "platform", "why"),
    [((6, 0), "linux", "compute capability"), ((8, 0), "win32", "Windows")],
)
def test_maybe_compile_skips_gpus_without_triton(monkeypatch, capability, platform, why):
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None: capability)
    monkeypatch.setattr(training.sys, "platform", platform)
    assert why in training._triton_problem(CUDA)
    model = nn.Linear(2, 2)
    monkeypatch.setattr(training, "_device_of", lambda m: CUDA)
    with pytest.warns(UserWarning, match="not compiling"):
        assert maybe_compile(model) is model


def test_maybe_compile_falls_back_to_eager_when_the_first_call_fails(monkeypatch):
    class Broken(nn.Module):
        def forward(self, x):
            raise RuntimeError("no working C compiler")

    monkeypatch.setattr(torch, "compile", lambda model: Broken())
    model = nn.Linear(3, 2)
    wrapped = maybe_compile(model, enabled=True)
    x = torch.randn(4, 3)
    with pytest.warns(UserWarning, match="running eagerly"):
        assert torch.equal(wrapped(x), model(x))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # later calls: eager, silently
        assert torch.equal(wrapped(x), model(x))
    assert training._unwrap(wrapped) is model
    assert maybe_compile(model) is model  # on the CPU: unchanged, no warning


def test_tensor_loader_pins_host_tensors_only():
    x, y = torch.zeros(4, 1), torch.zeros(4)
    assert tensor_loader(x, y, 2, device="cuda").pin_memory
    # Tensors already off the host (on the GPU; "meta" stands in for it here) cannot be pinned.
    assert not tensor_loader(x.to("meta"), y.to("meta"), 2, device="cuda").pin_memory


class AddNoise:
    """A transform that draws from an explicit generator (picklable, for worker processes)."""

    def __init__(self, gen: torch.Generator):
        self.gen = gen

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return x + torch.rand((), generator=self.gen)


def _noise(seed: int, **kwargs) -> list[np.ndarray]:
    images = np.zeros((8, 2, 2), dtype=np.uint8)
    gen = torch.Generator().manual_seed(seed)
    loader = make_loader(
        images, np.arange(8), 2, shuffle=True, generator=torch.Generator().manual_seed(1),
        transform=AddNoise(gen), transform_generator=gen, **kwargs,
    )  # fmt: skip
    return [x[:, 0, 0, 0].numpy() for _ in range(2) for x, _ in loader]  # two epochs


def test_make_loader_gives_each_worker_its_own_generator():
    draws = _noise(0, num_workers=2)
    # Batches 0 and 1 come from workers 0 and 1: they used to draw the same numbers.
    flat = np.concatenate(draws)
    assert len(np.unique(flat)) == len(flat)  # all 32 draws differ: workers and epochs
    rerun = _noise(0, num_workers=2)
    assert all(np.array_equal(a, b) for a, b in zip(draws, rerun, strict=True))
    other = _noise(5, num_workers=2)
    assert not np.array_equal(draws[0], other[0])


def test_make_loader_pin_and_persistent_workers():
    images, labels = np.zeros((4, 2, 2), dtype=np.uint8), np.arange(4)
    loader = make_loader(images, labels, 2, num_workers=1, persistent_workers=True)
    assert loader.persistent_workers and not loader.pin_memory
    assert make_loader(images, labels, 2, pin_memory=True).pin_memory
    assert not make_loader(images, labels, 2, persistent_workers=True).persistent_workers


def _blobs(n: int = 32) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(0)
    return torch.randn(n, 4, generator=gen), torch.randint(0, 3, (n,), generator=gen)


def test_fp16_scheduler_steps_only_when_the_optimizer_does(monkeypatch):
    # The fp16 + GradScaler path on the CPU: every step overflows, so GradScaler skips it.
    monkeypatch.setattr(training, "autocast_dtype", lambda device: torch.float16)
    model = nn.Linear(4, 3)
    before = [p.detach().clone() for p in model.parameters()]
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1.0 / (step + 1))
    x, y = _blobs()

    def overflow(out, target):
        return F.cross_entropy(out.float(), target) * float("inf")

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "lr_scheduler.step() before optimizer.step()"
        fit(model, tensor_loader(x, y, 8), optimizer, epochs=1, device=torch.device("cpu"),
            loss_fn=overflow, scheduler=scheduler)  # fmt: skip
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters(), strict=True))
    assert scheduler.last_epoch == 0  # no step was taken, so the schedule did not advance

    stepped = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1.0)
    fit(model, tensor_loader(x, y, 8), optimizer, epochs=1, device=torch.device("cpu"),
        scheduler=stepped)  # fmt: skip
    assert stepped.last_epoch == 4


def test_fork_all_rng_covers_every_cuda_device_and_mps(monkeypatch):
    seen = {}
    real_fork_rng = torch.random.fork_rng

    def fork_rng(devices):
        seen["devices"] = list(devices)
        return real_fork_rng(devices=[])

    mps_state = {"state": torch.tensor([1, 2, 3], dtype=torch.uint8)}
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 3)
    monkeypatch.setattr(torch.random, "fork_rng", fork_rng)
    monkeypatch.setattr(training, "_mps_available", lambda: True)
    monkeypatch.setattr(torch.mps, "get_rng_state", lambda: mps_state["state"].clone())
    monkeypatch.setattr(torch.mps, "set_rng_state", lambda s: mps_state.update(state=s))
    cpu_before = torch.get_rng_state()
    with fork_all_rng():
        torch.manual_seed(123)
        torch.rand(3)
        mps_state["state"] = torch.zeros(3, dtype=torch.uint8)  # what manual_seed does to MPS
    assert seen["devices"] == [0, 1, 2]
    assert torch.equal(mps_state["state"], torch.tensor([1, 2, 3], dtype=torch.uint8))
    assert torch.equal(torch.get_rng_state(), cpu_before)


def test_fork_all_rng_on_the_cpu():
    before = torch.get_rng_state()
    with fork_all_rng():
        torch.manual_seed(0)
    assert torch.equal(torch.get_rng_state(), before)
    states = training.get_rng_states()
    assert set(states) == {"cpu"}
    training.set_rng_states(states)


def test_validation_runs_in_float32_by_default(monkeypatch):
    assert inspect.signature(evaluate).parameters["amp"].default is False
    calls = []
    real = training.evaluate

    def spy(*args, **kwargs):
        calls.append(kwargs["amp"])
        return real(*args, **kwargs)

    monkeypatch.setattr(training, "evaluate", spy)
    x, y = _blobs()
    for eval_amp in (False, True):
        model = nn.Linear(4, 3)
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        fit(model, tensor_loader(x, y, 8), opt, epochs=1, val_loader=tensor_loader(x, y, 16),
            device=torch.device("cpu"), amp=True, eval_amp=eval_amp)  # fmt: skip
    assert calls == [False, True]
