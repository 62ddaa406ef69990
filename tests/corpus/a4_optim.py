"""Mutants (realistic bugs) and alternative correct answers for A4.

Each mutant is one textual change in one answer cell of the solution and must cost its item
points; each alternative is a whole answer cell written differently and must get full marks on
every item. The issue's named mutants are all here: no bias correction, bias correction with the
step counted from 0, Nesterov as plain momentum, coupled weight decay in AdamW, eps inside the
square root, and schedules off by one step (in NumPy and in PyTorch where both exist).
"""

import dataclasses

from mutation import NOT_YET, Alternative, Mutant

SGD = "sgd_answer"
ADAGRAD = "adagrad_answer"
RMSPROP = "rmsprop_answer"
ADAM = "adam_answer"
ADAMW = "adamw_answer"
DECAY = "decay_schedules_answer"
WARMUP = "warmup_answer"
CYCLIC = "cyclical_answer"
ONECYCLE = "one_cycle_answer"
RANGE = "range_test_answer"
TSGD = "torch_sgd_answer"
TADAM = "torch_adam_answer"
TADAMW = "torch_adamw_answer"
TSCHED = "torch_warmup_cosine_answer"

MUTANTS = [
    # -- sgd -------------------------------------------------------------------------------------
    Mutant(
        "sgd",
        "Nesterov as plain momentum",
        SGD,
        "direction = direction + momentum * buffer if nesterov else buffer",
        "direction = buffer",
    ),
    Mutant(
        "sgd",
        "Nesterov with the old buffer",
        SGD,
        '        new_state["momentum_buffer"] = buffer\n'
        "        direction = direction + momentum * buffer if nesterov else buffer",
        '        new_state["momentum_buffer"] = buffer\n'
        "        old = 0.0 if previous is None else previous\n"
        "        direction = direction + momentum * old if nesterov else buffer",
    ),
    Mutant(
        "sgd",
        "first buffer dampened",
        SGD,
        "buffer = np.array(direction, dtype=np.float64, copy=True)",
        "buffer = (1.0 - dampening) * direction",
    ),
    Mutant(
        "sgd",
        "buffer updated in place (the caller's state changes)",
        SGD,
        "            buffer = momentum * previous + (1.0 - dampening) * direction",
        "            previous *= momentum\n"
        "            previous += (1.0 - dampening) * direction\n"
        "            buffer = previous",
    ),
    Mutant(
        "sgd",
        "classical velocity with the learning rate inside",
        SGD,
        "        if previous is None:\n"
        "            buffer = np.array(direction, dtype=np.float64, copy=True)\n"
        "        else:\n"
        "            buffer = momentum * previous + (1.0 - dampening) * direction\n"
        '        new_state["momentum_buffer"] = buffer\n'
        "        direction = direction + momentum * buffer if nesterov else buffer\n"
        "    return param - lr * direction, new_state",
        "        if previous is None:\n"
        "            buffer = lr * direction\n"
        "        else:\n"
        "            buffer = momentum * previous + lr * (1.0 - dampening) * direction\n"
        '        new_state["momentum_buffer"] = buffer\n'
        "        step = lr * direction + momentum * buffer if nesterov else buffer\n"
        "        return param - step, new_state\n"
        "    return param - lr * direction, new_state",
    ),
    Mutant(
        "sgd",
        "weight decay added after the momentum",
        SGD,
        "    direction = grad + weight_decay * param if weight_decay != 0 else grad\n",
        "    direction = grad\n",
    ),
    Mutant(
        "sgd",
        "no error for Nesterov with dampening",
        SGD,
        "if nesterov and (momentum <= 0 or dampening != 0):",
        "if nesterov and momentum <= 0:",
    ),
    # -- adagrad ---------------------------------------------------------------------------------
    Mutant(
        "adagrad",
        "eps inside the square root",
        ADAGRAD,
        "(np.sqrt(accumulated) + eps)",
        "np.sqrt(accumulated + eps)",
    ),
    Mutant(
        "adagrad",
        "lr_decay off by one step",
        ADAGRAD,
        "rate = lr / (1.0 + (t - 1) * lr_decay)",
        "rate = lr / (1.0 + t * lr_decay)",
    ),
    Mutant(
        "adagrad",
        "initial_accumulator_value ignored",
        ADAGRAD,
        "np.full(np.shape(param), initial_accumulator_value, dtype=np.float64)",
        "np.zeros(np.shape(param))",
    ),
    Mutant(
        "adagrad",
        "accumulator updated in place",
        ADAGRAD,
        "accumulated = accumulated + g * g",
        "accumulated += g * g",
    ),
    Mutant(
        "adagrad",
        "weight decay not accumulated",
        ADAGRAD,
        "accumulated = accumulated + g * g",
        "accumulated = accumulated + grad * grad",
    ),
    # -- rmsprop ---------------------------------------------------------------------------------
    Mutant(
        "rmsprop",
        "eps inside the square root",
        RMSPROP,
        "denominator = np.sqrt(square_avg) + eps",
        "denominator = np.sqrt(square_avg + eps)",
    ),
    Mutant(
        "rmsprop",
        "alpha weights the new gradient",
        RMSPROP,
        'square_avg = alpha * state.get("square_avg", zeros) + (1.0 - alpha) * g * g',
        'square_avg = (1.0 - alpha) * state.get("square_avg", zeros) + alpha * g * g',
    ),
    Mutant(
        "rmsprop",
        "centred without squaring the mean",
        RMSPROP,
        "np.sqrt(square_avg - grad_avg * grad_avg) + eps",
        "np.sqrt(np.abs(square_avg - grad_avg)) + eps",
    ),
    Mutant(
        "rmsprop",
        "momentum buffer dampened",
        RMSPROP,
        'buffer = momentum * state.get("momentum_buffer", zeros) + normalised',
        'buffer = momentum * state.get("momentum_buffer", zeros) + (1.0 - momentum) * normalised',
    ),
    Mutant(
        "rmsprop",
        "square_avg bias-corrected like Adam",
        RMSPROP,
        "denominator = np.sqrt(square_avg) + eps",
        "denominator = np.sqrt(square_avg / (1.0 - alpha**t)) + eps",
    ),
    # -- adam ------------------------------------------------------------------------------------
    Mutant(
        "adam",
        "no bias correction",
        ADAM,
        "    m_hat = m / (1.0 - beta1**t)\n    v_hat = v / (1.0 - beta2**t)",
        "    m_hat = m\n    v_hat = v",
    ),
    Mutant(
        "adam",
        "bias correction with the step counted from 0",
        ADAM,
        "    m_hat = m / (1.0 - beta1**t)\n    v_hat = v / (1.0 - beta2**t)",
        "    m_hat = m / (1.0 - beta1 ** (t - 1))\n    v_hat = v / (1.0 - beta2 ** (t - 1))",
    ),
    Mutant(
        "adam",
        "weight decay decoupled in Adam",
        ADAM,
        "    g = grad + weight_decay * param if weight_decay != 0 else grad\n",
        "    g = grad\n    param = param * (1.0 - lr * weight_decay)\n",
    ),
    Mutant(
        "adam",
        "eps inside the square root",
        ADAM,
        "(np.sqrt(v_hat) + eps)",
        "np.sqrt(v_hat + eps)",
    ),
    Mutant("adam", "betas swapped", ADAM, "beta1, beta2 = betas", "beta2, beta1 = betas"),
    Mutant(
        "adam",
        "bias-corrected moments stored in the state",
        ADAM,
        '{"step": t, "exp_avg": m, "exp_avg_sq": v}',
        '{"step": t, "exp_avg": m_hat, "exp_avg_sq": v_hat}',
    ),
    Mutant(
        "adam",
        "only the first moment corrected",
        ADAM,
        "v_hat = v / (1.0 - beta2**t)",
        "v_hat = v",
    ),
    # -- adamw -----------------------------------------------------------------------------------
    Mutant(
        "adamw",
        "coupled weight decay in AdamW",
        ADAMW,
        "    shrunk = param * (1.0 - lr * weight_decay)\n"
        "    return adam_step(shrunk, grad, state, lr=lr, betas=betas, eps=eps, weight_decay=0.0)",
        "    return adam_step(param, grad, state, lr=lr, betas=betas, eps=eps,\n"
        "                     weight_decay=weight_decay)",
    ),
    Mutant(
        "adamw",
        "decay without the learning rate",
        ADAMW,
        "shrunk = param * (1.0 - lr * weight_decay)",
        "shrunk = param * (1.0 - weight_decay)",
    ),
    Mutant(
        "adamw",
        "decay applied after the Adam step",
        ADAMW,
        "    shrunk = param * (1.0 - lr * weight_decay)\n"
        "    return adam_step(shrunk, grad, state, lr=lr, betas=betas, eps=eps, weight_decay=0.0)",
        "    new_param, new_state = adam_step(param, grad, state, lr=lr, betas=betas, eps=eps)\n"
        "    return new_param * (1.0 - lr * weight_decay), new_state",
    ),
    Mutant(
        "adamw",
        "default weight decay 0",
        ADAMW,
        "eps=1e-8, weight_decay=1e-2):",
        "eps=1e-8, weight_decay=0.0):",
    ),
    # -- decay_schedules -------------------------------------------------------------------------
    Mutant(
        "decay_schedules",
        "step_lr off by one step",
        DECAY,
        "gamma ** (t // step_size)",
        "gamma ** ((t + 1) // step_size)",
    ),
    Mutant(
        "decay_schedules",
        "cosine off by one step",
        DECAY,
        "math.cos(math.pi * t / T_max)",
        "math.cos(math.pi * (t + 1) / T_max)",
    ),
    Mutant(
        "decay_schedules",
        "cosine floor ignored",
        DECAY,
        "return float(eta_min + 0.5 * (base_lr - eta_min) * (1.0 + math.cos(math.pi * t / T_max)))",
        "return float(eta_min + 0.5 * base_lr * (1.0 + math.cos(math.pi * t / T_max)))",
    ),
    Mutant(
        "decay_schedules",
        "linear factor not clamped after total_iters",
        DECAY,
        "progress = min(t, total_iters) / total_iters",
        "progress = t / total_iters",
    ),
    Mutant(
        "decay_schedules",
        "exponential off by one step",
        DECAY,
        "return float(base_lr * gamma**t)",
        "return float(base_lr * gamma ** (t + 1))",
    ),
    Mutant(
        "decay_schedules",
        "inverse sqrt without the square root",
        DECAY,
        "return float(base_lr / math.sqrt(1.0 + t / t0))",
        "return float(base_lr / (1.0 + t / t0))",
    ),
    # -- warmup ----------------------------------------------------------------------------------
    Mutant(
        "warmup",
        "schedule not shifted after the warm-up",
        WARMUP,
        "return float(schedule(t - warmup_steps))",
        "return float(schedule(t))",
    ),
    Mutant(
        "warmup",
        "ramp off by one step",
        WARMUP,
        "(1.0 - start_factor) * t / warmup_steps",
        "(1.0 - start_factor) * (t + 1) / warmup_steps",
    ),
    Mutant(
        "warmup",
        "warm-up starts at the full rate",
        WARMUP,
        "ramp = start_factor + (1.0 - start_factor) * t / warmup_steps",
        "ramp = 1.0",
    ),
    Mutant(
        "warmup",
        "ramp from zero",
        WARMUP,
        "ramp = start_factor + (1.0 - start_factor) * t / warmup_steps",
        "ramp = t / warmup_steps",
    ),
    Mutant(
        "warmup",
        "ramp multiplies the schedule at t",
        WARMUP,
        "return float(schedule(0) * ramp)",
        "return float(schedule(t) * ramp)",
    ),
    # -- cyclical --------------------------------------------------------------------------------
    Mutant(
        "cyclical",
        "off by one step",
        CYCLIC,
        "    down = step_size_up if step_size_down is None else step_size_down\n",
        "    t = t + 1\n    down = step_size_up if step_size_down is None else step_size_down\n",
    ),
    Mutant(
        "cyclical",
        "step_size_down ignored",
        CYCLIC,
        "down = step_size_up if step_size_down is None else step_size_down",
        "down = step_size_up",
    ),
    Mutant(
        "cyclical",
        "triangular2 halves from the first cycle",
        CYCLIC,
        "height = height / 2.0 ** (cycle - 1)",
        "height = height / 2.0**cycle",
    ),
    Mutant(
        "cyclical",
        "unknown mode accepted",
        CYCLIC,
        'if mode not in ("triangular", "triangular2"):',
        "if mode is None:",
    ),
    # -- one_cycle -------------------------------------------------------------------------------
    Mutant(
        "one_cycle",
        "peak one step late",
        ONECYCLE,
        "phases = [(pct_start * total_steps - 1, start_lr, max_lr), (total_steps - 1, max_lr, "
        "end_lr)]",
        "phases = [(pct_start * total_steps, start_lr, max_lr), (total_steps - 1, max_lr, end_lr)]",
    ),
    Mutant(
        "one_cycle",
        "final rate from max_lr",
        ONECYCLE,
        "end_lr = start_lr / final_div_factor",
        "end_lr = max_lr / final_div_factor",
    ),
    Mutant(
        "one_cycle",
        "anneal_strategy misspelt (always linear)",
        ONECYCLE,
        'if anneal_strategy == "cos":',
        'if anneal_strategy == "cosine":',
    ),
    Mutant(
        "one_cycle",
        "annealing ends one step late",
        ONECYCLE,
        "(total_steps - 1, max_lr, end_lr)",
        "(total_steps, max_lr, end_lr)",
    ),
    Mutant(
        "one_cycle",
        "three_phase ignored",
        ONECYCLE,
        "    if three_phase:\n",
        "    if three_phase and False:\n",
    ),
    # -- range_test ------------------------------------------------------------------------------
    Mutant(
        "range_test",
        "no bias correction of the smoothed loss",
        RANGE,
        "corrected = running / (1.0 - beta ** (k + 1))",
        "corrected = running",
    ),
    Mutant(
        "range_test",
        "bias correction with k from 0",
        RANGE,
        "corrected = running / (1.0 - beta ** (k + 1))",
        "corrected = running / (1.0 - beta**k) if k else loss",
    ),
    Mutant(
        "range_test",
        "linear sweep",
        RANGE,
        "lr = lr_min * (lr_max / lr_min) ** (k / (num_steps - 1))",
        "lr = lr_min + (lr_max - lr_min) * k / (num_steps - 1)",
    ),
    Mutant(
        "range_test",
        "suggestion not divided by ten",
        RANGE,
        '"suggested_lr": float(lrs[best] / 10.0)',
        '"suggested_lr": float(lrs[best])',
    ),
    Mutant(
        "range_test",
        "divergence judged against the first loss",
        RANGE,
        "corrected > diverge_factor * lowest",
        "corrected > diverge_factor * smoothed[0]",
    ),
    Mutant(
        "range_test",
        "no stop on nan",
        RANGE,
        "if not math.isfinite(corrected) or corrected > diverge_factor * lowest:",
        "if corrected > diverge_factor * lowest:",
    ),
    Mutant(
        "range_test",
        "suggestion from the raw losses",
        RANGE,
        "best = int(np.nanargmin(smoothed)) if np.isfinite(smoothed).any() else 0",
        "best = int(np.nanargmin(losses)) if np.isfinite(losses).any() else 0",
    ),
    # -- torch_sgd -------------------------------------------------------------------------------
    Mutant(
        "torch_sgd",
        "Nesterov as plain momentum",
        TSGD,
        'd = d.add(buf, alpha=mu) if group["nesterov"] else buf',
        "d = buf",
    ),
    Mutant(
        "torch_sgd",
        "learning rate from the defaults, not the group",
        TSGD,
        'p.add_(d, alpha=-group["lr"])',
        'p.add_(d, alpha=-self.defaults["lr"])',
    ),
    Mutant(
        "torch_sgd",
        "buffers kept outside self.state (lost in the checkpoint)",
        TSGD,
        "memory = self.state[p]",
        'memory = self.__dict__.setdefault("_buffers", {}).setdefault(id(p), {})',
    ),
    Mutant(
        "torch_sgd",
        "first buffer dampened",
        TSGD,
        'memory["momentum_buffer"] = d.detach().clone()',
        'memory["momentum_buffer"] = d.detach().clone().mul_(1 - group["dampening"])',
    ),
    Mutant(
        "torch_sgd",
        "weight decay ignored",
        TSGD,
        "d = p.grad if decay == 0 else p.grad.add(p, alpha=decay)",
        "d = p.grad",
    ),
    Mutant(
        "torch_sgd",
        "parameters without gradient not skipped",
        TSGD,
        "                if p.grad is None:\n                    continue\n",
        "",
    ),
    Mutant(
        "torch_sgd",
        "closure loss not returned",
        TSGD,
        "        return loss\n",
        "        return None\n",
    ),
    # -- torch_adam ------------------------------------------------------------------------------
    Mutant(
        "torch_adam",
        "no bias correction",
        TADAM,
        'denominator = (memory["exp_avg_sq"] / (1 - beta2**t)).sqrt_().add_(group["eps"])\n'
        '                p.addcdiv_(memory["exp_avg"], denominator, value=-group["lr"] / (1 - '
        "beta1**t))",
        'denominator = memory["exp_avg_sq"].sqrt().add_(group["eps"])\n'
        '                p.addcdiv_(memory["exp_avg"], denominator, value=-group["lr"])',
    ),
    Mutant(
        "torch_adam",
        "bias correction with the step counted from 0",
        TADAM,
        '                memory["step"] += 1\n                t = memory["step"]\n',
        '                t = memory["step"]\n                memory["step"] += 1\n',
    ),
    Mutant(
        "torch_adam",
        "eps inside the square root",
        TADAM,
        '.sqrt_().add_(group["eps"])',
        '.add_(group["eps"]).sqrt_()',
    ),
    Mutant(
        "torch_adam",
        "one step counter for all parameters",
        TADAM,
        '                memory["step"] += 1\n                t = memory["step"]\n',
        '                memory["step"] += 1\n'
        '                self._count = getattr(self, "_count", 0) + 1\n'
        "                t = self._count\n",
    ),
    Mutant(
        "torch_adam",
        "betas from the defaults, not the group",
        TADAM,
        'beta1, beta2 = group["betas"]',
        'beta1, beta2 = self.defaults["betas"]',
    ),
    Mutant(
        "torch_adam",
        "weight decay decoupled in Adam",
        TADAM,
        '        return grad.add(p, alpha=group["weight_decay"])',
        '        p.mul_(1 - group["lr"] * group["weight_decay"])\n        return grad',
    ),
    # -- torch_adamw -----------------------------------------------------------------------------
    Mutant(
        "torch_adamw",
        "coupled weight decay in AdamW",
        TADAMW,
        '            p.mul_(1 - group["lr"] * group["weight_decay"])\n        return grad',
        '            return grad.add(p, alpha=group["weight_decay"])\n        return grad',
    ),
    Mutant(
        "torch_adamw",
        "decay without the learning rate",
        TADAMW,
        'p.mul_(1 - group["lr"] * group["weight_decay"])',
        'p.mul_(1 - group["weight_decay"])',
    ),
    Mutant(
        "torch_adamw",
        "default weight decay 0",
        TADAMW,
        "eps=1e-8, weight_decay=1e-2):",
        "eps=1e-8, weight_decay=0.0):",
    ),
    Mutant(
        "torch_adamw",
        "decay with the default learning rate",
        TADAMW,
        'p.mul_(1 - group["lr"] * group["weight_decay"])',
        'p.mul_(1 - self.defaults["lr"] * group["weight_decay"])',
    ),
    # -- torch_warmup_cosine ---------------------------------------------------------------------
    Mutant(
        "torch_warmup_cosine",
        "cosine not shifted by the warm-up",
        TSCHED,
        "math.cos(math.pi * (t - w) / (total - w))",
        "math.cos(math.pi * t / total)",
    ),
    Mutant(
        "torch_warmup_cosine",
        "off by one step",
        TSCHED,
        "t, w, total = self.last_epoch, self.warmup_steps, self.total_steps",
        "t, w, total = self.last_epoch + 1, self.warmup_steps, self.total_steps",
    ),
    Mutant(
        "torch_warmup_cosine",
        "eta_min ignored",
        TSCHED,
        "rates.append(self.eta_min + 0.5 * (base - self.eta_min) * cosine)",
        "rates.append(0.5 * base * cosine)",
    ),
    Mutant(
        "torch_warmup_cosine",
        "attributes set after the base class's __init__",
        TSCHED,
        "        self.warmup_steps = warmup_steps\n"
        "        self.total_steps = total_steps\n"
        "        self.start_factor = start_factor\n"
        "        self.eta_min = eta_min\n"
        "        super().__init__(optimizer, last_epoch)\n",
        "        super().__init__(optimizer, last_epoch)\n"
        "        self.warmup_steps = warmup_steps\n"
        "        self.total_steps = total_steps\n"
        "        self.start_factor = start_factor\n"
        "        self.eta_min = eta_min\n",
    ),
    Mutant(
        "torch_warmup_cosine",
        "rates from the groups' current lr (compounding)",
        TSCHED,
        "for base in self.base_lrs:",
        'for base in [group["lr"] for group in self.optimizer.param_groups]:',
    ),
    Mutant(
        "torch_warmup_cosine",
        "the cosine climbs back after total_steps",
        TSCHED,
        "            elif t >= total:\n                rates.append(self.eta_min)\n",
        "",
    ),
]

