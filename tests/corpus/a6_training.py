"""Mutants (realistic bugs) and alternative correct answers for A6.

Each mutant is one textual change in one answer cell of the solution and must cost its item
points; each alternative is a whole answer cell written differently and must get full marks on
every item. Some alternatives draw their random numbers differently from the solution (natural
logarithms, ``torch.rand`` for a head, ``rng.choice`` for options): the checks of random draws are
statistical, so any correct use of the generator passes.
"""

from mutation import NOT_YET, Alternative, Mutant

IL = "initial_loss_answer"
OF = "overfit_tiny_answer"
LU = "log_uniform_answer"
RS = "random_search_answer"
BW = "border_answer"
LS = "layer_stats_answer"
UR = "update_ratio_answer"
NH = "new_head_answer"
FE = "freeze_answer"
PG = "param_groups_answer"
CM = "capstone_model_answer"  # graded through the weights in capstone.npz

MUTANTS = [
    # -- initial_loss ----------------------------------------------------------------------------
    Mutant(
        "initial_loss",
        "measured in training mode",
        IL,
        "    model.eval()\n",
        "",
        hint="the loss was measured in training mode (batch statistics,",
    ),
    Mutant(
        "initial_loss",
        "the model left in evaluation mode",
        IL,
        "model.train(was_training)",
        "model.eval()",
        hint="remember model.training before model.eval() and restore it",
    ),
    Mutant(
        "initial_loss",
        "gradients enabled",
        IL,
        "with torch.no_grad():\n            mean_loss",
        "if True:\n            mean_loss",
        hint="wrap the forward pass in `with torch.no_grad():`",
    ),
    Mutant(
        "initial_loss",
        "sum over the batch",
        IL,
        "F.cross_entropy(model(x), y)",
        'F.cross_entropy(model(x), y, reduction="sum")',
        hint="the sum over the batch instead of the mean",
    ),
    Mutant(
        "initial_loss",
        "log10 of C",
        IL,
        "expected = math.log(num_classes)",
        "expected = math.log10(num_classes)",
        hint="log10(C): use the natural logarithm (math.log)",
    ),
    Mutant(
        "initial_loss",
        "absolute tolerance",
        IL,
        "<= tolerance * expected",
        "<= tolerance",
        hint="the tolerance is relative: |loss - ln C| <= tolerance * ln C",
    ),
    # -- overfit_tiny_sample ---------------------------------------------------------------------
    Mutant(
        "overfit_tiny",
        "no zero_grad",
        OF,
        "        optimizer.zero_grad()\n",
        "",
        hint="Adam(model.parameters(), lr=lr), full batch, zero_grad",
    ),
    Mutant(
        "overfit_tiny",
        "SGD instead of Adam",
        OF,
        "optimizer = torch.optim.Adam(model.parameters(), lr=lr)",
        "optimizer = torch.optim.SGD(model.parameters(), lr=lr)",
        hint="Adam(model.parameters(), lr=lr), full batch, zero_grad",
    ),
    Mutant(
        "overfit_tiny",
        "no accuracy before training",
        OF,
        "history = [accuracy()]",
        "history = []",
        hint="record the accuracy before the first step too",
    ),
    Mutant(
        "overfit_tiny",
        "a new generator instead of the argument",
        OF,
        "model = make_model(generator)",
        "model = make_model(torch.Generator())",
    ),
    Mutant(
        "overfit_tiny",
        "count instead of fraction",
        OF,
        ".double().mean().item()",
        ".sum().item()",
        hint="the fraction of correct predictions: a mean, not a count,",
    ),
    # -- sample_log_uniform ----------------------------------------------------------------------
    Mutant(
        "log_uniform",
        "uniform in the value",
        LU,
        "samples = np.clip(10.0**u, low, high)",
        "samples = rng.uniform(low, high, size)",
        hint="the samples look uniform in the value, not in its logarithm",
    ),
    Mutant(
        "log_uniform",
        "exp of a base-10 exponent",
        LU,
        "10.0**u",
        "np.exp(u)",
        hint="the samples look uniform in the value, not in its logarithm",
    ),
    Mutant(
        "log_uniform",
        "NumPy's global random state",
        LU,
        "u = rng.uniform(",
        "u = np.random.uniform(",
        hint="draw from rng only (not np.random)",
    ),
    Mutant(
        "log_uniform",
        "natural logarithms of the bounds with a base-10 power",
        LU,
        "rng.uniform(math.log10(low), math.log10(high), size)",
        "rng.uniform(math.log(low), math.log(high), size)",
        hint="draw the exponent uniformly on [log10(low), log10(high)]",
    ),
    # -- random_search ---------------------------------------------------------------------------
    Mutant(
        "random_search",
        "always minimises",
        RS,
        "sign = 1.0 if minimize else -1.0",
        "sign = 1.0",
        hint="ranked worst first: look at the direction for minimize=True",
    ),
    Mutant(
        "random_search",
        "not ranked",
        RS,
        'return sorted(trials, key=lambda t: sign * t["score"])',
        "return trials",
        hint="the trials are in the order they were run: sort them by",
    ),
    Mutant(
        "random_search",
        "log ranges drawn linearly",
        RS,
        "params[name] = sample_log_uniform(spec[0], spec[1], None, rng)",
        "params[name] = float(rng.uniform(spec[0], spec[1]))",
        hint="use sample_log_uniform for 'log' ranges",
    ),
    Mutant(
        "random_search",
        "the last option never chosen",
        RS,
        "rng.integers(len(options))",
        "rng.integers(max(len(options) - 1, 1))",
    ),
    Mutant(
        "random_search",
        "one params dict shared by every trial",
        RS,
        "    for _ in range(n_trials):\n        params = {}\n",
        "    params = {}\n    for _ in range(n_trials):\n",
        hint="every trial shows the same params",
    ),
    # -- border_warnings -------------------------------------------------------------------------
    Mutant(
        "border_warnings",
        "positions on the linear scale for log ranges",
        BW,
        "values, low, high = np.log10(values), math.log10(low), math.log10(high)",
        "pass",
        hint=(
            "lr is a log range: measure positions on the log10 scale",
            "weight_decay is a log range: measure positions on the log10",
        ),
    ),
    Mutant(
        "border_warnings", "only the best trial", BW, "best = trials[:top_k]", "best = trials[:1]"
    ),
    Mutant(
        "border_warnings",
        "any instead of all",
        BW,
        "if np.all(position <= fraction):",
        "if np.any(position <= fraction):",
        # TODO(issue 17): it gets "lr is a log range", which does not describe it (seen in CI).
        hint=NOT_YET,
    ),
    Mutant(
        "border_warnings",
        "the high band measured from the wrong end",
        BW,
        "np.all(position >= 1.0 - fraction)",
        "np.all(position >= fraction)",
    ),
    # -- LayerStats ------------------------------------------------------------------------------
    Mutant(
        "layer_stats",
        "std without Bessel's correction",
        LS,
        "a.std().item()",
        "a.std(correction=0).item()",
        hint="Tensor.std() uses Bessel's correction (divides by n - 1)",
    ),
    Mutant(
        "layer_stats",
        "only the top-level modules",
        LS,
        "for name, module in model.named_modules():",
        "for name, module in model.named_children():",
    ),
    Mutant(
        "layer_stats",
        "forward hook handles overwritten",
        LS,
        "self.handles.append(module.register_forward_hook(self._forward_hook(name)))",
        "self.last_handle = module.register_forward_hook(self._forward_hook(name))",
        hint="keep every handle that register_... returns and call",
    ),
    Mutant("layer_stats", "negative outputs counted as zeros", LS, "(a == 0)", "(a <= 0)"),
    Mutant("layer_stats", "only positive saturation", LS, "(a.abs() >= 0.99)", "(a >= 0.99)"),
    Mutant(
        "layer_stats",
        "passes without gradients recorded",
        LS,
        "if not output.requires_grad:\n                return\n",
        "",
    ),
    Mutant(
        "layer_stats",
        "mean absolute gradient instead of its std",
        LS,
        'record["grad_std"] = grad.std().item()',
        'record["grad_std"] = grad.abs().mean().item()',
    ),
    # -- update_ratios ---------------------------------------------------------------------------
    Mutant(
        "update_ratio",
        "snapshot by reference",
        UR,
        "p.detach().clone()",
        "p.detach()",
        hint="the snapshot before the step must be a copy",
    ),
    Mutant(
        "update_ratio",
        "divided by the new weights",
        UR,
        "torch.linalg.vector_norm(before[name]) + 1e-12",
        "torch.linalg.vector_norm(p) + 1e-12",
        hint="||w_after - w_before|| / (||w_before|| + 1e-12), after one",
    ),
    Mutant(
        "update_ratio",
        "no zero_grad",
        UR,
        "    optimizer.zero_grad()\n",
        "",
        hint="||w_after - w_before|| / (||w_before|| + 1e-12), after one",
    ),
    Mutant(
        "update_ratio",
        "squared norm of the change",
        UR,
        "change = torch.linalg.vector_norm(p - before[name])",
        "change = torch.linalg.vector_norm(p - before[name]) ** 2",
        hint="||w_after - w_before|| / (||w_before|| + 1e-12), after one",
    ),
    Mutant(
        "update_ratio",
        "model left in eval mode",
        UR,
        "    model.train()\n",
        "",
        hint="model.train()",
    ),
    # -- new_head --------------------------------------------------------------------------------
    Mutant(
        "new_head",
        "bound 1/d instead of 1/sqrt(d)",
        NH,
        "-1.0 / math.sqrt(d), 1.0 / math.sqrt(d)",
        "-1.0 / d, 1.0 / d",
        hint="uniform on [-1/sqrt(in_features), 1/sqrt(in_features)]",
    ),
    Mutant(
        "new_head",
        "global generator",
        NH,
        ", generator=generator)",
        ")",
        hint="draw the weights with generator=generator",
    ),
    Mutant(
        "new_head",
        "bias not zeroed",
        NH,
        "        nn.init.zeros_(head.bias)\n",
        "",
        hint="nn.init.zeros_(head.bias)",
    ),
    Mutant(
        "new_head",
        "dtype not kept",
        NH,
        ", device=old.weight.device, dtype=old.weight.dtype)",
        ", device=old.weight.device)",
        hint="create it with the old head's dtype and device",
    ),
    Mutant(
        "new_head",
        "old number of classes",
        NH,
        "nn.Linear(d, num_classes,",
        "nn.Linear(d, old.out_features,",
    ),
    # -- freeze_encoder --------------------------------------------------------------------------
    Mutant(
        "freeze_encoder",
        "batch norm left in training mode",
        FE,
        "            module.eval()\n",
        "            pass\n",
        hint="put the encoder's batch-norm modules in eval mode, so their",
    ),
    Mutant(
        "freeze_encoder",
        "a frozen head stays frozen",
        FE,
        "    for p in params:\n        p.requires_grad_(True)\n",
        "",
    ),
    Mutant(
        "freeze_encoder",
        "returns every parameter",
        FE,
        "return params",
        "return list(model.parameters())",
        hint="return list(model[-1].parameters())",
    ),
    Mutant(
        "freeze_encoder",
        "the whole encoder in eval mode",
        FE,
        "        if isinstance(module, nn.modules.batchnorm._BatchNorm):\n            module.eval()",
        "        module.eval()",
    ),
    # -- discriminative_param_groups -------------------------------------------------------------
    Mutant(
        "param_groups",
        "depth counted from the input",
        PG,
        "base_lr * decay ** (depth_of_first - i)",
        "base_lr * decay**i",
        hint="count the depth from the head (depth 0), not from the input",
    ),
    Mutant(
        "param_groups",
        "modules without parameters counted",
        PG,
        "depth_of_first = len(blocks) - 1",
        "depth_of_first = len(model) - 1",
    ),
    Mutant(
        "param_groups",
        "divided by the decay",
        PG,
        "base_lr * decay ** (depth_of_first - i)",
        "base_lr / decay ** (depth_of_first - i)",
    ),
    Mutant("param_groups", "off by one", PG, "(depth_of_first - i)", "(depth_of_first - i + 1)"),
    # -- capstone: the model the submitted weights are loaded into --------------------------------
    Mutant(
        "capstone",
        "inputs not standardised at test time (normalisation done outside the model)",
        CM,
        "x = (x - 0.2860) / 0.3530",
        "x = x",
        # TODO(issue 17): 'far below a simple CNN: was the model trained' does not name the missing standardisation
        hint="far below a simple CNN",
    ),
    Mutant(
        "capstone",
        "architecture changed after training (a block's width)",
        CM,
        "*block(64, 128),\n                *block(128, 128),",
        "*block(64, 96),\n                *block(96, 128),",
    ),
    Mutant(
        "capstone",
        "the mirror image taken upside down",
        CM,
        "self.net(x.flip(3))",
        "self.net(x.flip(2))",
    ),
    Mutant(
        "capstone",
        "a block dropped after training",
        CM,
        "                *block(128, 128),\n",
        "",
    ),
]


