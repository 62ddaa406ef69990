"""Tests of coursekit.training on small synthetic problems (CPU, a few seconds in all)."""

from __future__ import annotations

import math

import matplotlib
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from coursekit import training
from coursekit.training import (
    HISTORY_KEYS,
    evaluate,
    fit,
    format_record,
    load_checkpoint,
    maybe_compile,
    plot_history,
    save_checkpoint,
    tensor_loader,
    to_device,
)

matplotlib.use("Agg")
CPU = torch.device("cpu")


@pytest.fixture(autouse=True)
def one_thread():
    # Tiny models: one thread is fastest and keeps results independent of the machine.
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def blobs(n=240, d=5, k=3, seed=0):
    """k Gaussian clusters in d dimensions: a problem a small MLP solves in a few epochs."""
    gen = torch.Generator().manual_seed(seed)
    centres = 3 * torch.randn(k, d, generator=gen)
    y = torch.arange(n) % k
    x = centres[y] + torch.randn(n, d, generator=gen)
    return x, y


def make_model(seed=0, dropout=0.0):
    gen = torch.Generator().manual_seed(seed)
    model = nn.Sequential(nn.Linear(5, 16), nn.ReLU(), nn.Dropout(dropout), nn.Linear(16, 3))
    for layer in model:
        if isinstance(layer, nn.Linear):
            nn.init.normal_(layer.weight, std=layer.weight.shape[1] ** -0.5, generator=gen)
            nn.init.zeros_(layer.bias)
    return model


def setup(seed=0, dropout=0.0, lr=0.1, schedule=False):
    x, y = blobs()
    gen = torch.Generator().manual_seed(seed)
    model = make_model(seed, dropout)
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=7, gamma=0.5) if schedule else None
    train = tensor_loader(x[:180], y[:180], 32, shuffle=True, generator=gen)
    val = tensor_loader(x[180:], y[180:], 64)
    return model, opt, sched, train, val


def flat_params(model):
    return torch.cat([p.detach().flatten() for p in model.parameters()])


def test_tensor_loader_batches_and_shuffles_by_generator():
    x = torch.arange(10.0)[:, None]
    y = torch.arange(10)
    batches = list(tensor_loader(x, y, 4))
    assert [len(b[1]) for b in batches] == [4, 4, 2]
    assert torch.equal(torch.cat([b[1] for b in batches]), y)  # no shuffle: original order
    assert [len(b[1]) for b in tensor_loader(x, y, 4, drop_last=True)] == [4, 4]

    def order(seed):
        loader = tensor_loader(x, y, 3, shuffle=True, generator=torch.Generator().manual_seed(seed))
        return [torch.cat([b[1] for b in loader]).tolist() for _ in range(2)]

    first, second = order(0)
    assert sorted(first) == list(range(10)) and first != second  # a new order every epoch
    assert order(0) == order(0) and order(0) != order(1)
    for xb, yb in tensor_loader(x, y, 3, shuffle=True, generator=torch.Generator()):
        assert torch.equal(xb[:, 0].long(), yb)  # inputs and targets stay paired


def test_tensor_loader_rejects_bad_input():
    with pytest.raises(ValueError, match="generator"):
        tensor_loader(torch.zeros(4, 1), torch.zeros(4), 2, shuffle=True)
    with pytest.raises(ValueError, match="examples"):
        tensor_loader(torch.zeros(4, 1), torch.zeros(3), 2)


def test_tensor_loader_pins_only_for_cuda():
    x, y = torch.zeros(4, 1), torch.zeros(4)
    assert not tensor_loader(x, y, 2, device="cpu").pin_memory
    assert tensor_loader(x, y, 2, device="cuda").pin_memory  # construction needs no GPU


def test_to_device_keeps_structure():
    batch = {"x": torch.ones(2), "pair": (torch.zeros(1), [torch.ones(1)]), "n": 3}
    moved = to_device(batch, CPU)
    assert isinstance(moved["pair"], tuple) and isinstance(moved["pair"][1], list)
    assert moved["n"] == 3 and torch.equal(moved["x"], batch["x"])