# -- alternatives ---------------------------------------------------------------------------------

SGD_EXPLICIT = '''\
def sgd_step(param, grad, state, *, lr=1e-3, momentum=0.0, dampening=0.0, nesterov=False,
             weight_decay=0.0):
    """Explicit first-step branch; in-place arithmetic on fresh copies only."""
    if nesterov and (momentum <= 0.0 or dampening != 0.0):
        raise ValueError("nesterov needs momentum > 0 and dampening == 0")
    g = np.array(grad, dtype=np.float64, copy=True)
    if weight_decay:
        g += weight_decay * param
    if not momentum:
        return param - lr * g, state.copy()
    if "momentum_buffer" in state:
        buf = state["momentum_buffer"].copy()
        buf *= momentum
        buf += (1 - dampening) * g
    else:
        buf = g.copy()
    step = g + momentum * buf if nesterov else buf
    out = state.copy()
    out["momentum_buffer"] = buf
    return param - lr * step, out
'''

ADAGRAD_NP = '''\
def adagrad_step(param, grad, state, *, lr=1e-2, lr_decay=0.0, weight_decay=0.0,
                 initial_accumulator_value=0.0, eps=1e-10):
    """np.add, np.square and np.divide; the clr of torch.optim.Adagrad."""
    step = state["step"] + 1 if "step" in state else 1
    g = np.add(grad, np.multiply(weight_decay, param))
    total = state["sum"] if "sum" in state else np.full_like(param, initial_accumulator_value,
                                                             dtype=float)
    total = np.add(total, np.square(g))
    clr = lr / (1 + (step - 1) * lr_decay)
    std = np.add(np.sqrt(total), eps)
    return param - clr * np.divide(g, std), {"sum": total, "step": step}
'''

