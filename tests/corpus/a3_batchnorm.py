"""Mutants (realistic bugs) and alternative correct answers for A3.

Each mutant is one textual change in one answer cell of the solution and must cost its item
points; each alternative is a whole answer cell written differently and must get full marks on
every item. Alternatives of the vector batch norm keep the solution's cache keys ("x_hat",
"centred", "inv_sd", "gamma"), because the solution's backward passes read them.
"""

from mutation import Alternative, Mutant

FWD = "bn_forward_answer"
BWD = "bn_backward_answer"
ALT = "bn_backward_alt_answer"
SPATIAL = "spatial_bn_answer"
LN = "layernorm_answer"
GN = "groupnorm_answer"
FOLD = "fold_bn_answer"
FN = "torch_bn_function_answer"
MOD = "torch_bn_module_answer"
FUSE = "fuse_conv_bn_answer"

MUTANTS = [
    # -- bn_forward ------------------------------------------------------------------------------
    Mutant(
        "bn_forward",
        "unbiased variance in the normalisation",
        FWD,
        "batch_var = (centred**2).mean(axis=0)",
        "batch_var = (centred**2).sum(axis=0) / (n - 1)",
        hint="the normalisation used the unbiased variance (divided by N",
    ),
    Mutant(
        "bn_forward",
        "eps outside the square root",
        FWD,
        "inv_sd = 1.0 / np.sqrt(batch_var + eps)",
        "inv_sd = 1.0 / (np.sqrt(batch_var) + eps)",
        hint="eps belongs inside the square root: (x - mean) / sqrt(var +",
    ),
    Mutant(
        "bn_forward",
        "statistics per example instead of per feature",
        FWD,
        "    batch_mean = x.mean(axis=0)\n"
        "    centred = x - batch_mean\n"
        "    batch_var = (centred**2).mean(axis=0)",
        "    batch_mean = x.mean(axis=1, keepdims=True)\n"
        "    centred = x - batch_mean\n"
        "    batch_var = (centred**2).mean(axis=1, keepdims=True)",
        hint="the statistics were taken per example (over axis 1) instead",
    ),
    Mutant(
        "bn_forward",
        "running statistics used during training",
        FWD,
        "x_hat = centred * inv_sd",
        "x_hat = (x - running_mean) / np.sqrt(running_var + eps)",
        hint="you normalised with the running statistics during training:",
    ),
    Mutant(
        "bn_forward",
        "gamma and beta swapped",
        FWD,
        "out = gamma * x_hat + beta",
        "out = beta * x_hat + gamma",
        hint="gamma and beta are swapped",
    ),
    Mutant(
        "bn_forward",
        "a batch of one is accepted",
        FWD,
        "if n <= 1:",
        "if n < 1:",
        hint=(
            "in training mode a batch with a single value per feature",
            "a batch of one must be refused in training mode whatever",
        ),
    ),
    # -- bn_running ------------------------------------------------------------------------------
    Mutant(
        "bn_running",
        "biased running variance",
        FWD,
        "momentum * bessel * batch_var",
        "momentum * batch_var",
        hint="the running variance is biased: it must accumulate the",
    ),
    Mutant(
        "bn_running",
        "batch statistics at test time",
        FWD,
        "out = gamma * ((x - running_mean) * inv_sd) + beta",
        "out = gamma * ((x - x.mean(axis=0)) / np.sqrt(x.var(axis=0) + eps)) + beta",
        hint=(
            "batch statistics at test time: evaluation mode must",
            "evaluation mode: gamma * (x - running_mean) /",
        ),
    ),
    Mutant(
        "bn_running",
        "running statistics not updated",
        FWD,
        "return out, cache, new_mean, new_var",
        "return out, cache, running_mean, running_var",
        hint="the running statistics were not updated (or not returned)",
    ),
    Mutant(
        "bn_running",
        "momentum weights the old value (Keras convention)",
        FWD,
        "new_mean = (1.0 - momentum) * running_mean + momentum * batch_mean",
        "new_mean = momentum * running_mean + (1.0 - momentum) * batch_mean",
        hint="momentum is the weight of the new batch statistic in",
    ),
    Mutant(
        "bn_running",
        "momentum hard-coded to 0.1",
        FWD,
        "new_var = (1.0 - momentum) * running_var + momentum * bessel * batch_var",
        "new_var = 0.9 * running_var + 0.1 * bessel * batch_var",
        hint=(
            "the momentum argument was ignored: use it (0 here), not 0.1",
            "the momentum argument was ignored: use it (0.2 here), not",
        ),
    ),
    Mutant(
        "bn_running",
        "evaluation mode updates the running mean",
        FWD,
        "return out, None, np.array(running_mean, copy=True), np.array(running_var, copy=True)",
        "return out, None, 0.9 * running_mean + 0.1 * x.mean(axis=0), "
        "np.array(running_var, copy=True)",
        hint=(
            "evaluation mode updated the running mean: evaluation mode",
            "evaluation mode must return the running statistics unchanged",
        ),
    ),
    Mutant(
        "bn_running",
        "evaluation mode without eps",
        FWD,
        "inv_sd = 1.0 / np.sqrt(running_var + eps)",
        "inv_sd = 1.0 / np.sqrt(running_var)",
        hint="eps is missing in evaluation mode: divide by",
    ),
    # -- bn_backward -----------------------------------------------------------------------------
    Mutant(
        "bn_backward",
        "gamma missing from the backward",
        BWD,
        "d_x_hat = dout * gamma",
        "d_x_hat = dout",
        hint=(
            "gamma is missing from dx: the gradient reaching x_hat is",
            "not the derivative of your own forward",
        ),
    ),
    Mutant(
        "bn_backward",
        "variance path dropped",
        BWD,
        "d_centred = d_centred + (2.0 / n) * centred * d_var",
        "d_centred = d_centred",
        hint=(
            "dx ignores that the variance depends on x: the term x_hat *",
            "not the derivative of your own forward",
        ),
    ),
    Mutant(
        "bn_backward",
        "mean path dropped",
        BWD,
        "dx = d_centred + d_mean / n",
        "dx = d_centred",
        hint=(
            "dx ignores that the batch mean depends on x: the term with",
            "not the derivative of your own forward",
        ),
    ),
    Mutant(
        "bn_backward",
        "wrong power in the derivative of 1/sqrt",
        BWD,
        "d_var = -0.5 * inv_sd**3 * d_inv_sd",
        "d_var = -0.5 * inv_sd**2 * d_inv_sd",
        hint="not the derivative of your own forward",
    ),
    Mutant(
        "bn_backward",
        "dgamma from the centred input",
        BWD,
        "dgamma = (dout * x_hat).sum(axis=0)",
        "dgamma = (dout * centred).sum(axis=0)",
        hint="not the derivative of your own forward",
    ),
    Mutant(
        "bn_backward",
        "dbeta averaged",
        BWD,
        "dbeta = dout.sum(axis=0)",
        "dbeta = dout.mean(axis=0)",
        hint=(
            "dbeta was averaged over the batch instead of summed",
            "not the derivative of your own forward",
        ),
    ),
    # -- bn_backward_alt -------------------------------------------------------------------------
    Mutant(
        "bn_backward_alt",
        "gamma missing from the closed form",
        ALT,
        "dx = (gamma * inv_sd / n)",
        "dx = (inv_sd / n)",
        hint=(
            "gamma is missing from dx: the gradient reaching x_hat is",
            "not the derivative of your own forward",
        ),
    ),
    Mutant(
        "bn_backward_alt",
        "wrong sign of the x_hat term",
        ALT,
        "- x_hat * dgamma)",
        "+ x_hat * dgamma)",
        hint=("the term with x_hat has the wrong sign", "not the derivative of your own forward"),
    ),
    Mutant(
        "bn_backward_alt",
        "mean term missing",
        ALT,
        "n * dout - dbeta - x_hat * dgamma",
        "n * dout - x_hat * dgamma",
        hint=(
            "dx ignores that the batch mean depends on x: the term with",
            "not the derivative of your own forward",
        ),
    ),
    Mutant(
        "bn_backward_alt",
        "divides by N - 1",
        ALT,
        "dx = (gamma * inv_sd / n)",
        "dx = (gamma * inv_sd / (n - 1))",
        hint="not the derivative of your own forward",
    ),
    # -- spatial_bn ------------------------------------------------------------------------------
    Mutant(
        "spatial_bn",
        "wrong axes: reshape without moving the channels",
        SPATIAL,
        "as_rows = np.moveaxis(x, 1, -1).reshape(n * h * w, c)",
        "as_rows = x.reshape(n * h * w, c)",
        hint="the channels were mixed up: x.reshape(-1, C) of an (N, C,",
    ),
    Mutant(
        "spatial_bn",
        "output not moved back to (N, C, H, W)",
        SPATIAL,
        "out = np.moveaxis(rows_out.reshape(n, h, w, c), -1, 1)",
        "out = rows_out.reshape(n, c, h, w)",
    ),
    Mutant(
        "spatial_bn",
        "backward: dx not moved back",
        SPATIAL,
        "dx = np.moveaxis(dx_rows.reshape(n, h, w, c), -1, 1)",
        "dx = dx_rows.reshape(n, c, h, w)",
        hint="dx was reshaped straight to (N, C, H, W) from the (N*H*W,",
    ),
    Mutant(
        "spatial_bn",
        "backward: upstream gradient read with the wrong layout",
        SPATIAL,
        "grad_rows = np.moveaxis(dout, 1, -1).reshape(n * h * w, c)",
        "grad_rows = dout.reshape(n * h * w, c)",
        hint="turn dout into (N*H*W, C) rows exactly as the forward pass",
    ),
    Mutant(
        "spatial_bn",
        "statistics over N only (one per channel and position)",
        SPATIAL,
        "    rows_out, bn_cache, new_mean, new_var = batchnorm_forward(\n"
        "        as_rows, gamma, beta, running_mean, running_var, training, momentum, eps\n"
        "    )",
        "    per_position = x.reshape(n, -1)\n"
        "    _, bn_cache, new_mean, new_var = batchnorm_forward(\n"
        "        as_rows, gamma, beta, running_mean, running_var, training, momentum, eps\n"
        "    )\n"
        "    z = (per_position - per_position.mean(axis=0)) / np.sqrt(per_position.var(axis=0) + eps)\n"
        "    rows_out = np.moveaxis(z.reshape(x.shape), 1, -1).reshape(n * h * w, c) * gamma + beta",
        hint="the statistics were taken over N only, per channel and",
    ),
    # -- layernorm -------------------------------------------------------------------------------
    Mutant(
        "layernorm",
        "statistics over the batch axis",
        LN,
        "    row_mean = rows.mean(axis=1, keepdims=True)\n"
        "    row_centred = rows - row_mean\n"
        "    row_inv_sd = 1.0 / np.sqrt((row_centred**2).mean(axis=1, keepdims=True) + eps)",
        "    row_mean = rows.mean(axis=0, keepdims=True)\n"
        "    row_centred = rows - row_mean\n"
        "    row_inv_sd = 1.0 / np.sqrt((row_centred**2).mean(axis=0, keepdims=True) + eps)",
        hint="the statistics were taken over the batch axis (that is",
    ),
    Mutant(
        "layernorm",
        "gamma missing from the backward",
        LN,
        "g_rows = (dout * gamma).reshape(n, -1)",
        "g_rows = dout.reshape(n, -1)",
        hint="gamma is missing from dx: the gradient reaching x_hat is",
    ),
    Mutant(
        "layernorm",
        "x_hat term dropped from dx",
        LN,
        "        - xh_rows * (g_rows * xh_rows).sum(axis=1, keepdims=True)\n",
        "",
        hint="dx ignores that the variance depends on x: the term x_hat *",
    ),
    Mutant(
        "layernorm",
        "eps outside the square root",
        LN,
        "np.sqrt((row_centred**2).mean(axis=1, keepdims=True) + eps)",
        "(np.sqrt((row_centred**2).mean(axis=1, keepdims=True)) + eps)",
        hint="eps belongs inside the square root",
    ),
    Mutant(
        "layernorm",
        "dgamma averaged over the batch",
        LN,
        "dgamma = (dout * x_hat).sum(axis=0)",
        "dgamma = (dout * x_hat).mean(axis=0)",
        hint="dgamma was averaged over the batch instead of summed",
    ),
    # -- groupnorm -------------------------------------------------------------------------------
    Mutant(
        "groupnorm",
        "interleaved channels in the groups",
        GN,
        "groups = x.reshape(n, num_groups, -1)",
        "groups = x.reshape(n, c // num_groups, num_groups, h * w).transpose(0, 2, 1, 3)"
        ".reshape(n, num_groups, -1)",
        hint="the groups must be consecutive channels (channels 0 to C/G",
    ),
    Mutant(
        "groupnorm",
        "instance norm instead of group norm",
        GN,
        "groups = x.reshape(n, num_groups, -1)",
        "groups = x.reshape(n, c, -1)",
        hint="every channel was normalised on its own (instance norm):",
    ),
    Mutant(
        "groupnorm",
        "gamma missing from the backward",
        GN,
        "g = (dout * gamma.reshape(1, c, 1, 1)).reshape(n, num_groups, -1)",
        "g = dout.reshape(n, num_groups, -1)",
        hint="gamma is missing from dx: the gradient reaching x_hat is",
    ),
    Mutant(
        "groupnorm",
        "x_hat term dropped from dx",
        GN,
        "dx = inv_sd * (g - mean_g - xh * mean_gx)",
        "dx = inv_sd * (g - mean_g)",
        hint="dx ignores that the variance depends on x: the term x_hat *",
    ),
    Mutant(
        "groupnorm",
        "indivisible number of groups accepted",
        GN,
        "if num_groups < 1 or c % num_groups != 0:",
        "if num_groups < 1:",
        hint="4 groups cannot split 6 channels: raise ValueError",
    ),
    # -- fold_bn ---------------------------------------------------------------------------------
    Mutant(
        "fold_bn",
        "eps missing",
        FOLD,
        "unit_scale = gamma / np.sqrt(running_var + eps)",
        "unit_scale = gamma / np.sqrt(running_var)",
        hint="eps is missing: scale by gamma / sqrt(running_var + eps)",
    ),
    Mutant(
        "fold_bn",
        "linear bias not scaled",
        FOLD,
        "unit_scale * (old_bias - running_mean) + beta",
        "old_bias - unit_scale * running_mean + beta",
        hint="the old bias must be scaled too: b' = a * (b - mean) + beta",
    ),
    Mutant(
        "fold_bn",
        "linear: columns scaled instead of rows",
        FOLD,
        "w * unit_scale[:, None]",
        "w * unit_scale[None, :]",
        hint=(
            "a shape mismatch: print the shapes of your intermediate",
            "the columns (inputs) were scaled instead of the rows",
        ),
    ),
    Mutant(
        "fold_bn",
        "conv: input channels scaled",
        FOLD,
        "w_folded = w * channel_scale.reshape(-1, 1, 1, 1)",
        "w_folded = w * channel_scale.reshape(1, -1, 1, 1)",
        hint=(
            "a shape mismatch: print the shapes of your intermediate",
            "the input channels (axis 1) were scaled instead of the",
        ),
    ),
    Mutant(
        "fold_bn",
        "conv: running mean not subtracted",
        FOLD,
        "channel_scale * (conv_bias - running_mean) + beta",
        "channel_scale * conv_bias + beta",
        hint="the running mean must be subtracted before scaling: b' = a",
    ),
    # -- torch_bn_function -----------------------------------------------------------------------
    Mutant(
        "torch_bn_function",
        "biased running variance",
        FN,
        "add_(momentum * var * per_channel / (per_channel - 1))",
        "add_(momentum * var)",
        hint="the running variance is biased: it must accumulate the",
    ),
    Mutant(
        "torch_bn_function",
        "buffer rebound instead of updated in place",
        FN,
        "running_mean.mul_(1.0 - momentum).add_(momentum * mean)",
        "running_mean = (1.0 - momentum) * running_mean + momentum * mean",
        hint="update the buffers in place",
    ),
    Mutant(
        "torch_bn_function",
        "gamma missing from grad_x",
        FN,
        "gain = (weight * inv_sd).view(view)",
        "gain = inv_sd.view(view)",
        hint="gamma (weight) is missing from the gradient with respect to",
    ),
    Mutant(
        "torch_bn_function",
        "training-mode backward in evaluation mode",
        FN,
        "        if ctx.training:\n            per_channel",
        "        if True:\n            per_channel",
        hint="in evaluation mode the mean and variance are constants:",
    ),
    Mutant(
        "torch_bn_function",
        "batch statistics at test time",
        FN,
        "mean, var = running_mean, running_var",
        "mean, var = x.mean(dim=axes), x.var(dim=axes, correction=0)",
        hint="batch statistics at test time: evaluation mode uses",
    ),
    Mutant(
        "torch_bn_function",
        "statistics over the batch axis only",
        FN,
        "        axes = [0, *range(2, x.dim())]\n        view = [1, x.shape[1]]",
        "        axes = [0]\n        view = [1, x.shape[1]]",
        hint="a shape mismatch: print the shapes of your intermediate",
    ),
    Mutant(
        "torch_bn_function",
        "forward delegated to F.batch_norm",
        FN,
        "return x_hat * weight.view(view) + bias.view(view)",
        "return F.batch_norm(x, mean, var, weight, bias, False, 0.0, eps)",
    ),
    Mutant(
        "torch_bn_function",
        "no error for one value per channel",
        FN,
        "if per_channel <= 1:",
        "if per_channel < 1:",
        hint="one value per channel cannot be normalised: raise",
    ),
    # -- torch_bn_module -------------------------------------------------------------------------
    Mutant(
        "torch_bn_module",
        "running mean as a plain attribute",
        MOD,
        'self.register_buffer("running_mean", torch.zeros(num_features, **like))',
        "self.running_mean = torch.zeros(num_features, **like)",
        hint=(
            "buffers are registered with self.register_buffer(name,",
            "register it with self.register_buffer(name, tensor)",
        ),
    ),
    Mutant(
        "torch_bn_module",
        "num_batches_tracked never incremented",
        MOD,
        "            self.num_batches_tracked.add_(1)\n",
        "",
        hint="num_batches_tracked counts the training-mode calls (in",
    ),
    Mutant(
        "torch_bn_module",
        "evaluation-mode calls counted",
        MOD,
        "        if self.training:\n            self.num_batches_tracked.add_(1)\n",
        "        self.num_batches_tracked.add_(1)\n        if self.training:\n",
        hint="num_batches_tracked counts the training-mode calls (in",
    ),
    Mutant(
        "torch_bn_module",
        "momentum=None treated as 0.1",
        MOD,
        "weight_of_new = 1.0 / float(self.num_batches_tracked)",
        "weight_of_new = 0.1",
        hint="momentum=None means a cumulative average: the weight of the",
    ),
    Mutant(
        "torch_bn_module",
        "always in training mode",
        MOD,
        "self.running_var, self.training,",
        "self.running_var, True,",
        hint="evaluation mode must normalise with the running buffers,",
    ),
    Mutant(
        "torch_bn_module",
        "3-D inputs accepted",
        MOD,
        "if x.dim() != 4:",
        "if x.dim() < 2:",
        hint="nn.BatchNorm2d raises ValueError for inputs that are not",
    ),
    # -- fuse_conv_bn ----------------------------------------------------------------------------
    Mutant(
        "fuse_conv_bn",
        "eps ignored",
        FUSE,
        "factor = bn.weight / torch.sqrt(bn.running_var + bn.eps)",
        "factor = bn.weight / torch.sqrt(bn.running_var)",
        hint="eps is missing: scale by gamma / sqrt(running_var + eps)",
    ),
    Mutant(
        "fuse_conv_bn",
        "conv bias not scaled",
        FUSE,
        "shift = shift + factor * conv.bias",
        "shift = shift + conv.bias",
        hint="the old bias must be scaled too: b' = a * (b - mean) + beta",
    ),
    Mutant(
        "fuse_conv_bn",
        "padding not copied",
        FUSE,
        "padding=conv.padding, dilation=conv.dilation,",
        "dilation=conv.dilation,",
        hint="create the new Conv2d with the kernel size, stride,",
    ),
    Mutant(
        "fuse_conv_bn",
        "dtype not kept",
        FUSE,
        "device=conv.weight.device, dtype=conv.weight.dtype,",
        "device=conv.weight.device,",
        hint="create the new layer with dtype=conv.weight.dtype",
    ),
    Mutant(
        "fuse_conv_bn",
        "running mean not subtracted",
        FUSE,
        "shift = bn.bias - factor * bn.running_mean",
        "shift = bn.bias.clone()",
        hint="the running mean must be subtracted before scaling: b' = a",
    ),
    Mutant(
        "fuse_conv_bn",
        "conv modified in place and returned",
        FUSE,
        "    return fused\n",
        "    with torch.no_grad():\n"
        "        conv.weight.copy_(fused.weight)\n"
        "    conv.bias = fused.bias\n"
        "    return conv\n",
        hint="build a new nn.Conv2d: the original layers must stay",
    ),
]

