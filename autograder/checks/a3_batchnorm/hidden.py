"""Hidden checks of A3, run only by official grading: other shapes (batches of two, a single
feature, square weights, H = W = C), constant features, other values of eps and momentum, long
sequences of training steps, batches of one in both modes, dtypes, the cumulative average of
``momentum=None``, and consistency of every backward pass with finite differences of the
student's own forward pass."""

from __future__ import annotations

import numpy as np

from autograder.checking import expect

from .public import (
    call_bn,
    check,
    check_bn_backward,
    check_bn_eval,
    check_bn_running,
    check_bn_train_out,
    check_fold,
    check_function,
    check_fuse,
    check_groupnorm,
    check_layernorm,
    check_module_run,
    check_spatial,
    close,
    expect_value_error,
    features,
    module_steps,
    probe,
    running_mistakes,
    running_stats,
    torch_batch_norm,
    unpack,
)

# -- bn_forward ---------------------------------------------------------------------------------


def affine(rng, d):
    return rng.uniform(0.5, 2.0, d) * rng.choice([-1.0, 1.0], d), rng.standard_normal(d)


@check(
    "bn_forward",
    "training mode with N = 2 (each feature becomes about -1 and +1 before gamma and beta), a "
    "single feature (D = 1) and a batch of 50",
)
def bn_forward_shapes(s, rng):
    for n, d in [(2, 5), (int(rng.integers(20, 40)), 1), (50, int(rng.integers(3, 9)))]:
        x = features(rng, n, d)
        gamma, beta = affine(rng, d)
        rm, rv = running_stats(rng, d)
        check_bn_train_out(s, x, gamma, beta, rm, rv, label=f" (N = {n}, D = {d})")


@check(
    "bn_forward",
    "training mode with constant features (the output is exactly beta there, no nan) and with "
    "eps = 0.1 against features of variance about 1e-3",
)
def bn_forward_constant_and_eps(s, rng):
    x = features(rng, 6, 4)
    x[:, 1] = 2.5
    x[:, 3] = -0.75
    gamma, beta = affine(rng, 4)
    rm, rv = running_stats(rng, 4)
    check_bn_train_out(s, x, gamma, beta, rm, rv, label=" (features 1 and 3 are constant)")
    x = features(rng, 8, 3, scales=np.array([0.03, 0.05, 1.0]))
    check_bn_train_out(s, x, gamma[:3], beta[:3], rm[:3], rv[:3], eps=0.1)


@check(
    "bn_forward",
    "a batch of one raises ValueError in training mode also with D = 1 and momentum = 0",
)
def bn_forward_one(s, rng):
    one = rng.standard_normal((1, 1))
    expect_value_error(
        lambda: s.call(
            "batchnorm_forward",
            one,
            np.ones(1),
            np.zeros(1),
            np.zeros(1),
            np.ones(1),
            True,
            momentum=0.0,
        ),
        "batchnorm_forward(x of shape (1, 1), ..., training=True, momentum=0)",
        "a batch of one must be refused in training mode whatever the other arguments",
    )


# -- bn_running ---------------------------------------------------------------------------------


@check(
    "bn_running",
    "running statistics with momentum 0 (frozen), 1 (the batch statistics) and 0.3, and with a "
    "batch of two (unbiased factor 2)",
)
def bn_running_momenta(s, rng):
    for momentum, n in [(0.0, 10), (1.0, 10), (0.3, 7), (0.1, 2)]:
        x = features(rng, n, 4)
        gamma, beta = affine(rng, 4)
        rm, rv = running_stats(rng, 4)
        check_bn_running(s, x, gamma, beta, rm, rv, momentum, label=f" (N = {n})")


