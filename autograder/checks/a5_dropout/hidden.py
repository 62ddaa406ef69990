"""Hidden checks of A5, run only by official grading: other probabilities (p = 0.05 to 1),
shapes (4-D batches, non-square images), fill modes, crop sizes and Beta parameters; edge cases
(p = 1, patience 0, nan losses, a step of exactly min_delta, eps = 0 and 1, confidences on the
bin edges, scores of 1000); and no state kept between calls (the backward pass of an older
forward pass, generators that advance)."""

from __future__ import annotations

import math

import numpy as np

from autograder.checking import CheckFailure, expect

from .oracles import ece_mistakes, ece_oracle
from .public import (
    as_array,
    check,
    check_beta,
    check_cutout,
    check_dropout_backward,
    check_dropout_sample,
    check_dropout_training,
    check_early_stopping,
    check_ece,
    check_ensemble,
    check_hflip,
    check_jitter,
    check_l2,
    check_mapping,
    check_mc,
    check_mixup_batch_results,
    check_mixup_distribution,
    check_mixup_once,
    check_mixup_step,
    check_noise,
    check_random_crop,
    check_random_flip,
    check_smooth,
    check_smoothed_ce,
    check_torch_dropout,
    close,
    curve,
    expect_seeded,
    expect_value_error,
    module_seeded,
    noise_images,
    one_hot,
    rng_handle,
    run,
    run_module,
    seed_of,
    signed_inputs,
    torch_softmax,
    unpack,
)

# -- dropout_forward ----------------------------------------------------------------------------


@check(
    "dropout_forward",
    "training mode with p = 0.5 on a (40, 3, 10, 10) batch, p = 0.85 on (300, 200) and p = 0.05 "
    "on (500, 300): zeros or x / (1 - p), dropped fractions within their bounds, independent "
    "masks",
)
def dropout_forward_other_p(s, rng):
    check_dropout_training(s, rng, (40, 3, 10, 10), 0.5)
    check_dropout_training(s, rng, (300, 200), 0.85)
    check_dropout_training(s, rng, (500, 300), 0.05)


@check(
    "dropout_forward",
    "p = 1 drops everything (zeros, no nan); p = -0.1 and p = 1.5 raise ValueError; two calls "
    "with one generator draw different masks",
)
def dropout_forward_edges(s, rng):
    x = signed_inputs(rng, (30, 20))
    gen = rng_handle(s, seed_of(rng))
    what = "dropout_forward(x, p=1.0, training=True, rng)"
    out, _ = unpack(
        run(what, lambda: s.call("dropout_forward", x, 1.0, True, gen)), ("out", "cache"), what
    )
    close(
        out,
        np.zeros_like(x),
        f"output of {what}",
        "with p = 1 every value is dropped: return zeros without dividing by 1 - p = 0",
        atol=0.0,
    )
    for p in (-0.1, 1.5):
        expect_value_error(
            lambda p=p: s.call("dropout_forward", x, p, True, gen),
            f"dropout_forward(x, p={p}, training=True, rng)",
            "p is a probability: raise ValueError when it is not in [0, 1]",
        )
    what = "dropout_forward(x, p=0.5, training=True, rng), called twice with the same generator"
    first = as_array(run(what, lambda: s.call("dropout_forward", x, 0.5, True, gen))[0], what)
    second = as_array(run(what, lambda: s.call("dropout_forward", x, 0.5, True, gen))[0], what)
    expect(
        not np.array_equal(first, second),
        f"{what}: both calls used the same mask",
        "draw from the rng you are given at every call; do not re-create a generator inside",
    )


# -- dropout_backward ---------------------------------------------------------------------------


@check(
    "dropout_backward",
    "p = 0.75 on a (30, 2, 8, 9) batch, and p = 1 (the gradient is zero everywhere)",
)
def dropout_backward_other_p(s, rng):
    check_dropout_backward(s, rng, (30, 2, 8, 9), 0.75)
    x = signed_inputs(rng, (10, 12))
    dout = rng.standard_normal(x.shape)
    gen = rng_handle(s, seed_of(rng))
    fwd = "dropout_forward(x, p=1.0, training=True, rng)"
    _, cache = unpack(
        run(fwd, lambda: s.call("dropout_forward", x, 1.0, True, gen)), ("out", "cache"), fwd
    )
    dx = run("dropout_backward(dout, cache)", lambda: s.call("dropout_backward", dout, cache))
    close(dx, np.zeros_like(dout), f"dx of dropout_backward(dout, cache) after {fwd}", atol=0.0)