# -- alternatives ---------------------------------------------------------------------------------

FORWARD_NP_VAR = '''\
def batchnorm_forward(x, gamma, beta, running_mean, running_var, training, momentum=0.1,
                      eps=1e-5):
    """np.var and np.mean; the running statistics computed before the output."""
    if training:
        count = len(x)
        if count == 1:
            raise ValueError("Expected more than 1 value per channel when training")
        mu = np.mean(x, axis=0)
        sample_var = np.var(x, axis=0, ddof=1)
        new_rm = running_mean + momentum * (mu - running_mean)
        new_rv = running_var + momentum * (sample_var - running_var)
        biased = np.var(x, axis=0)
        inv = (biased + eps) ** -0.5
        x_hat = (x - mu) * inv
        cache = {"x_hat": x_hat, "centred": x - mu, "inv_sd": inv, "gamma": gamma}
        return x_hat * gamma + beta, cache, new_rm, new_rv
    scale = gamma * (running_var + eps) ** -0.5
    shift = beta - running_mean * scale
    return x * scale + shift, {}, running_mean + 0.0, running_var + 0.0
'''

FORWARD_LOOPS = '''\
def batchnorm_forward(x, gamma, beta, running_mean, running_var, training, momentum=0.1,
                      eps=1e-5):
    """One feature at a time, with Python loops over the features."""
    n, d = x.shape
    out = np.empty_like(x, dtype=np.float64)
    new_rm = np.array(running_mean, dtype=np.float64)
    new_rv = np.array(running_var, dtype=np.float64)
    if not training:
        for j in range(d):
            out[:, j] = gamma[j] * (x[:, j] - new_rm[j]) / np.sqrt(new_rv[j] + eps) + beta[j]
        return out, None, new_rm, new_rv
    if n < 2:
        raise ValueError(f"Expected more than 1 value per channel when training, got {x.shape}")
    x_hat = np.empty_like(out)
    centred = np.empty_like(out)
    inv_sd = np.empty(d)
    for j in range(d):
        col = x[:, j]
        m = col.sum() / n
        centred[:, j] = col - m
        v = np.dot(centred[:, j], centred[:, j]) / n
        inv_sd[j] = 1.0 / np.sqrt(v + eps)
        x_hat[:, j] = centred[:, j] * inv_sd[j]
        out[:, j] = gamma[j] * x_hat[:, j] + beta[j]
        new_rm[j] = (1 - momentum) * new_rm[j] + momentum * m
        new_rv[j] = (1 - momentum) * new_rv[j] + momentum * v * n / (n - 1)
    cache = {"x_hat": x_hat, "centred": centred, "inv_sd": inv_sd, "gamma": gamma}
    return out, cache, new_rm, new_rv
'''

