"""Hidden checks of A2, run only by official grading: other shapes and seeds, random sizes drawn
from ``rng``, convolution kernels of every dimension, and edge cases (integer images, a constant
feature, rank-deficient data, shapes without a fan, unknown names, no generator)."""

from __future__ import annotations

import math

import numpy as np

from autograder.checking import CheckFailure, check, describe, expect, expect_equal

from .probes import build_model
from .public import (
    KURTOSIS,
    Z,
    call,
    check_fans,
    check_gain,
    check_init_model,
    check_kaiming,
    check_layer_stats,
    check_minmax,
    check_pca_fit,
    check_projection,
    check_standardizer,
    check_torch_init,
    check_uses_rng,
    check_whitening,
    check_xavier,
    close,
    correlated,
    expect_value_error,
    fit_and_apply,
    kaiming_oracle_std,
    minmax,
    pca_oracle,
    pca_transform_mistakes,
    random_weights,
    run,
    seed_of,
    student_failure,
    tabular,
    whiten_mistakes,
    whiten_oracle,
    xavier_std,
    zca_mistakes,
)

# -- preprocessing ------------------------------------------------------------------------------


@check(
    "standardizer",
    "uint8 images (N, 2, 6, 6) with values up to 255: float64 statistics without integer "
    "overflow, and other uint8 images transformed with them",
)
def standardizer_uint8(s, rng):
    x_fit = rng.integers(0, 256, size=(int(rng.integers(5, 15)), 2, 6, 6), dtype=np.uint8)
    x_other = rng.integers(100, 256, size=(4, 2, 6, 6), dtype=np.uint8)
    check_standardizer(s, x_fit, [x_other])


@check(
    "standardizer",
    "(N, C, L) data with a channel that is constant in the training data (eps = 1e-3: it maps "
    "to 0), and N = 1 (every variance 0) with eps = 0.01",
)
def standardizer_edges(s, rng):
    n, c, length = int(rng.integers(3, 9)), int(rng.integers(2, 5)), int(rng.integers(2, 6))
    x_fit = rng.standard_normal((n, c, length)) * 3.0 + 1.0
    x_fit[:, 1, :] = 4.25
    x_other = rng.standard_normal((5, c, length + 1))
    check_standardizer(s, x_fit, [x_other], eps=1e-3)
    d = int(rng.integers(2, 7))
    check_standardizer(s, rng.standard_normal((1, d)), [rng.standard_normal((3, d))], eps=0.01)


@check(
    "standardizer",
    "statistics_axes for (N, D), (N, C, L) and (N, C, H, W) arrays; ValueError for a 1-D array",
)
def standardizer_axes(s, rng):
    for shape, expected in [((5, 3), (0,)), ((4, 2, 7), (0, 2)), ((2, 3, 4, 5), (0, 2, 3))]:
        what = f"statistics_axes(an array of shape {shape})"
        got = call(s, what, "statistics_axes", np.zeros(shape))
        if not isinstance(got, tuple | list):
            raise CheckFailure(f"{what} must return a tuple of ints, got {describe(got)}")
        expect_equal(tuple(int(a) for a in got), expected, what)
    expect_value_error(s, "statistics_axes(an array of shape (6,))", "statistics_axes", np.ones(6))


@check(
    "minmax",
    "a feature that is constant in the training data maps to low; feature_range=(-3, 5) on data "
    "of random size",
)
def minmax_constant(s, rng):
    n, d = int(rng.integers(4, 30)), int(rng.integers(2, 7))
    x_fit, loc, scale = tabular(rng, n, d)
    x_fit[:, 0] = -2.5
    x_other = loc + 2.0 * scale * rng.standard_normal((6, d))
    check_minmax(s, x_fit, [x_other])
    check_minmax(s, x_fit, [x_other], feature_range=(-3.0, 5.0))


@check(
    "minmax",
    "MinMaxScaler on (N, C, L) data and on uint8 images (N, 3, H, W)",
)
def minmax_shapes(s, rng):
    x_fit = rng.standard_normal((7, 3, 5)) * rng.uniform(0.5, 3.0, size=(1, 3, 1))
    check_minmax(s, x_fit, [rng.standard_normal((2, 3, 8))])
    x_img = rng.integers(0, 256, size=(6, 3, 4, 5), dtype=np.uint8)
    out = fit_and_apply(s, "MinMaxScaler", {}, x_img, [("transform", x_img, {})])
    axes = (0, 2, 3)
    expected = minmax(x_img, x_img.min(axis=axes), x_img.max(axis=axes), (-1.0, 1.0))
    close(out["outputs"][0], expected, out["what"][1], rtol=1e-7, atol=1e-9)


