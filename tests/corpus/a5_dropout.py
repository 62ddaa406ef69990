"""Mutants (realistic bugs) and alternative correct answers for A5.

Each mutant is one textual change in one answer cell of the solution and must cost its item
points; each alternative is a whole answer cell written differently and must get full marks on
every item. Alternatives of ``dropout_forward`` keep the solution's cache keys ("mask", "p"),
because the solution's backward pass reads them. Several alternatives draw their random numbers
differently from the solution (binomial instead of uniform draws, lam from two Gamma draws, other
orders): the checks are statistical, so any correct use of the generator must pass.
"""

from mutation import Alternative, Mutant

FWD = "dropout_forward_answer"
BWD = "dropout_backward_answer"
MC = "mc_dropout_answer"
L2 = "l2_penalty_answer"
ES = "early_stopping_answer"
FC = "flip_crop_answer"
PH = "photometric_answer"
CO = "cutout_answer"
MX = "mixup_answer"
LS = "label_smoothing_answer"
TD = "torch_dropout_answer"
TA = "torch_augment_answer"
SC = "smoothed_ce_answer"
MS = "mixup_step_answer"
EC = "ece_answer"

MUTANTS = [
    # -- dropout_forward -------------------------------------------------------------------------
    Mutant(
        "dropout_forward",
        "no 1/(1-p) scaling",
        FWD,
        "mask = keep / (1.0 - p)",
        "mask = keep * 1.0",
        hint="the kept values are not rescaled: inverted dropout divides",
    ),
    Mutant(
        "dropout_forward",
        "p used as the keep probability",
        FWD,
        "keep = rng.random(x.shape) >= p",
        "keep = rng.random(x.shape) < p",
        hint="you dropped with probability 1 - p: p is the probability of",
    ),
    Mutant(
        "dropout_forward",
        "dropout active in evaluation",
        FWD,
        "if not training or p == 0.0:",
        "if p == 0.0:",
        hint="dropout is still active in evaluation mode: return x when",
    ),
    Mutant(
        "dropout_forward",
        "one mask shared by every example of the batch",
        FWD,
        "keep = rng.random(x.shape) >= p",
        "keep = rng.random(x.shape[1:]) >= p",
    ),
    Mutant(
        "dropout_forward",
        "NumPy's global random state instead of rng",
        FWD,
        "keep = rng.random(x.shape) >= p",
        "keep = np.random.random(x.shape) >= p",
        hint="draw every random number from the rng argument, never from",
    ),
    # -- dropout_backward ------------------------------------------------------------------------
    Mutant(
        "dropout_backward",
        "a new mask in backward",
        BWD,
        "return dout * mask",
        'return dout * (np.random.default_rng().random(dout.shape) >= cache["p"]) '
        '/ (1.0 - cache["p"])',
        hint=(
            "the backward pass must reuse the mask of the forward pass",
            "keep the mask in the cache that the forward pass returns,",
        ),
    ),
    Mutant(
        "dropout_backward",
        "no 1/(1-p) scaling in backward",
        BWD,
        "return dout * mask",
        "return dout * (mask != 0)",
        # TODO(issue 17): the first hint (a mask in a global variable) does not describe this mutant
        hint=("keep the mask in the cache", "the gradient is not scaled"),
    ),
    Mutant(
        "dropout_backward",
        "evaluation-mode gradient zero",
        BWD,
        "return np.array(dout, copy=True)",
        "return np.zeros_like(dout)",
        hint="nothing was dropped: dx = dout",
    ),
    # -- mc_dropout ------------------------------------------------------------------------------
    Mutant(
        "mc_dropout",
        "dropout off during the Monte Carlo passes",
        MC,
        "two_layer_forward(x, params, p, True, rng) for _ in range(n_samples)",
        "two_layer_forward(x, params, p, False, rng) for _ in range(n_samples)",
        # TODO(issue 17): the second hint (draws from rng) is only a consequence
        hint=("Monte Carlo dropout keeps dropout ON", "the random draws must come from the rng"),
    ),
    Mutant(
        "mc_dropout",
        "softmax of the mean scores",
        MC,
        "return probs.mean(axis=0), probs.std(axis=0)",
        "return softmax(scores.mean(axis=0)), probs.std(axis=0)",
        hint="this is the softmax of the average scores (or of evaluation",
    ),
    Mutant(
        "mc_dropout",
        "ensemble averages the logits",
        MC,
        "return softmax(scores).mean(axis=0)",
        "return softmax(scores.mean(axis=0))",
        hint="you averaged the scores and took the softmax of the",
    ),
    Mutant(
        "mc_dropout",
        "softmax without the max shift",
        MC,
        "shifted = scores - scores.max(axis=-1, keepdims=True)",
        "shifted = scores",
        hint="subtract the maximum of each row before np.exp",
    ),
    # -- l2_penalty ------------------------------------------------------------------------------
    Mutant(
        "l2_penalty",
        "biases penalised",
        L2,
        'if name.startswith("W"):',
        "if True:",
        hint="the biases were penalised too: only names starting with 'W'",
    ),
    Mutant(
        "l2_penalty",
        "factor 1/2 missing",
        L2,
        "penalty += 0.5 * weight_decay * float(np.sum(value * value))",
        "penalty += weight_decay * float(np.sum(value * value))",
        hint="the factor 1/2 is missing: R = lambda / 2 * sum ||W||^2",
    ),
    Mutant(
        "l2_penalty",
        "gradient 2 lambda W",
        L2,
        "grads[name] = weight_decay * value",
        "grads[name] = 2.0 * weight_decay * value",
        hint="the gradient is 2 * lambda * W: with the factor 1/2 in the",
    ),
    # -- early_stopping --------------------------------------------------------------------------
    Mutant(
        "early_stopping",
        "snapshot is a reference",
        ES,
        "self.best_params = copy.deepcopy(params)",
        "self.best_params = params",
        hint="best_params follows the current parameters: the loop",
    ),
    Mutant(
        "early_stopping",
        "counter not reset on improvement",
        ES,
        "self.best_params = copy.deepcopy(params)\n            self.bad_epochs = 0",
        "self.best_params = copy.deepcopy(params)",
        hint="reset bad_epochs to 0 on every improvement",
    ),
    Mutant(
        "early_stopping",
        "patience off by one",
        ES,
        "self.bad_epochs >= self.patience",
        "self.bad_epochs > self.patience",
        hint="stop when the epoch did not improve and bad_epochs >=",
    ),
    Mutant(
        "early_stopping",
        "an improvement of exactly min_delta counts",
        ES,
        "improved = value < self.best_value - self.min_delta",
        "improved = value <= self.best_value - self.min_delta",
        hint=(
            "an epoch improves only if value < best_value - min_delta",
            "stop when the epoch did not improve and bad_epochs >=",
        ),
    ),
    # -- flip_crop -------------------------------------------------------------------------------
    Mutant(
        "flip_crop",
        "crop off by one",
        FC,
        "tops = rng.integers(0, h + 2 * padding - size + 1, size=n)",
        "tops = rng.integers(0, h + 2 * padding - size, size=n)",
        hint="the last top row never occurs: the high end of rng.integers",
    ),
    Mutant(
        "flip_crop",
        "random flip is vertical",
        FC,
        "np.where(flip[:, None, None, None], x[..., ::-1], x)",
        "np.where(flip[:, None, None, None], x[..., ::-1, :], x)",
        hint="image flipped vertically: a horizontal flip reverses the",
    ),
    Mutant(
        "flip_crop",
        "fill mode ignored",
        FC,
        "padded = np.pad(x, pad_width, mode=fill)",
        'padded = np.pad(x, pad_width, mode="constant")',
        hint="the crop is a window of the image padded in mode",
    ),
    Mutant(
        "flip_crop",
        "one crop position for the whole batch",
        FC,
        "tops = rng.integers(0, h + 2 * padding - size + 1, size=n)",
        "tops = np.full(n, rng.integers(0, h + 2 * padding - size + 1))",
        # TODO(issue 17): the hints (a row that never occurs) do not describe one position for the whole batch
        hint=("the last top row never occurs", "the top row 0 never occurs"),
    ),
    Mutant(
        "flip_crop",
        "flip probability inverted",
        FC,
        "flip = rng.random(x.shape[0]) < p",
        "flip = rng.random(x.shape[0]) >= p",
        # TODO(issue 17): the second hint (one coin flip for the whole batch) does not describe it
        hint=("flip when the draw is < p", "one coin flip per image"),
    ),
    # -- photometric -----------------------------------------------------------------------------
    Mutant(
        "photometric",
        "noise scaled by the variance",
        PH,
        "return x + std * rng.standard_normal(x.shape)",
        "return x + std**2 * rng.standard_normal(x.shape)",
        hint="std is the standard deviation: scale standard normal draws",
    ),
    Mutant(
        "photometric",
        "the same noise for every image",
        PH,
        "return x + std * rng.standard_normal(x.shape)",
        "return x + std * rng.standard_normal(x.shape[1:])",
    ),
    Mutant(
        "photometric",
        "contrast around the per-channel mean",
        PH,
        "mean = bright.mean(axis=(1, 2, 3), keepdims=True)",
        "mean = bright.mean(axis=(2, 3), keepdims=True)",
        hint="use one brightness and one contrast factor per image, the",
    ),
    Mutant(
        "photometric",
        "contrast blends towards mean(x), not the brightened image's mean",
        PH,
        "mean = bright.mean(axis=(1, 2, 3), keepdims=True)",
        "mean = x.mean(axis=(1, 2, 3), keepdims=True)",
        hint="contrast blends towards the mean of the brightened image, b",
    ),
    Mutant(
        "photometric",
        "one contrast factor for the whole batch",
        PH,
        "c = rng.uniform(max(0.0, 1.0 - contrast), 1.0 + contrast, size=n)",
        "c = np.full(n, rng.uniform(max(0.0, 1.0 - contrast), 1.0 + contrast))",
        hint="one uniform draw per image",
    ),
    # -- cutout ----------------------------------------------------------------------------------
    Mutant(
        "cutout",
        "square kept inside the image",
        CO,
        "cy = rng.integers(0, h, size=n)",
        "cy = rng.integers(size // 2, h - (size - size // 2) + 1, size=n)",
        hint="the square never sticks out over the border: draw the",
    ),
    Mutant(
        "cutout",
        "square one row too short",
        CO,
        "in_rows = (rows >= top[:, None]) & (rows < top[:, None] + size)",
        "in_rows = (rows >= top[:, None]) & (rows < top[:, None] + size - 1)",
        hint="the square covers [c - size // 2, c - size // 2 + size),",
    ),
    Mutant(
        "cutout",
        "only the first channel zeroed",
        CO,
        "patch = in_rows[:, None, :, None] & in_cols[:, None, None, :]",
        "patch = in_rows[:, None, :, None] & in_cols[:, None, None, :] "
        "& (np.arange(x.shape[1]) == 0)[None, :, None, None]",
        hint="zero the same square in every channel: index with [:, :,",
    ),
    Mutant(
        "cutout",
        "centre never on the last column",
        CO,
        "cx = rng.integers(0, w, size=n)",
        "cx = rng.integers(0, w - 1, size=n)",
        hint="the last centre never occurs: rng.integers(0, H) already",
    ),
    # -- mixup -----------------------------------------------------------------------------------
    Mutant(
        "mixup",
        "different lambdas for x and y",
        MX,
        "    return lam * x + (1.0 - lam) * x[perm], lam * y + (1.0 - lam) * y[perm]",
        "    lam_y = rng.beta(alpha, alpha)\n"
        "    return lam * x + (1.0 - lam) * x[perm], lam_y * y + (1.0 - lam_y) * y[perm]",
        hint="mix the targets with the same lam and the same permutation",
    ),
    Mutant(
        "mixup",
        "lam uniform (alpha ignored)",
        MX,
        "lam = rng.beta(alpha, alpha)",
        "lam = rng.uniform()",
        hint="lam looks uniform: draw it from Beta(alpha, alpha)",
    ),
    Mutant(
        "mixup",
        "another permutation for the targets",
        MX,
        "lam * y + (1.0 - lam) * y[perm]",
        "lam * y + (1.0 - lam) * y[rng.permutation(x.shape[0])]",
        hint="mix the targets with the same lam and the same permutation",
    ),
    Mutant(
        "mixup",
        "partners drawn with replacement",
        MX,
        "perm = rng.permutation(x.shape[0])",
        "perm = rng.integers(0, x.shape[0], size=x.shape[0])",
        hint="use a permutation of the batch (rng.permutation(N)), so",
    ),
    # -- label_smoothing -------------------------------------------------------------------------
    Mutant(
        "label_smoothing",
        "smoothing that does not sum to one (eps / k on the other classes)",
        LS,
        "eps / (num_classes - 1))",
        "eps / num_classes)",
        hint="the k - 1 wrong classes share eps: eps / (k - 1) each, and",
    ),
    Mutant(
        "label_smoothing",
        "PyTorch's convention instead of the lecture's",
        LS,
        "eps / (num_classes - 1))\n    targets[np.arange(labels.shape[0]), labels] = 1.0 - eps",
        "eps / num_classes)\n"
        "    targets[np.arange(labels.shape[0]), labels] = 1.0 - eps + eps / num_classes",
        hint="this is PyTorch's convention (eps / k everywhere plus 1 -",
    ),
    Mutant(
        "label_smoothing",
        "number of classes read from the labels",
        LS,
        "np.full((labels.shape[0], num_classes), eps / (num_classes - 1))",
        "np.full((labels.shape[0], labels.max() + 1), eps / labels.max())",
    ),
    # -- torch_dropout ---------------------------------------------------------------------------
    Mutant(
        "torch_dropout",
        "no 1/(1-p) scaling",
        TD,
        "return x * keep / (1.0 - self.p)",
        "return x * keep",
        hint="the kept values are not rescaled: inverted dropout divides",
    ),
    Mutant(
        "torch_dropout",
        "p used as the keep probability",
        TD,
        "device=x.device) >= self.p",
        "device=x.device) < self.p",
        hint="you dropped with probability 1 - p: p is the probability of",
    ),
    Mutant(
        "torch_dropout",
        "dropout active in evaluation",
        TD,
        "if not self.training or self.p == 0.0:",
        "if self.p == 0.0:",
        hint="in evaluation mode (not self.training) return the input",
    ),
    Mutant(
        "torch_dropout",
        "PyTorch's global generator",
        TD,
        "torch.rand(x.shape, generator=self.generator, device=x.device)",
        "torch.rand(x.shape, device=x.device)",
        hint="draw with generator=self.generator",
    ),
    # -- torch_augment ---------------------------------------------------------------------------
    Mutant(
        "torch_augment",
        "crop off by one",
        TA,
        "tops = torch.randint(0, h + 2 * pad - size + 1, (n,)",
        "tops = torch.randint(0, h + 2 * pad - size, (n,)",
        hint="the last top row never occurs: the high end of rng.integers",
    ),
    Mutant(
        "torch_augment",
        "flip probability inverted",
        TA,
        "device=x.device) < self.p",
        "device=x.device) >= self.p",
        hint="flip when the draw is < p: p is the probability of flipping",
    ),
    Mutant(
        "torch_augment",
        "cutout square kept inside the image",
        TA,
        "cy = torch.randint(0, h, (n,), generator=self.generator, device=x.device)",
        "cy = torch.randint(self.size // 2, h - self.size + self.size // 2 + 1, (n,), "
        "generator=self.generator, device=x.device)",
        hint="the square never sticks out over the border: draw the",
    ),
    Mutant(
        "torch_augment",
        "edge fill mapped to F.pad's reflect",
        TA,
        '"edge": "replicate"',
        '"edge": "reflect"',
        hint="the crop is a window of the image padded in mode 'reflect',",
    ),
    # -- smoothed_ce -----------------------------------------------------------------------------
    Mutant(
        "smoothed_ce",
        "PyTorch's convention (no mapping)",
        SC,
        "q = torch.full_like(log_probs, eps / (k - 1))\n"
        "    q.scatter_(1, target.view(-1, 1), 1.0 - eps)",
        "q = torch.full_like(log_probs, eps / k)\n"
        "    q.scatter_(1, target.view(-1, 1), 1.0 - eps + eps / k)",
        hint="this is PyTorch's convention with s = eps; the lecture's",
    ),
    Mutant(
        "smoothed_ce",
        "smoothing that does not sum to one",
        SC,
        "q = torch.full_like(log_probs, eps / (k - 1))",
        "q = torch.full_like(log_probs, eps / k)",
        hint="the wrong classes got eps / k (the targets do not sum to",
    ),
    Mutant(
        "smoothed_ce",
        "log of softmax (overflows)",
        SC,
        "log_probs = F.log_softmax(logits, dim=1)",
        "log_probs = torch.log(torch.softmax(logits, dim=1))",
        hint="mean over the batch of -sum_j q_j log softmax(s)_j with q =",
    ),
    Mutant(
        "smoothed_ce",
        "summed over the batch",
        SC,
        "return -(q * log_probs).sum(dim=1).mean()",
        "return -(q * log_probs).sum()",
        hint="the loss was summed over the batch instead of averaged",
    ),
    # -- mixup_step ------------------------------------------------------------------------------
    Mutant(
        "mixup_step",
        "a second lambda for the loss",
        MS,
        "return lam * x + (1.0 - lam) * x[perm], y, y[perm], lam",
        "return lam * x + (1.0 - lam) * x[perm], y, y[perm], sample_beta(alpha, generator)",
        hint=(
            "return the lam that mixed the inputs",
            "lam * CE(scores, y) + (1 - lam) * CE(scores, y[perm]), with",
        ),
    ),
    Mutant(
        "mixup_step",
        "labels swapped in the loss",
        MS,
        "loss = lam * F.cross_entropy(scores, y_a) + (1.0 - lam) * F.cross_entropy(scores, y_b)",
        "loss = lam * F.cross_entropy(scores, y_b) + (1.0 - lam) * F.cross_entropy(scores, y_a)",
        hint="the two labels are swapped: lam goes with y (the unpermuted",
    ),
    Mutant(
        "mixup_step",
        "no zero_grad",
        MS,
        "    optimizer.zero_grad()\n    loss.backward()",
        "    loss.backward()",
        hint="stale gradients were kept: call optimizer.zero_grad()",
    ),
    Mutant(
        "mixup_step",
        "y_b not permuted like x",
        MS,
        "return lam * x + (1.0 - lam) * x[perm], y, y[perm], lam",
        "return lam * x + (1.0 - lam) * x[perm], y, "
        "y[torch.randperm(x.shape[0], generator=generator, device=x.device)], lam",
        hint=(
            "y_b = y[perm] with the same perm as x[perm]",
            "lam * CE(scores, y) + (1 - lam) * CE(scores, y[perm]), with",
        ),
    ),
    # -- ece -------------------------------------------------------------------------------------
    Mutant(
        "ece",
        "bins not weighted",
        EC,
        "total += in_bin.mean() * gap",
        "total += gap / n_bins",
        hint="bins (e_b, e_(b+1)] of the confidence max_k P with e =",
    ),
    Mutant(
        "ece",
        "true-class probability as the confidence",
        EC,
        "confidence = probs.max(axis=1)",
        "confidence = probs[np.arange(len(labels)), labels]",
        hint="the confidence is the largest probability, not the",
    ),
    Mutant(
        "ece",
        "bins closed on the left",
        EC,
        "in_bin = (confidence > lower) & (confidence <= upper)",
        "in_bin = (confidence >= lower) & (confidence < upper)",
        hint="bins (e_b, e_(b+1)] of the confidence max_k P with e =",
    ),
    Mutant(
        "ece",
        "squared gaps",
        EC,
        "gap = abs(correct[in_bin].mean() - confidence[in_bin].mean())",
        "gap = (correct[in_bin].mean() - confidence[in_bin].mean()) ** 2",
        hint="the gaps were squared",
    ),
]