RMSPROP_LERP = '''\
def rmsprop_step(param, grad, state, *, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0.0,
                 momentum=0.0, centered=False):
    """torch's formulation: lerp for grad_avg, addcmul-like updates, dict comprehension."""
    new = {k: v for k, v in state.items()}
    new["step"] = state.get("step", 0) + 1
    g = grad + weight_decay * param
    sq = state["square_avg"] if "square_avg" in state else np.zeros_like(param, dtype=float)
    new["square_avg"] = sq * alpha + g * g * (1 - alpha)
    if centered:
        ga = state["grad_avg"] if "grad_avg" in state else np.zeros_like(param, dtype=float)
        new["grad_avg"] = ga + (g - ga) * (1 - alpha)
        avg = np.sqrt(new["square_avg"] - new["grad_avg"] ** 2) + eps
    else:
        avg = np.sqrt(new["square_avg"]) + eps
    if momentum > 0:
        buf = state["momentum_buffer"] if "momentum_buffer" in state else 0.0 * param
        new["momentum_buffer"] = buf * momentum + g / avg
        return param - lr * new["momentum_buffer"], new
    return param - lr * g / avg, new
'''

ADAM_TORCH_STYLE = '''\
def adam_step(param, grad, state, *, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
    """PyTorch's arrangement: lerp, step_size = lr / bc1, denom = sqrt(v) / sqrt(bc2) + eps."""
    b1, b2 = betas
    step = state.get("step", 0) + 1
    if weight_decay != 0:
        grad = grad + weight_decay * param
    m = state.get("exp_avg", np.zeros_like(param, dtype=float))
    v = state.get("exp_avg_sq", np.zeros_like(param, dtype=float))
    m = m + (grad - m) * (1 - b1)
    v = v * b2 + (1 - b2) * grad * grad
    bc1, bc2 = 1 - b1**step, 1 - b2**step
    denom = np.sqrt(v) / math.sqrt(bc2) + eps
    return param - (lr / bc1) * m / denom, {"step": step, "exp_avg": m, "exp_avg_sq": v}
'''

