"""Mutants (realistic bugs) and alternative correct answers for A2.

Each mutant is one textual change in one answer cell of the solution and must cost its item
points; each alternative is a whole answer cell written differently and must get full marks.
"""

from mutation import Alternative, Mutant

STD = "standardizer_answer"
MM = "minmax_answer"
PCA = "pca_answer"
FANS = "fans_answer"
GAIN = "gain_answer"
XAV = "xavier_answer"
KAI = "kaiming_answer"
LS = "layer_stats_answer"
TI = "torch_init_answer"
IM = "init_model_answer"

MUTANTS = [
    # -- standardizer -------------------------------------------------------------------------
    Mutant(
        "standardizer",
        "unbiased variance (ddof=1)",
        STD,
        "self.var_ = data.var(axis=pooled)",
        "self.var_ = data.var(axis=pooled, ddof=1)",
        hint="var_ is the biased variance (divide by N), not ddof=1",
    ),
    Mutant(
        "standardizer",
        "eps added to the standard deviation",
        STD,
        "scale = np.sqrt(self.var_ + self.eps).reshape(along_axis1)\n"
        "        return (data - mu) / scale",
        "scale = (np.sqrt(self.var_) + self.eps).reshape(along_axis1)\n"
        "        return (data - mu) / scale",
        hint="eps goes inside the square root, sqrt(var + eps), not after",
    ),
    Mutant(
        "standardizer",
        "statistics per pixel (mean image) instead of per channel",
        STD,
        "return (0, *range(2, np.ndim(x)))",
        "return (0,)",
        hint="a shape mismatch: print the shapes of your intermediate",
    ),
    Mutant(
        "standardizer",
        "transform recomputes the mean from its own input",
        STD,
        "mu = self.mean_.reshape(along_axis1)",
        "mu = data.mean(axis=statistics_axes(data)).reshape(along_axis1)",
    ),
    Mutant(
        "standardizer",
        "transform overwrites the caller's array",
        STD,
        "        return (data - mu) / scale",
        "        data -= mu\n        data /= scale\n        return data",
        hint="never change the caller's data in place: `x = x - mean`",
    ),
    Mutant(
        "standardizer",
        "variance as E[x^2] - E[x]^2 on the raw (uint8) values",
        STD,
        "self.var_ = data.var(axis=pooled)",
        "self.var_ = (np.asarray(x) ** 2).mean(axis=pooled) - self.mean_**2",
    ),
    Mutant(
        "standardizer",
        "fit does not return self",
        STD,
        "        self.var_ = data.var(axis=pooled)\n        return self",
        "        self.var_ = data.var(axis=pooled)",
        hint="so that Standardizer().fit(x_train).transform(x_test) works",
    ),
    # -- minmax ---------------------------------------------------------------------------------
    Mutant(
        "minmax",
        "eps added to the range (max - min + 1e-5)",
        MM,
        "span = self.max_ - self.min_\n",
        "span = self.max_ - self.min_ + 1e-5\n",
    ),
    Mutant(
        "minmax",
        "clips to the range",
        MM,
        "return low + (high - low) * fraction",
        "return np.clip(low + (high - low) * fraction, low, high)",
        hint="the values were clipped to the range: data outside the",
    ),
    Mutant(
        "minmax",
        "ignores feature_range",
        MM,
        "low, high = self.feature_range",
        "low, high = -1.0, 1.0",
        hint="mapped to [-1, 1]: use the feature_range given to the",
    ),
    Mutant(
        "minmax",
        "maps to [0, 1]",
        MM,
        "return low + (high - low) * fraction",
        "return fraction",
        hint="mapped to [0, 1]: stretch and shift to feature_range",
    ),
    Mutant(
        "minmax",
        "minimum of the transformed data instead of the stored one",
        MM,
        "fraction = (data - self.min_.reshape(along_axis1)) / span.reshape(along_axis1)",
        "fraction = (data - data.min(axis=statistics_axes(data), keepdims=True)) / "
        "span.reshape(along_axis1)",
    ),
    Mutant(
        "minmax",
        "divides by a zero range",
        MM,
        "        span = np.where(span > 0, span, 1.0)\n",
        "",
    ),
    # -- pca --------------------------------------------------------------------------------------
    Mutant(
        "pca",
        "covariance divided by N - 1",
        PCA,
        "covariance = centred.T @ centred / len(data)",
        "covariance = centred.T @ centred / (len(data) - 1)",
        hint="the covariance divides by N, not N - 1",
    ),
    Mutant(
        "pca",
        "eigenvalues left in ascending order",
        PCA,
        "largest_first = np.argsort(values)[::-1]",
        "largest_first = np.argsort(values)",
        hint=(
            "the eigenvalues must be sorted largest first",
            "projected on the directions of smallest variance: sort the",
        ),
    ),
    Mutant(
        "pca",
        "eigenvectors stored as rows",
        PCA,
        "self.eigenvectors_ = vectors[:, largest_first]",
        "self.eigenvectors_ = vectors[:, largest_first].T",
        hint=(
            "the eigenvectors are the rows: eigenvectors_ must hold them",
            "multiplied by the rows of the eigenvector matrix: project",
        ),
    ),
    Mutant(
        "pca",
        "transform does not centre",
        PCA,
        "centred = np.asarray(x, dtype=np.float64) - self.mean_",
        "centred = np.asarray(x, dtype=np.float64)",
        hint="x must be centred with the stored mean_ before projecting",
    ),
    Mutant(
        "pca",
        "transform centres with the mean of its own input",
        PCA,
        "centred = np.asarray(x, dtype=np.float64) - self.mean_",
        "centred = np.asarray(x, dtype=np.float64) - np.mean(x, axis=0)",
        hint="centred with the mean of the data passed to transform: use",
    ),
    Mutant(
        "pca",
        "covariance of uncentred data",
        PCA,
        "centred = data - self.mean_",
        "centred = data",
        hint="the covariance needs centred data: subtract the mean first",
    ),
    # -- whitening --------------------------------------------------------------------------------
    Mutant(
        "whitening",
        "divides by the eigenvalues instead of their square roots",
        PCA,
        "return projected / np.sqrt(self.eigenvalues_[:k] + self.eps)",
        "return projected / (self.eigenvalues_[:k] + self.eps)",
        hint=(
            "whitening divides direction j by sqrt(eigenvalue_j + eps),",
            "divide by the square roots sqrt(eigenvalue + eps), not by",
        ),
    ),
    Mutant(
        "whitening",
        "eps outside the square root",
        PCA,
        "return projected / np.sqrt(self.eigenvalues_[:k] + self.eps)",
        "return projected / (np.sqrt(self.eigenvalues_[:k]) + self.eps)",
        hint=(
            "whitening divides direction j by sqrt(eigenvalue_j + eps),",
            "eps goes inside the square root: sqrt(eigenvalue + eps)",
        ),
    ),
    Mutant(
        "whitening",
        "eps ignored",
        PCA,
        "return projected / np.sqrt(self.eigenvalues_[:k] + self.eps)",
        "return projected / np.sqrt(self.eigenvalues_[:k])",
        hint=(
            "whitening divides direction j by sqrt(eigenvalue_j + eps),",
            "eps is missing: divide by sqrt(eigenvalue + eps)",
        ),
    ),
    Mutant(
        "whitening",
        "ZCA rotates back with U instead of U transposed",
        PCA,
        "return self.whiten(x) @ self.eigenvectors_.T",
        "return self.whiten(x) @ self.eigenvectors_",
        hint=(
            "rotate back with the transposed eigenvector matrix,",
            "whitening divides direction j by sqrt(eigenvalue_j + eps),",
        ),
    ),
    Mutant(
        "whitening",
        "whiten ignores k in the eigenvalues",
        PCA,
        "return projected / np.sqrt(self.eigenvalues_[:k] + self.eps)",
        "return projected / np.sqrt(self.eigenvalues_ + self.eps)",
        hint="a shape mismatch: print the shapes of your intermediate",
    ),
    # -- fans -------------------------------------------------------------------------------------
    Mutant(
        "fans",
        "fan-in and fan-out swapped",
        FANS,
        "return dims[1] * window, dims[0] * window",
        "return dims[0] * window, dims[1] * window",
        hint="fan_in and fan_out are swapped: for (out_features,",
    ),
    Mutant(
        "fans",
        "receptive field ignored",
        FANS,
        "return dims[1] * window, dims[0] * window",
        "return dims[1], dims[0]",
        hint="the receptive field is missing: multiply both by the",
    ),
    Mutant(
        "fans",
        "receptive field only in the fan-in",
        FANS,
        "return dims[1] * window, dims[0] * window",
        "return dims[1] * window, dims[0]",
        hint="fan_out also includes the receptive field: shape[0] *",
    ),
    Mutant(
        "fans",
        "receptive field includes the input channels",
        FANS,
        "for d in dims[2:]:",
        "for d in dims[1:]:",
    ),
    Mutant(
        "fans",
        "no ValueError for a 1-D shape",
        FANS,
        "if len(dims) < 2:",
        "if len(dims) < 1:",
        hint="raise ValueError(...) with a message that says what is wrong",
    ),
    # -- gain -------------------------------------------------------------------------------------
    Mutant(
        "gain",
        "ReLU gain 2 (a variance) instead of sqrt(2)",
        GAIN,
        "return math.sqrt(2.0)\n",
        "return 2.0\n",
        hint="the gain multiplies a standard deviation: for ReLU it is",
    ),
    Mutant(
        "gain",
        "leaky ReLU slope not squared",
        GAIN,
        "math.sqrt(2.0 / (1.0 + slope * slope))",
        "math.sqrt(2.0 / (1.0 + slope))",
        hint="square the slope: sqrt(2 / (1 + a**2))",
    ),
    Mutant(
        "gain",
        "leaky ReLU default slope 0",
        GAIN,
        "slope = 0.01 if param is None else float(param)",
        "slope = 0.0 if param is None else float(param)",
        hint="param=None means the default slope 0.01; a slope of 0 (a",
    ),
    Mutant(
        "gain",
        "a slope of 0 replaced by the default (param or 0.01)",
        GAIN,
        "slope = 0.01 if param is None else float(param)",
        "slope = float(param or 0.01)",
    ),
    Mutant(
        "gain",
        "tanh gain 1",
        GAIN,
        "return 5.0 / 3.0",
        "return 1.0",
        hint="only the linear functions (linear, conv*) and sigmoid have",
    ),
    Mutant(
        "gain",
        "unknown nonlinearity gets gain 1",
        GAIN,
        'raise ValueError(f"unsupported nonlinearity {nonlinearity!r}")',
        "return 1.0",
    ),
    # -- xavier_uniform ---------------------------------------------------------------------------
    Mutant(
        "xavier_uniform",
        "bound equal to the standard deviation (sqrt(3) missing)",
        XAV,
        "limit = gain * math.sqrt(6.0 / (n_in + n_out))",
        "limit = gain * math.sqrt(2.0 / (n_in + n_out))",
        hint="the bound b is sqrt(3) * std: U(-std, std) has a standard",
    ),
    Mutant(
        "xavier_uniform",
        "LeCun bound sqrt(3 / fan_in)",
        XAV,
        "limit = gain * math.sqrt(6.0 / (n_in + n_out))",
        "limit = gain * math.sqrt(3.0 / n_in)",
        hint="that is gain / sqrt(fan_in) (LeCun): Xavier uses 2 /",
    ),
    Mutant(
        "xavier_uniform",
        "gain ignored",
        XAV,
        "limit = gain * math.sqrt(6.0 / (n_in + n_out))",
        "limit = math.sqrt(6.0 / (n_in + n_out))",
        hint="the gain is missing",
    ),
    Mutant(
        "xavier_uniform",
        "square root missing (a variance as the bound)",
        XAV,
        "limit = gain * math.sqrt(6.0 / (n_in + n_out))",
        "limit = gain * 6.0 / (n_in + n_out)",
        hint="the square root is missing: b = gain * sqrt(6 / (fan_in +",
    ),
    Mutant(
        "xavier_uniform",
        "draws from NumPy's global generator",
        XAV,
        "return rng.uniform(-limit, limit, size=tuple(shape))",
        "return np.random.uniform(-limit, limit, size=tuple(shape))",
        hint="draw only from the rng argument, never from np.random.* or",
    ),
    Mutant(
        "xavier_uniform",
        "draws from U(0, b)",
        XAV,
        "return rng.uniform(-limit, limit, size=tuple(shape))",
        "return rng.uniform(0.0, limit, size=tuple(shape))",
        hint="draw symmetrically around 0: from -b to b",
    ),
    # -- xavier_normal ----------------------------------------------------------------------------
    Mutant(
        "xavier_normal",
        "factor 2 missing",
        XAV,
        "sigma = gain * math.sqrt(2.0 / (n_in + n_out))",
        "sigma = gain * math.sqrt(1.0 / (n_in + n_out))",
        hint="the factor 2 of 2 / (fan_in + fan_out) is missing",
    ),
    Mutant(
        "xavier_normal",
        "variance used as the standard deviation",
        XAV,
        "sigma = gain * math.sqrt(2.0 / (n_in + n_out))",
        "sigma = gain * 2.0 / (n_in + n_out)",
        hint="that is a variance used as a standard deviation: take the",
    ),
    Mutant(
        "xavier_normal",
        "uniform draws with the right standard deviation",
        XAV,
        "return rng.normal(0.0, sigma, size=tuple(shape))",
        "return rng.uniform(-math.sqrt(3.0) * sigma, math.sqrt(3.0) * sigma, size=tuple(shape))",
        hint="the values look uniformly distributed: draw with",
    ),
    Mutant(
        "xavier_normal",
        "receptive field ignored",
        XAV,
        "n_in, n_out = fan_in_and_fan_out(shape)\n    sigma",
        "n_in, n_out = shape[1], shape[0]\n    sigma",
        hint="the receptive field is missing from the fans (use",
    ),
    Mutant(
        "xavier_normal",
        "gain squared",
        XAV,
        "sigma = gain * math.sqrt(2.0 / (n_in + n_out))",
        "sigma = gain**2 * math.sqrt(2.0 / (n_in + n_out))",
        hint="the gain is squared",
    ),
    # -- kaiming_uniform --------------------------------------------------------------------------
    Mutant(
        "kaiming_uniform",
        "bound equal to the standard deviation (sqrt(3) missing)",
        KAI,
        "limit = math.sqrt(3.0) * kaiming_std(shape, a, mode, nonlinearity)",
        "limit = kaiming_std(shape, a, mode, nonlinearity)",
        hint="the bound b is sqrt(3) * std: U(-std, std) has a standard",
    ),
    Mutant(
        "kaiming_uniform",
        "gain missing (no factor 2 for ReLU)",
        KAI,
        "return calculate_gain(nonlinearity, a) / math.sqrt(fan)",
        "return 1.0 / math.sqrt(fan)",
        hint="the gain is missing: for ReLU the variance is 2 / fan, i.e.",
    ),
    Mutant(
        "kaiming_uniform",
        "receptive field ignored",
        KAI,
        "n_in, n_out = fan_in_and_fan_out(shape)",
        "n_in, n_out = shape[1], shape[0]",
        hint="the receptive field is missing from the fans (use",
    ),
    Mutant(
        "kaiming_uniform",
        "mode ignored (always fan_in)",
        KAI,
        'fan = n_in if mode == "fan_in" else n_out',
        "fan = n_in",
        hint="used fan_in instead of fan_out",
    ),
    Mutant(
        "kaiming_uniform",
        "draws from NumPy's global generator",
        KAI,
        "return rng.uniform(-limit, limit, size=tuple(shape))",
        "return np.random.uniform(-limit, limit, size=tuple(shape))",
        hint="draw only from the rng argument, never from np.random.* or",
    ),
    # -- kaiming_normal ---------------------------------------------------------------------------
    Mutant(
        "kaiming_normal",
        "fan_out instead of fan_in",
        KAI,
        'fan = n_in if mode == "fan_in" else n_out',
        'fan = n_out if mode == "fan_in" else n_in',
        hint=("used fan_in instead of fan_out", "used fan_out instead of fan_in"),
    ),
    Mutant(
        "kaiming_normal",
        "square root missing (gain / fan)",
        KAI,
        "return calculate_gain(nonlinearity, a) / math.sqrt(fan)",
        "return calculate_gain(nonlinearity, a) / fan",
        hint="the square root is missing: std = gain / sqrt(fan), not",
    ),
    Mutant(
        "kaiming_normal",
        "negative slope a ignored",
        KAI,
        "return calculate_gain(nonlinearity, a) / math.sqrt(fan)",
        "return calculate_gain(nonlinearity) / math.sqrt(fan)",
        hint="the negative slope a was ignored: pass it to calculate_gain",
    ),
    Mutant(
        "kaiming_normal",
        "variance used as the standard deviation",
        KAI,
        "sigma = kaiming_std(shape, a, mode, nonlinearity)",
        "sigma = kaiming_std(shape, a, mode, nonlinearity) ** 2",
        hint="a variance used as a standard deviation: std = gain /",
    ),
    Mutant(
        "kaiming_normal",
        "no ValueError for an unknown mode",
        KAI,
        'if mode not in ("fan_in", "fan_out"):',
        "if mode is None:",
    ),
    # -- layer_stats ------------------------------------------------------------------------------
    Mutant(
        "layer_stats",
        "h @ w instead of h @ w.T",
        LS,
        "h = f(h @ np.asarray(w, dtype=np.float64).T)",
        "h = f(h @ np.asarray(w, dtype=np.float64))",
        hint=(
            "weights have shape (out_features, in_features): a layer",
            "weights are (out_features, in_features): compute h @ w.T,",
        ),
    ),
    Mutant(
        "layer_stats",
        "statistics of the pre-activations",
        LS,
        "        h = f(h @ np.asarray(w, dtype=np.float64).T)\n"
        '        stats["mean"].append(h.mean())\n'
        '        stats["std"].append(h.std())\n'
        '        stats["rms"].append(np.sqrt(np.mean(np.square(h))))',
        "        z = h @ np.asarray(w, dtype=np.float64).T\n"
        "        h = f(z)\n"
        '        stats["mean"].append(z.mean())\n'
        '        stats["std"].append(z.std())\n'
        '        stats["rms"].append(np.sqrt(np.mean(np.square(z))))',
        hint="these are the statistics of the pre-activations h W^T:",
    ),
    Mutant(
        "layer_stats",
        "unbiased standard deviation",
        LS,
        'stats["std"].append(h.std())',
        'stats["std"].append(h.std(ddof=1))',
        hint="the standard deviation is the biased one (np.std's default,",
    ),
    Mutant(
        "layer_stats",
        "root mean square computed as the standard deviation",
        LS,
        'stats["rms"].append(np.sqrt(np.mean(np.square(h))))',
        'stats["rms"].append(h.std())',
        hint="the root mean square is sqrt(mean(h ** 2)), not the",
    ),
    Mutant(
        "layer_stats",
        "unknown activation treated as linear",
        LS,
        "    if activation not in functions:\n        raise ValueError",
        "    if activation not in functions:\n        activation = 'linear'\n    if False:\n"
        "        raise ValueError",
    ),
    # -- torch_xavier -----------------------------------------------------------------------------
    Mutant(
        "torch_xavier",
        "fills a parameter without torch.no_grad()",
        TI,
        "    limit = gain * math.sqrt(6.0 / (n_in + n_out))\n    with torch.no_grad():",
        "    limit = gain * math.sqrt(6.0 / (n_in + n_out))\n    if True:",
        hint="fill a parameter inside `with torch.no_grad():`",
    ),
    Mutant(
        "torch_xavier",
        "uniform bound without sqrt(3)",
        TI,
        "limit = gain * math.sqrt(6.0 / (n_in + n_out))",
        "limit = gain * math.sqrt(2.0 / (n_in + n_out))",
        hint="the bound is sqrt(3) * std",
    ),
    Mutant(
        "torch_xavier",
        "xavier_normal ignores the generator",
        TI,
        "    sigma = gain * math.sqrt(2.0 / (n_in + n_out))\n    with torch.no_grad():\n"
        "        tensor.normal_(0.0, sigma, generator=generator)",
        "    sigma = gain * math.sqrt(2.0 / (n_in + n_out))\n    with torch.no_grad():\n"
        "        tensor.normal_(0.0, sigma)",
        hint="the scale is right but the numbers differ from",
    ),
    Mutant(
        "torch_xavier",
        "xavier_uniform returns None",
        TI,
        "        tensor.uniform_(-limit, limit, generator=generator)\n    return tensor\n"
        "    ### END SOLUTION\n\n\ndef init_xavier_normal_",
        "        tensor.uniform_(-limit, limit, generator=generator)\n"
        "    ### END SOLUTION\n\n\ndef init_xavier_normal_",
        hint="fill the tensor in place and `return tensor`",
    ),
    Mutant(
        "torch_xavier",
        "xavier_normal fills a new tensor instead of the given one",
        TI,
        "    sigma = gain * math.sqrt(2.0 / (n_in + n_out))\n    with torch.no_grad():\n"
        "        tensor.normal_(0.0, sigma, generator=generator)",
        "    sigma = gain * math.sqrt(2.0 / (n_in + n_out))\n    with torch.no_grad():\n"
        "        tensor = torch.empty_like(tensor).normal_(0.0, sigma, generator=generator)",
        hint="fill the tensor in place and `return tensor`",
    ),
    # -- torch_kaiming ----------------------------------------------------------------------------
    Mutant(
        "torch_kaiming",
        "mode ignored in kaiming_normal_",
        TI,
        "sigma = kaiming_std(tuple(tensor.shape), a, mode, nonlinearity)",
        'sigma = kaiming_std(tuple(tensor.shape), a, "fan_in", nonlinearity)',
        hint="used the other fan: check mode",
    ),
    Mutant(
        "torch_kaiming",
        "negative slope ignored in kaiming_uniform_",
        TI,
        "limit = math.sqrt(3.0) * kaiming_std(tuple(tensor.shape), a, mode, nonlinearity)",
        "limit = math.sqrt(3.0) * kaiming_std(tuple(tensor.shape), 0.0, mode, nonlinearity)",
        hint="the negative slope a was ignored",
    ),
    Mutant(
        "torch_kaiming",
        "variance used as the standard deviation",
        TI,
        "sigma = kaiming_std(tuple(tensor.shape), a, mode, nonlinearity)",
        "sigma = kaiming_std(tuple(tensor.shape), a, mode, nonlinearity) ** 2",
        hint="a variance used as the standard deviation",
    ),
    Mutant(
        "torch_kaiming",
        "uniform bound without sqrt(3)",
        TI,
        "limit = math.sqrt(3.0) * kaiming_std(tuple(tensor.shape), a, mode, nonlinearity)",
        "limit = kaiming_std(tuple(tensor.shape), a, mode, nonlinearity)",
        hint="the bound is sqrt(3) * std",
    ),
    Mutant(
        "torch_kaiming",
        "kaiming_uniform_ ignores the generator",
        TI,
        "    limit = math.sqrt(3.0) * kaiming_std(tuple(tensor.shape), a, mode, nonlinearity)\n"
        "    with torch.no_grad():\n"
        "        tensor.uniform_(-limit, limit, generator=generator)",
        "    limit = math.sqrt(3.0) * kaiming_std(tuple(tensor.shape), a, mode, nonlinearity)\n"
        "    with torch.no_grad():\n"
        "        tensor.uniform_(-limit, limit)",
        hint="the scale is right but the numbers differ from",
    ),
    # -- init_model -------------------------------------------------------------------------------
    Mutant(
        "init_model",
        "only the direct children, not nested modules",
        IM,
        "for module in model.modules():",
        "for module in model.children():",
        hint="this layer was not initialised: it sits inside a nested",
    ),
    Mutant(
        "init_model",
        "biases left as they were",
        IM,
        "                if module.bias is not None:\n                    module.bias.zero_()",
        "                pass",
        hint="set every bias of a linear or convolutional layer to zero",
    ),
    Mutant(
        "init_model",
        "convolutions skipped",
        IM,
        "layer_types = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d)",
        "layer_types = (nn.Linear,)",
        hint="this layer's weight was left as PyTorch created it:",
    ),
    Mutant(
        "init_model",
        "Kaiming with mode fan_out",
        IM,
        '"kaiming_normal": lambda w: init_kaiming_normal_(\n'
        '            w, nonlinearity="relu", generator=generator\n        ),',
        '"kaiming_normal": lambda w: init_kaiming_normal_(\n'
        '            w, mode="fan_out", nonlinearity="relu", generator=generator\n        ),',
        hint="other numbers than torch.nn.init draws with the same",
    ),
    Mutant(
        "init_model",
        "the normal scheme ignores std",
        IM,
        '"normal": lambda w: w.normal_(0.0, std, generator=generator),',
        '"normal": lambda w: w.normal_(0.0, 0.01, generator=generator),',
        hint="other numbers than torch.nn.init draws with the same",
    ),
    Mutant(
        "init_model",
        "every parameter with a weight of 2 or more dimensions",
        IM,
        "if isinstance(module, layer_types):",
        'if getattr(module, "weight", None) is not None and module.weight.dim() >= 2:',
    ),
    Mutant(
        "init_model",
        "unknown scheme raises KeyError",
        IM,
        "    if scheme not in INIT_SCHEMES:\n        raise ValueError",
        "    if False:\n        raise ValueError",
    ),
]