# -- alternatives -------------------------------------------------------------------------------

FORWARD_BINOMIAL = '''\
def dropout_forward(x, p, training, rng):
    """Binomial draws; the cache keeps the solution's keys."""
    if p < 0 or p > 1:
        raise ValueError("p must lie in [0, 1]")
    if not training:
        return x.copy(), {"mask": None, "p": p}
    if p == 1:
        return np.zeros_like(x), {"mask": np.zeros_like(x), "p": p}
    keep = rng.binomial(1, 1.0 - p, size=x.shape).astype(np.float64)
    mask = keep / (1.0 - p)
    return x * mask, {"mask": mask, "p": p}
'''

BACKWARD_WHERE = '''\
def dropout_backward(dout, cache):
    """np.where on the stored mask, dividing dout rather than using the scaled mask."""
    mask = cache.get("mask")
    if mask is None:
        return 1.0 * dout
    p = cache["p"]
    if p >= 1.0:
        return np.zeros_like(dout)
    return np.where(mask != 0, dout / (1.0 - p), 0.0)
'''

MC_MOMENTS = '''\
def softmax(scores):
    """Through the log-sum-exp."""
    z = scores - np.max(scores, axis=-1, keepdims=True)
    return np.exp(z - np.log(np.sum(np.exp(z), axis=-1, keepdims=True)))


def ensemble_average(scores):
    return np.mean([softmax(member) for member in scores], axis=0)


def two_layer_forward(x, params, p, training, rng):
    h = x @ params["W1"].T + params["b1"]
    h[h < 0] = 0.0
    h, _ = dropout_forward(h, p, training, rng)
    return h @ params["W2"].T + params["b2"]


def mc_dropout_predict(x, params, p, n_samples, rng):
    """Running sums of the probabilities and their squares, no (T, N, K) array."""
    total, total_sq = 0.0, 0.0
    for _ in range(n_samples):
        probs = softmax(two_layer_forward(x, params, p, True, rng))
        total = total + probs
        total_sq = total_sq + probs**2
    mean = total / n_samples
    return mean, np.sqrt(np.maximum(total_sq / n_samples - mean**2, 0.0))
'''

