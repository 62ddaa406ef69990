"""Mutants (realistic bugs) and alternative correct answers for A1.

Each mutant is one textual change in one answer cell of the solution and must cost its item
points; each alternative is a whole answer cell written differently and must get full marks.
"""

from mutation import Alternative, Mutant

V = "value_answer"

MUTANTS = [
    # -- value_ops --------------------------------------------------------------------------
    Mutant(
        "value_ops",
        "add ignores out.grad",
        V,
        "            self.grad += out.grad\n            other.grad += out.grad",
        "            self.grad += 1.0\n            other.grad += 1.0",
        hint="the gradient was not multiplied by out.grad",
    ),
    Mutant(
        "value_ops",
        "mul gives each input its own value",
        V,
        "self.grad += other.data * out.grad",
        "self.grad += self.data * out.grad",
        hint="a got its own value; d(a * b)/da is b",
    ),
    Mutant(
        "value_ops",
        "mul assigns instead of accumulating",
        V,
        "            self.grad += other.data * out.grad\n"
        "            other.grad += self.data * out.grad",
        "            self.grad = other.data * out.grad\n"
        "            other.grad = self.data * out.grad",
        hint="a node used twice must receive both contributions: accumulat",
    ),
    Mutant(
        "value_ops",
        "pow gradient misses the exponent",
        V,
        "self.grad += p * self.data ** (p - 1.0) * out.grad",
        "self.grad += self.data ** (p - 1.0) * out.grad",
        hint="the gradient misses the factor p of p * a ** (p - 1)",
    ),
    Mutant(
        "value_ops",
        "tanh derivative from the input",
        V,
        "self.grad += (1.0 - t * t) * out.grad",
        "self.grad += (1.0 - self.data * self.data) * out.grad",
        hint="used 1 - a**2 with the input a; the derivative is 1 - tanh(a",
    ),
    Mutant(
        "value_ops",
        "sigmoid overflows for large negative inputs",
        V,
        "        e = math.exp(-abs(self.data))\n"
        "        s = 1.0 / (1.0 + e) if self.data >= 0 else e / (1.0 + e)",
        "        s = 1.0 / (1.0 + math.exp(-self.data))",
        hint="math.exp of a large number overflows: exponentiate only -|a|",
    ),
    Mutant(
        "value_ops",
        "sigmoid derivative from the input",
        V,
        "self.grad += s * (1.0 - s) * out.grad",
        "self.grad += self.data * (1.0 - self.data) * out.grad",
        hint="used a * (1 - a) with the input a instead of sigmoid(a)",
    ),
    Mutant(
        "value_ops",
        "relu passes the gradient at exactly 0",
        V,
        "self.grad += (1.0 if self.data > 0 else 0.0) * out.grad",
        "self.grad += (1.0 if self.data >= 0 else 0.0) * out.grad",
    ),
    Mutant(
        "value_ops",
        "sub adds instead of subtracting",
        V,
        "return self + (-Value._lift(other))",
        "return self + Value._lift(other)",
    ),
    Mutant("value_ops", "neg keeps the sign", V, "return self * -1.0", "return self * 1.0"),
    Mutant(
        "value_ops",
        "log gradient multiplies by a",
        V,
        "self.grad += out.grad / self.data",
        "self.grad += out.grad * self.data",
        hint="used a instead of 1 / a",
    ),
    Mutant(
        "value_ops",
        "exp gradient uses the input",
        V,
        "self.grad += out.data * out.grad",
        "self.grad += self.data * out.grad",
        hint="the local gradient of exp is exp(a), not a",
    ),
    Mutant(
        "value_ops",
        "division detached from the graph",
        V,
        "return self * Value._lift(other) ** -1",
        "return Value(self.data / Value._lift(other).data)",
    ),
    Mutant(
        "value_ops",
        "add records only one parent",
        V,
        'out = Value(self.data + other.data, (self, other), "+")',
        'out = Value(self.data + other.data, (self,), "+")',
    ),
    # -- value_backward -------------------------------------------------------------------------
    Mutant(
        "value_backward",
        "closures run in topological order, not reversed",
        V,
        "        for node in reversed(order):\n            node._backward()",
        "        for node in order:\n            node._backward()",
        hint=(
            "only the last node passed its gradient on: call every node's",
            "the _backward closures ran in topological order, not in reve",
        ),
    ),
    Mutant(
        "value_backward",
        "root gradient not set to 1",
        V,
        "        self.grad = 1.0\n        for node in reversed(order):",
        "        for node in reversed(order):",
        hint=(
            "all gradients are 0: set self.grad = 1.0 on the node backwar",
            "all gradients are 0: set self.grad = 1.0 on the root",
        ),
    ),
    Mutant(
        "value_backward",
        "every gradient reset before propagating",
        V,
        "        self.grad = 1.0\n        for node in reversed(order):",
        "        for node in order:\n            node.grad = 0.0\n"
        "        self.grad = 1.0\n        for node in reversed(order):",
        hint="backward() reset the leaves' gradients: only the root's grad",
    ),
    Mutant(
        "value_backward",
        "recursive topological sort hits the recursion limit",
        V,
        "        order, seen = [], set()\n"
        "        stack = [(self, False)]\n"
        "        while stack:\n"
        "            node, children_done = stack.pop()\n"
        "            if children_done:\n"
        "                order.append(node)\n"
        "                continue\n"
        "            if node in seen:\n"
        "                continue\n"
        "            seen.add(node)\n"
        "            stack.append((node, True))\n"
        "            for child in node._prev:\n"
        "                if child not in seen:\n"
        "                    stack.append((child, False))\n",
        "        order, seen = [], set()\n"
        "\n"
        "        def build(node):\n"
        "            if node not in seen:\n"
        "                seen.add(node)\n"
        "                for child in node._prev:\n"
        "                    build(child)\n"
        "                order.append(node)\n"
        "\n"
        "        build(self)\n",
        hint="the graph is deeper than Python's recursion limit: build the",
    ),
    Mutant(
        "value_backward",
        "breadth-first order from the root",
        V,
        "        order, seen = [], set()\n"
        "        stack = [(self, False)]\n"
        "        while stack:\n"
        "            node, children_done = stack.pop()\n"
        "            if children_done:\n"
        "                order.append(node)\n"
        "                continue\n"
        "            if node in seen:\n"
        "                continue\n"
        "            seen.add(node)\n"
        "            stack.append((node, True))\n"
        "            for child in node._prev:\n"
        "                if child not in seen:\n"
        "                    stack.append((child, False))\n"
        "        self.grad = 1.0\n"
        "        for node in reversed(order):\n",
        "        order, seen, queue = [], {self}, [self]\n"
        "        while queue:\n"
        "            node = queue.pop(0)\n"
        "            order.append(node)\n"
        "            for child in node._prev:\n"
        "                if child not in seen:\n"
        "                    seen.add(child)\n"
        "                    queue.append(child)\n"
        "        self.grad = 1.0\n"
        "        for node in order:\n",
        hint="a breadth-first order from the root is not a topological ord",
    ),
    # -- linear ------------------------------------------------------------------------------------
    Mutant(
        "linear",
        "dx not reshaped back to x's shape",
        "linear_answer",
        "dx = (dout @ w).reshape(x.shape)",
        "dx = dout @ w",
        hint="dx must have the shape of the original x: reshape it back",
    ),
    Mutant(
        "linear",
        "transposed dw",
        "linear_answer",
        "dw = dout.T @ x_flat",
        "dw = x_flat.T @ dout",
        hint="the shape is transposed",
    ),
    Mutant(
        "linear",
        "db averaged over the batch",
        "linear_answer",
        "db = dout.sum(axis=0)",
        "db = dout.mean(axis=0)",
        hint="db was averaged over the batch instead of summed",
    ),
    Mutant(
        "linear",
        "bias forgotten",
        "linear_answer",
        "out = x_flat @ w.T + b",
        "out = x_flat @ w.T",
        hint="the bias is missing",
    ),
    Mutant(
        "linear",
        "forward only works on 2-D inputs",
        "linear_answer",
        "    x_flat = x.reshape(x.shape[0], -1)\n    out = x_flat @ w.T + b",
        "    x_flat = x\n    out = x_flat @ w.T + b",
        hint="a shape mismatch",  # NumPy's own error: the shapes do not fit
    ),
    # -- relu --------------------------------------------------------------------------------------
    Mutant(
        "relu",
        "relu'(0) = 1",
        "relu_answer",
        "return dout * (x > 0)",
        "return dout * (x >= 0)",
        hint="at exactly x = 0 the gradient must be 0 (as in PyTorch), not",
    ),
    Mutant(
        "relu",
        "backward returns the mask without dout",
        "relu_answer",
        "return dout * (x > 0)",
        "return (x > 0).astype(np.float64)",
        hint="returned the mask (x > 0) without multiplying it by dout",
    ),
    Mutant(
        "relu",
        "backward multiplies by the output",
        "relu_answer",
        "return dout * (x > 0)",
        "return dout * np.maximum(x, 0.0)",
        hint="multiplied dout by the output max(0, x) instead of by the ma",
    ),
    Mutant(
        "relu",
        "forward uses the absolute value",
        "relu_answer",
        "out = np.maximum(x, 0.0)",
        "out = np.abs(x)",
    ),
    # -- leaky_relu ------------------------------------------------------------------------------
    Mutant(
        "leaky_relu",
        "backward applies the slope to positive inputs",
        "leaky_relu_answer",
        "return np.where(x > 0, dout, negative_slope * dout)",
        "return np.where(x > 0, negative_slope * dout, dout)",
        hint="the slope was applied to the positive inputs instead of the ",
    ),
    Mutant(
        "leaky_relu",
        "backward uses 1 at exactly 0",
        "leaky_relu_answer",
        "return np.where(x > 0, dout, negative_slope * dout)",
        "return np.where(x >= 0, dout, negative_slope * dout)",
        hint="at exactly x = 0 PyTorch uses the slope negative_slope, not ",
    ),
    Mutant(
        "leaky_relu",
        "backward ignores the slope it was given",
        "leaky_relu_answer",
        "    x, negative_slope = cache\n",
        "    x, _ = cache\n    negative_slope = 0.01\n",
        hint="used the default slope 0.01 instead of the negative_slope pa",
    ),
    Mutant(
        "leaky_relu",
        "forward applies the slope to positive inputs",
        "leaky_relu_answer",
        "out = np.where(x > 0, x, negative_slope * x)",
        "out = np.where(x > 0, negative_slope * x, x)",
        hint="the slope was applied to the positive inputs",
    ),
    Mutant(
        "leaky_relu",
        "default slope 0.1",
        "leaky_relu_answer",
        "def leaky_relu_forward(x, negative_slope=0.01):",
        "def leaky_relu_forward(x, negative_slope=0.1):",
    ),
    # -- elu -----------------------------------------------------------------------------------------
    Mutant(
        "elu",
        "derivative taken as the output alpha (e^x - 1)",
        "elu_answer",
        "local = np.where(x > 0, 1.0, alpha * np.exp(np.minimum(x, 0.0)))",
        "local = np.where(x > 0, 1.0, alpha * np.expm1(np.minimum(x, 0.0)))",
        hint="for x <= 0 the derivative is alpha * exp(x), not the output ",
    ),
    Mutant(
        "elu",
        "alpha missing from the derivative",
        "elu_answer",
        "local = np.where(x > 0, 1.0, alpha * np.exp(np.minimum(x, 0.0)))",
        "local = np.where(x > 0, 1.0, np.exp(np.minimum(x, 0.0)))",
        hint="alpha is missing from the derivative for x <= 0",
    ),
    Mutant(
        "elu",
        "derivative 1 at exactly 0",
        "elu_answer",
        "local = np.where(x > 0, 1.0, alpha * np.exp(np.minimum(x, 0.0)))",
        "local = np.where(x >= 0, 1.0, alpha * np.exp(np.minimum(x, 0.0)))",
        hint="at exactly x = 0 PyTorch uses alpha * exp(0) = alpha, not 1",
    ),
    Mutant(
        "elu",
        "masks multiply an overflowing exp (inf * 0 = nan)",
        "elu_answer",
        "local = np.where(x > 0, 1.0, alpha * np.exp(np.minimum(x, 0.0)))",
        "local = (x > 0) + alpha * np.exp(x) * (x <= 0)",
    ),
    Mutant(
        "elu",
        "forward forgets alpha",
        "elu_answer",
        "neg = alpha * np.expm1(np.minimum(x, 0.0))",
        "neg = np.expm1(np.minimum(x, 0.0))",
        hint="alpha is missing",
    ),
    # -- sigmoid -----------------------------------------------------------------------------------
    Mutant(
        "sigmoid",
        "cache holds x, so backward uses x (1 - x)",
        "sigmoid_answer",
        "return out, out",
        "return out, x",
        hint="you used x * (1 - x) with the input x; the derivative uses t",
    ),
    Mutant(
        "sigmoid",
        "backward forgets dout",
        "sigmoid_answer",
        "return dout * out * (1.0 - out)",
        "return out * (1.0 - out)",
        hint="you returned sigmoid'(x) without multiplying it by dout",
    ),
    Mutant(
        "sigmoid",
        "forward computes sigmoid(-x)",
        "sigmoid_answer",
        "np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))",
        "np.where(x >= 0, e / (1.0 + e), 1.0 / (1.0 + e))",
        hint="you computed sigmoid(-x)",
    ),
    Mutant(
        "sigmoid",
        "backward applies the sigmoid to the cached output again",
        "sigmoid_answer",
        "    out = cache\n",
        "    out = 1.0 / (1.0 + np.exp(-cache))\n",
        hint="the sigmoid was applied twice (the cache already holds sigmo",
    ),
    # -- tanh ----------------------------------------------------------------------------------------
    Mutant(
        "tanh",
        "cache holds x, so backward uses 1 - x^2",
        "tanh_answer",
        "return out, out",
        "return out, x",
        hint="you used 1 - x**2 with the input x; the derivative is 1 - ta",
    ),
    Mutant(
        "tanh",
        "backward forgets dout",
        "tanh_answer",
        "return dout * (1.0 - out * out)",
        "return 1.0 - out * out",
        hint="you returned 1 - tanh(x)**2 without multiplying it by dout",
    ),
    Mutant(
        "tanh",
        "derivative not squared",
        "tanh_answer",
        "return dout * (1.0 - out * out)",
        "return dout * (1.0 - out)",
        hint="you used 1 - tanh(x) without squaring",
    ),
    # -- maxout --------------------------------------------------------------------------------------
    Mutant(
        "maxout",
        "gradient sent to every piece",
        "maxout_answer",
        "np.put_along_axis(dz, winner[:, :, None], dout[:, :, None], axis=2)",
        "dz[:] = dout[:, :, None]",
        hint="the gradient went to every piece: only the winning piece of ",
    ),
    Mutant(
        "maxout",
        "argmin instead of argmax",
        "maxout_answer",
        "winner = np.argmax(z, axis=2)",
        "winner = np.argmin(z, axis=2)",
        hint="you kept the smallest piece",
    ),
    Mutant(
        "maxout",
        "flat dw not reshaped back",
        "maxout_answer",
        'dw = np.einsum("nmj,nd->mjd", dz, x).reshape(w.shape)',
        'dw = np.einsum("nmj,nd->mjd", dz, x)',
        hint="right number of values, wrong shape: check a reshape or a mi",
    ),
    Mutant(
        "maxout",
        "flat layout read as strided groups",
        "maxout_answer",
        "w3 = w.reshape(w.shape[0] // k, k, w.shape[1])",
        "w3 = w.reshape(k, w.shape[0] // k, w.shape[1]).transpose(1, 0, 2)",
    ),
    Mutant(
        "maxout",
        "ties go to the last maximum",
        "maxout_answer",
        "winner = np.argmax(z, axis=2)",
        "winner = k - 1 - np.argmax(z[:, :, ::-1], axis=2)",
        hint="on a tie the gradient went to the last maximum: use the firs",
    ),
    Mutant(
        "maxout",
        "k ignored for the 3-D layout",
        "maxout_answer",
        "        if w.shape[1] != k:\n"
        '            raise ValueError(f"maxout: w has {w.shape[1]} pieces per unit, k = {k}")\n'
        "        w3, b2 = w, b.reshape(w.shape[0], k)",
        "        w3, b2 = w, b",
        hint="compare k with the shape of w (see Raises)",
    ),
    # -- mse -----------------------------------------------------------------------------------------
    Mutant(
        "mse",
        "gradient divided by N instead of the size",
        "mse_answer",
        "dpred = 2.0 * diff / diff.size",
        "dpred = 2.0 * diff / diff.shape[0]",
        hint="divided by N (rows) instead of the number of elements pred.s",
    ),
    Mutant(
        "mse",
        "factor 2 forgotten",
        "mse_answer",
        "dpred = 2.0 * diff / diff.size",
        "dpred = diff / diff.size",
        hint="the factor 2 is missing",
    ),
    Mutant(
        "mse",
        "difference taken the other way",
        "mse_answer",
        "diff = pred - target",
        "diff = target - pred",
        hint="the sign is flipped: the gradient is 2 (pred - target) / P",
    ),
    Mutant(
        "mse",
        "loss summed",
        "mse_answer",
        "loss = float(np.mean(diff**2))",
        "loss = float(np.sum(diff**2))",
        hint="summed instead of averaged",
    ),
    # -- l1 ------------------------------------------------------------------------------------------
    Mutant(
        "l1",
        "subgradient +1 at zero",
        "l1_answer",
        "dpred = np.sign(diff) / diff.size",
        "dpred = np.where(diff >= 0, 1.0, -1.0) / diff.size",
        hint="where pred == target the subgradient is 0 (PyTorch), not +1",
    ),
    Mutant(
        "l1",
        "gradient divided by N",
        "l1_answer",
        "dpred = np.sign(diff) / diff.size",
        "dpred = np.sign(diff) / diff.shape[0]",
        hint="divided by N (rows) instead of the number of elements pred.s",
    ),
    Mutant(
        "l1",
        "difference taken the other way",
        "l1_answer",
        "diff = pred - target",
        "diff = target - pred",
        hint="the sign is flipped: the gradient is sign(pred - target) / P",
    ),
    Mutant(
        "l1",
        "loss not averaged",
        "l1_answer",
        "loss = float(np.mean(np.abs(diff)))",
        "loss = float(np.sum(np.abs(diff)))",
        hint="summed instead of averaged",
    ),
    # -- bce_logits ----------------------------------------------------------------------------------
    Mutant(
        "bce_logits",
        "log of the sigmoid (log 0 for large logits)",
        "bce_logits_answer",
        "    loss = float(np.mean(np.maximum(s, 0.0) - s * t + np.log1p(e)))\n",
        "    p = 1.0 / (1.0 + np.exp(-s))\n"
        "    loss = float(np.mean(-(t * np.log(p) + (1 - t) * np.log(1 - p))))\n",
    ),
    Mutant(
        "bce_logits",
        "gradient sign flipped",
        "bce_logits_answer",
        "dlogits = (prob - t) / s.size",
        "dlogits = (t - prob) / s.size",
        hint="the sign is flipped: the gradient is (sigmoid(s) - t) / P",
    ),
    Mutant(
        "bce_logits",
        "gradient not averaged",
        "bce_logits_answer",
        "dlogits = (prob - t) / s.size",
        "dlogits = prob - t",
        hint="summed instead of averaged: divide by logits.size",
    ),
    Mutant(
        "bce_logits",
        "gradient divided by N",
        "bce_logits_answer",
        "dlogits = (prob - t) / s.size",
        "dlogits = (prob - t) / s.shape[0]",
        hint="divided by N (rows) instead of the number of elements",
    ),
    Mutant(
        "bce_logits",
        "stable sigmoid branches swapped",
        "bce_logits_answer",
        "prob = np.where(s >= 0, 1.0 / (1.0 + e), e / (1.0 + e))",
        "prob = np.where(s >= 0, e / (1.0 + e), 1.0 / (1.0 + e))",
    ),
    # -- softmax_ce ---------------------------------------------------------------------------------
    Mutant(
        "softmax_ce",
        "no max subtraction (overflow for 1e4 logits)",
        "softmax_ce_answer",
        "shifted = scores - scores.max(axis=1, keepdims=True)",
        "shifted = scores",
    ),
    Mutant(
        "softmax_ce",
        "gradient not divided by N",
        "softmax_ce_answer",
        "    dscores /= n\n",
        "",
        hint="not divided by N",
    ),
    Mutant(
        "softmax_ce",
        "normalised over the wrong axis",
        "softmax_ce_answer",
        "log_norm = np.log(np.exp(shifted).sum(axis=1, keepdims=True))",
        "log_norm = np.log(np.exp(shifted).sum(axis=0, keepdims=True))",
    ),
    Mutant(
        "softmax_ce",
        "1 not subtracted at the correct class",
        "softmax_ce_answer",
        "    dscores[rows, y] -= 1.0\n",
        "",
        hint="1 was not subtracted at the correct class",
    ),
    Mutant(
        "softmax_ce",
        "log of probabilities that underflow",
        "softmax_ce_answer",
        "log_probs = shifted - log_norm",
        "log_probs = np.log(np.exp(shifted) / np.exp(shifted).sum(axis=1, keepdims=True))",
    ),
    # -- hinge -----------------------------------------------------------------------------------------
    Mutant(
        "hinge",
        "loss not divided by C",
        "hinge_answer",
        "loss = float(np.where(violated, margins, 0.0).sum() / (n * c))",
        "loss = float(np.where(violated, margins, 0.0).sum() / n)",
        hint="not divided by C: PyTorch's loss is the lecture's sum divide",
    ),
    Mutant(
        "hinge",
        "correct class included in the sum",
        "hinge_answer",
        "    margins[rows, y] = 0.0\n",
        "",
        hint="the correct class was included in the sum (it adds margin / ",
    ),
    Mutant(
        "hinge",
        "margin ignored",
        "hinge_answer",
        "margins = margin - correct + scores",
        "margins = scores - correct",
        hint="the margin was ignored",
    ),
    Mutant(
        "hinge",
        "a margin met exactly counts as violated",
        "hinge_answer",
        "violated = margins > 0",
        "violated = margins >= 0",
        hint=(
            "the correct class was counted as one of its own violations (",
            "a term equal to 0 was counted as a violation (> 0, not >= 0)",
        ),
    ),
    Mutant(
        "hinge",
        "gradient of the correct class missing",
        "hinge_answer",
        "    dscores[rows, y] = -violated.sum(axis=1)\n",
        "",
        hint="the correct class's gradient is missing: it gets minus the n",
    ),
    Mutant(
        "hinge",
        "gradient not divided by C",
        "hinge_answer",
        "dscores /= n * c",
        "dscores /= n",
        hint="not divided by C",
    ),
    # -- two_layer_sgd ---------------------------------------------------------------------------
    Mutant(
        "two_layer_sgd",
        "w2 drawn before w1",
        "two_layer_sgd_answer",
        "    w1 = rng.standard_normal((hidden, d)) * np.sqrt(2.0 / d)\n"
        "    b1 = np.zeros(hidden)\n"
        "    w2 = rng.standard_normal((c, hidden)) * np.sqrt(1.0 / hidden)\n",
        "    w2 = rng.standard_normal((c, hidden)) * np.sqrt(1.0 / hidden)\n"
        "    b1 = np.zeros(hidden)\n"
        "    w1 = rng.standard_normal((hidden, d)) * np.sqrt(2.0 / d)\n",
        hint="w2 was drawn from rng before w1: draw w1 first",
    ),
    Mutant(
        "two_layer_sgd",
        "w1 scaled by the hidden size",
        "two_layer_sgd_answer",
        "np.sqrt(2.0 / d)",
        "np.sqrt(2.0 / hidden)",
        hint="the loss before the first update already differs",
    ),
    Mutant(
        "two_layer_sgd",
        "gradient ascent on w1",
        "two_layer_sgd_answer",
        "w1 -= lr * dw1",
        "w1 += lr * dw1",
        hint="the first loss matches",
    ),
    Mutant(
        "two_layer_sgd",
        "b1 never updated",
        "two_layer_sgd_answer",
        "        b1 -= lr * db1\n",
        "",
        hint="the first loss matches",
    ),
    Mutant(
        "two_layer_sgd",
        "mini-batches drawn with replacement",
        "two_layer_sgd_answer",
        "rng.choice(n, size=batch_size, replace=False)",
        "rng.choice(n, size=batch_size, replace=True)",
        hint="mini-batches must be drawn with rng.choice(N, size=batch_siz",
    ),
    Mutant(
        "two_layer_sgd",
        "relu backward skipped",
        "two_layer_sgd_answer",
        "dh = relu_backward(da, cache_relu)",
        "dh = da",
        hint="the first loss matches",
    ),
    Mutant(
        "two_layer_sgd",
        "predict takes the argmax over the batch",
        "two_layer_sgd_answer",
        "return np.argmax(scores, axis=1)",
        "return np.argmax(scores, axis=0)",
        hint="argmax over the wrong axis?",
    ),
    Mutant(
        "two_layer_sgd",
        "binary classification hard-coded",
        "two_layer_sgd_answer",
        "c = int(y.max()) + 1",
        "c = 2",
        hint="a shape mismatch",  # NumPy's own error: the shapes do not fit
    ),
    # -- torch_sigmoid ---------------------------------------------------------------------------
    Mutant(
        "torch_sigmoid",
        "backward forgets grad_output",
        "torch_sigmoid_answer",
        "return grad_output * out * (1.0 - out)",
        "return out * (1.0 - out)",
        hint="you returned sigmoid'(x) without multiplying it by dout",
    ),
    Mutant(
        "torch_sigmoid",
        "saves x and uses x (1 - x)",
        "torch_sigmoid_answer",
        "ctx.save_for_backward(out)",
        "ctx.save_for_backward(x)",
        hint="you used x * (1 - x) with the input x; the derivative uses t",
    ),
    Mutant(
        "torch_sigmoid",
        "unstable forward (inf / inf)",
        "torch_sigmoid_answer",
        "        e = torch.exp(-x.abs())\n"
        "        out = torch.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))\n",
        "        out = torch.exp(x) / (1.0 + torch.exp(x))\n",
    ),
    Mutant(
        "torch_sigmoid",
        "forward computed in float64",
        "torch_sigmoid_answer",
        "e = torch.exp(-x.abs())",
        "e = torch.exp(-x.abs().double())",
        hint="compute in the input's dtype (no float64 constants as tensor",
    ),
    # -- torch_tanh ---------------------------------------------------------------------------
    Mutant(
        "torch_tanh",
        "backward forgets grad_output",
        "torch_tanh_answer",
        "return grad_output * (1.0 - out * out)",
        "return 1.0 - out * out",
        hint="you returned 1 - tanh(x)**2 without multiplying it by dout",
    ),
    Mutant(
        "torch_tanh",
        "saves x and uses 1 - x^2",
        "torch_tanh_answer",
        "ctx.save_for_backward(out)",
        "ctx.save_for_backward(x)",
        hint="you used 1 - x**2 with the input x; the derivative is 1 - ta",
    ),
    Mutant(
        "torch_tanh",
        "derivative not squared",
        "torch_tanh_answer",
        "return grad_output * (1.0 - out * out)",
        "return grad_output * (1.0 - out)",
        hint="you used 1 - tanh(x) without squaring",
    ),
    # -- torch_leaky_relu -------------------------------------------------------------------
    Mutant(
        "torch_leaky_relu",
        "backward returns one gradient for two inputs",
        "torch_leaky_relu_answer",
        "return grad_x, None",
        "return grad_x",
    ),
    Mutant(
        "torch_leaky_relu",
        "gradient 1 at exactly 0",
        "torch_leaky_relu_answer",
        "grad_x = torch.where(x > 0, grad_output, grad_output * ctx.negative_slope)",
        "grad_x = torch.where(x >= 0, grad_output, grad_output * ctx.negative_slope)",
    ),
    Mutant(
        "torch_leaky_relu",
        "slope applied to positive inputs",
        "torch_leaky_relu_answer",
        "grad_x = torch.where(x > 0, grad_output, grad_output * ctx.negative_slope)",
        "grad_x = torch.where(x > 0, grad_output * ctx.negative_slope, grad_output)",
        hint="the slope was applied to the positive inputs instead of the ",
    ),
    Mutant(
        "torch_leaky_relu",
        "default slope 0.1",
        "torch_leaky_relu_answer",
        "def forward(ctx, x, negative_slope=0.01):",
        "def forward(ctx, x, negative_slope=0.1):",
    ),
    # -- torch_elu ----------------------------------------------------------------------------
    Mutant(
        "torch_elu",
        "masks multiply an overflowing exp (nan)",
        "torch_elu_answer",
        "local = torch.where(x > 0, torch.ones_like(x), ctx.alpha * torch.exp(x.clamp(max=0.0)))",
        "local = (x > 0).to(x.dtype) + ctx.alpha * torch.exp(x) * (x <= 0).to(x.dtype)",
    ),
    Mutant(
        "torch_elu",
        "alpha missing from the derivative",
        "torch_elu_answer",
        "ctx.alpha * torch.exp(x.clamp(max=0.0)))",
        "torch.exp(x.clamp(max=0.0)))",
        hint="alpha is missing from the derivative for x <= 0",
    ),
    Mutant(
        "torch_elu",
        "derivative taken as the output",
        "torch_elu_answer",
        "ctx.alpha * torch.exp(x.clamp(max=0.0)))",
        "ctx.alpha * torch.expm1(x.clamp(max=0.0)))",
        hint="for x <= 0 the derivative is alpha * exp(x), not the output ",
    ),
    Mutant(
        "torch_elu",
        "backward forgets grad_output",
        "torch_elu_answer",
        "return grad_output * local, None",
        "return local, None",
        hint="returned the local derivative without multiplying it by dout",
    ),
    # -- torch_two_layer ----------------------------------------------------------------------
    Mutant(
        "torch_two_layer",
        "loss recorded after the update",
        "torch_two_layer_answer",
        "        losses.append(loss.detach())\n",
        "        with torch.no_grad():\n"
        "            losses.append(F.cross_entropy(model(xb), yb).detach())\n",
        hint="these are the losses after each update",
    ),
    Mutant(
        "torch_two_layer",
        "zero_grad forgotten",
        "torch_two_layer_answer",
        "        optimizer.zero_grad(set_to_none=True)\n",
        "",
        hint="the gradients accumulate over the steps: call optimizer.zero",
    ),
    Mutant(
        "torch_two_layer",
        "fc2 initialised before fc1",
        "torch_two_layer_answer",
        '            nn.init.kaiming_uniform_(self.fc1.weight, nonlinearity="relu", '
        "generator=generator)\n"
        "            bound = 1.0 / math.sqrt(hidden)\n"
        "            self.fc2.weight.uniform_(-bound, bound, generator=generator)\n",
        "            bound = 1.0 / math.sqrt(hidden)\n"
        "            self.fc2.weight.uniform_(-bound, bound, generator=generator)\n"
        '            nn.init.kaiming_uniform_(self.fc1.weight, nonlinearity="relu", '
        "generator=generator)\n",
        hint="initialise from the generator in the documented order",
    ),
    Mutant(
        "torch_two_layer",
        "fc1 bias keeps PyTorch's default init",
        "torch_two_layer_answer",
        "            self.fc1.bias.zero_()\n",
        "",
        hint="initialise from the generator in the documented order",
    ),
    Mutant(
        "torch_two_layer",
        "Kaiming normal instead of uniform",
        "torch_two_layer_answer",
        "nn.init.kaiming_uniform_(self.fc1.weight",
        "nn.init.kaiming_normal_(self.fc1.weight",
        hint="initialise from the generator in the documented order",
    ),
    Mutant(
        "torch_two_layer",
        "randperm ignores the generator",
        "torch_two_layer_answer",
        "idx = torch.randperm(n, generator=generator)[:batch_size]",
        "idx = torch.randperm(n)[:batch_size]",
        hint="full batches train right",
    ),
    Mutant(
        "torch_two_layer",
        "losses returned as tensors",
        "torch_two_layer_answer",
        "return torch.stack(losses).cpu().tolist()",
        "return losses",
        hint="convert the losses with .item() or .tolist()",
    ),
    Mutant(
        "torch_two_layer",
        "forward without the ReLU",
        "torch_two_layer_answer",
        "return self.fc2(F.relu(self.fc1(x)))",
        "return self.fc2(self.fc1(x))",
    ),
]


