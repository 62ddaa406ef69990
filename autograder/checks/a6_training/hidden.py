"""Hidden checks of A6, run only by official grading: other sizes, seeds and numbers of classes;
a model already in evaluation mode; tolerances at the edge; the other direction of the search,
tied scores and narrow ranges; border bands of other widths and fewer trials than ``top_k``;
several steps with hooks, Tanh layers only; two consecutive steps with Adam; float32 heads; a
head frozen beforehand; deeper layouts and a decay of 1."""

from __future__ import annotations

import numpy as np

from autograder.checking import CheckFailure, check, expect, expect_close

from . import capstone
from .public import (
    BORDER_SPACE,
    SPACE,
    bn_net_arrays,
    bn_net_eval_loss,
    check_border,
    check_check_initial_loss,
    check_freeze,
    check_groups,
    check_initial_loss_value,
    check_layer_stats,
    check_log_uniform,
    check_new_head,
    check_overfit,
    check_search,
    check_update_ratios,
    log_uniform_samples,
    make_trials,
    run_initial_loss,
    seed_of,
)


@check("initial_loss", "initial_loss: eval-mode model, other sizes; 1-element batches")
def initial_loss_hidden(s, rng):
    check_initial_loss_value(s, rng, 50, 9, 5, 7, train=False)
    check_initial_loss_value(s, rng, 64, 3, 16, 2, train=True)
    a = bn_net_arrays(rng, 4, 6, 3)
    x, y = rng.standard_normal((1, 4)), rng.integers(0, 3, 1)
    got = run_initial_loss(s, a, x, y, True)
    expect_close(got["out"], bn_net_eval_loss(a, x, y), "initial_loss on a batch of one example")


@check("initial_loss", "check_initial_loss: other C and tolerances")
def initial_loss_compare_hidden(s, rng):
    check_check_initial_loss(s, rng, 3, 0.5, 1.0)
    check_check_initial_loss(s, rng, 100, 0.02, 0.05)
    check_check_initial_loss(s, rng, 7, 0.3, 6.0)


@check("overfit_tiny", "overfit_tiny_sample: other sizes and learning rate", timeout=10.0)
def overfit_hidden(s, rng):
    check_overfit(s, rng, 10, 24, 48, 8, 80, 0.02)
    check_overfit(s, rng, 5, 8, 32, 3, 40, 0.03)


@check("log_uniform", "sample_log_uniform: other ranges, a single sample, low == high, errors")
def log_uniform_hidden(s, rng):
    check_log_uniform(s, rng, 3e-7, 2e-3, 20_000)
    check_log_uniform(s, rng, 0.5, 2.0, 20_000)
    got = log_uniform_samples(s, 1e-3, 1e-1, None, seed_of(rng))
    expect(
        got["kinds"] == ["float"] and 1e-3 <= got["outputs"][0] <= 1e-1,
        f"sample_log_uniform(1e-3, 1e-1, None, rng): returned a {got['kinds'][0]} "
        f"{got['outputs'][0]!r}, expected a Python float in [1e-3, 1e-1]",
    )
    same = np.asarray(log_uniform_samples(s, 0.01, 0.01, 5, seed_of(rng))["outputs"][0])
    expect_close(same, np.full(5, 0.01), "sample_log_uniform(0.01, 0.01, 5, rng)", rtol=1e-12)
    for low, high in ((0.0, 1.0), (-1.0, 1.0), (1.0, 0.1)):
        try:
            out = log_uniform_samples(s, low, high, 3, seed_of(rng))
        except Exception as err:  # noqa: BLE001 -- StudentError carries the student's exception
            kind = getattr(err, "error", {}).get("type")
            expect(
                kind == "ValueError",
                f"sample_log_uniform({low}, {high}, 3, rng) raised {kind}, expected ValueError",
            )
        else:
            expect(
                False,
                f"sample_log_uniform({low}, {high}, 3, rng) returned {out['outputs'][0]!r}, "
                "expected a ValueError",
            )


@check("random_search", "random_search: ties, narrow ranges, one trial, maximising")
def random_search_hidden(s, rng):
    check_search(s, rng, SPACE, 60, False, ties=True)
    check_search(s, rng, SPACE, 60, True, ties=True)
    narrow = {
        "a": ("linear", -3.0, -2.0),
        "b": ("choice", ["x", "y"]),
        "c": ("log", 2.0, 2.5),
        "d": ("choice", [7]),
    }
    check_search(s, rng, narrow, 25, False)
    check_search(s, rng, narrow, 1, True)


@check("random_search", "random_search: draws over 2000 trials, another space order")
def random_search_draws_hidden(s, rng):
    space = dict(reversed(list(SPACE.items())))
    got = check_search(s, rng, space, 2000, False)
    lr = np.log10([c["params"]["lr"] for c in got["calls"]])
    expect(
        np.mean(lr < -2.0) > 0.4,
        f"random_search: {np.mean(lr < -2.0):.2f} of the lr values below 1e-2 in a "
        "('log', 1e-4, 1.0) range, expected about 0.5",
        "use sample_log_uniform for 'log' ranges",
    )