L2_COMPREHENSION = '''\
def l2_penalty(params, weight_decay):
    """Comprehensions and np.vdot."""
    weights = [k for k in params if k.startswith("W")]
    penalty = weight_decay / 2 * sum(np.vdot(params[k], params[k]) for k in weights)
    grads = {k: (weight_decay * v if k in weights else 0.0 * v) for k, v in params.items()}
    return float(penalty), grads
'''

EARLY_SIGN = '''\
class EarlyStopping:
    """A sign turns mode 'max' into mode 'min'; the snapshot copies every array."""

    def __init__(self, patience=5, min_delta=0.0, mode="min"):
        if mode == "min":
            self._sign = 1.0
        elif mode == "max":
            self._sign = -1.0
        else:
            raise ValueError(f"unknown mode {mode}")
        if patience < 0:
            raise ValueError("negative patience")
        if min_delta < 0:
            raise ValueError("negative min_delta")
        self.patience, self.min_delta, self.mode = patience, min_delta, mode
        self.best_value = self._sign * math.inf
        self.best_epoch = -1
        self.best_params = None
        self.bad_epochs = 0
        self.should_stop = False
        self._seen = 0

    def step(self, value, params):
        epoch = self._seen
        self._seen += 1
        if self._sign * value < self._sign * self.best_value - self.min_delta:
            self.best_value, self.best_epoch, self.bad_epochs = value, epoch, 0
            self.best_params = {k: np.array(v, copy=True) for k, v in params.items()}
            self.should_stop = False
        else:
            self.bad_epochs += 1
            self.should_stop = self.bad_epochs >= self.patience
        return self.should_stop
'''