BACKWARD_STAGED_SQRT = '''\
def batchnorm_backward(dout, cache):
    """Staged through sd = sqrt(var + eps) and a division, with explicit ones-vectors."""
    x_hat, centred, inv_sd, gamma = (cache[k] for k in ("x_hat", "centred", "inv_sd", "gamma"))
    n = dout.shape[0]
    ones = np.ones(n)
    sd = 1.0 / inv_sd
    dbeta = ones @ dout
    dgamma = ones @ (dout * x_hat)
    dxhat = dout * gamma
    # x_hat = centred / sd
    dcentred_direct = dxhat / sd
    dsd = -(ones @ (dxhat * centred)) / sd**2
    # sd = sqrt(var + eps)
    dvar = dsd / (2.0 * sd)
    # var = sum(centred^2) / n
    dcentred = dcentred_direct + 2.0 * centred * dvar / n
    # centred = x - mu, mu = sum(x) / n
    dmu = -(ones @ dcentred)
    dx = dcentred + np.outer(ones, dmu) / n
    return dx, dgamma, dbeta
'''

BACKWARD_ALT_DXHAT = '''\
def batchnorm_backward_alt(dout, cache):
    """Closed form through the gradient reaching x_hat, with means instead of sums."""
    x_hat, inv_sd, gamma = cache["x_hat"], cache["inv_sd"], cache["gamma"]
    g = dout * gamma
    dx = inv_sd * (g - g.mean(axis=0) - x_hat * (g * x_hat).mean(axis=0))
    return dx, (dout * x_hat).sum(axis=0), dout.sum(axis=0)
'''