@check(
    "bn_running",
    "six training steps that feed the returned running statistics back in, then evaluation: "
    "the statistics follow F.batch_norm's buffers at every step",
)
def bn_running_chain(s, rng):
    d = 3
    gamma, beta = affine(rng, d)
    rm, rv = np.zeros(d), np.ones(d)
    exp_rm, exp_rv = rm.copy(), rv.copy()
    shift, scale = rng.uniform(-2, 2, d), rng.uniform(0.5, 3.0, d)
    for step in range(6):
        x = shift + scale * rng.standard_normal((8, d))
        (_, _, rm, rv), what = call_bn(s, x, gamma, beta, rm, rv, True, 0.2, 1e-5)
        mean_m, var_m = running_mistakes(x, exp_rm, exp_rv, 0.2)
        _, exp_rm, exp_rv, _ = torch_batch_norm(x, gamma, beta, exp_rm, exp_rv, True, 0.2, 1e-5)
        where = (
            f"after call {step + 1} of a chain of training calls with momentum 0.2, each given "
            "the running statistics the previous call returned"
        )
        close(rm, exp_rm, f"new_running_mean {where}", mistakes=mean_m)
        close(rv, exp_rv, f"new_running_var {where}", mistakes=var_m)
    x = shift + scale * rng.standard_normal((5, d))
    check_bn_eval(s, x, gamma, beta, np.asarray(rm), np.asarray(rv), label=" after the chain")


@check(
    "bn_running",
    "evaluation mode with a batch of one (allowed), with eps = 0.01, and with a constant feature",
)
def bn_running_eval_edges(s, rng):
    gamma, beta = affine(rng, 4)
    rm, rv = running_stats(rng, 4)
    check_bn_eval(s, rng.standard_normal((1, 4)), gamma, beta, rm, rv, label=" (N = 1)")
    check_bn_eval(s, features(rng, 5, 4), gamma, beta, rm, rv * 0.01, eps=0.01)
    x = features(rng, 4, 4)
    x[:, 0] = 1.5
    check_bn_eval(s, x, gamma, beta, rm, rv, label=" (feature 0 is constant)")


# -- backward passes ----------------------------------------------------------------------------


def backward_shapes(s, rng, fn):
    for n, d, eps in [(2, 3, 1e-5), (int(rng.integers(20, 35)), 1, 1e-5), (5, 7, 1e-3)]:
        x = features(rng, n, d)
        gamma, beta = affine(rng, d)
        label = f" (N = {n}, D = {d}, eps = {eps:g})"
        check_bn_backward(s, fn, x, gamma, beta, rng.standard_normal(x.shape), eps, label)


def backward_constant(s, rng, fn):
    x = features(rng, 6, 4)
    x[:, 2] = 0.5
    gamma, beta = affine(rng, 4)
    check_bn_backward(
        s, fn, x, gamma, beta, rng.standard_normal(x.shape), label=" (feature 2 constant)"
    )
    x = features(rng, 7, 3, scales=np.array([0.02, 0.1, 2.0]))
    check_bn_backward(s, fn, x, gamma[:3], beta[:3], rng.standard_normal(x.shape), eps=0.1)


def backward_finite_differences(s, rng, fn):
    """<grad, v> against (L(p + h v) - L(p - h v)) / 2h for L = sum(dout * forward(p)), with the
    student's forward; along random directions in x, gamma and beta."""
    n, d, h = 6, 3, 1e-5
    x = features(rng, n, d, scales=np.array([0.5, 1.0, 2.0]))
    gamma, beta = affine(rng, d)
    dout = rng.standard_normal((n, d))
    rm, rv = np.zeros(d), np.ones(d)
    (_, cache, _, _), what = call_bn(s, x, gamma, beta, rm, rv, True)
    grads = unpack(s.call(fn, dout, cache), ("dx", "dgamma", "dbeta"), f"{fn}(dout, cache)")

    def loss(xx, gg, bb):
        (out, _, _, _), _ = call_bn(s, xx, gg, bb, rm, rv, True)
        return float(np.sum(dout * np.asarray(out, dtype=np.float64)))

    for k, name in enumerate(("x", "gamma", "beta")):
        point = [x, gamma, beta]
        v = rng.standard_normal(point[k].shape)
        plus, minus = list(point), list(point)
        plus[k], minus[k] = point[k] + h * v, point[k] - h * v
        numeric = (loss(*plus) - loss(*minus)) / (2 * h)
        analytic = float(np.sum(np.asarray(grads[k], dtype=np.float64) * v))
        expect(
            abs(analytic - numeric) <= 1e-5 * (abs(numeric) + abs(analytic)) + 1e-7,
            f"d{name} from {fn} disagrees with a centred finite difference of your own "
            f"batchnorm_forward along a random direction: <d{name}, v> = {analytic:.8g}, "
            f"finite difference {numeric:.8g}",
            "your backward pass is not the derivative of your own forward pass (a finite "
            "difference of it disagrees): the mistake is in the backward pass",
        )


