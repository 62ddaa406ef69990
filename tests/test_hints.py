"""Hints name the student's real mistake, and messages show the difference (issue 17, points 5
and 7). The corpus asserts each mutant's hint (tests/mutation.py: ``assert_hint``); these are the
mechanisms behind them, tested without a grader."""

from __future__ import annotations

import numpy as np
import pytest

from autograder.checking import CheckFailure, expect_close, fmt_pair, shape_error_hint


def _failure(fn) -> CheckFailure:
    with pytest.raises(CheckFailure) as info:
        fn()
    return info.value


def test_numbers_in_messages_differ():
    got, want = fmt_pair(-0.01321341, -0.013213412)
    assert got != want
    err = _failure(lambda: expect_close([-0.0132134105], [-0.0132134], "x", rtol=1e-9))
    assert "got -0.01321341, expected -0.0132134." in err.message
    assert fmt_pair(0.5, 0.5) == ("0.5", "0.5")


def test_a_mistake_equal_to_the_answer_names_nothing():
    """Clipping data that lies inside the range changes nothing: a near miss (min-max off by
    eps) must not be told its values were clipped."""
    right = np.linspace(-1, 1, 7)
    near = right * (1 + 2e-6)
    err = _failure(
        lambda: expect_close(near, right, "out", rtol=1e-7, mistakes={"clipped": right.clip(-1, 1)})
    )
    assert err.hint is None
    wrong = right * 2
    err = _failure(lambda: expect_close(wrong, right, "out", mistakes={"doubled": right * 2}))
    assert err.hint == "doubled"


@pytest.mark.parametrize(
    ("kind", "message", "hinted"),
    [
        ("ValueError", "operands could not be broadcast together with shapes (3,4) (4,3)", True),
        ("ValueError", "matmul: Input operand 1 has a mismatch in its core dimension 0", True),
        ("RuntimeError", "mat1 and mat2 shapes cannot be multiplied (2x3 and 4x5)", True),
        ("ValueError", "x must have shape (N, D), got (3,)", False),  # raised on purpose
        ("ValueError", "a batch of one has no variance: need N > 1", False),
        ("TypeError", "could not be broadcast", False),
    ],
)
def test_shape_hint_only_for_library_shape_errors(kind, message, hinted):
    assert (shape_error_hint(kind, message) is not None) == hinted


def test_series_hint_needs_the_whole_series():
    """A Nesterov bug whose first step equals plain momentum's is not plain momentum."""
    from autograder.checks.a4_optim.public import compare_series

    exp = np.array([[1.0], [2.0], [3.0], [4.0]])
    plain = np.array([[1.5], [2.5], [3.5], [4.5]])
    other_bug = np.array([[1.5], [2.9], [3.9], [4.9]])  # first row like plain momentum only
    for got, hint in ((plain, "plain momentum"), (other_bug, None)):
        err = _failure(
            lambda g=got: compare_series(
                g, exp, "params", lambda i: f"after step {i + 1}", {"plain momentum": plain}
            )
        )
        assert err.hint == hint


def test_jitter_blend_towards_mean_of_x():
    from autograder.checks.a5_dropout.public import blend_mistake

    rng = np.random.default_rng(0)
    n = 2000
    x = rng.random((n, 3, 4, 5))
    b = rng.uniform(0.6, 1.4, n).reshape(n, 1, 1, 1)
    c = rng.uniform(0.7, 1.3, n).reshape(n, 1, 1, 1)
    bad = c * b * x + (1 - c) * x.mean(axis=(1, 2, 3), keepdims=True)
    good = c * b * x + (1 - c) * (b * x).mean(axis=(1, 2, 3), keepdims=True)
    assert "b * mean(x), not mean(x)" in blend_mistake(bad, x, 0.4, 0.3)
    assert blend_mistake(good, x, 0.4, 0.3) is None


def test_warmup_at_full_rate_is_named():
    from autograder.checks.a4_optim.public import warmup_mistakes

    table = np.linspace(1.0, 0.5, 40)
    w, a = 10, 0.1
    t = np.arange(30)
    full = np.where(t < w, table[0], table[np.maximum(t - w, 0)])
    names = [k for k, v in warmup_mistakes(table, 30, w, a).items() if np.allclose(v, full)]
    assert names and names[0].startswith("the warm-up starts at the full rate")
