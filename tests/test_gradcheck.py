"""coursekit.gradcheck: rel_error and centred numerical gradients, checked against PyTorch."""

import numpy as np
import pytest
import torch

from coursekit.gradcheck import numerical_gradient, numerical_vjp, rel_error


def test_rel_error_basics():
    assert rel_error(np.zeros(3), np.zeros(3)) == 0.0
    assert rel_error([1.0, 2.0], [1.0, 2.0]) == 0.0
    assert rel_error(1.0, 3.0) == pytest.approx(0.5)
    assert rel_error(np.array([1e-3, 5.0]), np.array([1e-3, 5.5])) == pytest.approx(0.5 / 10.5)
    with pytest.raises(ValueError, match="shapes differ"):
        rel_error(np.zeros(3), np.zeros((3, 1)))


def test_numerical_gradient_of_a_scalar_function_matches_autograd():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 4))

    def f(z):
        return float(np.sum(np.tanh(z) ** 2 + np.sin(3 * z)))

    t = torch.from_numpy(x.copy()).requires_grad_()
    (torch.tanh(t) ** 2 + torch.sin(3 * t)).sum().backward()
    num = numerical_gradient(f, x)
    assert num.shape == x.shape and num.dtype == np.float64
    assert rel_error(num, t.grad.numpy()) < 1e-8
    assert np.array_equal(x, x.copy())  # the input is restored


def test_numerical_vjp_of_an_array_function_matches_autograd():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((4, 3))
    w = rng.standard_normal((5, 3))
    dout = rng.standard_normal((4, 5))
    t = torch.from_numpy(x.copy()).requires_grad_()
    (torch.sigmoid(t @ torch.from_numpy(w).T) * torch.from_numpy(dout)).sum().backward()
    num = numerical_vjp(lambda z: 1 / (1 + np.exp(-(z @ w.T))), x, dout)
    assert rel_error(num, t.grad.numpy()) < 1e-8


def test_numerical_vjp_rejects_a_misshaped_dout():
    with pytest.raises(ValueError, match="dout has shape"):
        numerical_vjp(lambda z: z * 2, np.ones(3), np.ones(4))


def test_centred_differences_beat_float32_and_catch_a_wrong_gradient():
    x = np.linspace(-1, 1, 6)  # no exact zero: there both values are ~1e-10 and rel_error is 1
    num = numerical_vjp(lambda z: z**3, x, np.ones_like(x))
    assert rel_error(num, 3 * x**2) < 1e-8
    assert rel_error(num, 2 * x**2) > 1e-2  # a wrong analytic gradient is flagged
    # float32 inputs are promoted: the result is as accurate as for float64 inputs
    num32 = numerical_vjp(lambda z: z**3, x.astype(np.float32), np.ones_like(x))
    assert num32.dtype == np.float64
    assert rel_error(num32, 3 * x.astype(np.float32).astype(np.float64) ** 2) < 1e-6