ALTERNATIVES = [
    Alternative(
        "initial_loss",
        "log_softmax and nll, inference_mode, relative check by division",
        IL,
        """def initial_loss(model, x, y):
    mode = model.training
    model.train(False)
    with torch.inference_mode():
        scores = model(x)
        value = float(F.nll_loss(F.log_softmax(scores, dim=1), y))
    model.train(mode)
    return value


def check_initial_loss(model, x, y, num_classes, tolerance=0.1):
    loss = initial_loss(model, x, y)
    expected = float(np.log(num_classes))
    return loss, expected, abs(loss / expected - 1.0) <= tolerance
""",
    ),
    Alternative(
        "overfit_tiny",
        "nn.CrossEntropyLoss, float32 accuracy, set_to_none=False",
        OF,
        """def overfit_tiny_sample(make_model, x, y, steps, lr, generator):
    model = make_model(generator)
    criterion = nn.CrossEntropyLoss()
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    history = []
    for step in range(steps + 1):
        with torch.no_grad():
            history.append(model(x).argmax(1).eq(y).float().mean().item())
        if step == steps:
            break
        model.train()
        opt.zero_grad(set_to_none=False)
        criterion(model(x), y).backward()
        opt.step()
    return history
""",
    ),
    Alternative(
        "log_uniform",
        "natural logarithms",
        LU,
        """def sample_log_uniform(low, high, size, rng):
    if not (0 < low <= high):
        raise ValueError("bad range")
    out = np.exp(rng.uniform(np.log(low), np.log(high), size=size))
    out = np.minimum(np.maximum(out, low), high)
    return float(out) if size is None else np.asarray(out, dtype=np.float64)
""",
    ),
    Alternative(
        "random_search",
        "helper per kind, rng.choice, sorted with reverse",
        RS,
        """def _draw(kind, spec, rng):
    if kind == "log":
        return sample_log_uniform(spec[0], spec[1], None, rng)
    if kind == "linear":
        low, high = spec
        return float(low + (high - low) * rng.random())
    if kind == "choice":
        return spec[0][rng.choice(len(spec[0]))]
    raise ValueError(kind)


def random_search(objective, space, n_trials, rng, minimize=True):
    trials = []
    while len(trials) < n_trials:
        params = {name: _draw(r[0], r[1:], rng) for name, r in space.items()}
        trials.append({"params": params, "score": float(objective(params))})
    return sorted(trials, key=lambda t: t["score"], reverse=not minimize)
""",
    ),
    Alternative(
        "border_warnings",
        "a loop over the trials with min and max",
        BW,
        """def border_warnings(trials, space, top_k=3, fraction=0.1):
    out = {}
    for name, r in space.items():
        if r[0] == "choice":
            continue
        scale = math.log10 if r[0] == "log" else (lambda v: v)
        lo, hi = scale(r[1]), scale(r[2])
        pos = [(scale(t["params"][name]) - lo) / (hi - lo) for t in trials[:top_k]]
        if pos and max(pos) <= fraction:
            out[name] = "low"
        elif pos and min(pos) >= 1 - fraction:
            out[name] = "high"
    return out
""",
    ),
    Alternative(
        "layer_stats",
        "full backward hooks, statistics in NumPy",
        LS,
        """class LayerStats:
    def __init__(self, model, layer_types):
        self.records = {}
        self._handles = []
        for name, module in model.named_modules():
            if isinstance(module, layer_types):
                self.records[name] = []
                self._handles.append(module.register_forward_hook(self._fwd(name)))
                self._handles.append(module.register_full_backward_hook(self._bwd(name)))

    def _fwd(self, name):
        def hook(module, inputs, output):
            if not torch.is_grad_enabled():
                return
            a = output.detach().cpu().double().numpy()
            self.records[name].append(
                {"mean": float(a.mean()), "std": float(a.std(ddof=1)),
                 "zeros": float(np.mean(a == 0)), "saturated": float(np.mean(np.abs(a) >= 0.99)),
                 "grad_mean": None, "grad_std": None})
        return hook

    def _bwd(self, name):
        def hook(module, grad_input, grad_output):
            g = grad_output[0].detach().cpu().double().numpy()
            rec = self.records[name][-1]
            rec["grad_mean"], rec["grad_std"] = float(g.mean()), float(g.std(ddof=1))
        return hook

    def remove(self):
        while self._handles:
            self._handles.pop().remove()
""",
    ),
    Alternative(
        "update_ratio",
        "state_dict copies, torch.norm, F.nll_loss",
        UR,
        """import copy


def update_ratios(model, optimizer, x, y):
    old = copy.deepcopy({k: v for k, v in model.state_dict().items()})
    model.train()
    for p in model.parameters():
        p.grad = None
    loss = F.nll_loss(F.log_softmax(model(x), dim=1), y)
    loss.backward()
    optimizer.step()
    out = {}
    for name, p in model.named_parameters():
        w0 = old[name]
        out[name] = float(torch.norm(p.detach() - w0) / (torch.norm(w0) + 1e-12))
    return out
""",
    ),
    Alternative(
        "new_head",
        "weights from torch.rand, set by index",
        NH,
        """def new_head(model, num_classes, generator):
    last = len(model) - 1
    old = model[last]
    fan_in = old.weight.shape[1]
    layer = nn.Linear(fan_in, num_classes).to(old.weight.device, old.weight.dtype)
    u = torch.rand((num_classes, fan_in), generator=generator, device=old.weight.device,
                   dtype=old.weight.dtype)
    with torch.no_grad():
        layer.weight.copy_((2 * u - 1) / fan_in**0.5)
        layer.bias.zero_()
    model[last] = layer
    return model
""",
    ),
    Alternative(
        "freeze_encoder",
        "names with the head's prefix, BatchNorm classes listed",
        FE,
        """def freeze_encoder(model):
    prefix = f"{len(model) - 1}."
    for name, p in model.named_parameters():
        p.requires_grad = name.startswith(prefix)
    for module in list(model.children())[:-1]:
        for m in module.modules():
            if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d)):
                m.train(False)
    return [p for name, p in model.named_parameters() if name.startswith(prefix)]
""",
    ),
    Alternative(
        "param_groups",
        "walk from the head backwards",
        PG,
        """def discriminative_param_groups(model, base_lr, decay):
    groups, lr = [], base_lr
    for module in reversed(list(model.children())):
        params = [p for p in module.parameters()]
        if not params:
            continue
        groups.append({"params": params, "lr": lr})
        lr = lr * decay
    return groups[::-1]
""",
    ),
    Alternative(
        "capstone",
        "the same network built from a list of widths",
        CM,
        """def build_capstone_model():
    import torch.nn as nn

    layers, c_in = [], 1
    for c_out in [32, "pool", 64, 64, "pool", 128, 128]:
        if c_out == "pool":
            layers.append(nn.MaxPool2d(2))
            continue
        layers += [nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU()]
        c_in = c_out
    layers += [nn.AdaptiveMaxPool2d(1), nn.Flatten(), nn.Linear(c_in, 10)]

    class Classifier(nn.Module):
        def __init__(self):
            super().__init__()
            self.net = nn.Sequential(*layers)

        def forward(self, x):
            z = (x - 0.2860) / 0.3530
            out = self.net(z)
            if not self.training:
                out = (out + self.net(z.flip(-1))) / 2
            return out

    return Classifier()
""",
    ),
]