# -- alternatives ------------------------------------------------------------------------------

VALUE_DIRECT = '''\
class Value:
    """Every operation written out as its own node (no composition), sigmoid via tanh."""

    def __init__(self, data, _children=(), _op=""):
        self.data = float(data)
        self.grad = 0.0
        self._prev = tuple(_children)
        self._op = _op
        self._backward = lambda: None

    def __repr__(self):
        return f"Value(data={self.data:.6g}, grad={self.grad:.6g})"

    @staticmethod
    def _lift(other):
        if isinstance(other, Value):
            return other
        if isinstance(other, (int, float, np.integer, np.floating)):
            return Value(other)
        raise TypeError(f"a Value cannot be combined with {type(other).__name__}")

    def __radd__(self, other):
        return self + other

    def __rmul__(self, other):
        return self * other

    def __rsub__(self, other):
        return Value._lift(other) - self

    def __rtruediv__(self, other):
        return Value._lift(other) / self

    def _node(self, data, parents, op, locals_):
        out = Value(data, parents, op)

        def _backward():
            for parent, d in zip(parents, locals_):
                parent.grad += d * out.grad

        out._backward = _backward
        return out

    def __add__(self, other):
        o = Value._lift(other)
        return self._node(self.data + o.data, (self, o), "+", (1.0, 1.0))

    def __mul__(self, other):
        o = Value._lift(other)
        return self._node(self.data * o.data, (self, o), "*", (o.data, self.data))

    def __pow__(self, exponent):
        if not isinstance(exponent, (int, float)):
            raise TypeError("constant exponents only")
        local = exponent * self.data ** (exponent - 1) if exponent != 0 else 0.0
        return self._node(self.data**exponent, (self,), f"**{exponent}", (local,))

    def __neg__(self):
        return self._node(-self.data, (self,), "neg", (-1.0,))

    def __sub__(self, other):
        o = Value._lift(other)
        return self._node(self.data - o.data, (self, o), "-", (1.0, -1.0))

    def __truediv__(self, other):
        o = Value._lift(other)
        q = self.data / o.data
        return self._node(q, (self, o), "/", (1.0 / o.data, -q / o.data))

    def exp(self):
        e = math.exp(self.data)
        return self._node(e, (self,), "exp", (e,))

    def log(self):
        return self._node(math.log(self.data), (self,), "log", (1.0 / self.data,))

    def tanh(self):
        t = math.tanh(self.data)
        return self._node(t, (self,), "tanh", (1.0 - t * t,))

    def sigmoid(self):
        s = 0.5 * (1.0 + math.tanh(0.5 * self.data))
        return self._node(s, (self,), "sigmoid", (s * (1.0 - s),))

    def relu(self):
        on = self.data > 0
        return self._node(self.data if on else 0.0, (self,), "relu", (1.0 if on else 0.0,))

    def backward(self):
        order, state, stack = [], {}, [self]
        while stack:
            node = stack.pop()
            if state.get(id(node)) == "open":
                state[id(node)] = "done"
                order.append(node)
            elif id(node) not in state:
                state[id(node)] = "open"
                stack.append(node)
                stack.extend(p for p in node._prev if id(p) not in state)
        self.grad = 1.0
        for node in order[::-1]:
            node._backward()
'''