def test_fit_learns_and_fills_history():
    model, opt, _, train, val = setup()
    records = []
    history = fit(model, train, opt, epochs=5, val_loader=val, device=CPU, log=records.append)
    assert set(HISTORY_KEYS) <= set(history)
    for key in ("epoch", "train_loss", "train_acc", "val_loss", "val_acc", "lr", "time"):
        assert len(history[key]) == 5, key
    assert history["epoch"] == [1, 2, 3, 4, 5]
    assert len(history["step_loss"]) == len(history["step_lr"]) == 5 * 6  # 180 / 32 -> 6 batches
    assert history["train_loss"][-1] < 0.5 * history["train_loss"][0]
    assert history["val_acc"][-1] > 0.9
    assert len(records) == 5 and records[-1]["val_acc"] == history["val_acc"][-1]
    assert "val_acc" in format_record(records[-1])


def test_fit_train_loss_is_mean_of_step_losses():
    model, opt, _, train, _ = setup()
    history = fit(model, train, opt, epochs=2, device=CPU)
    assert history["train_loss"][1] == pytest.approx(sum(history["step_loss"][6:]) / 6)
    assert all(math.isnan(v) for v in history["val_loss"])


def test_evaluate_matches_a_direct_computation():
    model, _, _, _, _ = setup()
    x, y = blobs()
    model.train()
    got = evaluate(model, tensor_loader(x, y, 50), device=CPU)  # batches of unequal size
    with torch.no_grad():
        out = model(x)
    assert got["loss"] == pytest.approx(F.cross_entropy(out, y).item(), rel=1e-6)
    assert got["accuracy"] == pytest.approx((out.argmax(1) == y).float().mean().item())
    assert model.training  # the mode is restored


def test_evaluate_without_class_scores_gives_nan_accuracy():
    model = nn.Linear(5, 1)
    x = torch.randn(8, 5)
    loader = tensor_loader(x, torch.zeros(8, 1), 4)
    got = evaluate(model, loader, device=CPU, loss_fn=F.mse_loss)
    assert math.isnan(got["accuracy"]) and got["loss"] > 0


def test_fit_is_deterministic():
    runs = []
    for _ in range(2):
        model, opt, _, train, val = setup(dropout=0.2)
        history = fit(model, train, opt, epochs=3, val_loader=val, device=CPU, seed=7)
        runs.append((flat_params(model), history["step_loss"]))
    assert torch.equal(runs[0][0], runs[1][0])
    assert runs[0][1] == runs[1][1]


def test_fit_seed_leaves_the_global_generator_alone():
    model, opt, _, train, _ = setup(dropout=0.5)
    state = torch.get_rng_state()
    fit(model, train, opt, epochs=1, device=CPU, seed=3)
    assert torch.equal(torch.get_rng_state(), state)


@pytest.mark.parametrize("dropout", [0.0, 0.3])
def test_resume_continues_exactly(tmp_path, dropout):
    """Two epochs, a checkpoint, fresh objects, two more epochs == four epochs in one go."""
    model, opt, sched, train, val = setup(dropout=dropout, schedule=True)
    straight = fit(model, train, opt, epochs=4, val_loader=val, device=CPU, scheduler=sched, seed=1)
    expected = flat_params(model)

    path = tmp_path / "run" / "last.pt"
    model, opt, sched, train, val = setup(dropout=dropout, schedule=True)
    fit(
        model,
        train,
        opt,
        epochs=2,
        val_loader=val,
        device=CPU,
        scheduler=sched,
        seed=1,
        checkpoint_path=path,
    )
    model, opt, sched, train, val = setup(seed=99, dropout=dropout, schedule=True)  # all fresh
    resumed = fit(
        model,
        train,
        opt,
        epochs=4,
        val_loader=val,
        device=CPU,
        scheduler=sched,
        seed=1,
        checkpoint_path=path,
        resume=True,
    )
    assert torch.equal(flat_params(model), expected)
    assert resumed["step_loss"] == straight["step_loss"]
    assert resumed["epoch"] == [1, 2, 3, 4]
    assert opt.param_groups[0]["lr"] == pytest.approx(0.1 * 0.5**3)  # 24 steps, halved every 7
    assert sorted(p.name for p in path.parent.iterdir()) == ["last.pt"]  # no temporary files