@check("bn_backward", "N = 2, a single feature, a batch of 20 or more, eps = 1e-3")
def bn_backward_shapes(s, rng):
    backward_shapes(s, rng, "batchnorm_backward")


@check("bn_backward", "a constant feature, and eps = 0.1 against tiny variances")
def bn_backward_constant(s, rng):
    backward_constant(s, rng, "batchnorm_backward")


@check(
    "bn_backward",
    "dx, dgamma and dbeta agree with centred finite differences of your forward pass",
)
def bn_backward_numeric(s, rng):
    backward_finite_differences(s, rng, "batchnorm_backward")


@check("bn_backward_alt", "N = 2, a single feature, a batch of 20 or more, eps = 1e-3")
def bn_backward_alt_shapes(s, rng):
    backward_shapes(s, rng, "batchnorm_backward_alt")


@check("bn_backward_alt", "a constant feature, and eps = 0.1 against tiny variances")
def bn_backward_alt_constant(s, rng):
    backward_constant(s, rng, "batchnorm_backward_alt")


@check(
    "bn_backward_alt",
    "dx, dgamma and dbeta agree with centred finite differences of your forward pass",
)
def bn_backward_alt_numeric(s, rng):
    backward_finite_differences(s, rng, "batchnorm_backward_alt")


# -- spatial_bn ---------------------------------------------------------------------------------


def feature_maps(rng, n, c, h, w):
    return features(rng, n * h * w, c).reshape(n, h, w, c).transpose(0, 3, 1, 2).copy()


@check(
    "spatial_bn",
    "H = W = C = 3 (a transposition bug cannot hide behind a shape error), evaluation mode, and "
    "momentum 0.5 with eps = 1e-3",
)
def spatial_square(s, rng):
    x = feature_maps(rng, 2, 3, 3, 3)
    gamma, beta = affine(rng, 3)
    rm, rv = running_stats(rng, 3)
    check_spatial(s, x, gamma, beta, rm, rv, True, dout=rng.standard_normal(x.shape))
    check_spatial(s, feature_maps(rng, 2, 3, 4, 5), gamma, beta, rm, rv, False)
    check_spatial(s, x, gamma, beta, rm, rv, True, momentum=0.5, eps=1e-3)


@check(
    "spatial_bn",
    "a single image (N = 1, 4x4 pixels) trains, (1, C, 1, 1) raises ValueError in training mode, "
    "and (2, C, 1, 1) and a constant channel work",
)
def spatial_edges(s, rng):
    gamma, beta = affine(rng, 3)
    rm, rv = running_stats(rng, 3)
    x = feature_maps(rng, 1, 3, 4, 4)
    check_spatial(s, x, gamma, beta, rm, rv, True, dout=rng.standard_normal(x.shape))
    one = rng.standard_normal((1, 3, 1, 1))
    expect_value_error(
        lambda: s.call("spatial_batchnorm_forward", one, gamma, beta, rm, rv, True),
        "spatial_batchnorm_forward(x of shape (1, 3, 1, 1), ..., training=True)",
        "with N * H * W == 1 there is one value per channel: raise ValueError",
    )
    x = feature_maps(rng, 2, 3, 1, 1)
    check_spatial(s, x, gamma, beta, rm, rv, True, dout=rng.standard_normal(x.shape))
    x = feature_maps(rng, 3, 3, 2, 2)
    x[:, 1] = -1.25
    check_spatial(s, x, gamma, beta, rm, rv, True, dout=rng.standard_normal(x.shape))