VALUE_RECURSIVE = '''\
import sys


class Value:
    """micrograd-like operations; backward sorts recursively with a raised recursion limit."""

    def __init__(self, data, _children=(), _op=""):
        self.data = float(data)
        self.grad = 0.0
        self._prev = tuple(_children)
        self._op = _op
        self._backward = lambda: None

    def __repr__(self):
        return f"Value(data={self.data:.6g}, grad={self.grad:.6g})"

    @staticmethod
    def _lift(other):
        if isinstance(other, Value):
            return other
        if isinstance(other, (int, float, np.integer, np.floating)):
            return Value(other)
        raise TypeError(f"a Value cannot be combined with {type(other).__name__}")

    def __radd__(self, other):
        return self + other

    def __rmul__(self, other):
        return self * other

    def __rsub__(self, other):
        return Value._lift(other) - self

    def __rtruediv__(self, other):
        return Value._lift(other) / self

    def __add__(self, other):
        other = Value._lift(other)
        out = Value(self.data + other.data, (self, other), "+")

        def _backward():
            self.grad += out.grad
            other.grad += out.grad

        out._backward = _backward
        return out

    def __mul__(self, other):
        other = Value._lift(other)
        out = Value(self.data * other.data, (self, other), "*")

        def _backward():
            self.grad += other.data * out.grad
            other.grad += self.data * out.grad

        out._backward = _backward
        return out

    def __pow__(self, exponent):
        if not isinstance(exponent, (int, float)):
            raise TypeError("constant exponents only")
        out = Value(self.data**exponent, (self,), f"**{exponent}")

        def _backward():
            self.grad += exponent * self.data ** (exponent - 1) * out.grad

        out._backward = _backward
        return out

    def __neg__(self):
        return self * -1

    def __sub__(self, other):
        return self + (-other)

    def __truediv__(self, other):
        return self * other**-1

    def _unary(self, value, local, op):
        out = Value(value, (self,), op)

        def _backward():
            self.grad += local * out.grad

        out._backward = _backward
        return out

    def exp(self):
        e = math.exp(self.data)
        return self._unary(e, e, "exp")

    def log(self):
        return self._unary(math.log(self.data), 1.0 / self.data, "log")

    def tanh(self):
        t = math.tanh(self.data)
        return self._unary(t, 1.0 - t**2, "tanh")

    def sigmoid(self):
        if self.data >= 0:
            s = 1.0 / (1.0 + math.exp(-self.data))
        else:
            e = math.exp(self.data)
            s = e / (1.0 + e)
        return self._unary(s, s * (1.0 - s), "sigmoid")

    def relu(self):
        return self._unary(max(self.data, 0.0), float(self.data > 0), "relu")

    def backward(self):
        topo, visited = [], set()

        def build(v):
            if v not in visited:
                visited.add(v)
                for child in v._prev:
                    build(child)
                topo.append(v)

        limit = sys.getrecursionlimit()
        sys.setrecursionlimit(max(limit, 100_000))
        try:
            build(self)
        finally:
            sys.setrecursionlimit(limit)
        self.grad = 1.0
        for v in reversed(topo):
            v._backward()
'''