SPATIAL_DIRECT = '''\
def spatial_batchnorm_forward(x, gamma, beta, running_mean, running_var, training,
                              momentum=0.1, eps=1e-5):
    """Reductions over the axes (0, 2, 3) directly, without the vector version."""
    axes = (0, 2, 3)
    per_channel = x.shape[0] * x.shape[2] * x.shape[3]
    g4, b4 = gamma[None, :, None, None], beta[None, :, None, None]
    if not training:
        out = g4 * (x - running_mean[None, :, None, None]) / np.sqrt(
            running_var[None, :, None, None] + eps) + b4
        return out, None, running_mean.copy(), running_var.copy()
    if per_channel == 1:
        raise ValueError("Expected more than 1 value per channel when training")
    mu = x.mean(axis=axes, keepdims=True)
    var = ((x - mu) ** 2).mean(axis=axes, keepdims=True)
    inv = 1.0 / np.sqrt(var + eps)
    x_hat = (x - mu) * inv
    new_rm = (1 - momentum) * running_mean + momentum * mu.ravel()
    new_rv = (1 - momentum) * running_var + momentum * var.ravel() * per_channel / (per_channel - 1)
    return g4 * x_hat + b4, (x_hat, inv, g4, per_channel), new_rm, new_rv


def spatial_batchnorm_backward(dout, cache):
    x_hat, inv, g4, m = cache
    axes = (0, 2, 3)
    dbeta = dout.sum(axis=axes)
    dgamma = (dout * x_hat).sum(axis=axes)
    dx = (g4 * inv / m) * (
        m * dout - dbeta[None, :, None, None] - x_hat * dgamma[None, :, None, None]
    )
    return dx, dgamma, dbeta
'''