# -- layernorm ----------------------------------------------------------------------------------


@check(
    "layernorm",
    "(N, C, H, W) inputs normalised over (C, H, W) with gamma and beta of shape (C, H, W)",
)
def layernorm_maps(s, rng):
    x = rng.standard_normal((3, 2, 3, 2)) * 2.0 + rng.uniform(-1, 1, (3, 1, 1, 1))
    gamma, beta = rng.uniform(0.5, 2.0, (2, 3, 2)), rng.standard_normal((2, 3, 2))
    check_layernorm(s, x, gamma, beta, rng.standard_normal(x.shape))


@check(
    "layernorm",
    "a batch of one, a constant example (its output is beta), eps = 0.1, and D = 1",
)
def layernorm_edges(s, rng):
    gamma, beta = affine(rng, 5)
    x = features(rng, 1, 5)
    check_layernorm(s, x, gamma, beta, rng.standard_normal(x.shape))
    x = features(rng, 3, 5)
    x[1] = 0.25
    check_layernorm(s, x, gamma, beta, rng.standard_normal(x.shape))
    x = rng.standard_normal((4, 5)) * 0.1
    check_layernorm(s, x, gamma, beta, rng.standard_normal(x.shape), eps=0.1)
    x = rng.standard_normal((3, 1))
    check_layernorm(s, x, gamma[:1], beta[:1], rng.standard_normal(x.shape))


# -- groupnorm ----------------------------------------------------------------------------------


def group_maps(rng, n, c, h, w):
    scale = rng.uniform(0.5, 3.0, (1, c, 1, 1))
    return rng.standard_normal((n, c, h, w)) * scale + rng.uniform(-2, 2, (1, c, 1, 1))


@check("groupnorm", "G = 1, G = C (instance norm) and a batch of one")
def groupnorm_special(s, rng):
    gamma, beta = affine(rng, 4)
    for n, groups in [(2, 1), (2, 4), (1, 2)]:
        x = group_maps(rng, n, 4, 3, 2)
        check_groupnorm(s, x, gamma, beta, groups, rng.standard_normal(x.shape))


@check(
    "groupnorm",
    "C = 8 with 4 groups on 1x1 maps, eps = 1e-3 with a constant group, and H = W = C = 4 "
    "with 2 groups",
)
def groupnorm_shapes(s, rng):
    gamma, beta = affine(rng, 8)
    x = group_maps(rng, 3, 8, 1, 1)
    check_groupnorm(s, x, gamma, beta, 4, rng.standard_normal(x.shape))
    x = group_maps(rng, 2, 8, 2, 2)
    x[1, 2:4] = 0.5
    check_groupnorm(s, x, gamma, beta, 4, rng.standard_normal(x.shape), eps=1e-3)
    x = group_maps(rng, 2, 4, 4, 4)
    check_groupnorm(s, x, gamma[:4], beta[:4], 2, rng.standard_normal(x.shape))


@check("groupnorm", "num_groups that does not divide C raises ValueError (as F.group_norm does)")
def groupnorm_bad_groups(s, rng):
    x = group_maps(rng, 2, 6, 2, 2)
    gamma, beta = affine(rng, 6)
    expect_value_error(
        lambda: s.call("groupnorm_forward", x, gamma, beta, 4),
        "groupnorm_forward(x of shape (2, 6, 2, 2), gamma, beta, num_groups=4)",
        "4 groups cannot split 6 channels: raise ValueError",
    )


# -- fold_bn ------------------------------------------------------------------------------------