LINEAR_EINSUM = """\
def linear_forward(x, w, b):
    xf = x.reshape(len(x), -1)
    out = np.einsum("nd,md->nm", xf, w) + b[None, :]
    return out, {"shape": x.shape, "x": xf, "w": w}


def linear_backward(dout, cache):
    dx = np.einsum("nm,md->nd", dout, cache["w"]).reshape(cache["shape"])
    dw = np.einsum("nm,nd->md", dout, cache["x"])
    db = np.ones(dout.shape[0]) @ dout
    return dx, dw, db
"""

RELU_WHERE = """\
def relu_forward(x):
    mask = x > 0
    return x * mask, mask


def relu_backward(dout, cache):
    return np.where(cache, dout, 0.0)
"""

LEAKY_FACTOR = """\
def leaky_relu_forward(x, negative_slope=0.01):
    factor = np.ones_like(x)
    factor[x <= 0] = negative_slope
    return x * factor, factor


def leaky_relu_backward(dout, cache):
    return dout * cache
"""

ELU_OUT_PLUS_ALPHA = """\
def elu_forward(x, alpha=1.0):
    out = np.array(x, dtype=np.float64, copy=True)
    neg = x <= 0
    out[neg] = alpha * (np.exp(x[neg]) - 1.0)
    return out, (out, neg, alpha)


def elu_backward(dout, cache):
    out, neg, alpha = cache
    local = np.ones_like(out)
    local[neg] = out[neg] + alpha  # alpha * exp(x) = alpha * (exp(x) - 1) + alpha
    return dout * local
"""