@check("border_warnings", "border_warnings: other bands, fewer trials than top_k, no warning")
def border_hidden(s, rng):
    pos = {"lr": [0.22, 0.1, 0.05], "weight_decay": [0.8, 0.9, 0.85, 0.1], "dropout": [0.7, 0.8]}
    trials = make_trials(rng, BORDER_SPACE, pos, 5)
    check_border(s, trials, BORDER_SPACE, 3, 0.25, " (band 0.25)")
    check_border(s, trials, BORDER_SPACE, 2, 0.3, " (band 0.3)")
    check_border(s, trials, BORDER_SPACE, 4, 0.1, " (no warning expected)")
    pos = {"lr": [0.01, 0.02], "dropout": [0.99, 0.98]}
    check_border(s, make_trials(rng, BORDER_SPACE, pos, 2), BORDER_SPACE, 5, 0.1, " (2 trials)")
    space = {"x": ("linear", -4.0, 4.0), "y": ("log", 1.0, 1e4)}
    pos = {"x": [0.03, 0.0, 0.09], "y": [0.96, 1.0, 0.91]}
    check_border(s, make_trials(rng, space, pos, 4), space, 3, 0.1, " (negative linear range)")


@check("layer_stats", "LayerStats: three steps, Tanh only, ReLU only, other sizes")
def layer_stats_hidden(s, rng):
    check_layer_stats(s, rng, 5, 16, 3, 24, 3, ("Tanh",))
    check_layer_stats(s, rng, 9, 8, 5, 7, 1, ("ReLU",))


@check("layer_stats", "LayerStats: watching the Linear layers (named by named_modules())")
def layer_stats_linear(s, rng):
    check_layer_stats(s, rng, 6, 10, 4, 12, 2, ("Linear",))


@check("update_ratio", "update_ratios: two consecutive steps with Adam; plain SGD")
def update_ratio_hidden(s, rng):
    check_update_ratios(s, rng, {"kind": "adam", "lr": 1e-2}, steps=2, d=5, h=7, c=3, n=9)
    check_update_ratios(s, rng, {"kind": "sgd", "lr": 0.5}, steps=1, d=8, h=4, c=5, n=20)
    check_update_ratios(s, rng, {"kind": "adamw", "lr": 3e-3, "weight_decay": 0.1}, steps=2, n=4)


@check("new_head", "new_head: float32, more classes, another width")
def new_head_hidden(s, rng):
    check_new_head(s, rng, 4, 900, 10, 2, "float32")
    check_new_head(s, rng, 3, 300, 2, 12)


@check("freeze_encoder", "freeze_encoder: a head frozen beforehand is unfrozen")
def freeze_hidden(s, rng):
    check_freeze(s, rng, head_frozen=True)


@check("param_groups", "discriminative_param_groups: deeper layouts, decay 1, one block")
def param_groups_hidden(s, rng):
    check_groups(s, ["linear", "relu", "linear", "relu", "block", "dropout", "linear"], 0.3, 0.25)
    check_groups(s, ["block", "block", "block", "linear"], 2e-3, 1.0)
    check_groups(s, ["flatten", "linear"], 0.05, 0.5)
    lr = float(rng.uniform(1e-4, 1e-2))
    decay = float(rng.uniform(0.2, 0.9))
    check_groups(s, ["relu", "block", "relu", "block", "relu", "block", "linear"], lr, decay)


# -- the capstone: a classifier, not a memory of the test images -------------------------------


def shift_one_pixel(images: np.ndarray, rng) -> np.ndarray:
    """Each image moved by one pixel up, down, left or right (drawn per image), zero-filled.

    Shape: (N, 28, 28) uint8 -> (N, 28, 28) uint8."""
    out = np.zeros_like(images)
    way = rng.integers(0, 4, size=len(images))
    out[way == 0, :-1, :] = images[way == 0, 1:, :]  # up
    out[way == 1, 1:, :] = images[way == 1, :-1, :]  # down
    out[way == 2, :, :-1] = images[way == 2, :, 1:]  # left
    out[way == 3, :, 1:] = images[way == 3, :, :-1]  # right
    return out


@check("capstone", "accuracy on test images shifted by one pixel", weight=0.5, timeout=60.0)
def capstone_shifted(s, rng):
    """A classifier, not a memory of the test images: one-pixel shifts barely matter to it."""
    images, labels = capstone._test_split()
    pick = rng.choice(len(labels), size=capstone.SHIFTED_N, replace=False)
    shifted = shift_one_pixel(images[pick], rng)
    logits = capstone.logits_of(s, capstone.submitted_state(s), shifted)
    acc = float((logits.argmax(axis=1) == labels[pick]).mean())
    if acc >= capstone.SHIFTED_MIN:
        return
    # The translation hint only for a model that classifies the same images unshifted well.
    plain = capstone.logits_of(s, capstone.submitted_state(s), images[pick])
    unshifted = float((plain.argmax(axis=1) == labels[pick]).mean())
    raise CheckFailure(
        f"accuracy {acc:.2%} on test images shifted by one pixel ({unshifted:.2%} on the same "
        f"images unshifted); this check needs {capstone.SHIFTED_MIN:.0%}",
        "augment with small translations while training"
        if unshifted >= capstone.SHIFTED_MIN
        else None,
    )


@check("capstone", "each image classified on its own (batches of one)", weight=0.5, timeout=30.0)
def capstone_batch_independent(s, rng):
    """Evaluation classifies each image on its own: batches of one give the same logits."""
    images, _ = capstone._test_split()
    pick = images[rng.choice(len(images), size=32, replace=False)]
    state = capstone.submitted_state(s)
    whole = capstone.logits_of(s, state, pick, batch_size=32)
    alone = capstone.logits_of(s, state, pick, batch_size=1)
    expect(
        np.allclose(whole, alone, rtol=1e-3, atol=1e-4),
        "the logits of an image depend on the other images of its batch (largest difference "
        f"{float(np.abs(whole - alone).max()):.3g})",
        hint="in evaluation mode batch norm must use its running statistics: no batch "
        "statistics, no layer that mixes examples",
    )