@check(
    "pca",
    "PCAWhitener on random sizes (D from 3 to 8): eigenvalues_, eigenvectors_, and transform "
    "with k = 1 and k = D",
)
def pca_random(s, rng):
    d = int(rng.integers(3, 9))
    n = int(rng.integers(60, 300))
    x_fit, mean, q = correlated(rng, n, d)
    x_other = mean + rng.standard_normal((9, d)) @ q.T * 2.0
    calls = [("transform", x_other, {"k": 1}), ("transform", x_other, {"k": d})]
    res = fit_and_apply(
        s, "PCAWhitener", {}, x_fit, calls, ("mean_", "eigenvalues_", "eigenvectors_")
    )
    mu, lam, u = check_pca_fit(res, x_fit)
    for j, k in enumerate([1, d]):
        check_projection(
            res["outputs"][j],
            (x_other - mu) @ u[:, :k],
            res["what"][1 + j],
            pca_transform_mistakes(x_other, mu, lam, u, k, x_fit),
        )


@check(
    "pca",
    "fewer examples than features (N = 5, D = 9): the zero eigenvalues, and the projection on "
    "the N - 1 directions of non-zero variance",
)
def pca_rank_deficient(s, rng):
    n, d = 5, 9
    x_fit = rng.standard_normal((n, d)) * np.linspace(3.0, 0.5, d) + 2.0
    x_other = rng.standard_normal((4, d))
    k = n - 1
    res = fit_and_apply(
        s, "PCAWhitener", {}, x_fit, [("transform", x_other, {"k": k})], ("eigenvalues_",)
    )
    mu, lam, u = pca_oracle(x_fit)
    close(
        res["attrs"]["eigenvalues_"],
        lam,
        f"eigenvalues_ after {res['what'][0]}",
        rtol=1e-8,
        atol=1e-10,
    )
    check_projection(
        res["outputs"][0],
        (x_other - mu) @ u[:, :k],
        res["what"][1],
        pca_transform_mistakes(x_other, mu, lam, u, k, x_fit),
    )


@check(
    "whitening",
    "the default eps (1e-5) on data with a direction of variance 1e-4, and random sizes with k = 1",
)
def whitening_default_eps(s, rng):
    d = int(rng.integers(3, 7))
    spectrum = np.concatenate([3.0 * 0.5 ** np.arange(d - 1), [1e-4]])
    x_fit, mean, q = correlated(rng, int(rng.integers(100, 250)), d, spectrum)
    x_other = mean + rng.standard_normal((8, d)) @ q.T
    res = fit_and_apply(
        s, "PCAWhitener", {}, x_fit, [("whiten", x_other, {}), ("zca", x_other, {})]
    )
    mu, lam, u = pca_oracle(x_fit)
    check_projection(
        res["outputs"][0],
        whiten_oracle(x_other, mu, lam, u, 1e-5),
        res["what"][1],
        whiten_mistakes(x_other, mu, lam, u, 1e-5),
    )
    close(
        res["outputs"][1],
        whiten_oracle(x_other, mu, lam, u, 1e-5) @ u.T,
        res["what"][2],
        mistakes=zca_mistakes(x_other, mu, lam, u, 1e-5),
        rtol=1e-6,
        atol=1e-8,
    )
    check_whitening(s, x_fit, x_other, eps=float(rng.uniform(0.01, 1.0)), k=1)


@check(
    "whitening",
    "rank-deficient data (one feature is the sum of two others) with eps = 0.1: finite "
    "whitened values, ZCA of other data",
)
def whitening_rank_deficient(s, rng):
    x, mean, q = correlated(rng, 80, 4)
    x_fit = np.column_stack([x, x[:, 0] + x[:, 1]])
    y = rng.standard_normal((6, 4)) + mean
    x_other = np.column_stack([y, y[:, 0] + y[:, 1]])
    eps = 0.1
    res = fit_and_apply(
        s,
        "PCAWhitener",
        {"eps": eps},
        x_fit,
        [("whiten", x_other, {"k": 4}), ("zca", x_other, {})],
    )
    mu, lam, u = pca_oracle(x_fit)
    check_projection(
        res["outputs"][0],
        whiten_oracle(x_other, mu, lam, u, eps, 4),
        res["what"][1],
        whiten_mistakes(x_other, mu, lam, u, eps, 4),
    )
    close(
        res["outputs"][1],
        whiten_oracle(x_other, mu, lam, u, eps) @ u.T,
        res["what"][2],
        mistakes=zca_mistakes(x_other, mu, lam, u, eps),
        rtol=1e-6,
        atol=1e-8,
    )