LAYERNORM_TRANSPOSE = '''\
def layernorm_forward(x, gamma, beta, eps=1e-5):
    """Layer norm as column-wise standardisation of the transposed (D, N) matrix."""
    cols = x.reshape(x.shape[0], -1).T  # (D, N): one column per example
    mu = cols.mean(axis=0)
    var = cols.var(axis=0)
    inv = 1.0 / np.sqrt(var + eps)
    x_hat_cols = (cols - mu) * inv
    x_hat = x_hat_cols.T.reshape(x.shape)
    return x_hat * gamma + beta, {"xh": x_hat_cols, "inv": inv, "gamma": gamma, "shape": x.shape}


def layernorm_backward(dout, cache):
    xh, inv, gamma, shape = cache["xh"], cache["inv"], cache["gamma"], cache["shape"]
    x_hat = xh.T.reshape(shape)
    dgamma = np.sum(dout * x_hat, axis=0)
    dbeta = np.sum(dout, axis=0)
    g = (dout * gamma).reshape(shape[0], -1).T  # (D, N)
    d = g.shape[0]
    dcols = inv / d * (d * g - g.sum(axis=0) - xh * np.sum(g * xh, axis=0))
    return dcols.T.reshape(shape), dgamma, dbeta
'''

GROUPNORM_LOOPS = '''\
def groupnorm_forward(x, gamma, beta, num_groups, eps=1e-5):
    """A loop over the groups, each a slice of consecutive channels."""
    n, c = x.shape[:2]
    if num_groups <= 0 or c % num_groups:
        raise ValueError("num_groups must divide the number of channels")
    size = c // num_groups
    x_hat = np.empty_like(x, dtype=np.float64)
    inv = np.empty((n, num_groups))
    for g in range(num_groups):
        block = x[:, g * size:(g + 1) * size]
        mu = block.mean(axis=(1, 2, 3), keepdims=True)
        var = block.var(axis=(1, 2, 3), keepdims=True)
        inv[:, g] = 1.0 / np.sqrt(var.ravel() + eps)
        x_hat[:, g * size:(g + 1) * size] = (block - mu) / np.sqrt(var + eps)
    out = x_hat * gamma[:, None, None] + beta[:, None, None]
    return out, (x_hat, inv, gamma, size)


def groupnorm_backward(dout, cache):
    x_hat, inv, gamma, size = cache
    n, c = dout.shape[:2]
    dx = np.empty_like(dout, dtype=np.float64)
    g_all = dout * gamma[:, None, None]
    for g in range(c // size):
        sl = slice(g * size, (g + 1) * size)
        gg, xh = g_all[:, sl], x_hat[:, sl]
        m = gg[0].size
        s1 = gg.sum(axis=(1, 2, 3), keepdims=True)
        s2 = (gg * xh).sum(axis=(1, 2, 3), keepdims=True)
        dx[:, sl] = inv[:, g][:, None, None, None] / m * (m * gg - s1 - xh * s2)
    return dx, (dout * x_hat).sum(axis=(0, 2, 3)), dout.sum(axis=(0, 2, 3))
'''