FLIP_CROP_VECTORISED = '''\
FILL_MODES = ("constant", "edge", "reflect", "symmetric", "wrap")


def hflip(x):
    return np.flip(x, axis=3).copy()


def random_hflip(x, rng, p=0.5):
    """Indices of the chosen images, flipped on a copy."""
    out = x.copy()
    chosen = np.flatnonzero(rng.random(len(x)) < p)
    out[chosen] = out[chosen][..., ::-1]
    return out


def random_crop(x, size, padding, rng, fill="constant", value=0.0):
    """All windows as a strided view, one picked per image by fancy indexing."""
    if fill not in FILL_MODES:
        raise ValueError(f"unknown fill mode {fill}")
    n, c, h, w = x.shape
    if size > min(h, w) + 2 * padding:
        raise ValueError("crop larger than the padded image")
    widths = [(0, 0), (0, 0), (padding, padding), (padding, padding)]
    extra = {"constant_values": value} if fill == "constant" else {}
    padded = np.pad(x, widths, mode=fill, **extra)
    windows = np.lib.stride_tricks.sliding_window_view(padded, (size, size), axis=(2, 3))
    ny, nx = windows.shape[2], windows.shape[3]
    left = rng.integers(nx, size=n)
    top = rng.integers(ny, size=n)
    return windows[np.arange(n), :, top, left].copy()
'''