@check(
    "dropout_backward",
    "two forward passes, then the backward pass of the FIRST one: it uses the first pass's mask "
    "(everything it needs is in its own cache, nothing in a global variable)",
)
def dropout_backward_old_cache(s, rng):
    x = signed_inputs(rng, (40, 50))
    dout = rng.standard_normal(x.shape)
    gen = rng_handle(s, seed_of(rng))
    fwd = "dropout_forward(x, p=0.5, training=True, rng)"
    out1, cache1 = unpack(
        run(fwd, lambda: s.call("dropout_forward", x, 0.5, True, gen)), ("out", "cache"), fwd
    )
    run(fwd, lambda: s.call("dropout_forward", x, 0.5, True, gen))
    keep = check_dropout_sample(out1, x, 0.5, fwd)
    dx = run("dropout_backward(dout, cache)", lambda: s.call("dropout_backward", dout, cache1))
    close(
        dx,
        dout * keep / 0.5,
        "dx of dropout_backward(dout, cache of the first pass) after a second forward pass",
        "keep the mask in the cache that the forward pass returns, not in a global variable",
        rtol=1e-12,
        atol=0.0,
    )


# -- mc_dropout ---------------------------------------------------------------------------------


@check(
    "mc_dropout",
    "mc_dropout_predict with p = 0.2 and T = 4000 on another network (3 inputs, 8 hidden units, "
    "4 classes): mean and spread agree with the exact values",
)
def mc_dropout_other(s, rng):
    check_mc(s, rng, (4, 3), 8, 4, 0.2, 4000)


@check(
    "mc_dropout",
    "softmax and ensemble_average with scores of about +-1000 (stable, no nan), an ensemble of "
    "one member; mc_dropout_predict is reproducible from the seed",
)
def mc_dropout_stability(s, rng):
    big = 1000.0 * rng.standard_normal((3, 4, 5))
    what = "softmax(scores of about +-1000)"
    close(
        run(what, lambda: s.call("softmax", big[0])),
        torch_softmax(big[0]),
        what,
        "subtract the maximum of each row before np.exp",
        rtol=1e-9,
        atol=1e-300,
    )
    check_ensemble(s, big, " (scores of about +-1000)")
    check_ensemble(s, rng.standard_normal((1, 6, 3)), " (one member)")
    params = {
        "W1": rng.standard_normal((6, 3)),
        "b1": np.zeros(6),
        "W2": rng.standard_normal((2, 6)),
        "b2": np.zeros(2),
    }
    x = rng.standard_normal((4, 3))
    expect_seeded(s, "mc_dropout_predict", [x, params, 0.5, 30], {}, rng, compare=lambda o: o[0])


# -- l2_penalty ---------------------------------------------------------------------------------


@check(
    "l2_penalty",
    "a convolutional weight (4, 3, 3, 3), other names ('W_out', 'bias_out', 'gamma'), "
    "weight_decay = 5e-4 and 0",
)
def l2_other(s, rng):
    params = {
        "W_conv": rng.standard_normal((4, 3, 3, 3)),
        "b_conv": rng.standard_normal(4),
        "gamma": rng.uniform(0.5, 2.0, 4),
        "W_out": rng.standard_normal((2, 36)),
        "bias_out": rng.standard_normal(2),
    }
    check_l2(s, params, 5e-4)
    check_l2(s, params, 0.0)


# -- early_stopping -----------------------------------------------------------------------------