SIGMOID_TANH = """\
def sigmoid_forward(x):
    out = 0.5 * (1.0 + np.tanh(0.5 * x))
    return out, out


def sigmoid_backward(dout, cache):
    return dout * cache * (1.0 - cache)
"""

TANH_LOGISTIC = """\
def tanh_forward(x):
    with np.errstate(over="ignore"):
        out = 2.0 / (1.0 + np.exp(-2.0 * x)) - 1.0
    return out, x


def tanh_backward(dout, cache):
    t = np.tanh(cache)
    return dout * (1.0 - t) * (1.0 + t)
"""

MAXOUT_LOOPS = """\
def maxout_forward(x, w, b, k):
    flat = w.ndim == 2
    if flat:
        if k < 1 or w.shape[0] % k:
            raise ValueError("k must divide the number of rows of w")
        units = w.shape[0] // k
        pieces_w = [w[m * k:(m + 1) * k] for m in range(units)]
        pieces_b = [b[m * k:(m + 1) * k] for m in range(units)]
    else:
        if w.shape[1] != k:
            raise ValueError("k must equal w.shape[1]")
        units = w.shape[0]
        pieces_w = [w[m] for m in range(units)]
        pieces_b = [b[m] for m in range(units)]
    n = x.shape[0]
    out = np.empty((n, units))
    best = np.empty((n, units), dtype=int)
    for m in range(units):
        z = x @ pieces_w[m].T + pieces_b[m]  # (N, k)
        best[:, m] = z.argmax(axis=1)
        out[:, m] = z[np.arange(n), best[:, m]]
    return out, (x, w, b, k, best)


def maxout_backward(dout, cache):
    x, w, b, k, best = cache
    n, units = best.shape
    d = x.shape[1]
    w3 = w.reshape(units, k, d)
    dx = np.zeros_like(x)
    dw = np.zeros((units, k, d))
    db = np.zeros((units, k))
    for i in range(n):
        for m in range(units):
            j = best[i, m]
            dx[i] += dout[i, m] * w3[m, j]
            dw[m, j] += dout[i, m] * x[i]
            db[m, j] += dout[i, m]
    return dx, dw.reshape(w.shape), db.reshape(b.shape)
"""