PHOTOMETRIC_LOOP = '''\
def color_jitter(x, brightness, contrast, rng):
    """Uniform draws scaled by hand; a loop over the images."""
    n = len(x)
    lo_b, lo_c = max(0.0, 1.0 - brightness), max(0.0, 1.0 - contrast)
    b = lo_b + (1.0 + brightness - lo_b) * rng.random(n)
    c = lo_c + (1.0 + contrast - lo_c) * rng.random(n)
    out = np.empty_like(x, dtype=np.float64)
    for i in range(n):
        v = b[i] * x[i]
        out[i] = v.mean() + c[i] * (v - v.mean())
    return out


def gaussian_noise(x, std, rng):
    return x + rng.normal(0.0, std, size=x.shape)
'''

CUTOUT_LOOP = '''\
def cutout(x, size, rng):
    """A loop with slices clipped by max and min."""
    out = x.copy()
    n, _, h, w = x.shape
    cys = rng.integers(0, h, size=n)
    cxs = rng.integers(0, w, size=n)
    for i in range(n):
        y0, x0 = cys[i] - size // 2, cxs[i] - size // 2
        out[i, :, max(y0, 0):min(y0 + size, h), max(x0, 0):min(x0 + size, w)] = 0.0
    return out
'''

MIXUP_GAMMA = '''\
def mixup(x, y, alpha, rng):
    """lam from two Gamma draws (another stream, the same Beta distribution); np.take."""
    g = rng.standard_gamma(alpha, size=2)
    lam = g[0] / g.sum()
    order = rng.permutation(len(x))
    x_mix = np.take(x, order, axis=0) * (1 - lam) + lam * x
    y_mix = (1 - lam) * np.take(y, order, axis=0) + lam * y
    return x_mix, y_mix
'''