@check(
    "early_stopping",
    "patience 0 (stop at the first epoch without improvement) and an improvement of exactly "
    "min_delta, which does not count",
)
def early_stopping_edges(s, rng):
    check_early_stopping(
        s, rng, {"patience": 0, "min_delta": 0.0, "mode": "min"}, [1.0, 0.5, 0.25, 0.25, 0.125]
    )
    values = [1.0, 0.75, 0.5, 0.375, 0.25, 0.25, 0.125, 0.0625, 0.0]
    check_early_stopping(s, rng, {"patience": 3, "min_delta": 0.125, "mode": "min"}, values)
    check_early_stopping(
        s,
        rng,
        {"patience": 2, "min_delta": 0.25, "mode": "max"},
        [0.0, 0.25, 0.5, 0.75, 0.875, 1.0, 1.5],
    )


@check(
    "early_stopping",
    "a nan loss never improves; a new tracker starts at best_value inf (or -inf), best_epoch -1, "
    "best_params None, bad_epochs 0, should_stop False; an unknown mode or a negative patience or "
    "min_delta raises ValueError",
)
def early_stopping_nan_and_init(s, rng):
    values = [0.5, float("nan"), 0.25, float("nan"), float("nan"), 0.375]
    check_early_stopping(
        s, rng, {"patience": 2, "min_delta": 0.0, "mode": "min"}, values, " (nan losses)"
    )
    for mode, start in (("min", math.inf), ("max", -math.inf)):
        kwargs = {"patience": 4, "min_delta": 0.01, "mode": mode}
        what = f"EarlyStopping(patience=4, min_delta=0.01, mode={mode!r}) before any step"
        got = run(what, lambda kw=kwargs: s.probe("a5_dropout.early_stopping_initial", kw))
        wanted = {
            "best_value": start,
            "best_epoch": -1,
            "best_params": None,
            "bad_epochs": 0,
            "should_stop": False,
        }
        for name, value in wanted.items():
            have = got.get(name)
            ok = (have is None) if value is None else (not isinstance(have, dict) and have == value)
            if not ok:
                raise CheckFailure(f"{what}: {name} is {have!r}, expected {value!r}")
    for kwargs in ({"mode": "median"}, {"patience": -1}, {"min_delta": -0.01}):
        shown = ", ".join(f"{k}={v!r}" for k, v in kwargs.items())
        expect_value_error(
            lambda kw=kwargs: s.call("EarlyStopping", **kw), f"EarlyStopping({shown})"
        )


@check(
    "early_stopping",
    "mode 'max' with patience 5 and min_delta 2/64 on a long noisy curve",
)
def early_stopping_long(s, rng):
    check_early_stopping(
        s, rng, {"patience": 5, "min_delta": 2.0 / 64.0, "mode": "max"}, curve(rng, 60, "max")
    )


# -- flip_crop ----------------------------------------------------------------------------------


@check(
    "flip_crop",
    "random_crop with fill 'edge', 'reflect', 'symmetric' and 'wrap' (size 5, padding 2, 1200 "
    "images of 1 x 5 x 6): windows of the image padded in that mode, uniform positions",
)
def crop_fill_modes(s, rng):
    for fill in ("edge", "reflect", "symmetric", "wrap"):
        check_random_crop(s, rng, 1200, (1, 5, 6), 5, 2, fill)


@check(
    "flip_crop",
    "random_crop with fill 'constant' and value 0.5, a crop of 4 from 6 x 7 images without "
    "padding, a crop as large as the padded image (one position), and an unknown fill mode "
    "('nearest', Keras's name) raising ValueError",
)
def crop_sizes(s, rng):
    check_random_crop(s, rng, 1500, (1, 5, 5), 5, 1, "constant", value=0.5)
    check_random_crop(s, rng, 1500, (3, 6, 7), 4, 0)
    check_random_crop(s, rng, 50, (2, 3, 3), 5, 1, "wrap")
    x = noise_images(rng, (2, 1, 4, 4))
    expect_value_error(
        lambda: s.call("random_crop", x, 4, 1, rng_handle(s, 1), fill="nearest"),
        "random_crop(x, 4, 1, rng, fill='nearest')",
        "accept only np.pad's modes: constant, edge, reflect, symmetric, wrap",
    )