MSE_EXPLICIT = """\
def mse_loss(pred, target):
    residual = np.subtract(pred, target)
    count = residual.size
    loss = float(np.sum(residual * residual) / count)
    return loss, (2.0 / count) * residual
"""

L1_MASKS = """\
def l1_loss(pred, target):
    r = pred - target
    grad = ((r > 0).astype(np.float64) - (r < 0).astype(np.float64)) / r.size
    return float(np.abs(r).sum() / r.size), grad
"""

BCE_LOGADDEXP = """\
def bce_with_logits(logits, targets):
    s = np.asarray(logits, dtype=np.float64)
    t = np.asarray(targets, dtype=np.float64)
    softplus = np.logaddexp(0.0, s)  # log(1 + e^s), stable
    loss = float(np.mean(softplus - s * t))
    prob = np.exp(-np.logaddexp(0.0, -s))  # sigmoid(s) = exp(-softplus(-s))
    return loss, (prob - t) / s.size
"""

CE_LOGSUMEXP = """\
def softmax_cross_entropy(scores, y):
    n = scores.shape[0]
    lse = np.logaddexp.reduce(scores, axis=1)
    loss = float(np.mean(lse - scores[np.arange(n), y]))
    probs = np.exp(scores - lse[:, None])
    onehot = np.zeros_like(scores)
    onehot[np.arange(n), y] = 1.0
    return loss, (probs - onehot) / n
"""