def test_checkpoint_round_trip(tmp_path):
    model, opt, sched, train, _ = setup(schedule=True)
    fit(model, train, opt, epochs=1, device=CPU, scheduler=sched)
    gen = torch.Generator().manual_seed(5)
    path = save_checkpoint(
        tmp_path / "c.pt",
        model=model,
        optimizer=opt,
        scheduler=sched,
        generator=gen,
        epoch=1,
        history={"epoch": [1]},
    )
    expected_next = torch.rand(3, generator=gen)

    model2, opt2, sched2, _, _ = setup(seed=3, schedule=True)
    gen2 = torch.Generator()
    state = load_checkpoint(path, model=model2, optimizer=opt2, scheduler=sched2, generator=gen2)
    assert state["epoch"] == 1 and state["history"] == {"epoch": [1]}
    assert torch.equal(flat_params(model2), flat_params(model))
    assert sched2.state_dict()["last_epoch"] == sched.state_dict()["last_epoch"]
    assert torch.equal(torch.rand(3, generator=gen2), expected_next)
    buf = opt2.state[opt2.param_groups[0]["params"][0]]["momentum_buffer"]
    assert torch.equal(buf, opt.state[opt.param_groups[0]["params"][0]]["momentum_buffer"])


def test_fit_stops_when_the_loss_diverges():
    model, _, _, train, _ = setup()
    opt = torch.optim.SGD(model.parameters(), lr=1e6)
    history = fit(model, train, opt, epochs=20, device=CPU)
    assert history.get("diverged") is True
    assert len(history["epoch"]) < 20


def test_fit_grad_clip_bounds_the_update():
    model, _, _, train, _ = setup()
    before = flat_params(model)
    opt = torch.optim.SGD(model.parameters(), lr=1.0)
    one_batch = [next(iter(train))]
    fit(model, one_batch, opt, epochs=1, device=CPU, grad_clip=0.01)
    assert (flat_params(model) - before).norm() <= 0.01 + 1e-6


def test_plateau_scheduler_and_epoch_interval():
    model, opt, _, train, val = setup()
    plateau = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, patience=0, threshold=10.0)
    history = fit(model, train, opt, epochs=3, val_loader=val, device=CPU, scheduler=plateau)
    assert history["lr"][-1] < 0.1  # a threshold of 1000% is never met: the rate is cut

    model, opt, _, train, _ = setup()
    step = torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
    history = fit(
        model, train, opt, epochs=3, device=CPU, scheduler=step, scheduler_interval="epoch"
    )
    assert history["lr"] == pytest.approx([0.05, 0.025, 0.0125])
    with pytest.raises(ValueError, match="scheduler_interval"):
        fit(model, train, opt, epochs=1, device=CPU, scheduler_interval="batch")


def test_cpu_runs_in_float32_without_autocast():
    seen = []
    model = make_model()
    model[0].register_forward_hook(lambda mod, inp, out: seen.append(out.dtype))
    _, _, _, train, _ = setup()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    fit(model, train, opt, epochs=1, device=CPU, amp=True)
    assert set(seen) == {torch.float32}
    assert training.autocast_dtype(CPU) is None


def test_maybe_compile_is_a_no_op_on_cpu():
    model = make_model()
    assert maybe_compile(model) is model
    assert maybe_compile(model, enabled=False) is model


def test_plot_history_draws_both_panels():
    model, opt, _, train, val = setup()
    history = fit(model, train, opt, epochs=2, val_loader=val, device=CPU)
    ax_loss, ax_acc = plot_history(history, label="run")
    assert ax_loss.get_xlabel() == "epoch" and ax_acc.get_ylabel() == "accuracy"
    assert len(ax_loss.lines) == 3 and len(ax_acc.lines) == 2
    import matplotlib.pyplot as plt

    plt.close("all")