ALTERNATIVES = [
    Alternative(
        "standardizer",
        "keepdims statistics, squeezed for storage",
        STD,
        """\
def statistics_axes(x):
    ndim = len(np.shape(x))
    if ndim < 2:
        raise ValueError("statistics need (N, D) or (N, C, ...) data")
    return tuple(a for a in range(ndim) if a != 1)


class Standardizer:
    def __init__(self, eps=1e-8):
        self.eps = eps
        self.mean_ = None
        self.var_ = None

    def fit(self, x):
        x = np.array(x, dtype=np.float64)
        axes = statistics_axes(x)
        m = np.mean(x, axis=axes, keepdims=True)
        v = np.mean((x - m) ** 2, axis=axes, keepdims=True)
        self.mean_ = m.reshape(-1)
        self.var_ = v.reshape(-1)
        return self

    def _shape(self, ndim):
        return [1, len(self.mean_)] + [1] * (ndim - 2)

    def transform(self, x):
        x = np.array(x, dtype=np.float64)
        shape = self._shape(x.ndim)
        return (x - np.reshape(self.mean_, shape)) / np.sqrt(np.reshape(self.var_, shape) + self.eps)

    def inverse_transform(self, z):
        z = np.array(z, dtype=np.float64)
        shape = self._shape(z.ndim)
        return np.reshape(self.mean_, shape) + z * np.sqrt(np.reshape(self.var_, shape) + self.eps)
""",
    ),
    Alternative(
        "minmax",
        "moveaxis and ptp",
        MM,
        """\
class MinMaxScaler:
    def __init__(self, feature_range=(-1.0, 1.0)):
        self.feature_range = feature_range
        self.min_ = None
        self.max_ = None

    def fit(self, x):
        cols = np.moveaxis(np.asarray(x, dtype=np.float64), 1, -1).reshape(-1, np.shape(x)[1])
        self.min_ = cols.min(axis=0)
        self.max_ = cols.max(axis=0)
        return self

    def transform(self, x):
        x = np.moveaxis(np.asarray(x, dtype=np.float64), 1, -1)
        rng_ = self.max_ - self.min_
        rng_[rng_ == 0] = 1.0
        a, b = self.feature_range
        out = a + (x - self.min_) * ((b - a) / rng_)
        return np.moveaxis(out, -1, 1)
""",
    ),
    Alternative(
        "pca",
        "singular value decomposition of the centred data",
        PCA,
        """\
class PCAWhitener:
    def __init__(self, eps=1e-5):
        self.eps = eps
        self.mean_ = None
        self.eigenvalues_ = None
        self.eigenvectors_ = None

    def fit(self, x):
        x = np.asarray(x, dtype=np.float64)
        n, d = x.shape
        self.mean_ = x.mean(axis=0)
        _, s, vt = np.linalg.svd(x - self.mean_, full_matrices=True)
        lam = np.zeros(d)
        lam[: len(s)] = s**2 / n
        self.eigenvalues_ = lam
        self.eigenvectors_ = vt.T
        return self

    def transform(self, x, k=None):
        k = len(self.mean_) if k is None else k
        return np.dot(np.asarray(x, dtype=np.float64) - self.mean_, self.eigenvectors_[:, :k])

    def whiten(self, x, k=None):
        k = len(self.mean_) if k is None else k
        return self.transform(x, k) * (self.eigenvalues_[:k] + self.eps) ** -0.5

    def zca(self, x):
        u = self.eigenvectors_
        w = u @ np.diag((self.eigenvalues_ + self.eps) ** -0.5) @ u.T
        return (np.asarray(x, dtype=np.float64) - self.mean_) @ w
""",
    ),
    Alternative(
        "whitening",
        "eigh with reversed columns and an explicit whitening matrix",
        PCA,
        """\
class PCAWhitener:
    def __init__(self, eps=1e-5):
        self.eps = eps
        self.mean_ = None
        self.eigenvalues_ = None
        self.eigenvectors_ = None

    def fit(self, x):
        x = np.asarray(x, dtype=np.float64)
        self.mean_ = np.mean(x, axis=0)
        cov = np.cov(x, rowvar=False, bias=True)
        lam, u = np.linalg.eigh(np.atleast_2d(cov))
        self.eigenvalues_ = lam[::-1].copy()
        self.eigenvectors_ = u[:, ::-1].copy()
        return self

    def transform(self, x, k=None):
        u = self.eigenvectors_ if k is None else self.eigenvectors_[:, :k]
        return (np.asarray(x, dtype=np.float64) - self.mean_) @ u

    def whiten(self, x, k=None):
        d = len(self.eigenvalues_) if k is None else k
        w = self.eigenvectors_[:, :d] / np.sqrt(self.eigenvalues_[:d] + self.eps)
        return (np.asarray(x, dtype=np.float64) - self.mean_) @ w

    def zca(self, x):
        return np.einsum("nk,dk->nd", self.whiten(x), self.eigenvectors_)
""",
    ),
    Alternative(
        "fans",
        "math.prod",
        FANS,
        """\
def fan_in_and_fan_out(shape):
    if len(shape) < 2:
        raise ValueError("a weight needs at least two dimensions")
    out_maps, in_maps, *kernel = shape
    field = math.prod(kernel)
    return in_maps * field, out_maps * field
""",
    ),
    Alternative(
        "gain",
        "a lookup table",
        GAIN,
        """\
_GAINS = {
    "linear": 1,
    "conv1d": 1,
    "conv2d": 1,
    "conv3d": 1,
    "conv_transpose1d": 1,
    "conv_transpose2d": 1,
    "conv_transpose3d": 1,
    "sigmoid": 1,
    "tanh": 5 / 3,
    "relu": 2**0.5,
    "selu": 0.75,
}


def calculate_gain(nonlinearity, param=None):
    if nonlinearity == "leaky_relu":
        a = 0.01 if param is None else param
        return (2 / (1 + a**2)) ** 0.5
    try:
        return _GAINS[nonlinearity]
    except KeyError:
        raise ValueError(nonlinearity) from None
""",
    ),
    Alternative(
        "xavier_uniform",
        "rescaled rng.random",
        XAV,
        """\
def xavier_uniform(shape, gain=1.0, *, rng):
    fi, fo = fan_in_and_fan_out(shape)
    b = math.sqrt(3.0) * gain * math.sqrt(2.0 / (fi + fo))
    return (2.0 * rng.random(tuple(shape)) - 1.0) * b


def xavier_normal(shape, gain=1.0, *, rng):
    fi, fo = fan_in_and_fan_out(shape)
    return gain * math.sqrt(2.0 / (fi + fo)) * rng.standard_normal(tuple(shape))
""",
    ),
    Alternative(
        "xavier_normal",
        "the normal variant through rng.normal with a scale",
        XAV,
        """\
def _xavier_scale(shape, gain):
    fi, fo = fan_in_and_fan_out(shape)
    return gain * (2.0 / (fi + fo)) ** 0.5


def xavier_uniform(shape, gain=1.0, *, rng):
    bound = 3**0.5 * _xavier_scale(shape, gain)
    return rng.uniform(low=-bound, high=bound, size=shape)


def xavier_normal(shape, gain=1.0, *, rng):
    return rng.normal(loc=0.0, scale=_xavier_scale(shape, gain), size=shape)
""",
    ),
    Alternative(
        "kaiming_uniform",
        "a dict of fans and rng.random",
        KAI,
        """\
def kaiming_std(shape, a=0.0, mode="fan_in", nonlinearity="leaky_relu"):
    fans = dict(zip(("fan_in", "fan_out"), fan_in_and_fan_out(shape)))
    if mode not in fans:
        raise ValueError(f"bad mode {mode}")
    return calculate_gain(nonlinearity, a) * fans[mode] ** -0.5


def kaiming_uniform(shape, a=0.0, mode="fan_in", nonlinearity="leaky_relu", *, rng):
    b = 3**0.5 * kaiming_std(shape, a, mode, nonlinearity)
    return b * (2 * rng.random(size=tuple(shape)) - 1)


def kaiming_normal(shape, a=0.0, mode="fan_in", nonlinearity="leaky_relu", *, rng):
    return kaiming_std(shape, a, mode, nonlinearity) * rng.standard_normal(size=tuple(shape))
""",
    ),
    Alternative(
        "kaiming_normal",
        "gain and fan computed inline",
        KAI,
        """\
def kaiming_std(shape, a=0.0, mode="fan_in", nonlinearity="leaky_relu"):
    fan_in, fan_out = fan_in_and_fan_out(shape)
    if mode == "fan_in":
        fan = fan_in
    elif mode == "fan_out":
        fan = fan_out
    else:
        raise ValueError("mode must be fan_in or fan_out")
    gain = calculate_gain(nonlinearity, a)
    return math.sqrt(gain**2 / fan)


def kaiming_uniform(shape, a=0.0, mode="fan_in", nonlinearity="leaky_relu", *, rng):
    std = kaiming_std(shape, a, mode, nonlinearity)
    return rng.uniform(-math.sqrt(3) * std, math.sqrt(3) * std, shape)


def kaiming_normal(shape, a=0.0, mode="fan_in", nonlinearity="leaky_relu", *, rng):
    return rng.normal(0, kaiming_std(shape, a, mode, nonlinearity), shape)
""",
    ),
    Alternative(
        "layer_stats",
        "collect the activations, then summarise them",
        LS,
        """\
def layer_stats(x, weights, activation):
    if activation == "linear":
        act = lambda z: z  # noqa: E731
    elif activation == "tanh":
        act = np.tanh
    elif activation == "relu":
        act = lambda z: z * (z > 0)  # noqa: E731
    else:
        raise ValueError(activation)
    outs = []
    h = x.astype(np.float64)
    for w in weights:
        h = act(np.einsum("nd,md->nm", h, w.astype(np.float64)))
        outs.append(h.ravel())
    mean = np.array([o.mean() for o in outs])
    rms = np.array([np.sqrt((o**2).mean()) for o in outs])
    std = np.array([np.sqrt(((o - o.mean()) ** 2).mean()) for o in outs])
    return {"std": std, "rms": rms, "mean": mean}
""",
    ),
    Alternative(
        "torch_xavier",
        "one drawing helper for all four",
        TI,
        """\
def _draw_(tensor, kind, std, generator):
    with torch.no_grad():
        if kind == "uniform":
            bound = math.sqrt(3.0) * std
            tensor.uniform_(-bound, bound, generator=generator)
        else:
            tensor.normal_(0.0, std, generator=generator)
    return tensor


def _xavier_std(tensor, gain):
    fan_in, fan_out = fan_in_and_fan_out(tensor.shape)
    return gain * math.sqrt(2.0 / float(fan_in + fan_out))


def init_xavier_uniform_(tensor, gain=1.0, generator=None):
    return _draw_(tensor, "uniform", _xavier_std(tensor, gain), generator)


def init_xavier_normal_(tensor, gain=1.0, generator=None):
    return _draw_(tensor, "normal", _xavier_std(tensor, gain), generator)


def init_kaiming_uniform_(tensor, a=0.0, mode="fan_in", nonlinearity="leaky_relu",
                          generator=None):
    return _draw_(tensor, "uniform", kaiming_std(tensor.shape, a, mode, nonlinearity), generator)


def init_kaiming_normal_(tensor, a=0.0, mode="fan_in", nonlinearity="leaky_relu",
                         generator=None):
    return _draw_(tensor, "normal", kaiming_std(tensor.shape, a, mode, nonlinearity), generator)
""",
    ),
    Alternative(
        "torch_kaiming",
        "gain and fan computed inside, no_grad as a decorator",
        TI,
        """\
@torch.no_grad()
def init_xavier_uniform_(tensor, gain=1.0, generator=None):
    fi, fo = fan_in_and_fan_out(list(tensor.size()))
    a = gain * (6.0 / (fi + fo)) ** 0.5
    tensor.uniform_(-a, a, generator=generator)
    return tensor


@torch.no_grad()
def init_xavier_normal_(tensor, gain=1.0, generator=None):
    fi, fo = fan_in_and_fan_out(list(tensor.size()))
    tensor.normal_(0.0, gain * (2.0 / (fi + fo)) ** 0.5, generator=generator)
    return tensor


def _he_std(tensor, a, mode, nonlinearity):
    fi, fo = fan_in_and_fan_out(list(tensor.size()))
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(mode)
    return calculate_gain(nonlinearity, a) / math.sqrt(fi if mode == "fan_in" else fo)


@torch.no_grad()
def init_kaiming_uniform_(tensor, a=0.0, mode="fan_in", nonlinearity="leaky_relu",
                          generator=None):
    b = math.sqrt(3.0) * _he_std(tensor, a, mode, nonlinearity)
    tensor.uniform_(-b, b, generator=generator)
    return tensor


@torch.no_grad()
def init_kaiming_normal_(tensor, a=0.0, mode="fan_in", nonlinearity="leaky_relu",
                         generator=None):
    tensor.normal_(0.0, _he_std(tensor, a, mode, nonlinearity), generator=generator)
    return tensor
""",
    ),
    Alternative(
        "init_model",
        "model.apply with a closure",
        IM,
        """\
INIT_SCHEMES = ("xavier_uniform", "xavier_normal", "kaiming_uniform", "kaiming_normal", "normal")


def init_model_(model, scheme, generator=None, std=0.01):
    if scheme not in INIT_SCHEMES:
        raise ValueError(scheme)

    def visit(m):
        if type(m) not in (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d):
            return
        if scheme == "xavier_uniform":
            init_xavier_uniform_(m.weight, generator=generator)
        elif scheme == "xavier_normal":
            init_xavier_normal_(m.weight, generator=generator)
        elif scheme == "kaiming_uniform":
            init_kaiming_uniform_(m.weight, 0.0, "fan_in", "relu", generator)
        elif scheme == "kaiming_normal":
            init_kaiming_normal_(m.weight, 0.0, "fan_in", "relu", generator)
        else:
            with torch.no_grad():
                m.weight.normal_(0.0, std, generator=generator)
        if m.bias is not None:
            with torch.no_grad():
                m.bias.fill_(0.0)

    model.apply(visit)  # children first, but linear and conv layers are leaves
    return model
""",
    ),
]