ADAMW_STANDALONE = '''\
def adamw_step(param, grad, state, *, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2):
    """A self-contained AdamW (it does not call adam_step)."""
    beta1, beta2 = betas
    t = state.get("step", 0) + 1
    m = (1 - beta1) * grad + beta1 * state.get("exp_avg", 0.0)
    v = (1 - beta2) * grad**2 + beta2 * state.get("exp_avg_sq", 0.0)
    update = (m / (1 - beta1**t)) / (np.sqrt(v / (1 - beta2**t)) + eps)
    decayed = param - lr * weight_decay * param
    return decayed - lr * update, {"step": t, "exp_avg": m, "exp_avg_sq": v}
'''

DECAY_ALTERNATIVE = '''\
def step_lr(t, base_lr, step_size, gamma=0.1):
    """A loop that applies the drops one by one."""
    lr = base_lr
    for _ in range(t // step_size):
        lr *= gamma
    return lr


def exponential_lr(t, base_lr, gamma):
    return base_lr * math.pow(gamma, t)


def linear_lr(t, base_lr, start_factor=1.0 / 3, end_factor=1.0, total_iters=5):
    if t >= total_iters:
        return base_lr * end_factor
    return base_lr * (start_factor * (total_iters - t) + end_factor * t) / total_iters


def inverse_sqrt_lr(t, base_lr, t0):
    return base_lr * (t0 / (t0 + t)) ** 0.5


def cosine_lr(t, base_lr, T_max, eta_min=0.0):
    """(1 + cos x) / 2 = cos(x / 2) ** 2."""
    return eta_min + (base_lr - eta_min) * np.cos(np.pi * t / (2 * T_max)) ** 2
'''