def bn_params(rng, c):
    return (
        rng.uniform(0.5, 2.0, c) * rng.choice([-1.0, 1.0], c),
        rng.standard_normal(c),
        rng.standard_normal(c),
        rng.uniform(0.05, 3.0, c),
    )


@check(
    "fold_bn",
    "square weights (M = D) and square filters (C_out = C_in), so that scaling the wrong axis "
    "cannot hide behind a shape error",
)
def fold_square(s, rng):
    m = int(rng.integers(3, 6))
    w, b = rng.standard_normal((m, m)), rng.standard_normal(m)
    check_fold(s, "fold_bn_linear", w, b, *bn_params(rng, m))
    w = rng.standard_normal((m, m, 3, 3))
    check_fold(s, "fold_bn_conv", w, rng.standard_normal(m), *bn_params(rng, m))


@check("fold_bn", "eps = 0.1, a convolution without bias, 1x1 filters, a single output unit")
def fold_edges(s, rng):
    w = rng.standard_normal((4, 2, 1, 1))
    check_fold(s, "fold_bn_conv", w, None, *bn_params(rng, 4), eps=0.1)
    w = rng.standard_normal((3, 5, 2, 3))
    check_fold(s, "fold_bn_conv", w, rng.standard_normal(3), *bn_params(rng, 3))
    w = rng.standard_normal((1, 4))
    check_fold(s, "fold_bn_linear", w, rng.standard_normal(1), *bn_params(rng, 1), eps=0.1)


# -- torch_bn_function --------------------------------------------------------------------------


@check(
    "torch_bn_function",
    "float32 (N, C) inputs with momentum 0.3 and eps 1e-3 in both modes: values, dtypes, "
    "gradients and buffers",
)
def function_vectors(s, rng):
    # moderate scales: in float32, E[x^2] - E[x]^2 would be too inaccurate for tiny variances,
    # and this check is about dtypes and arguments, not about that
    x = features(rng, 10, 4, scales=np.array([0.5, 1.0, 2.0, 3.0]))
    gamma, beta = affine(rng, 4)
    rm, rv = running_stats(rng, 4)
    for training in (True, False):
        check_function(
            s, x, gamma, beta, rm, rv, training, 0.3, 1e-3, rng.standard_normal(x.shape), "float32"
        )


@check(
    "torch_bn_function",
    "a batch of one in training mode raises ValueError for (1, C) and (1, C, 1, 1); (1, C, 2, 2) "
    "trains; (1, C) works in evaluation mode",
)
def function_one(s, rng):
    gamma, beta = affine(rng, 3)
    rm, rv = running_stats(rng, 3)
    for shape in [(1, 3), (1, 3, 1, 1)]:
        x = rng.standard_normal(shape)
        expect_value_error(
            lambda x=x: probe(
                s,
                "a3_batchnorm.bn_function",
                x,
                gamma,
                beta,
                rm,
                rv,
                True,
                0.1,
                1e-5,
                None,
                "float64",
            ),
            f"BatchNormFunction.apply(x of shape {shape}, ..., training=True, ...)",
            "one value per channel cannot be normalised: raise ValueError as F.batch_norm does",
        )
    x = rng.standard_normal((1, 3, 2, 2))
    check_function(s, x, gamma, beta, rm, rv, True, dout=rng.standard_normal(x.shape))
    x = rng.standard_normal((1, 3))
    check_function(s, x, gamma, beta, rm, rv, False, dout=rng.standard_normal(x.shape))


@check(
    "torch_bn_function",
    "a constant channel, momentum 0 and momentum 1, and a (2, C, 5) input",
)
def function_edges(s, rng):
    gamma, beta = affine(rng, 3)
    rm, rv = running_stats(rng, 3)
    x = feature_maps(rng, 3, 3, 2, 2)
    x[:, 0] = 0.75
    check_function(s, x, gamma, beta, rm, rv, True, 0.0, dout=rng.standard_normal(x.shape))
    x = rng.standard_normal((2, 3, 5)) * 2.0
    check_function(s, x, gamma, beta, rm, rv, True, 1.0, dout=rng.standard_normal(x.shape))