HINGE_LOOPS = """\
def multiclass_hinge(scores, y, margin=1.0):
    n, c = scores.shape
    total = 0.0
    grad = np.zeros_like(scores, dtype=np.float64)
    for i in range(n):
        for j in range(c):
            if j == y[i]:
                continue
            term = margin - scores[i, y[i]] + scores[i, j]
            if term > 0:
                total += term
                grad[i, j] += 1.0
                grad[i, y[i]] -= 1.0
    return float(total / (n * c)), grad / (n * c)
"""

TWO_LAYER_INLINE = """\
def train_two_layer_net(X, y, hidden=64, lr=0.5, steps=1000, *, rng, batch_size=None):
    n, d = X.shape
    classes = int(np.max(y)) + 1
    params = {
        "w1": rng.standard_normal((hidden, d)) * np.sqrt(2.0 / d),
        "b1": np.zeros(hidden),
    }
    params["w2"] = rng.standard_normal((classes, hidden)) / np.sqrt(hidden)
    params["b2"] = np.zeros(classes)
    history = []
    full = batch_size is None or batch_size >= n
    for _ in range(steps):
        idx = np.arange(n) if full else rng.choice(n, size=batch_size, replace=False)
        xb, yb = X[idx], y[idx]
        m = len(idx)
        h = xb @ params["w1"].T + params["b1"]
        a = np.maximum(h, 0.0)
        scores = a @ params["w2"].T + params["b2"]
        top = scores.max(axis=1, keepdims=True)
        logz = top[:, 0] + np.log(np.exp(scores - top).sum(axis=1))
        history.append(float(np.mean(logz - scores[np.arange(m), yb])))
        g = np.exp(scores - logz[:, None])
        g[np.arange(m), yb] -= 1.0
        g /= m
        grads = {"w2": g.T @ a, "b2": g.sum(axis=0)}
        gh = (g @ params["w2"]) * (h > 0)
        grads["w1"] = gh.T @ xb
        grads["b1"] = gh.sum(axis=0)
        params = {k: params[k] - lr * grads[k] for k in params}
    return {**params, "loss_history": history}


def predict_two_layer(params, X):
    hidden = np.maximum(X @ params["w1"].T + params["b1"], 0.0)
    return (hidden @ params["w2"].T + params["b2"]).argmax(axis=-1)
"""