WARMUP_CLASS = '''\
class _WarmedUp:
    """A callable object instead of a closure; the peak is read once."""

    def __init__(self, schedule, warmup_steps, start_factor):
        self.schedule, self.w, self.a = schedule, warmup_steps, start_factor
        self.peak = schedule(0)

    def __call__(self, t):
        if t >= self.w:
            return self.schedule(t - self.w)
        return self.peak * (self.a * (self.w - t) + t) / self.w


def linear_warmup(schedule, warmup_steps, start_factor=0.01):
    return _WarmedUp(schedule, warmup_steps, start_factor)
'''

CYCLIC_SMITH = '''\
def triangular_lr(t, base_lr, max_lr, step_size_up, step_size_down=None, mode="triangular"):
    """PyTorch's fraction-of-the-cycle form, with a lookup table for the modes."""
    scale = {"triangular": lambda c: 1.0, "triangular2": lambda c: 0.5 ** (c - 1)}
    if mode not in scale:
        raise ValueError(f"unknown mode {mode}")
    total = step_size_up + (step_size_up if step_size_down is None else step_size_down)
    ratio = step_size_up / total
    cycle = int(1 + t // total)
    x = 1.0 + t / total - cycle
    factor = x / ratio if x <= ratio else (x - 1) / (ratio - 1)
    return base_lr + (max_lr - base_lr) * factor * scale[mode](cycle)
'''