# -- torch_bn_module ----------------------------------------------------------------------------


@check(
    "torch_bn_module",
    "momentum=None (a cumulative average: weight 1 / num_batches_tracked) over four training "
    "steps, then evaluation",
)
def module_cumulative(s, rng):
    steps = module_steps(rng, 3, [True, True, True, True, False])
    check_module_run(s, 3, {"momentum": None}, steps, "float64")


@check(
    "torch_bn_module",
    "eps=1e-3 and momentum=0.3 in float32 (the default dtype): values, dtypes and buffers; "
    "MyBatchNorm2d(C, dtype=torch.float64) creates float64 parameters and buffers",
)
def module_settings(s, rng):
    steps = module_steps(rng, 2, [True, True, False])
    check_module_run(s, 2, {"eps": 1e-3, "momentum": 0.3}, steps, None)
    steps = module_steps(rng, 3, [True, False])
    res = check_module_run(s, 3, {"dtype": "float64"}, steps, None)
    for kind in ("params", "buffers"):
        for name, desc in res["info"][kind].items():
            want = "int64" if name == "num_batches_tracked" else "float64"
            expect(
                desc["dtype"] == want,
                f"{name} of MyBatchNorm2d(3, dtype=torch.float64) has dtype {desc['dtype']}, "
                f"expected {want}",
                "pass dtype (and device) to the tensors you create in __init__",
            )


@check(
    "torch_bn_module",
    "loading the state_dict of a trained nn.BatchNorm2d, then evaluation mode gives its outputs",
)
def module_load_state(s, rng):
    c = 3
    state = {
        "weight": rng.uniform(0.5, 2.0, c),
        "bias": rng.standard_normal(c),
        "running_mean": rng.standard_normal(c),
        "running_var": rng.uniform(0.2, 3.0, c),
        "num_batches_tracked": np.array(7, dtype=np.int64),
    }
    steps = module_steps(rng, c, [False, False])
    check_module_run(s, c, {}, steps, "float64", state=state, label=" with a loaded state_dict")


@check(
    "torch_bn_module",
    "a 3-D input raises ValueError; (1, C, 1, 1) raises ValueError in training mode but works in "
    "evaluation mode",
)
def module_input_errors(s, rng):
    for shape, train in [((2, 3, 4), True), ((1, 3, 1, 1), True)]:
        step = {"x": rng.standard_normal(shape), "train": train}
        expect_value_error(
            lambda step=step: probe(s, "a3_batchnorm.bn_module", 3, {}, [step], "float64"),
            f"MyBatchNorm2d(3) in {'training' if train else 'evaluation'} mode on an input of "
            f"shape {shape}",
            "nn.BatchNorm2d raises ValueError for inputs that are not 4-D, and for one value per "
            "channel in training mode",
        )
    steps = [{"x": rng.standard_normal((1, 3, 1, 1)), "train": False}]
    check_module_run(s, 3, {}, steps, "float64", label=" on one 1x1 image in evaluation mode")


# -- fuse_conv_bn -------------------------------------------------------------------------------


@check(
    "fuse_conv_bn",
    "a conv without bias, with stride 2, dilation 2 and no padding, and a batch norm with "
    "eps = 1e-3",
)
def fuse_no_bias(s, rng):
    cfg = {"in_channels": 2, "out_channels": 3, "kernel_size": 3, "stride": 2, "dilation": 2}
    check_fuse(s, rng, cfg, with_bias=False, eps=1e-3)


@check(
    "fuse_conv_bn",
    "groups = 2 in float32, with the batch norm left in training mode (the running statistics "
    "are used anyway, and its mode is not changed)",
)
def fuse_groups(s, rng):
    cfg = {"in_channels": 4, "out_channels": 6, "kernel_size": 3, "padding": 1, "groups": 2}
    check_fuse(s, rng, cfg, dtype="float32", training=True)