# -- fans and gains -----------------------------------------------------------------------------


@check("fans", "random shapes with 2 to 5 dimensions")
def fans_random(s, rng):
    for _ in range(6):
        ndim = int(rng.integers(2, 6))
        check_fans(s, tuple(int(v) for v in rng.integers(1, 10, size=ndim)))


@check("fans", "ValueError for shapes with fewer than 2 dimensions: (7,) and ()")
def fans_errors(s, rng):
    expect_value_error(s, "fan_in_and_fan_out((7,))", "fan_in_and_fan_out", (7,))
    expect_value_error(s, "fan_in_and_fan_out(())", "fan_in_and_fan_out", ())


@check(
    "gain",
    "conv_transpose1d/2d/3d, and leaky_relu with slope 0 (a ReLU), the integer 1, and a random "
    "slope",
)
def gain_more(s, rng):
    for name in ["conv_transpose1d", "conv_transpose2d", "conv_transpose3d"]:
        check_gain(s, name)
    check_gain(s, "leaky_relu", 0, pass_param=True)
    check_gain(s, "leaky_relu", 1, pass_param=True)
    check_gain(s, "leaky_relu", float(rng.uniform(0.05, 0.9)), pass_param=True)
    check_gain(s, "tanh", 0.3, pass_param=True)


@check("gain", "ValueError for an unknown nonlinearity")
def gain_unknown(s, rng):
    expect_value_error(s, "calculate_gain('swish')", "calculate_gain", "swish")


# -- NumPy initialisers -------------------------------------------------------------------------