SMOOTH_EYE = """\
def smooth_labels(labels, num_classes, eps):
    onehot = np.eye(num_classes)[labels]
    return onehot * (1.0 - eps) + (1.0 - onehot) * (eps / (num_classes - 1))
"""

TORCH_DROPOUT_BERNOULLI = '''\
class MyDropout(nn.Module):
    """torch.bernoulli with the generator."""

    def __init__(self, p=0.5, generator=None):
        super().__init__()
        if p < 0 or p > 1:
            raise ValueError(f"p = {p} is not a probability")
        self.p = float(p)
        self.generator = generator

    def forward(self, x):
        if not self.training:
            return x
        if self.p >= 1.0:
            return torch.zeros_like(x) * x
        keep = torch.full(x.shape, 1.0 - self.p, device=x.device, dtype=x.dtype)
        mask = torch.bernoulli(keep, generator=self.generator)
        return x * mask / (1.0 - self.p)
'''

TORCH_AUGMENT_LOOPS = '''\
TORCH_PAD_MODES = {"constant": "constant", "edge": "replicate", "reflect": "reflect",
                   "wrap": "circular"}


class BatchHFlip(nn.Module):
    """Bernoulli draws and boolean indexing on a clone."""

    def __init__(self, p=0.5, generator=None):
        super().__init__()
        self.p, self.generator = p, generator

    def forward(self, x):
        if not self.training:
            return x
        coins = torch.full((x.shape[0],), float(self.p), device=x.device)
        chosen = torch.bernoulli(coins, generator=self.generator).bool()
        out = x.clone()
        out[chosen] = x[chosen].flip(3)
        return out


class BatchRandomCrop(nn.Module):
    """A Python loop over the images (slower, still correct)."""

    def __init__(self, size, padding=0, fill="constant", value=0.0, generator=None):
        super().__init__()
        if fill not in TORCH_PAD_MODES:
            raise ValueError(f"unknown fill mode {fill}")
        self.size, self.padding, self.fill, self.value = size, padding, fill, value
        self.generator = generator

    def forward(self, x):
        if not self.training:
            return x
        n, _, h, w = x.shape
        p, s = self.padding, self.size
        if self.fill == "constant":
            padded = F.pad(x, [p] * 4, value=self.value)
        else:
            padded = F.pad(x, [p] * 4, mode=TORCH_PAD_MODES[self.fill])
        tops = torch.randint(h + 2 * p - s + 1, (n,), generator=self.generator, device=x.device)
        lefts = torch.randint(w + 2 * p - s + 1, (n,), generator=self.generator, device=x.device)
        crops = [padded[i, :, t:t + s, l:l + s] for i, (t, l) in
                 enumerate(zip(tops.tolist(), lefts.tolist()))]
        return torch.stack(crops)


class BatchCutout(nn.Module):
    """Clamped corners and a loop over the images."""

    def __init__(self, size, generator=None):
        super().__init__()
        self.size, self.generator = size, generator

    def forward(self, x):
        if not self.training:
            return x
        n, _, h, w = x.shape
        cy = torch.randint(0, h, (n,), generator=self.generator, device=x.device)
        cx = torch.randint(0, w, (n,), generator=self.generator, device=x.device)
        y0 = (cy - self.size // 2).clamp(min=0).tolist()
        y1 = (cy - self.size // 2 + self.size).clamp(max=h).tolist()
        x0 = (cx - self.size // 2).clamp(min=0).tolist()
        x1 = (cx - self.size // 2 + self.size).clamp(max=w).tolist()
        out = x.clone()
        for i in range(n):
            out[i, :, y0[i]:y1[i], x0[i]:x1[i]] = 0
        return out
'''