@check(
    "flip_crop",
    "hflip of non-square images; random_hflip with p = 0 (no image flipped) and p = 1 (all); "
    "random_hflip and random_crop are reproducible from the seed",
)
def flip_edges(s, rng):
    check_hflip(s, noise_images(rng, (2, 3, 5, 2)))
    check_random_flip(s, rng, 200, 0.0)
    check_random_flip(s, rng, 200, 1.0)
    x = noise_images(rng, (30, 1, 4, 6))
    expect_seeded(s, "random_hflip", [x], {}, rng)
    expect_seeded(s, "random_crop", [x, 4, 2], {"fill": "reflect"}, rng)


# -- photometric --------------------------------------------------------------------------------


@check(
    "photometric",
    "color_jitter with brightness 1.5 (factors in [0, 2.5]) and contrast 0 (factor 1), then "
    "brightness 0 and contrast 0.8",
)
def jitter_other(s, rng):
    check_jitter(s, rng, 3000, 1.5, 0.0)
    check_jitter(s, rng, 3000, 0.0, 0.8)


@check(
    "photometric",
    "gaussian_noise with std 2 on a 2-D array (400, 100); both functions are reproducible from "
    "the seed",
)
def noise_other(s, rng):
    check_noise(s, rng, (400, 100), 2.0)
    x = noise_images(rng, (20, 3, 4, 4))
    expect_seeded(s, "gaussian_noise", [x, 0.1], {}, rng)
    expect_seeded(s, "color_jitter", [x, 0.3, 0.3], {}, rng)


# -- cutout -------------------------------------------------------------------------------------


@check(
    "cutout",
    "cutout with an odd size (3) on 3000 images of 1 x 6 x 8, size 1 on 2000 images of 3 x 4 x 5 "
    "and a square as large as a 5 x 5 image",
)
def cutout_sizes(s, rng):
    check_cutout(s, rng, 3000, (1, 6, 8), 3)
    check_cutout(s, rng, 2000, (3, 4, 5), 1)
    check_cutout(s, rng, 2500, (1, 5, 5), 5)


@check("cutout", "cutout is reproducible from the seed")
def cutout_seeded(s, rng):
    expect_seeded(s, "cutout", [noise_images(rng, (20, 2, 6, 6)), 3], {}, rng)


# -- mixup --------------------------------------------------------------------------------------


@check(
    "mixup",
    "the weights lam follow Beta(0.2, 0.2) over 1500 calls and Beta(2, 2) over 1000 calls",
)
def mixup_other_alpha(s, rng):
    check_mixup_distribution(s, rng, 0.2, 1500)
    check_mixup_distribution(s, rng, 2.0, 1000)


@check(
    "mixup",
    "soft targets (random probability vectors) and a batch of 7; mixup is reproducible from the "
    "seed",
)
def mixup_soft(s, rng):
    check_mixup_once(s, rng, 10, 0.7, soft=True)
    check_mixup_once(s, rng, 7, 1.5)
    x = rng.standard_normal((8, 3))
    expect_seeded(s, "mixup", [x, one_hot(rng, 8, 4), 0.5], {}, rng, compare=lambda o: o[0])


# -- label_smoothing ----------------------------------------------------------------------------


@check(
    "label_smoothing",
    "eps = 0 (one-hot), eps = 1 (nothing on the label), two classes, and num_classes larger than "
    "the largest label",
)
def smooth_edges(s, rng):
    check_smooth(s, rng.integers(0, 5, size=9), 5, 0.0)
    check_smooth(s, rng.integers(0, 4, size=9), 4, 1.0)
    check_smooth(s, rng.integers(0, 2, size=12), 2, 0.3)
    check_smooth(s, rng.integers(0, 4, size=15), 10, 0.2, " (labels only 0..3)")


# -- torch_dropout ------------------------------------------------------------------------------


@check(
    "torch_dropout",
    "MyDropout(p = 0.7) on a (20, 3, 10, 10) float64 batch: values, fraction, independent masks, "
    "gradient through the same mask",
)
def torch_dropout_other(s, rng):
    check_torch_dropout(s, rng, (20, 3, 10, 10), 0.7, "float64")