FOLD_EINSUM = '''\
def fold_bn_linear(w, b, gamma, beta, running_mean, running_var, eps=1e-5):
    """A diagonal matrix for the rows, and the bias folded in two steps."""
    a = gamma * (running_var + eps) ** -0.5
    w_new = np.diag(a) @ w
    b_new = beta - a * running_mean
    if b is not None:
        b_new = b_new + a * b
    return w_new, b_new


def fold_bn_conv(w, b, gamma, beta, running_mean, running_var, eps=1e-5):
    a = gamma * (running_var + eps) ** -0.5
    w_new = np.einsum("o,oikl->oikl", a, w)
    b_new = beta - a * running_mean + (0.0 if b is None else a * b)
    return w_new, b_new
'''

FUNCTION_SAVE_X = '''\
class BatchNormFunction(torch.autograd.Function):
    """Saves x and the statistics; recomputes x_hat in backward; torch.var(correction=0)."""

    @staticmethod
    def forward(ctx, x, weight, bias, running_mean, running_var, training, momentum, eps):
        dims = tuple(d for d in range(x.dim()) if d != 1)
        shape = (1, -1) + (1,) * (x.dim() - 2)
        count = x.numel() // x.size(1)
        if training:
            if count == 1:
                raise ValueError("Expected more than 1 value per channel when training")
            mean = torch.mean(x, dim=dims)
            var = torch.var(x, dim=dims, correction=0)
            running_mean.copy_(running_mean + momentum * (mean - running_mean))
            unbiased = torch.var(x, dim=dims, correction=1)
            running_var.copy_(running_var + momentum * (unbiased - running_var))
        else:
            mean, var = running_mean.clone(), running_var.clone()
        ctx.save_for_backward(x, weight, mean, var)
        ctx.mode = (bool(training), float(eps))
        z = (x - mean.reshape(shape)) / torch.sqrt(var.reshape(shape) + eps)
        return weight.reshape(shape) * z + bias.reshape(shape)

    @staticmethod
    def backward(ctx, grad_output):
        x, weight, mean, var = ctx.saved_tensors
        training, eps = ctx.mode
        dims = tuple(d for d in range(x.dim()) if d != 1)
        shape = (1, -1) + (1,) * (x.dim() - 2)
        inv = 1.0 / torch.sqrt(var + eps)
        z = (x - mean.reshape(shape)) * inv.reshape(shape)
        gz = grad_output * weight.reshape(shape)
        if training:
            gx = inv.reshape(shape) * (
                gz - gz.mean(dim=dims, keepdim=True) - z * (gz * z).mean(dim=dims, keepdim=True)
            )
        else:
            gx = gz * inv.reshape(shape)
        gw = (grad_output * z).sum(dim=dims)
        gb = grad_output.sum(dim=dims)
        return gx, gw, gb, None, None, None, None, None
'''