def random_kernel(rng, ndim: int, target: int = 60_000) -> tuple[int, ...]:
    """A weight shape with ``ndim`` dimensions and roughly ``target`` entries."""
    tail = tuple(int(k) for k in rng.choice([1, 2, 3, 5], size=ndim - 2))
    per = max(1, target // max(1, math.prod(tail)))
    c_in = int(rng.integers(8, 40))
    c_out = max(2, per // c_in)
    return (c_out, c_in, *tail)


@check(
    "xavier_uniform",
    "random 3-D and 5-D kernels with a random gain; ValueError for a 1-D shape; the same seed "
    "gives the same weights",
)
def xavier_uniform_random(s, rng):
    check_xavier(s, rng, "uniform", random_kernel(rng, 3), gain=float(rng.uniform(0.5, 2.0)))
    check_xavier(s, rng, "uniform", random_kernel(rng, 5), gain=float(rng.uniform(0.5, 2.0)))
    _expect_draw_error(s, "xavier_uniform", (5,), {})
    check_uses_rng(s, rng, "xavier_uniform", (2, 3, 4))


@check(
    "xavier_normal",
    "random 4-D and 3-D kernels with a random gain; ValueError for a 1-D shape",
)
def xavier_normal_random(s, rng):
    check_xavier(s, rng, "normal", random_kernel(rng, 4), gain=float(rng.uniform(0.5, 2.0)))
    check_xavier(s, rng, "normal", random_kernel(rng, 3))
    _expect_draw_error(s, "xavier_normal", (9,), {})
    check_uses_rng(s, rng, "xavier_normal", (3, 2, 2))


@check(
    "kaiming_uniform",
    "random kernels with a random leaky slope and mode, and tanh with fan_in on a linear shape",
)
def kaiming_uniform_random(s, rng):
    mode = str(rng.choice(["fan_in", "fan_out"]))
    check_kaiming(
        s, rng, "uniform", random_kernel(rng, 4), a=float(rng.uniform(0.3, 1.0)), mode=mode
    )
    check_kaiming(s, rng, "uniform", (150, 300), nonlinearity="tanh")
    check_kaiming(s, rng, "uniform", random_kernel(rng, 5), mode="fan_out", nonlinearity="relu")


@check(
    "kaiming_uniform",
    "ValueError for mode='fan_avg' and for a 1-D shape; the same seed gives the same weights",
)
def kaiming_uniform_errors(s, rng):
    _expect_draw_error(s, "kaiming_uniform", (4, 5), {"mode": "fan_avg"})
    _expect_draw_error(s, "kaiming_uniform", (6,), {})
    check_uses_rng(s, rng, "kaiming_uniform", (3, 3, 3))


@check(
    "kaiming_normal",
    "random kernels with a random leaky slope and mode; 'selu' and 'linear' on linear shapes",
)
def kaiming_normal_random(s, rng):
    mode = str(rng.choice(["fan_in", "fan_out"]))
    check_kaiming(
        s, rng, "normal", random_kernel(rng, 3), a=float(rng.uniform(0.3, 1.0)), mode=mode
    )
    check_kaiming(s, rng, "normal", (120, 400), nonlinearity="selu")
    check_kaiming(s, rng, "normal", (500, 90), nonlinearity="linear", mode="fan_out")


@check(
    "kaiming_normal",
    "ValueError for mode='fan_avg' and for a 1-D shape; the same seed gives the same weights",
)
def kaiming_normal_errors(s, rng):
    _expect_draw_error(s, "kaiming_normal", (4, 5), {"mode": "fan_avg"})
    _expect_draw_error(s, "kaiming_normal", (6,), {})
    check_uses_rng(s, rng, "kaiming_normal", (2, 2, 5))


def _expect_draw_error(s, name: str, shape, kwargs: dict) -> None:
    """``name(shape, rng=..., **kwargs)`` must raise ValueError (run through the draw probe)."""
    args = ", ".join([str(tuple(shape))] + [f"{k}={v!r}" for k, v in kwargs.items()])
    what = f"{name}({args}, rng=rng)"
    try:
        got = s.probe("a2_init.draw", name, list(shape), kwargs, [0])
    except Exception as err:  # noqa: BLE001 -- a StudentError, inspected below
        error = getattr(err, "error", None)
        if not isinstance(error, dict):
            raise
        if error.get("type") == "ValueError":
            return
        if error.get("type") == "NotImplementedError":
            raise student_failure(what, error) from None
        raise CheckFailure(
            f"{what} raised {error.get('type')}: {error.get('message', '')}; expected ValueError"
        ) from None
    raise CheckFailure(f"{what} returned {describe(got[0])}; expected it to raise ValueError")


# -- layer statistics ---------------------------------------------------------------------------


@check(
    "layer_stats",
    "one example through one layer; square tanh layers; a random deep stack of float32 arrays "
    "(statistics in float64)",
)
def layer_stats_edges(s, rng):
    check_layer_stats(s, rng.standard_normal((1, 7)), random_weights(rng, [7, 4]), "relu")
    check_layer_stats(
        s, rng.standard_normal((20, 12)), random_weights(rng, [12] * 5, scale=2.0), "tanh"
    )
    depth = int(rng.integers(4, 11))
    sizes = [int(v) for v in rng.integers(5, 40, size=depth + 1)]
    x = rng.standard_normal((int(rng.integers(2, 30)), sizes[0])).astype(np.float32)
    weights = [w.astype(np.float32) for w in random_weights(rng, sizes, scale=1.4)]
    check_layer_stats(s, x, weights, str(rng.choice(["tanh", "relu", "linear"])))


@check("layer_stats", "ValueError for an unknown activation ('sigmoid')")
def layer_stats_unknown(s, rng):
    x = rng.standard_normal((3, 4))
    expect_value_error(
        s,
        "layer_stats(x, weights, 'sigmoid')",
        "layer_stats",
        x,
        random_weights(rng, [4, 3]),
        "sigmoid",
    )


# -- PyTorch initialisers -----------------------------------------------------------------------


def _torch_no_generator(s, name: str, shape, kwargs, dist: str, std: float) -> None:
    """With generator=None the function draws from PyTorch's global generator: check the scale."""
    what = f"{name}(a tensor of shape {tuple(shape)}, generator=None)"
    res = run(
        s, what, lambda: s.probe("a2_init.torch_init", name, list(shape), "float64", kwargs, None)
    )
    v = np.asarray(res["values"], dtype=np.float64)
    expect(res["same_object"] is True, f"{what} must return the tensor it was given")
    expect(bool(np.all(np.isfinite(v))), f"{what}: some entries were not filled")
    n = v.size
    rel = math.sqrt((KURTOSIS[dist] - 1.0) / n)
    measured = math.sqrt(float(np.mean(v * v)))
    expect(
        abs(measured**2 / std**2 - 1.0) <= Z * rel,
        f"{what}: standard deviation {measured:.5g}, expected {std:.5g}",
    )
    if dist == "uniform":
        b = math.sqrt(3.0) * std
        expect(
            float(np.abs(v).max()) <= b * (1 + 1e-9),
            f"{what}: values beyond the bound {b:.6g}",
        )


@check(
    "torch_xavier",
    "random 5-D and 3-D kernels (float64, nn.Parameter) with random gains; generator=None draws "
    "from the global generator; ValueError for a 1-D tensor",
)
def torch_xavier_random(s, rng):
    for dist, ndim in [("uniform", 5), ("normal", 3)]:
        shape = random_kernel(rng, ndim, target=3000)
        gain = float(rng.uniform(0.5, 2.0))
        check_torch_init(
            s, "xavier", dist, shape, "float64", {"gain": gain}, seed_of(rng), parameter=True
        )
        _torch_no_generator(
            s, f"init_xavier_{dist}_", (200, 300), {}, dist, xavier_std((200, 300), 1.0)
        )
    _torch_value_error(s, "init_xavier_uniform_", (5,), {})


@check(
    "torch_kaiming",
    "random kernels, leaky slopes, modes and nonlinearities; generator=None; ValueError for "
    "mode='fan_avg'",
)
def torch_kaiming_random(s, rng):
    for dist in ("uniform", "normal"):
        shape = random_kernel(rng, int(rng.integers(2, 6)), target=3000)
        kwargs = {
            "a": float(rng.uniform(0.2, 0.9)),
            "mode": str(rng.choice(["fan_in", "fan_out"])),
            "nonlinearity": "leaky_relu"
            if dist == "uniform"
            else str(rng.choice(["relu", "tanh", "linear"])),
        }
        check_torch_init(s, "kaiming", dist, shape, "float64", kwargs, seed_of(rng), True)
        std = kaiming_oracle_std((300, 200), nonlinearity="relu")
        _torch_no_generator(
            s, f"init_kaiming_{dist}_", (300, 200), {"nonlinearity": "relu"}, dist, std
        )
    _torch_value_error(s, "init_kaiming_normal_", (4, 4), {"mode": "fan_avg"})


def _torch_value_error(s, name: str, shape, kwargs: dict) -> None:
    what = f"{name}(a tensor of shape {tuple(shape)}{''.join(f', {k}={v!r}' for k, v in kwargs.items())})"
    try:
        got = s.probe("a2_init.torch_init", name, list(shape), "float32", kwargs, 0)
    except Exception as err:  # noqa: BLE001 -- a StudentError, inspected below
        error = getattr(err, "error", None)
        if not isinstance(error, dict):
            raise
        if error.get("type") == "ValueError":
            return
        if error.get("type") == "NotImplementedError":
            raise student_failure(what, error) from None
        raise CheckFailure(
            f"{what} raised {error.get('type')}: {error.get('message', '')}; expected ValueError"
        ) from None
    raise CheckFailure(f"{what} returned normally; expected ValueError ({describe(got)})")


# -- init_model_ --------------------------------------------------------------------------------

ZOO = [
    ["embedding", 12, 6],
    ["conv1d", 6, 5, 3, True],
    ["bn1d", 5],
    ["seq", [["conv3d", 2, 3, 2, False], ["seq", [["linear", 8, 7, False], ["tanh"]]]]],
    ["layernorm", 7],
    ["linear", 7, 4, True],
]


@check(
    "init_model",
    "every scheme on a model with an embedding, conv1d, conv3d, batch and layer norm, doubly "
    "nested blocks and a bias-free linear layer",
)
def init_model_zoo(s, rng):
    for scheme in ["xavier_uniform", "xavier_normal", "kaiming_uniform", "kaiming_normal"]:
        check_init_model(s, ZOO, scheme, seed_of(rng))
    check_init_model(s, ZOO, "normal", seed_of(rng))


@check(
    "init_model",
    "ValueError for an unknown scheme ('orthogonal'), with the model left unchanged",
)
def init_model_unknown(s, rng):
    what = "init_model_(model, 'orthogonal', generator=g)"
    res = run(s, what, lambda: s.probe("a2_init.init_model", ZOO, "orthogonal", 0, {}))
    error = res.get("error") if isinstance(res, dict) else None
    if not res.get("failed"):
        raise CheckFailure(f"{what} returned normally; expected ValueError")
    if error.get("type") == "NotImplementedError":
        raise student_failure(what, error)
    expect(
        error.get("type") == "ValueError",
        f"{what} raised {error.get('type')}: {error.get('message')}; expected ValueError",
    )
    before = {n: p.detach().numpy() for n, p in build_model(ZOO).named_parameters()}
    for name, value in res["params"].items():
        expect(
            np.array_equal(value, before[name]),
            f"{what} changed {name} before raising",
            "check the scheme first, then initialise",
        )
