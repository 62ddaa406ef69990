"""Gradient checking: compare an analytic backward pass with centred finite differences.

Everything is computed in float64: with float32 the rounding error of a finite difference
(about ``eps_machine / h``) is as large as the truncation error we want to see, and a correct
backward pass can look wrong.

Typical use, for a layer with the ``(out, cache)`` / ``(dout, cache)`` pattern::

    out, cache = relu_forward(x)
    dx = relu_backward(dout, cache)
    dx_num = numerical_vjp(lambda x: relu_forward(x)[0], x, dout)
    print(rel_error(dx, dx_num))   # ~1e-10 for a correct backward pass
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

__all__ = ["numerical_gradient", "numerical_vjp", "rel_error"]


def rel_error(a, b, eps: float = 1e-12) -> float:
    r"""The largest elementwise relative error between two arrays.

    .. math:: \max_i \frac{|a_i - b_i|}{\max(|a_i| + |b_i|, \epsilon)}

    Rules of thumb in float64: below 1e-7 the two agree; 1e-7 to 1e-4 deserves a look (a kink
    such as ReLU's at 0 may be inside the finite-difference step); above 1e-2 something is wrong.

    Args:
        a, b: arrays (or scalars) of the same shape.
        eps: floor of the denominator, so that two zeros compare as equal.

    Raises:
        ValueError: if the shapes differ (broadcasting would hide a bug).
    """
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"rel_error: shapes differ, {a.shape} vs {b.shape}")
    if a.size == 0:
        return 0.0
    return float(np.max(np.abs(a - b) / np.maximum(np.abs(a) + np.abs(b), eps)))


def numerical_gradient(f: Callable[[np.ndarray], float], x, h: float = 1e-5) -> np.ndarray:
    r"""Centred finite-difference gradient of a scalar function.

    .. math:: \frac{\partial f}{\partial x_i} \approx \frac{f(x + h e_i) - f(x - h e_i)}{2h}

    The error of the centred difference is O(h^2), against O(h) for the one-sided one.

    Args:
        f: a function of one array returning a scalar. It must not keep a reference to ``x``:
            ``x`` is perturbed in place and restored.
        x: the point, any shape; it is converted to a float64 copy.
        h: the step.

    Returns:
        The gradient, float64, with the shape of ``x``.
    """
    x = np.array(x, dtype=np.float64)
    grad = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        old = x[i]
        x[i] = old + h
        f_plus = float(f(x))
        x[i] = old - h
        f_minus = float(f(x))
        x[i] = old
        grad[i] = (f_plus - f_minus) / (2 * h)
    return grad


def numerical_vjp(f: Callable[[np.ndarray], np.ndarray], x, dout, h: float = 1e-5) -> np.ndarray:
    r"""Numerical vector-Jacobian product of an array function: what a backward pass returns.

    For ``out = f(x)`` and an upstream gradient ``dout`` (shaped like ``out``), returns

    .. math:: dx_i = \sum_j dout_j \frac{\partial out_j}{\partial x_i}
              \approx \sum_j dout_j \frac{f(x + h e_i)_j - f(x - h e_i)_j}{2h},

    which is the gradient of the scalar ``sum(f(x) * dout)``.

    Args:
        f: a function of one array returning an array.
        x: the point, any shape (float64 copy).
        dout: the upstream gradient, with the shape of ``f(x)``.
        h: the step.

    Returns:
        ``dx``, float64, with the shape of ``x``.

    Raises:
        ValueError: if ``dout`` does not have the shape of ``f(x)``.
    """
    x = np.array(x, dtype=np.float64)
    dout = np.asarray(dout, dtype=np.float64)
    out_shape = np.shape(f(x))
    if out_shape != dout.shape:
        raise ValueError(f"numerical_vjp: dout has shape {dout.shape}, f(x) has shape {out_shape}")
    return numerical_gradient(lambda z: np.sum(np.asarray(f(z), dtype=np.float64) * dout), x, h)