MODULE_FACTORY = '''\
class MyBatchNorm2d(nn.Module):
    """Buffers created with torch.full and a local helper for the weight of the new batch."""

    def __init__(self, num_features, eps=1e-5, momentum=0.1, device=None, dtype=None):
        super().__init__()
        self.num_features, self.eps, self.momentum = num_features, eps, momentum
        opts = dict(device=device, dtype=dtype)
        self.weight = nn.Parameter(torch.full((num_features,), 1.0, **opts))
        self.bias = nn.Parameter(torch.full((num_features,), 0.0, **opts))
        self.register_buffer("running_mean", torch.full((num_features,), 0.0, **opts))
        self.register_buffer("running_var", torch.full((num_features,), 1.0, **opts))
        self.register_buffer("num_batches_tracked", torch.zeros((), dtype=torch.long,
                                                                device=device))

    def _factor(self):
        if not self.training:
            return 0.0
        self.num_batches_tracked += 1
        if self.momentum is None:
            return 1.0 / self.num_batches_tracked.item()
        return float(self.momentum)

    def forward(self, x):
        if x.ndim != 4:
            raise ValueError(f"expected 4D input (got {x.ndim}D input)")
        factor = self._factor()
        return BatchNormFunction.apply(x, self.weight, self.bias, self.running_mean,
                                       self.running_var, self.training, factor, self.eps)
'''