ONE_CYCLE_TABLE = '''\
def one_cycle_lr(t, max_lr, total_steps, pct_start=0.3, div_factor=25.0, final_div_factor=1e4,
                 anneal_strategy="cos", three_phase=False):
    """Phase boundaries and rates as two lists; the annealing functions in a dict."""
    initial = max_lr / div_factor
    minimum = initial / final_div_factor
    if three_phase:
        ends = [float(pct_start * total_steps) - 1, float(2 * pct_start * total_steps) - 2,
                total_steps - 1]
        rates = [initial, max_lr, initial, minimum]
    else:
        ends = [float(pct_start * total_steps) - 1, total_steps - 1]
        rates = [initial, max_lr, minimum]
    anneal = {
        "cos": lambda a, b, q: b + (a - b) / 2.0 * (math.cos(math.pi * q) + 1),
        "linear": lambda a, b, q: (b - a) * q + a,
    }[anneal_strategy]
    start = 0.0
    for i, end in enumerate(ends):
        if t <= end or i == len(ends) - 1:
            return anneal(rates[i], rates[i + 1], (t - start) / (end - start))
        start = end
'''

RANGE_GEOMSPACE = '''\
def lr_range_test(train_step, lr_min=1e-7, lr_max=10.0, num_steps=100, beta=0.95,
                  diverge_factor=4.0):
    """np.geomspace for the sweep; the bias correction tracks beta ** (k + 1) as a product."""
    sweep = np.geomspace(lr_min, lr_max, num_steps)
    out = {"lrs": [], "losses": [], "smoothed": []}
    avg, power = 0.0, 1.0
    for lr in sweep:
        loss = train_step(float(lr))
        avg = beta * avg + (1 - beta) * loss
        power *= beta
        value = avg / (1 - power)
        out["lrs"].append(float(lr))
        out["losses"].append(loss)
        out["smoothed"].append(value)
        if not np.isfinite(value) or value > diverge_factor * np.nanmin(out["smoothed"]):
            break
    result = {k: np.asarray(v, dtype=float) for k, v in out.items()}
    masked = np.where(np.isfinite(result["smoothed"]), result["smoothed"], np.inf)
    result["suggested_lr"] = result["lrs"][int(np.argmin(masked))] / 10
    return result
'''