SMOOTHED_CE_LOGSUMEXP = '''\
def lecture_to_torch_smoothing(eps, num_classes):
    return num_classes * eps / (num_classes - 1)


def smoothed_cross_entropy(logits, target, eps):
    """Through logsumexp and gather, without building q."""
    k = logits.shape[-1]
    logp = logits - torch.logsumexp(logits, dim=1, keepdim=True)
    picked = logp.gather(1, target[:, None]).squeeze(1)
    others = logp.sum(dim=1) - picked
    return (-(1 - eps) * picked - eps / (k - 1) * others).mean()
'''

MIXUP_STEP_SOFT = '''\
def mixup_batch(x, y, alpha, generator):
    """torch.lerp for the blend."""
    lam = sample_beta(alpha, generator)
    idx = torch.randperm(len(x), generator=generator, device=x.device)
    return torch.lerp(x[idx], x, lam), y, y[idx], lam


def mixup_train_step(model, optimizer, x, y, alpha, generator):
    """One cross-entropy against the blended one-hot targets (equal by linearity)."""
    model.train()
    x_mix, y_a, y_b, lam = mixup_batch(x, y, alpha, generator)
    scores = model(x_mix)
    k = scores.shape[1]
    soft = lam * F.one_hot(y_a, k).to(scores.dtype) + (1 - lam) * F.one_hot(y_b, k).to(scores.dtype)
    loss = F.cross_entropy(scores, soft)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    return loss.detach()
'''