@check(
    "torch_dropout",
    "MyDropout(p = 0) is the identity (gradient dout), MyDropout(p = 1) gives zeros, and "
    "MyDropout(1.5) and MyDropout(-0.2) raise ValueError",
)
def torch_dropout_edges(s, rng):
    x = signed_inputs(rng, (10, 8))
    dout = rng.standard_normal(x.shape)
    rec, what = run_module(s, "MyDropout", [], {"p": 0.0}, seed_of(rng), x, "float64", dout=dout)
    close(rec["out"], x, f"output of {what}", "p = 0 drops nothing", rtol=0, atol=0)
    close(rec["grad_x"], dout, f"gradient of {what}", rtol=0, atol=0)
    rec, what = run_module(s, "MyDropout", [], {"p": 1.0}, seed_of(rng), x, "float64", dout=dout)
    close(
        rec["out"],
        np.zeros_like(x),
        f"output of {what}",
        "p = 1 drops everything: zeros (no nan)",
        atol=0,
    )
    if rec["grad_x"] is not None:
        close(rec["grad_x"], np.zeros_like(x), f"gradient of {what}", atol=0)
    for p in (1.5, -0.2):
        expect_value_error(
            lambda p=p: s.probe("a5_dropout.torch_module", "MyDropout", [], {"p": p}, None, []),
            f"MyDropout(p={p})",
            "check p in the constructor, as nn.Dropout does",
        )


# -- torch_augment ------------------------------------------------------------------------------


@check(
    "torch_augment",
    "BatchRandomCrop with fill 'edge', 'reflect' and 'wrap' (size 5, padding 2), and 'constant' "
    "with value 0.25 (size 4, padding 1), on 1200 images each",
)
def torch_crop_modes(s, rng):
    for fill in ("edge", "reflect", "wrap"):
        check_random_crop(s, rng, 1200, (1, 5, 6), 5, 2, fill, module=True)
    check_random_crop(s, rng, 1200, (2, 4, 5), 4, 1, "constant", value=0.25, module=True)


@check(
    "torch_augment",
    "BatchHFlip(p = 0.5), BatchCutout(3) on float64 batches (dtype kept); the three modules draw "
    "from their generator (same seed, same output; new draws at every call); an unknown fill mode "
    "raises ValueError",
)
def torch_augment_generator(s, rng):
    check_random_flip(s, rng, 1500, 0.5, module=True)
    x = noise_images(rng, (1500, 2, 5, 6))
    out, what = run_module(s, "BatchCutout", [3], {}, seed_of(rng), x, "float64")
    from .public import check_cutout_output

    check_cutout_output(out, x, 3, what)
    module_seeded(s, rng, "BatchHFlip", [], {"p": 0.5}, (40, 1, 3, 4))
    module_seeded(s, rng, "BatchRandomCrop", [4], {"padding": 2}, (10, 1, 5, 5))
    module_seeded(s, rng, "BatchCutout", [3], {}, (10, 2, 6, 6))
    expect_value_error(
        lambda: s.probe(
            "a5_dropout.torch_module", "BatchRandomCrop", [4], {"fill": "symmetric"}, None, []
        ),
        "BatchRandomCrop(4, fill='symmetric')",
        "F.pad has no 'symmetric' mode: accept constant, edge, reflect and wrap only",
    )


# -- smoothed_ce --------------------------------------------------------------------------------


@check(
    "smoothed_ce",
    "logits of about +-800 (no overflow), eps = 0 (plain cross-entropy), two classes, float32 "
    "logits, and the mapping for k = 2 and k = 100",
)
def smoothed_ce_edges(s, rng):
    check_smoothed_ce(
        s,
        800.0 * rng.standard_normal((6, 5)),
        rng.integers(0, 5, size=6),
        0.2,
        label=" (large logits)",
    )
    check_smoothed_ce(s, rng.standard_normal((8, 4)), rng.integers(0, 4, size=8), 0.0)
    check_smoothed_ce(s, rng.standard_normal((10, 2)), rng.integers(0, 2, size=10), 0.3)
    check_smoothed_ce(s, rng.standard_normal((12, 6)), rng.integers(0, 6, size=12), 0.15, "float32")
    check_mapping(s, 0.25, 2)
    check_mapping(s, 0.05, 100)