TORCH_SGD_FUNCTIONAL = '''\
class MySGD(torch.optim.Optimizer):
    """A helper method per parameter; hyperparameters validated with a dict of checks."""

    def __init__(self, params, lr=1e-3, momentum=0.0, dampening=0.0, weight_decay=0.0,
                 nesterov=False):
        if min(lr, momentum, weight_decay) < 0:
            raise ValueError("lr, momentum and weight_decay must be >= 0")
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
        super().__init__(params, dict(lr=lr, momentum=momentum, dampening=dampening,
                                      weight_decay=weight_decay, nesterov=nesterov))

    def _update(self, p, group):
        g = p.grad.detach()
        if group["weight_decay"]:
            g = g + group["weight_decay"] * p.detach()
        if group["momentum"]:
            state = self.state[p]
            if state.get("momentum_buffer") is None:
                state["momentum_buffer"] = torch.clone(g).detach()
            else:
                state["momentum_buffer"] = (group["momentum"] * state["momentum_buffer"]
                                            + (1 - group["dampening"]) * g)
            b = state["momentum_buffer"]
            g = g + group["momentum"] * b if group["nesterov"] else b
        p.sub_(group["lr"] * g)

    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        with torch.no_grad():
            for group in self.param_groups:
                for p in group["params"]:
                    if p.grad is not None:
                        self._update(p, group)
        return loss
'''

TORCH_ADAM_TENSOR_STEP = '''\
class MyAdam(torch.optim.Optimizer):
    """State as PyTorch keeps it: the step count in a tensor (read with .item()), lerp_."""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
        if lr < 0.0:
            raise ValueError(f"Invalid learning rate: {lr}")
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay))

    def _apply_weight_decay(self, p, grad, group):
        return grad + group["weight_decay"] * p if group["weight_decay"] else grad

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            b1, b2 = group["betas"]
            for p in (q for q in group["params"] if q.grad is not None):
                st = self.state[p]
                if len(st) == 0:
                    st["step"] = torch.tensor(0.0, dtype=torch.float64)
                    st["exp_avg"] = torch.zeros_like(p, memory_format=torch.preserve_format)
                    st["exp_avg_sq"] = torch.zeros_like(p, memory_format=torch.preserve_format)
                st["step"] += 1
                t = st["step"].item()
                g = self._apply_weight_decay(p, p.grad, group)
                st["exp_avg"].lerp_(g, 1 - b1)
                st["exp_avg_sq"].mul_(b2).addcmul_(g, g, value=1 - b2)
                denom = (st["exp_avg_sq"].sqrt() / math.sqrt(1 - b2**t)).add_(group["eps"])
                p.addcdiv_(st["exp_avg"], denom, value=-group["lr"] / (1 - b1**t))
        return loss
'''