ECE_BINCOUNT = '''\
def expected_calibration_error(probs, labels, n_bins=15):
    """np.digitize(right=True) puts e_(b-1) < c <= e_b into bin b; sums per bin by bincount."""
    conf = np.max(probs, axis=1)
    right = (np.argmax(probs, axis=1) == labels).astype(float)
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    which = np.digitize(conf, edges, right=True) - 1
    sum_conf = np.bincount(which, weights=conf, minlength=n_bins)
    sum_right = np.bincount(which, weights=right, minlength=n_bins)
    return float(np.sum(np.abs(sum_right - sum_conf)) / len(conf))
'''

ALTERNATIVES = [
    Alternative("dropout_forward", "binomial draws", FWD, FORWARD_BINOMIAL),
    Alternative("dropout_backward", "np.where and a division", BWD, BACKWARD_WHERE),
    Alternative("mc_dropout", "running sums of moments", MC, MC_MOMENTS),
    Alternative("l2_penalty", "comprehensions and vdot", L2, L2_COMPREHENSION),
    Alternative("early_stopping", "sign trick and array copies", ES, EARLY_SIGN),
    Alternative("flip_crop", "strided windows and fancy indexing", FC, FLIP_CROP_VECTORISED),
    Alternative("photometric", "loops and rng.normal", PH, PHOTOMETRIC_LOOP),
    Alternative("cutout", "loop with clipped slices", CO, CUTOUT_LOOP),
    Alternative("mixup", "lam from two Gamma draws", MX, MIXUP_GAMMA),
    Alternative("label_smoothing", "from an identity matrix", LS, SMOOTH_EYE),
    Alternative("torch_dropout", "torch.bernoulli", TD, TORCH_DROPOUT_BERNOULLI),
    Alternative("torch_augment", "loops and boolean indexing", TA, TORCH_AUGMENT_LOOPS),
    Alternative("smoothed_ce", "logsumexp and gather", SC, SMOOTHED_CE_LOGSUMEXP),
    Alternative("mixup_step", "soft targets and lerp", MS, MIXUP_STEP_SOFT),
    Alternative("ece", "digitize and bincount", EC, ECE_BINCOUNT),
]
