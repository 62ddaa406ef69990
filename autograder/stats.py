"""Statistical tests for checks of random code: bounds that a correct implementation passes with
overwhelming probability, whatever seed the grader draws.

Every test here is calibrated at a failure probability of about ``DELTA`` = 1e-9 for a correct
implementation (per test; a check makes at most a few hundred, so a correct submission fails a
check with probability below 1e-6). The bounds are not asymptotic where that matters:

* counts of events (dropped units, flipped images, crop positions) use Bernstein's inequality,
  which holds for any number of draws;
* the shape of a continuous distribution uses the Dvoretzky-Kiefer-Wolfowitz inequality (with
  Massart's constant) on the largest gap between the empirical and the expected CDF;
* means of Gaussian draws are exactly Gaussian; their variance uses the normal approximation of a
  chi-square with tens of thousands of degrees of freedom, at 6.5 standard errors.
"""

from __future__ import annotations

import math

import numpy as np

from autograder.checking import CheckFailure

DELTA = 1e-9
#: Standard errors for tests that rely on a normal approximation (two-sided tail ~ 8e-11).
Z = 6.5


def bernstein(n: int, var: float, scale: float = 1.0, delta: float = DELTA) -> float:
    """``t`` with ``P(|S - E S| >= t) <= delta`` for a sum ``S`` of ``n`` independent terms, each
    within ``scale`` of its mean and of variance ``var``."""
    log_term = math.log(2.0 / delta)
    return scale * log_term / 3.0 + math.sqrt(
        (scale * log_term / 3.0) ** 2 + 2.0 * n * var * log_term
    )


def count_bound(n: int, prob: float) -> float:
    """Half-width of the interval around ``n * prob`` that a Binomial(n, prob) count stays in."""
    return bernstein(n, prob * (1.0 - prob))


def expect_count(count: int, n: int, prob: float, what: str, hint=None) -> None:
    """``count`` successes out of ``n`` must be consistent with a success probability ``prob``."""
    half = count_bound(n, prob)
    if abs(count - n * prob) > half:
        raise CheckFailure(
            f"{what}: {count} of {n} ({count / n:.4f}); expected about {n * prob:.1f} "
            f"({prob:.4f}); a correct implementation stays within +-{half:.1f} for any seed",
            hint(count / n) if callable(hint) else hint,
        )


def expect_uniform_counts(values: np.ndarray, support: np.ndarray, what: str, hints=None) -> None:
    """Integer ``values`` must be uniform on ``support`` (each value's count within its bound).

    ``hints(counts)`` may return a hint describing what the counts look like."""
    values = np.asarray(values).ravel()
    n, k = values.size, len(support)
    counts = np.array([np.count_nonzero(values == s) for s in support])
    outside = n - counts.sum()
    if outside:
        bad = sorted(set(np.unique(values).tolist()) - set(np.asarray(support).tolist()))[:5]
        raise CheckFailure(
            f"{what}: {outside} of {n} values outside {support[0]}..{support[-1]} (e.g. {bad})",
            hints(counts) if hints else None,
        )
    half = count_bound(n, 1.0 / k)
    worst = int(np.argmax(np.abs(counts - n / k)))
    if abs(counts[worst] - n / k) > half:
        table = ", ".join(f"{s}: {c}" for s, c in zip(support, counts, strict=True))
        raise CheckFailure(
            f"{what}: the {k} possible values should be equally frequent (about {n / k:.1f} "
            f"each, +-{half:.1f} for a correct implementation), but {support[worst]} occurs "
            f"{counts[worst]} times. Counts: {table}",
            hints(counts) if hints else None,
        )


def dkw_limit(n: int, delta: float = DELTA) -> float:
    """The largest CDF gap that ``n`` draws from the right distribution reach with prob. delta."""
    return math.sqrt(math.log(2.0 / delta) / (2.0 * n))


def ks_distance(samples: np.ndarray, cdf) -> float:
    x = np.sort(np.asarray(samples, dtype=np.float64).ravel())
    n = x.size
    f = cdf(x)
    return float(max((np.arange(1, n + 1) / n - f).max(), (f - np.arange(n) / n).max()))


def expect_distribution(samples, cdf, name: str, what: str, hint=None) -> None:
    """``samples`` must follow the continuous distribution with ``cdf`` (named ``name``)."""
    samples = np.asarray(samples, dtype=np.float64).ravel()
    distance, limit = ks_distance(samples, cdf), dkw_limit(samples.size)
    if distance > limit:
        raise CheckFailure(
            f"{what}: the {samples.size} values do not follow {name}: the largest gap between "
            f"their empirical CDF and the expected one is {distance:.3g} (sampling noise stays "
            f"below {limit:.3g})",
            hint,
        )


def uniform_cdf(lo: float, hi: float):
    return lambda x: np.clip((x - lo) / (hi - lo), 0.0, 1.0)


def normal_cdf(std: float):
    import torch

    return lambda x: torch.special.ndtr(torch.from_numpy(x / std)).numpy()


def beta_cdf(a: float, b: float):
    from scipy.special import betainc

    return lambda x: betainc(a, b, np.clip(x, 0.0, 1.0))