TORCH_SIGMOID_TANH = """\
class SigmoidFunction(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        out = 0.5 * (torch.tanh(0.5 * x) + 1.0)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad_output):
        (s,) = ctx.saved_tensors
        return grad_output * (s - s * s)
"""

TORCH_TANH_SIGMOID = """\
class TanhFunction(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return 2.0 * torch.sigmoid(2.0 * x) - 1.0

    @staticmethod
    def backward(ctx, grad_output):
        (x,) = ctx.saved_tensors
        t = torch.tanh(x)
        return grad_output * (1.0 + t) * (1.0 - t)
"""

TORCH_LEAKY_CLAMP = """\
class LeakyReLUFunction(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, negative_slope=0.01):
        positive = x > 0
        ctx.save_for_backward(positive)
        ctx.slope = negative_slope
        return x.clamp(min=0) + negative_slope * x.clamp(max=0)

    @staticmethod
    def backward(ctx, grad_output):
        (positive,) = ctx.saved_tensors
        scale = torch.full_like(grad_output, ctx.slope)
        scale[positive] = 1.0
        return grad_output * scale, None
"""

TORCH_ELU_OUT = """\
class ELUFunction(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, alpha=1.0):
        neg = x <= 0
        out = x.clone()
        out[neg] = alpha * torch.expm1(x[neg])
        ctx.save_for_backward(out, neg)
        ctx.alpha = alpha
        return out

    @staticmethod
    def backward(ctx, grad_output):
        out, neg = ctx.saved_tensors
        local = torch.where(neg, out + ctx.alpha, torch.ones_like(out))
        return grad_output * local, None
"""

TORCH_NET_MANUAL = """\
class TwoLayerNet(nn.Module):
    def __init__(self, in_features, hidden, num_classes, generator=None):
        super().__init__()
        self.fc1 = nn.Linear(in_features, hidden)
        self.fc2 = nn.Linear(hidden, num_classes)
        b1 = math.sqrt(2.0) * math.sqrt(3.0 / in_features)
        nn.init.uniform_(self.fc1.weight, -b1, b1, generator=generator)
        b2 = hidden**-0.5
        nn.init.uniform_(self.fc2.weight, -b2, b2, generator=generator)
        nn.init.zeros_(self.fc1.bias)
        nn.init.zeros_(self.fc2.bias)

    def forward(self, x):
        return self.fc2(torch.relu(self.fc1(x)))


def train_torch_net(model, X, y, lr, steps, device, generator=None, batch_size=None):
    model = model.to(device)
    p0 = next(iter(model.parameters()))
    X = torch.as_tensor(X).to(device=p0.device, dtype=p0.dtype)
    y = torch.as_tensor(y).to(device=p0.device).long()
    n = len(X)
    losses = []
    for _ in range(steps):
        if batch_size is not None and batch_size < n:
            pick = torch.randperm(n, generator=generator)[:batch_size].to(p0.device)
            xb, yb = X[pick], y[pick]
        else:
            xb, yb = X, y
        loss = F.cross_entropy(model(xb), yb)
        model.zero_grad()
        loss.backward()
        with torch.no_grad():
            for p in model.parameters():
                p -= lr * p.grad
        losses.append(loss.item())
    return losses
"""

ALTERNATIVES = [
    Alternative("value_ops", "every operation as its own node, sigmoid via tanh", V, VALUE_DIRECT),
    Alternative(
        "value_backward",
        "recursive topological sort with a raised recursion limit",
        V,
        VALUE_RECURSIVE,
    ),
    Alternative("linear", "einsum and a dict cache", "linear_answer", LINEAR_EINSUM),
    Alternative("relu", "boolean mask and np.where", "relu_answer", RELU_WHERE),
    Alternative("leaky_relu", "cached slope factor", "leaky_relu_answer", LEAKY_FACTOR),
    Alternative("elu", "derivative as out + alpha", "elu_answer", ELU_OUT_PLUS_ALPHA),
    Alternative("sigmoid", "sigmoid through tanh", "sigmoid_answer", SIGMOID_TANH),
    Alternative("tanh", "tanh through the logistic function", "tanh_answer", TANH_LOGISTIC),
    Alternative("maxout", "loops over units and examples", "maxout_answer", MAXOUT_LOOPS),
    Alternative("mse", "explicit sums", "mse_answer", MSE_EXPLICIT),
    Alternative("l1", "sign from two masks", "l1_answer", L1_MASKS),
    Alternative("bce_logits", "softplus with np.logaddexp", "bce_logits_answer", BCE_LOGADDEXP),
    Alternative(
        "softmax_ce", "log-sum-exp with np.logaddexp.reduce", "softmax_ce_answer", CE_LOGSUMEXP
    ),
    Alternative("hinge", "loops over examples and classes", "hinge_answer", HINGE_LOOPS),
    Alternative(
        "two_layer_sgd",
        "inline forward and backward, dict of parameters",
        "two_layer_sgd_answer",
        TWO_LAYER_INLINE,
    ),
    Alternative(
        "torch_sigmoid", "sigmoid through tanh", "torch_sigmoid_answer", TORCH_SIGMOID_TANH
    ),
    Alternative(
        "torch_tanh", "tanh through the sigmoid, x saved", "torch_tanh_answer", TORCH_TANH_SIGMOID
    ),
    Alternative(
        "torch_leaky_relu",
        "clamps and a boolean mask",
        "torch_leaky_relu_answer",
        TORCH_LEAKY_CLAMP,
    ),
    Alternative(
        "torch_elu", "output saved, derivative out + alpha", "torch_elu_answer", TORCH_ELU_OUT
    ),
    Alternative(
        "torch_two_layer",
        "nn.init.uniform_ and a manual SGD update",
        "torch_two_layer_answer",
        TORCH_NET_MANUAL,
    ),
]