TORCH_ADAMW_FULL = '''\
class MyAdamW(torch.optim.Optimizer):
    """A complete AdamW of its own, not derived from MyAdam."""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2):
        super().__init__(params, {"lr": lr, "betas": betas, "eps": eps,
                                  "weight_decay": weight_decay})

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            lr, (b1, b2), eps, wd = group["lr"], group["betas"], group["eps"], group["weight_decay"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                st = self.state[p]
                if not st:
                    st.update(step=0, exp_avg=torch.zeros_like(p), exp_avg_sq=torch.zeros_like(p))
                st["step"] += 1
                p.mul_(1 - lr * wd)
                st["exp_avg"].mul_(b1).add_((1 - b1) * p.grad)
                st["exp_avg_sq"].mul_(b2).add_((1 - b2) * p.grad * p.grad)
                m_hat = st["exp_avg"] / (1 - b1 ** st["step"])
                v_hat = st["exp_avg_sq"] / (1 - b2 ** st["step"])
                p.sub_(lr * m_hat / (v_hat.sqrt() + eps))
        return loss
'''

TORCH_SCHED_LAMBDA = '''\
class WarmupCosineLR(lr_scheduler.LambdaLR):
    """A LambdaLR (itself an LRScheduler) with one multiplier per group."""

    def __init__(self, optimizer, warmup_steps, total_steps, start_factor=0.01, eta_min=0.0,
                 last_epoch=-1):
        if warmup_steps < 0 or warmup_steps >= total_steps or not 0 < start_factor <= 1:
            raise ValueError("bad warm-up settings")
        self.warmup_steps, self.total_steps = warmup_steps, total_steps
        self.start_factor, self.eta_min = start_factor, eta_min

        def multiplier(base):
            def factor(t):
                if t < warmup_steps:
                    return start_factor + (1 - start_factor) * t / warmup_steps
                progress = min(1.0, (t - warmup_steps) / (total_steps - warmup_steps))
                lr = eta_min + (base - eta_min) * (1 + math.cos(math.pi * progress)) / 2
                return lr / base
            return factor

        bases = [group["lr"] for group in optimizer.param_groups]
        super().__init__(optimizer, [multiplier(b) for b in bases], last_epoch)
'''

ALTERNATIVES = [
    Alternative("sgd", "explicit first step, copies", SGD, SGD_EXPLICIT),
    Alternative("adagrad", "numpy ufuncs", ADAGRAD, ADAGRAD_NP),
    Alternative("rmsprop", "torch-style lerp", RMSPROP, RMSPROP_LERP),
    Alternative("adam", "torch's arrangement of the bias corrections", ADAM, ADAM_TORCH_STYLE),
    Alternative("adamw", "self-contained", ADAMW, ADAMW_STANDALONE),
    Alternative("decay_schedules", "loops, math.pow and cos squared", DECAY, DECAY_ALTERNATIVE),
    Alternative("warmup", "a callable object", WARMUP, WARMUP_CLASS),
    Alternative("cyclical", "fraction of the cycle", CYCLIC, CYCLIC_SMITH),
    Alternative("one_cycle", "lists of ends and rates", ONECYCLE, ONE_CYCLE_TABLE),
    Alternative("range_test", "geomspace and a running power", RANGE, RANGE_GEOMSPACE),
    Alternative("torch_sgd", "a helper per parameter", TSGD, TORCH_SGD_FUNCTIONAL),
    Alternative("torch_adam", "tensor step count and lerp_", TADAM, TORCH_ADAM_TENSOR_STEP),
    Alternative("torch_adamw", "a complete AdamW", TADAMW, TORCH_ADAMW_FULL),
    Alternative("torch_warmup_cosine", "a LambdaLR subclass", TSCHED, TORCH_SCHED_LAMBDA),
]

# Issue 17, point 7: the hints of A4's mutants are not recorded yet (their grading did not finish
# in the session that added the assertion); record them from a graded run and drop this line.
MUTANTS = [dataclasses.replace(m, hint=NOT_YET) if m.hint is None else m for m in MUTANTS]