FUSE_DEEPCOPY = '''\
import copy


def fuse_conv_bn(conv, bn):
    """A deep copy of the convolution whose parameters are replaced by the folded ones."""
    fused = copy.deepcopy(conv)
    with torch.no_grad():
        std = (bn.running_var + bn.eps).sqrt()
        scale = bn.weight / std
        old_bias = conv.bias if conv.bias is not None else torch.zeros_like(bn.running_mean)
        fused.weight = nn.Parameter(conv.weight * scale[:, None, None, None])
        fused.bias = nn.Parameter((old_bias - bn.running_mean) * scale + bn.bias)
    return fused
'''

MODULE_REUSES_FUNCTION_NAME = '''\
class MyBatchNorm2d(nn.Module):
    """Momentum resolved before counting; the counter kept as a buffer updated with copy_."""

    def __init__(self, num_features, eps=1e-5, momentum=0.1, device=None, dtype=None):
        super().__init__()
        self.num_features = num_features
        self.eps = eps
        self.momentum = momentum
        self.weight = nn.Parameter(torch.ones(num_features, device=device, dtype=dtype))
        self.bias = nn.Parameter(torch.zeros(num_features, device=device, dtype=dtype))
        self.register_buffer("running_mean", torch.zeros(num_features, device=device, dtype=dtype))
        self.register_buffer("running_var", torch.ones(num_features, device=device, dtype=dtype))
        self.register_buffer("num_batches_tracked", torch.tensor(0, device=device))

    def forward(self, x):
        if len(x.shape) != 4:
            raise ValueError("expected 4D input")
        m = 0.0
        if self.training:
            seen = int(self.num_batches_tracked) + 1
            self.num_batches_tracked.copy_(torch.tensor(seen))
            m = self.momentum if self.momentum is not None else 1.0 / seen
        return BatchNormFunction.apply(
            x, self.weight, self.bias, self.running_mean, self.running_var, self.training, m,
            self.eps)
'''

ALTERNATIVES = [
    Alternative("bn_forward", "np.var, running stats first, affine eval path", FWD, FORWARD_NP_VAR),
    Alternative("bn_running", "loops over the features", FWD, FORWARD_LOOPS),
    Alternative("bn_backward", "staged through sqrt and division", BWD, BACKWARD_STAGED_SQRT),
    Alternative("bn_backward_alt", "closed form with means", ALT, BACKWARD_ALT_DXHAT),
    Alternative("spatial_bn", "reductions over (0, 2, 3)", SPATIAL, SPATIAL_DIRECT),
    Alternative("layernorm", "transposed batch norm", LN, LAYERNORM_TRANSPOSE),
    Alternative("groupnorm", "loop over the groups", GN, GROUPNORM_LOOPS),
    Alternative("fold_bn", "diagonal matrix and einsum", FOLD, FOLD_EINSUM),
    Alternative("torch_bn_function", "x saved, x_hat recomputed", FN, FUNCTION_SAVE_X),
    Alternative("torch_bn_module", "torch.full buffers and a helper", MOD, MODULE_FACTORY),
    Alternative("torch_bn_module", "counter updated with copy_", MOD, MODULE_REUSES_FUNCTION_NAME),
    Alternative("fuse_conv_bn", "deep copy with new parameters", FUSE, FUSE_DEEPCOPY),
]