# -- mixup_step ---------------------------------------------------------------------------------


@check(
    "mixup_step",
    "the weights lam of 800 calls of mixup_batch with alpha = 0.3 follow Beta(0.3, 0.3), each "
    "call consistent with the lam it returns",
)
def mixup_batch_distribution(s, rng):
    x = rng.standard_normal((6, 4))
    y = rng.integers(0, 3, size=6)
    what = "mixup_batch(x of shape (6, 4), y, alpha=0.3, g)"
    res = run(what, lambda: s.probe("a5_dropout.mixup_batch", x, y, 0.3, seed_of(rng), 800))
    lams = check_mixup_batch_results(x, y, res["results"], what)
    check_beta(lams, 0.3, f"lam of 800 calls of {what}", "use sample_beta(alpha, generator)")
    expect(res["inputs_unchanged"], f"{what} modified x in place")


@check(
    "mixup_step",
    "mixup_train_step with alpha = 0.4 on 9 examples of 3 classes; mixup_batch is reproducible "
    "from the seed",
)
def mixup_step_other(s, rng):
    check_mixup_step(s, rng, 9, 3, 0.4)
    x = rng.standard_normal((8, 2))
    y = rng.integers(0, 3, size=8)
    seed = seed_of(rng)
    what = "mixup_batch(x, y, alpha=0.5, g)"
    a = run(what, lambda: s.probe("a5_dropout.mixup_batch", x, y, 0.5, seed, 1))["results"][0]
    b = run(what, lambda: s.probe("a5_dropout.mixup_batch", x, y, 0.5, seed, 1))["results"][0]
    expect(
        np.array_equal(np.asarray(a["x_mix"]), np.asarray(b["x_mix"])) and a["lam"] == b["lam"],
        f"{what}: generators seeded alike gave different results",
        "draw lam with sample_beta(alpha, generator) and the permutation with "
        "torch.randperm(N, generator=generator, device=x.device)",
    )


# -- ece ----------------------------------------------------------------------------------------


def edge_probs(rng, n_edge, n_random):
    """Rows whose confidence lies exactly on an edge of 8 bins (k/8), plus random rows."""
    tops = rng.integers(3, 9, size=n_edge) / 8.0  # 0.375 ... 1.0, exact in binary
    rows = []
    for top in tops:
        rest = 1.0 - top
        rows.append([top, rest / 2, rest / 4, rest / 4])
    probs = np.array(rows)
    perm = np.argsort(rng.random(probs.shape), axis=1)
    probs = np.take_along_axis(probs, perm, axis=1)
    random_rows = torch_softmax(2.0 * rng.standard_normal((n_random, 4)))
    return np.concatenate([probs, random_rows])


@check(
    "ece",
    "confidences exactly on bin edges (k/8 with 8 bins, and 1.0): each goes into the bin it "
    "closes, e_b < confidence <= e_(b+1); a single bin",
)
def ece_edges(s, rng):
    probs = edge_probs(rng, 80, 40)
    labels = rng.integers(0, 4, size=len(probs))
    hidden_ece(s, probs, labels, 8, " (confidences on the edges)")
    hidden_ece(s, probs, labels, 1)


@check("ece", "the default of 15 bins, and a perfectly confident, perfectly right model (ECE 0)")
def ece_default(s, rng):
    from .public import calibration_data

    probs, labels = calibration_data(rng, 300, 5)
    hidden_ece(s, probs, labels)
    onehot = np.eye(3)[rng.integers(0, 3, size=20)]
    hidden_ece(s, onehot, onehot.argmax(axis=1), 10, " (one-hot predictions, all right)")


def hidden_ece(s, probs, labels, n_bins=None, label="") -> None:
    """check_ece with the grader's own implementation as the oracle."""
    nb = 15 if n_bins is None else n_bins
    check_ece(
        s,
        probs,
        labels,
        ece_oracle(probs, labels, nb),
        lambda: ece_mistakes(probs, labels, nb),
        n_bins,
        label,
    )
