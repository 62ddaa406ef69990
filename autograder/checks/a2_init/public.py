"""Public checks of A2: what students run from their notebook with ``checker.check("<item>")``.

Oracles: ``torch.nn.init`` (fan and gain rules exactly; the PyTorch initialisers value for value
from the same generator state), NumPy formulas computed here from the training split (so that a
transform that recomputes its statistics is caught), properties (whitened data has the identity
covariance), and, for the NumPy initialisers, statistical tests on about 10^5 draws whose
tolerances a correct implementation passes for any seed (6 standard errors; a
Dvoretzky-Kiefer-Wolfowitz bound at 1e-9 for the distribution's shape; exact bounds for uniform
draws). The helpers at the top are shared with :mod:`.hidden`.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from autograder.checking import (
    CheckFailure,
    check,
    close,
    describe,
    expect,
    expect_close,
    expect_equal,
    shape_error_hint,
)
from autograder.student import Remote, StudentError

from .probes import build_model

# -- generic helpers ----------------------------------------------------------------------------


def seed_of(rng) -> int:
    return int(rng.integers(0, 2**31 - 1))


def fmt_shape(shape) -> str:
    return "(" + ", ".join(str(int(d)) for d in shape) + ("," if len(shape) == 1 else "") + ")"


def fmt_kwargs(kwargs: dict) -> str:
    return ", ".join(f"{k}={v!r}" for k, v in kwargs.items())


def student_failure(what: str, error: dict) -> CheckFailure:
    """The student's code raised while ``what`` ran: say so, in the words of the call."""
    kind, message = error.get("type", "Exception"), error.get("message", "")
    if kind == "NotImplementedError":
        return CheckFailure(f"{what} is not implemented yet ({message or 'NotImplementedError'})")
    where = error.get("where")
    if isinstance(where, list):
        where = where[-1] if where else None
    text = f"{what} raised {kind}: {message}" + (f" (at {where})" if where else "")
    hint = None
    if "matmul" in message and "mismatch" in message:
        hint = "weights have shape (out_features, in_features): a layer computes h @ w.T"
    elif shape_error_hint(kind, message):
        hint = shape_error_hint(kind, message)
    elif "requires grad" in message and "in-place" in message:
        hint = "fill a parameter inside `with torch.no_grad():`"
    return CheckFailure(text, hint)


def run(s, what: str, fn):
    """``fn()`` (a request to the student's code); an exception there fails as ``what``."""
    try:
        return fn()
    except StudentError as err:
        raise student_failure(what, err.error) from None


def call(s, what: str, name: str, *args, **kwargs):
    return run(s, what, lambda: s.call(name, *args, **kwargs))


def expect_value_error(s, what: str, name: str, *args, **kwargs) -> None:
    """The student's ``name(*args, **kwargs)`` must raise ValueError."""
    try:
        got = s.call(name, *args, **kwargs)
    except StudentError as err:
        kind = err.error.get("type")
        if kind == "ValueError":
            return
        if kind == "NotImplementedError":
            raise student_failure(what, err.error) from None
        raise CheckFailure(
            f"{what} raised {kind}: {err.error.get('message', '')}; expected ValueError",
            "raise ValueError(...) with a message that says what is wrong",
        ) from None
    raise CheckFailure(f"{what} returned {describe(got)}; expected it to raise ValueError")


def field(result, key: str, what: str):
    if not isinstance(result, dict):
        raise CheckFailure(f"{what} must return a dict, got {describe(result)}")
    if key not in result:
        raise CheckFailure(
            f"{what}: the returned dict has no key {key!r} (keys: {sorted(map(str, result))})"
        )
    return result[key]


# -- preprocessing: running the student's classes -----------------------------------------------


def pooled_axes(ndim: int) -> tuple[int, ...]:
    return (0, *range(2, ndim))


def along_axis1(stat: np.ndarray, ndim: int) -> np.ndarray:
    return np.asarray(stat).reshape((1, -1) + (1,) * (ndim - 2))


def fit_and_apply(s, cls: str, kwargs: dict, fit_x, calls, attrs=()) -> dict:
    """Run the student's ``cls(**kwargs).fit(fit_x)`` then ``calls`` (a list of
    ``(method, x, kw)``) in the worker; fail clearly if a step raises, if ``fit`` does not return
    the object, or if any step modifies the array it was given."""
    label = f"{cls}({fmt_kwargs(kwargs)})"
    what = [f"{label}.fit(x of shape {fmt_shape(np.shape(fit_x))})"]
    for method, x, kw in calls:
        extra = ", " + fmt_kwargs(kw) if kw else ""
        what.append(f"{label}.{method}(x of shape {fmt_shape(np.shape(x))}{extra})")
    res = run(
        s,
        f"{label}",
        lambda: s.probe(
            "a2_init.fit_apply", cls, kwargs, fit_x, [list(c) for c in calls], list(attrs)
        ),
    )
    step = res.get("failed")
    if step is not None:
        if step == "constructor":
            name = f"{label}"
        elif step == "fit":
            name = what[0]
        else:
            name = what[1 + int(step.split()[1])]
        raise student_failure(name, res["error"])
    expect(
        res["fit_returned_self"] is True,
        f"{what[0]} must return the fitted object itself (end fit with `return self`)",
        "so that Standardizer().fit(x_train).transform(x_test) works",
    )
    for k, changed in enumerate(res["changed_input"]):
        expect(
            not changed,
            f"{what[k]} modified the array it was given",
            "never change the caller's data in place: `x = x - mean` makes a new array, "
            "`x -= mean` overwrites the caller's",
        )
    res["what"] = what
    return res


def check_stat_attr(value, expected, what: str, fit_shape, mistakes=None) -> None:
    """A stored statistic: its shape first (with a hint about the pooled axes), then values."""
    if isinstance(value, Remote) or value is None:
        raise CheckFailure(f"{what}: expected a float64 array, got {describe(value)}")
    got_shape = np.shape(value)
    if got_shape != np.shape(expected):
        hint = None
        if got_shape == tuple(fit_shape[1:]):
            hint = (
                "these are statistics per element (pooled over axis 0 only): pool over every "
                "axis except axis 1, as statistics_axes says"
            )
        elif got_shape == ():
            hint = "one number for all the data: keep one value per feature (axis 1)"
        raise CheckFailure(
            f"{what}: shape {got_shape}, expected {np.shape(expected)} (one value per entry of "
            f"axis 1 of the fit data, shape {fmt_shape(fit_shape)})",
            hint,
        )
    expect_close(value, expected, what, rtol=1e-9, atol=1e-12, mistakes=mistakes)


# -- Standardizer -------------------------------------------------------------------------------


def standardise(x, mean, var, eps):
    x = np.asarray(x, dtype=np.float64)
    return (x - along_axis1(mean, x.ndim)) / np.sqrt(along_axis1(var, x.ndim) + eps)


def standardizer_mistakes(fit_x, x, eps) -> dict:
    fit_x = np.asarray(fit_x, dtype=np.float64)
    x = np.asarray(x, dtype=np.float64)
    axes = pooled_axes(fit_x.ndim)
    mean, var = fit_x.mean(axis=axes), fit_x.var(axis=axes)
    n = fit_x.size // mean.size
    out = {
        "these are the statistics of the data passed to transform: use the mean_ and var_ "
        "stored by fit (from the training data)": standardise(
            x, x.mean(axis=axes), x.var(axis=axes), eps
        ),
        "the variance is the biased one (divide by N, np.var's default), not ddof=1": standardise(
            x, mean, var * n / max(n - 1, 1), eps
        ),
        "eps goes inside the square root, sqrt(var + eps), not after it": (
            (x - along_axis1(mean, x.ndim)) / (np.sqrt(along_axis1(var, x.ndim)) + eps)
        ),
        "divide by sqrt(var_ + eps), not by var_ + eps": (x - along_axis1(mean, x.ndim))
        / (along_axis1(var, x.ndim) + eps),
        "only the mean was subtracted: also divide by sqrt(var_ + eps)": x
        - along_axis1(mean, x.ndim),
    }
    with np.errstate(divide="ignore", invalid="ignore"):
        out["eps is missing: divide by sqrt(var_ + eps)"] = standardise(x, mean, var, 0.0)
    return out


def check_standardizer(s, fit_x, others, eps=None, what_data="x") -> None:
    """Fit on ``fit_x``; check mean_, var_, transform of the fit data and of ``others``, and
    inverse_transform of standardised versions of ``others``."""
    kwargs = {} if eps is None else {"eps": eps}
    e = 1e-8 if eps is None else eps
    f64 = np.asarray(fit_x, dtype=np.float64)
    axes = pooled_axes(f64.ndim)
    mean, var = f64.mean(axis=axes), f64.var(axis=axes)
    zs = [standardise(x, mean, var, e) for x in others]
    calls = [("transform", fit_x, {})]
    calls += [("transform", x, {}) for x in others]
    calls += [("inverse_transform", z, {}) for z in zs]
    res = fit_and_apply(s, "Standardizer", kwargs, fit_x, calls, ("mean_", "var_"))
    what = res["what"]
    n = f64.size // mean.size
    check_stat_attr(res["attrs"]["mean_"], mean, f"mean_ after {what[0]}", f64.shape)
    check_stat_attr(
        res["attrs"]["var_"],
        var,
        f"var_ after {what[0]}",
        f64.shape,
        mistakes={
            "var_ is the biased variance (divide by N), not ddof=1": var * n / max(n - 1, 1),
            "var_ holds the variance, not the standard deviation": np.sqrt(var),
        },
    )
    outs = res["outputs"]
    for k, x in enumerate([fit_x, *others]):
        close(
            outs[k],
            standardise(x, mean, var, e),
            what[1 + k],
            mistakes=standardizer_mistakes(fit_x, x, e),
            rtol=1e-7,
            atol=1e-9,
        )
    for k, (x, z) in enumerate(zip(others, zs, strict=True)):
        j = 1 + len(others) + k  # outputs: fit data, the others, then the inverses
        close(
            outs[j],
            np.asarray(x, dtype=np.float64),
            what[1 + j],
            hint="inverse_transform(z) = z * sqrt(var_ + eps) + mean_ undoes transform",
            mistakes={
                "eps is missing: multiply by sqrt(var_ + eps)": z
                * np.sqrt(along_axis1(var, z.ndim))
                + along_axis1(mean, z.ndim)
            },
            rtol=1e-7,
            atol=1e-9,
        )


def tabular(rng, n, d, spread=(-5.0, 5.0)):
    """(n, d) data with a different location and scale per feature."""
    loc = rng.uniform(*spread, size=d)
    scale = np.exp(rng.uniform(np.log(0.2), np.log(10.0), size=d))
    return loc + scale * rng.standard_normal((n, d)), loc, scale


def images(rng, n, c, h, w):
    loc = rng.uniform(-3.0, 3.0, size=c)[None, :, None, None]
    scale = rng.uniform(0.3, 4.0, size=c)[None, :, None, None]
    return loc + scale * rng.standard_normal((n, c, h, w))


@check(
    "standardizer",
    "Standardizer on (N, D) data, eps = 1e-8 and eps = 0.5: mean_, var_, transform of the "
    "training data and of other data (with the training statistics), inverse_transform",
)
def standardizer_tabular(s, rng):
    x_fit, loc, scale = tabular(rng, 40, 6)
    x_other = (loc + 2.0) + 3.0 * scale * rng.standard_normal((15, 6))
    check_standardizer(s, x_fit, [x_other])
    check_standardizer(s, x_fit, [x_other], eps=0.5)


@check(
    "standardizer",
    "Standardizer on (N, C, H, W) images: one mean and one variance per channel; transform of "
    "other images, also of another size",
)
def standardizer_images(s, rng):
    x_fit = images(rng, 12, 3, 5, 4)
    others = [images(rng, 7, 3, 5, 4), images(rng, 2, 3, 6, 7)]
    check_standardizer(s, x_fit, others, eps=1e-3)


# -- MinMaxScaler -------------------------------------------------------------------------------


def minmax(x, lo, hi, feature_range):
    x = np.asarray(x, dtype=np.float64)
    low, high = feature_range
    span = np.where(hi - lo > 0, hi - lo, 1.0)
    return low + (high - low) * (x - along_axis1(lo, x.ndim)) / along_axis1(span, x.ndim)


def minmax_mistakes(fit_x, x, feature_range) -> dict:
    f64 = np.asarray(fit_x, dtype=np.float64)
    x = np.asarray(x, dtype=np.float64)
    axes = pooled_axes(f64.ndim)
    lo, hi = f64.min(axis=axes), f64.max(axis=axes)
    right = minmax(x, lo, hi, feature_range)
    low, high = feature_range
    return {
        "the values were clipped to the range: data outside the training range must map "
        "outside [low, high]": np.clip(right, low, high),
        "these are the minimum and maximum of the data passed to transform: use min_ and max_ "
        "from fit": minmax(x, x.min(axis=axes), x.max(axis=axes), feature_range),
        "mapped to [0, 1]: stretch and shift to feature_range": minmax(x, lo, hi, (0.0, 1.0)),
        "mapped to [-1, 1]: use the feature_range given to the constructor": minmax(
            x, lo, hi, (-1.0, 1.0)
        ),
    }


def check_minmax(s, fit_x, others, feature_range=None) -> None:
    kwargs = {} if feature_range is None else {"feature_range": tuple(feature_range)}
    fr = (-1.0, 1.0) if feature_range is None else tuple(feature_range)
    f64 = np.asarray(fit_x, dtype=np.float64)
    axes = pooled_axes(f64.ndim)
    lo, hi = f64.min(axis=axes), f64.max(axis=axes)
    calls = [("transform", fit_x, {})] + [("transform", x, {}) for x in others]
    res = fit_and_apply(s, "MinMaxScaler", kwargs, fit_x, calls, ("min_", "max_"))
    what = res["what"]
    check_stat_attr(res["attrs"]["min_"], lo, f"min_ after {what[0]}", f64.shape)
    check_stat_attr(res["attrs"]["max_"], hi, f"max_ after {what[0]}", f64.shape)
    for k, x in enumerate([fit_x, *others]):
        close(
            res["outputs"][k],
            minmax(x, lo, hi, fr),
            what[1 + k],
            mistakes=minmax_mistakes(fit_x, x, fr),
            rtol=1e-7,
            atol=1e-9,
        )


@check(
    "minmax",
    "MinMaxScaler() on (N, D) data: min_, max_, the training data mapped onto [-1, 1] and other "
    "data (beyond the training range) scaled with the training min and max, not clipped",
)
def minmax_tabular(s, rng):
    x_fit, loc, scale = tabular(rng, 30, 5)
    x_other = loc + 2.5 * scale * rng.standard_normal((12, 5))
    check_minmax(s, x_fit, [x_other])


@check(
    "minmax",
    "MinMaxScaler(feature_range=(0, 1)) on (N, C, H, W) images: one min and max per channel",
)
def minmax_images(s, rng):
    x_fit = images(rng, 10, 3, 4, 4)
    check_minmax(s, x_fit, [images(rng, 5, 3, 6, 3)], feature_range=(0.0, 1.0))


# -- PCA ----------------------------------------------------------------------------------------


def correlated(rng, n, d, spectrum=None):
    """(n, d) data with a non-zero mean and a well separated covariance spectrum."""
    if spectrum is None:
        spectrum = 3.0 * 0.6 ** np.arange(d)
    q, _ = np.linalg.qr(rng.standard_normal((d, d)))
    mean = rng.uniform(-4.0, 4.0, size=d)
    x = mean + (rng.standard_normal((n, d)) * np.sqrt(spectrum)) @ q.T
    return x, mean, q


def pca_oracle(x):
    x = np.asarray(x, dtype=np.float64)
    mu = x.mean(axis=0)
    c = x - mu
    lam, u = np.linalg.eigh(c.T @ c / len(x))
    order = np.argsort(lam)[::-1]
    return mu, lam[order], u[:, order]


def match_signs(got: np.ndarray, expected: np.ndarray) -> np.ndarray:
    """``got`` with each column's sign flipped to agree with ``expected`` (an eigenvector, and
    so a projection on it, is defined up to its sign)."""
    dots = np.sum(got * expected, axis=0)
    return got * np.where(dots < 0, -1.0, 1.0)


def columns_match(got: np.ndarray, expected: np.ndarray, tol: float = 1e-6) -> bool:
    if got.shape != expected.shape:
        return False
    return bool(np.allclose(match_signs(got, expected), expected, rtol=tol, atol=tol))


def as_matrix(value, what: str) -> np.ndarray:
    if isinstance(value, Remote) or value is None:
        raise CheckFailure(f"{what}: expected a float64 array, got {describe(value)}")
    a = np.asarray(value)
    if a.dtype.kind not in "biuf":
        raise CheckFailure(f"{what}: expected real numbers, got dtype {a.dtype}")
    return a.astype(np.float64)


def check_pca_fit(res, x_fit) -> tuple:
    what = f"after {res['what'][0]}"
    mu, lam, u = pca_oracle(x_fit)
    n = len(x_fit)
    check_stat_attr(res["attrs"]["mean_"], mu, f"mean_ {what}", np.shape(x_fit))
    raw = np.asarray(x_fit, dtype=np.float64)
    expect_close(
        res["attrs"]["eigenvalues_"],
        lam,
        f"eigenvalues_ {what}",
        rtol=1e-8,
        atol=1e-10,
        mistakes={
            "the eigenvalues must be sorted largest first (np.linalg.eigh returns them in "
            "ascending order)": lam[::-1],
            "the covariance divides by N, not N - 1": lam * n / (n - 1),
            "the covariance needs centred data: subtract the mean first": np.sort(
                np.linalg.eigvalsh(raw.T @ raw / n)
            )[::-1],
            "these look like standard deviations: eigenvalues_ are the variances": np.sqrt(
                np.clip(lam, 0, None)
            ),
        },
    )
    vecs = as_matrix(res["attrs"]["eigenvectors_"], f"eigenvectors_ {what}")
    expect_equal(vecs.shape, u.shape, f"shape of eigenvectors_ {what}")
    if not columns_match(vecs, u):
        hint = None
        if columns_match(vecs, u[:, ::-1]):
            hint = "the columns are in ascending order of eigenvalue: reorder them like the values"
        elif columns_match(vecs.T, u):
            hint = "the eigenvectors are the rows: eigenvectors_ must hold them as columns"
        else:
            _, ur = np.linalg.eigh(raw.T @ raw / n)
            if columns_match(vecs, ur[:, ::-1]) or columns_match(vecs, ur):
                hint = "the covariance needs centred data: subtract the mean first"
        dots = np.abs(np.sum(vecs * u, axis=0))
        j = int(np.argmin(dots))
        raise CheckFailure(
            f"eigenvectors_ {what}: column {j} is not the eigenvector of eigenvalue "
            f"{lam[j]:.6g} (|cosine| with it {dots[j]:.4f}, expected 1; each column may have "
            "either sign)",
            hint,
        )
    return mu, lam, u


def pca_transform_mistakes(x, mu, lam, u, k, x_fit) -> dict:
    x = np.asarray(x, dtype=np.float64)
    return {
        "projected on the directions of smallest variance: sort the eigenvectors largest first": (
            x - mu
        )
        @ u[:, ::-1][:, :k],
        "x must be centred with the stored mean_ before projecting": x @ u[:, :k],
        "centred with the mean of the data passed to transform: use mean_ from fit": (
            x - x.mean(axis=0)
        )
        @ u[:, :k],
        "multiplied by the rows of the eigenvector matrix: project on its columns": (x - mu)
        @ u.T[:, :k],
    }


def check_projection(got, expected, what, mistakes) -> None:
    """Compare up to the sign of each column (one sign per principal direction)."""
    a = as_matrix(got, what)
    if a.shape != expected.shape:
        raise CheckFailure(
            f"{what}: shape {a.shape}, expected {expected.shape}",
            "keep the first k columns: eigenvectors_[:, :k]" if a.ndim == 2 else None,
        )
    aligned_mistakes = {h: m for h, m in mistakes.items() if np.shape(m) == a.shape}
    hint = next((h for h, m in aligned_mistakes.items() if columns_match(a, m, 1e-6)), None)
    close(match_signs(a, expected), expected, what + " (up to the sign of each column)", hint)


@check(
    "pca",
    "PCAWhitener().fit on correlated (N, D) data with a non-zero mean: mean_, eigenvalues_ "
    "(largest first, covariance with 1/N) and eigenvectors_ (columns, either sign)",
)
def pca_fit(s, rng):
    x_fit, _, _ = correlated(rng, 200, 5)
    res = fit_and_apply(s, "PCAWhitener", {}, x_fit, [], ("mean_", "eigenvalues_", "eigenvectors_"))
    check_pca_fit(res, x_fit)


@check(
    "pca",
    "PCAWhitener.transform of other data with the training mean and directions: all D "
    "components, and k = 2",
)
def pca_transform(s, rng):
    x_fit, mean, q = correlated(rng, 150, 4)
    x_other = mean + 1.5 + rng.standard_normal((20, 4)) @ q.T
    calls = [("transform", x_other, {}), ("transform", x_other, {"k": 2})]
    res = fit_and_apply(
        s, "PCAWhitener", {}, x_fit, calls, ("mean_", "eigenvalues_", "eigenvectors_")
    )
    mu, lam, u = pca_oracle(x_fit)
    for j, k in enumerate([None, 2]):
        expected = (x_other - mu) @ u[:, :k]
        check_projection(
            res["outputs"][j],
            expected,
            res["what"][1 + j],
            pca_transform_mistakes(x_other, mu, lam, u, k, x_fit),
        )


# -- whitening ----------------------------------------------------------------------------------


def whiten_oracle(x, mu, lam, u, eps, k=None):
    return (np.asarray(x, dtype=np.float64) - mu) @ u[:, :k] / np.sqrt(lam[:k] + eps)


def whiten_mistakes(x, mu, lam, u, eps, k=None) -> dict:
    p = (np.asarray(x, dtype=np.float64) - mu) @ u[:, :k]
    with np.errstate(divide="ignore", invalid="ignore"):
        return {
            "divide by the square roots sqrt(eigenvalue + eps), not by the eigenvalues": p
            / (lam[:k] + eps),
            "eps goes inside the square root: sqrt(eigenvalue + eps)": p / (np.sqrt(lam[:k]) + eps),
            "eps is missing: divide by sqrt(eigenvalue + eps)": p / np.sqrt(lam[:k]),
            "the whitened projection must be divided, not multiplied, by the square roots": p
            * np.sqrt(lam[:k] + eps),
        }


def zca_mistakes(x, mu, lam, u, eps) -> dict:
    w = whiten_oracle(x, mu, lam, u, eps)
    lam = np.clip(lam, 0.0, None)  # rounding can leave a zero eigenvalue slightly negative
    return {
        "rotate back with the transposed eigenvector matrix, eigenvectors_.T": w @ u,
        "that is the PCA-whitened data: zca rotates it back to the original axes": w,
        "eps goes inside the square root: sqrt(eigenvalue + eps)": (
            (np.asarray(x) - mu) @ u / (np.sqrt(lam) + eps)
        )
        @ u.T,
    }


def expect_covariance(z, expected, what: str, hint=None) -> None:
    z = as_matrix(z, what)
    cov = z.T @ z / len(z)  # the data is centred by construction (training data)
    close(cov, expected, f"the covariance (1/N) Z^T Z of {what}", hint, rtol=1e-6, atol=1e-8)


def check_whitening(s, x_fit, x_other, eps, k=None) -> None:
    kwargs = {"eps": eps}
    kk = {} if k is None else {"k": k}
    calls = [
        ("whiten", x_fit, kk),
        ("whiten", x_other, kk),
        ("zca", x_fit, {}),
        ("zca", x_other, {}),
    ]
    res = fit_and_apply(
        s, "PCAWhitener", kwargs, x_fit, calls, ("mean_", "eigenvalues_", "eigenvectors_")
    )
    what = res["what"]
    mu, lam, u = pca_oracle(x_fit)
    ratio = lam[:k] / (lam[:k] + eps)
    hint_cov = (
        "whitening divides direction j by sqrt(eigenvalue_j + eps), so the whitened training "
        "data has covariance diag(eigenvalue / (eigenvalue + eps)): the identity when eps = 0"
    )
    z_fit = as_matrix(res["outputs"][0], what[1])
    expect_equal(z_fit.shape, (len(x_fit), len(ratio)), f"shape of {what[1]}")
    expect_covariance(z_fit, np.diag(ratio), what[1], hint_cov)
    check_projection(
        res["outputs"][1],
        whiten_oracle(x_other, mu, lam, u, eps, k),
        what[2],
        whiten_mistakes(x_other, mu, lam, u, eps, k),
    )
    full = lam / (lam + eps)
    expect_covariance(res["outputs"][2], u @ np.diag(full) @ u.T, what[3], hint_cov)
    close(
        res["outputs"][3],
        whiten_oracle(x_other, mu, lam, u, eps) @ u.T,
        what[4],
        mistakes=zca_mistakes(x_other, mu, lam, u, eps),
        rtol=1e-6,
        atol=1e-8,
    )


@check(
    "whitening",
    "PCAWhitener(eps=0): whiten and zca give the training data the identity covariance; "
    "other data is whitened with the training statistics",
)
def whitening_identity(s, rng):
    x_fit, mean, q = correlated(rng, 120, 4)
    x_other = mean - 1.0 + rng.standard_normal((15, 4)) @ q.T
    check_whitening(s, x_fit, x_other, eps=0.0)


@check(
    "whitening",
    "PCAWhitener(eps=0.3): covariance diag(lambda / (lambda + eps)) for the training data, "
    "whiten(x, k=3) and zca of other data",
)
def whitening_eps(s, rng):
    x_fit, mean, q = correlated(rng, 150, 5)
    x_other = mean + rng.standard_normal((10, 5)) @ q.T
    check_whitening(s, x_fit, x_other, eps=0.3, k=3)


# -- fans and gains ------------------------------------------------------------------------------


def torch_fans(shape) -> tuple[int, int]:
    return nn.init._calculate_fan_in_and_fan_out(torch.empty(tuple(shape), device="meta"))


def check_fans(s, shape) -> None:
    what = f"fan_in_and_fan_out({fmt_shape(shape)})"
    got = call(s, what, "fan_in_and_fan_out", tuple(shape))
    expected = torch_fans(shape)
    if not isinstance(got, tuple | list) or len(got) != 2:
        raise CheckFailure(f"{what} must return a tuple (fan_in, fan_out), got {describe(got)}")
    for v in got:
        ok = isinstance(v, int | float) and not isinstance(v, bool) and float(v).is_integer()
        expect(ok, f"{what} returned {tuple(got)!r}: expected two integers")
    got = (int(got[0]), int(got[1]))
    if got == expected:
        return
    receptive = math.prod(shape[2:])
    hint = None
    if got == expected[::-1]:
        hint = "fan_in and fan_out are swapped: for (out_features, in_features) fan_in is shape[1]"
    elif got == (shape[1], shape[0]):
        hint = "the receptive field is missing: multiply both by the product of shape[2:]"
    elif got == (shape[1] * receptive, shape[0]):
        hint = "fan_out also includes the receptive field: shape[0] * prod(shape[2:])"
    raise CheckFailure(f"{what} returned {got}, expected {expected} (as torch.nn.init)", hint)


FAN_SHAPES = [(10, 20), (1, 1), (64, 3, 7, 7), (32, 16, 5), (8, 4, 3, 3, 3), (128, 64, 1, 1)]


@check(
    "fans",
    "fan_in_and_fan_out for linear (M, D) and conv1d/2d/3d kernels matches torch.nn.init",
)
def fans_basic(s, rng):
    for shape in FAN_SHAPES:
        check_fans(s, shape)


GAIN_NAMES = ["linear", "conv1d", "conv2d", "conv3d", "sigmoid", "tanh", "relu", "selu"]


def check_gain(s, name, param=None, pass_param=False) -> None:
    args = (name, param) if pass_param else (name,)
    what = f"calculate_gain({', '.join(map(repr, args))})"
    got = call(s, what, "calculate_gain", *args)
    expected = float(nn.init.calculate_gain(name, param))
    if isinstance(got, np.ndarray) and got.shape == ():
        got = float(got)
    if isinstance(got, bool) or not isinstance(got, int | float):
        raise CheckFailure(f"{what} must return a number, got {describe(got)}")
    slope = 0.01 if param is None else param
    mistakes = {
        "the gain multiplies a standard deviation: for ReLU it is sqrt(2), not 2": 2.0,
        "tanh's gain is 5/3": 3.0 / 5.0,
        "square the slope: sqrt(2 / (1 + a**2))": math.sqrt(2.0 / (1.0 + slope)),
        "param=None means the default slope 0.01; a slope of 0 (a plain ReLU) gives "
        "sqrt(2)": math.sqrt(2.0 / (1.0 + (0.01 if param == 0 else 0.0))),
        "only the linear functions (linear, conv*) and sigmoid have gain 1": 1.0,
        "that is the square of the gain": expected**2,
        "that is 1 / gain": 1.0 / expected,
    }
    if math.isclose(got, expected, rel_tol=1e-9, abs_tol=1e-12):
        return
    hint = next(
        (h for h, v in mistakes.items() if math.isclose(got, v, rel_tol=1e-9, abs_tol=1e-12)),
        None,
    )
    raise CheckFailure(
        f"{what} returned {got!r}, expected {expected!r} (torch.nn.init.calculate_gain)", hint
    )


@check(
    "gain",
    "calculate_gain for linear, conv1d/2d/3d, sigmoid, tanh, relu, selu, and leaky_relu with "
    "the default slope and with 0.2, matches torch.nn.init.calculate_gain",
)
def gain_basic(s, rng):
    for name in GAIN_NAMES:
        check_gain(s, name)
    check_gain(s, "leaky_relu")
    check_gain(s, "leaky_relu", 0.2, pass_param=True)


# -- statistical checks of random weights --------------------------------------------------------

#: Standard errors a correct implementation may deviate by (two-sided, about 2e-9 each).
Z = 6.0
#: Probability bound of the distribution test (Dvoretzky-Kiefer-Wolfowitz, Massart's constant).
KS_ALPHA = 1e-9
#: Excess kurtosis + 1, i.e. Var(w^2) / std^4 + 1, of the two distributions.
KURTOSIS = {"uniform": 1.8, "normal": 3.0}


def _cdf(sorted_w: np.ndarray, dist: str, std: float) -> np.ndarray:
    if dist == "uniform":
        b = math.sqrt(3.0) * std
        return np.clip((sorted_w + b) / (2.0 * b), 0.0, 1.0)
    return torch.special.ndtr(torch.from_numpy(sorted_w / std)).numpy()


def ks_distance(w: np.ndarray, dist: str, std: float) -> float:
    x = np.sort(w)
    cdf = _cdf(x, dist, std)
    n = len(x)
    upper = np.arange(1, n + 1) / n - cdf
    lower = cdf - np.arange(0, n) / n
    return float(max(upper.max(), lower.max()))


def _factor_hint(ratio: float) -> str | None:
    for label, f in [
        ("sqrt(2)", math.sqrt(2.0)),
        ("2", 2.0),
        ("sqrt(3)", math.sqrt(3.0)),
        ("3", 3.0),
    ]:
        for up, r in [(True, f), (False, 1.0 / f)]:
            if abs(ratio / r - 1.0) < 0.02:
                word = "large" if up else "small"
                return f"the standard deviation is {label} times too {word}"
    return None


def check_weights(w, *, shape, dist: str, std: float, what: str, wrong=None) -> None:
    """``w`` must look like ``shape`` draws from ``dist`` with standard deviation ``std``.

    ``wrong`` maps a description of a mistake to the standard deviation that mistake gives; when
    the measured one matches, the description becomes the hint.
    """
    if isinstance(w, Remote) or not isinstance(w, np.ndarray):
        raise CheckFailure(f"{what}: expected a NumPy array, got {describe(w)}")
    if w.shape != tuple(shape):
        raise CheckFailure(f"{what}: shape {w.shape}, expected {fmt_shape(shape)}")
    if w.dtype != np.float64:
        raise CheckFailure(f"{what}: dtype {w.dtype}, expected float64")
    flat = w.ravel()
    if not np.all(np.isfinite(flat)):
        raise CheckFailure(f"{what}: contains inf or nan")
    n = flat.size
    kappa = KURTOSIS[dist]
    if flat.min() >= 0.0 and n > 10:
        raise CheckFailure(
            f"{what}: all {n} values are >= 0", "draw symmetrically around 0: from -b to b"
        )
    mean, se = float(flat.mean()), std / math.sqrt(n)
    if abs(mean) > Z * se:
        raise CheckFailure(
            f"{what}: the mean of the {n} values is {mean:.4g}; expected 0 (a correct "
            f"implementation stays within +-{Z * se:.2g})"
        )
    m2 = float(np.mean(flat * flat))
    rel = math.sqrt((kappa - 1.0) / n)
    if abs(m2 / std**2 - 1.0) > Z * rel:
        # Every mistake whose standard deviation the measured one matches, the closest first:
        # two mistakes can give nearly the same one for a shape, and noise cannot tell them apart.
        fits = sorted(
            (abs(m2 / s_wrong**2 - 1.0), description)
            for description, s_wrong in (wrong or {}).items()
            if s_wrong > 0 and abs(m2 / s_wrong**2 - 1.0) <= Z * rel
        )
        hint = "; or ".join(d for _, d in fits) or None
        measured = math.sqrt(m2)
        raise CheckFailure(
            f"{what}: the {n} values have a standard deviation of {measured:.5g}; expected "
            f"{std:.5g} (a correct implementation lands within about +-{50 * Z * rel:.1f}% of "
            "it for any seed)",
            hint or _factor_hint(measured / std),
        )
    if dist == "uniform":
        b = math.sqrt(3.0) * std
        top = float(np.abs(flat).max())
        if top > b * (1.0 + 1e-9):
            raise CheckFailure(
                f"{what}: values reach {top:.6g}, beyond the bound b = {b:.6g}",
                "draw from U(-b, b) with b = sqrt(3) * std",
            )
        slack = b * 50.0 / n  # P(no value within it of the bound) < exp(-25)
        if flat.max() < b - slack or -flat.min() < b - slack:
            raise CheckFailure(
                f"{what}: the values range from {flat.min():.6g} to {flat.max():.6g}; with {n} "
                f"draws from U(-b, b), b = {b:.6g}, they come within {slack:.2g} of both bounds"
            )
    distance = ks_distance(flat, dist, std)
    limit = math.sqrt(math.log(2.0 / KS_ALPHA) / (2.0 * n))
    if distance > limit:
        kurt = float(np.mean(flat**4)) / m2**2
        hint = None
        if dist == "uniform" and kurt > 2.4:
            hint = "the values look normally distributed: draw with rng.uniform(-b, b, size=...)"
        elif dist == "normal" and kurt < 2.4:
            hint = "the values look uniformly distributed: draw with rng.normal(0, std, size=...)"
        raise CheckFailure(
            f"{what}: the values do not follow a {dist} distribution with standard deviation "
            f"{std:.5g}: the largest gap between their empirical CDF and the expected one is "
            f"{distance:.3g} (sampling noise stays below {limit:.3g})",
            hint,
        )


def draw(s, name: str, shape, kwargs: dict, seeds: list[int]) -> list:
    args = ", ".join([fmt_shape(shape)] + [f"{k}={v!r}" for k, v in kwargs.items()])
    what = f"{name}({args}, rng=np.random.default_rng(seed))"
    out = run(s, what, lambda: s.probe("a2_init.draw", name, list(shape), kwargs, seeds))
    return out, what


def check_init(s, rng, name, shape, kwargs, dist, std, wrong) -> None:
    (w,), what = draw(s, name, shape, kwargs, [seed_of(rng)])
    check_weights(w, shape=shape, dist=dist, std=std, what=what, wrong=wrong)


def check_uses_rng(s, rng, name: str, shape, kwargs=None) -> None:
    a = seed_of(rng)
    b = (a + 1 + seed_of(rng)) % (2**31 - 1)
    (w1, w2, w3), what = draw(s, name, shape, kwargs or {}, [a, a, b])
    for w in (w1, w2, w3):
        if isinstance(w, Remote) or not isinstance(w, np.ndarray):
            raise CheckFailure(f"{what}: expected a NumPy array, got {describe(w)}")
        expect_equal(w.shape, tuple(shape), f"shape of {what}")
    expect(
        np.array_equal(w1, w2),
        f"{what}: two calls with generators seeded alike returned different arrays",
        "draw only from the rng argument, never from np.random.* or a new default_rng()",
    )
    expect(
        not np.array_equal(w1, w3),
        f"{what}: generators with different seeds gave the same array",
        "the values must be drawn from rng",
    )


def xavier_std(shape, gain) -> float:
    fi, fo = torch_fans(shape)
    return gain * math.sqrt(2.0 / (fi + fo))


def xavier_wrong(shape, gain, dist) -> dict:
    fi, fo = torch_fans(shape)
    std = xavier_std(shape, gain)
    wrong = {
        "that is gain / sqrt(fan_in) (LeCun): Xavier uses 2 / (fan_in + fan_out)": gain
        / math.sqrt(fi),
        "the factor 2 of 2 / (fan_in + fan_out) is missing": gain / math.sqrt(fi + fo),
        "that is a variance used as a standard deviation: take the square root": gain
        * 2.0
        / (fi + fo),
        "the receptive field is missing from the fans (use fan_in_and_fan_out)": gain
        * math.sqrt(2.0 / (shape[0] + shape[1])),
        "the gain is missing": std / gain,
        "the gain is squared": std * gain,
    }
    if dist == "uniform":
        wrong[
            "the bound b is sqrt(3) * std: U(-std, std) has a standard deviation of std / sqrt(3)"
        ] = std / math.sqrt(3.0)
        wrong["the square root is missing: b = gain * sqrt(6 / (fan_in + fan_out))"] = (
            gain * 6.0 / (fi + fo) / math.sqrt(3.0)
        )
    return {k: v for k, v in wrong.items() if abs(v / std - 1.0) > 0.05}


def kaiming_oracle_std(shape, a=0.0, mode="fan_in", nonlinearity="leaky_relu") -> float:
    fi, fo = torch_fans(shape)
    gain = nn.init.calculate_gain(nonlinearity, a)
    return gain / math.sqrt(fi if mode == "fan_in" else fo)


def kaiming_wrong(shape, a, mode, nonlinearity, dist) -> dict:
    fi, fo = torch_fans(shape)
    gain = float(nn.init.calculate_gain(nonlinearity, a))
    fan, other = (fi, fo) if mode == "fan_in" else (fo, fi)
    raw = shape[1] if mode == "fan_in" else shape[0]
    std = gain / math.sqrt(fan)
    wrong = {
        f"used {'fan_out' if mode == 'fan_in' else 'fan_in'} instead of {mode}": gain
        / math.sqrt(other),
        "the gain is missing: for ReLU the variance is 2 / fan, i.e. std sqrt(2 / fan)": 1.0
        / math.sqrt(fan),
        "a variance used as a standard deviation: std = gain / sqrt(fan)": gain**2 / fan,
        "the square root is missing: std = gain / sqrt(fan), not gain / fan": gain / fan,
        "the gain is squared: std = gain / sqrt(fan)": gain**2 / math.sqrt(fan),
        "the receptive field is missing from the fans (use fan_in_and_fan_out)": gain
        / math.sqrt(raw),
        "the negative slope a was ignored: pass it to calculate_gain": float(
            nn.init.calculate_gain(nonlinearity)
        )
        / math.sqrt(fan),
        "that is the Xavier rule, 2 / (fan_in + fan_out)": gain * math.sqrt(2.0 / (fi + fo)),
    }
    if dist == "uniform":
        wrong[
            "the bound b is sqrt(3) * std: U(-std, std) has a standard deviation of std / sqrt(3)"
        ] = std / math.sqrt(3.0)
    return {k: v for k, v in wrong.items() if abs(v / std - 1.0) > 0.05}


def check_xavier(s, rng, dist, shape, gain=None) -> None:
    name = f"xavier_{dist}"
    kwargs = {} if gain is None else {"gain": gain}
    g = 1.0 if gain is None else gain
    check_init(
        s, rng, name, shape, kwargs, dist, xavier_std(shape, g), xavier_wrong(shape, g, dist)
    )


def check_kaiming(s, rng, dist, shape, **kwargs) -> None:
    name = f"kaiming_{dist}"
    a = kwargs.get("a", 0.0)
    mode = kwargs.get("mode", "fan_in")
    nl = kwargs.get("nonlinearity", "leaky_relu")
    std = kaiming_oracle_std(shape, a, mode, nl)
    check_init(s, rng, name, shape, kwargs, dist, std, kaiming_wrong(shape, a, mode, nl, dist))


@check(
    "xavier_uniform",
    "xavier_uniform((250, 400)): 100,000 draws with mean 0, std sqrt(2 / 650), inside and "
    "filling (-b, b), uniform",
)
def xavier_uniform_linear(s, rng):
    check_xavier(s, rng, "uniform", (250, 400))


@check(
    "xavier_uniform",
    "xavier_uniform((32, 16, 5, 5), gain=5/3): the fans include the 5 x 5 receptive field",
)
def xavier_uniform_conv(s, rng):
    check_xavier(s, rng, "uniform", (32, 16, 5, 5), gain=5.0 / 3.0)
    check_uses_rng(s, rng, "xavier_uniform", (3, 4))


@check(
    "xavier_normal",
    "xavier_normal((300, 200)): 60,000 draws with mean 0, std sqrt(2 / 500), normal",
)
def xavier_normal_linear(s, rng):
    check_xavier(s, rng, "normal", (300, 200))


@check(
    "xavier_normal",
    "xavier_normal((64, 32, 7), gain=sqrt(2)) for a 1-D convolution; the same seed gives the "
    "same weights",
)
def xavier_normal_conv(s, rng):
    check_xavier(s, rng, "normal", (64, 32, 7), gain=math.sqrt(2.0))
    check_uses_rng(s, rng, "xavier_normal", (4, 3))


@check(
    "kaiming_uniform",
    "kaiming_uniform((256, 512)) with the defaults (leaky_relu, a = 0: gain sqrt(2), fan_in): "
    "std sqrt(2 / 512), inside and filling (-b, b)",
)
def kaiming_uniform_defaults(s, rng):
    check_kaiming(s, rng, "uniform", (256, 512))


@check(
    "kaiming_uniform",
    "kaiming_uniform on conv kernels: (128, 64, 3, 3) with mode='fan_out', "
    "nonlinearity='relu', and (64, 32, 3, 3) with a leaky ReLU of slope a = 0.5",
)
def kaiming_uniform_conv(s, rng):
    check_kaiming(s, rng, "uniform", (128, 64, 3, 3), mode="fan_out", nonlinearity="relu")
    check_kaiming(s, rng, "uniform", (64, 32, 3, 3), a=0.5)
    check_uses_rng(s, rng, "kaiming_uniform", (5, 2))


@check(
    "kaiming_normal",
    "kaiming_normal((400, 250), nonlinearity='relu'): std sqrt(2 / 250), normal",
)
def kaiming_normal_relu(s, rng):
    check_kaiming(s, rng, "normal", (400, 250), nonlinearity="relu")


@check(
    "kaiming_normal",
    "kaiming_normal on conv kernels: (96, 48, 3, 3) with mode='fan_out', and (32, 64, 3, 3) "
    "with a = 0.5; the same seed gives the same weights",
)
def kaiming_normal_conv(s, rng):
    check_kaiming(s, rng, "normal", (96, 48, 3, 3), mode="fan_out")
    check_kaiming(s, rng, "normal", (32, 64, 3, 3), a=0.5)
    check_uses_rng(s, rng, "kaiming_normal", (2, 6))


# -- layer statistics ---------------------------------------------------------------------------

ACTIVATIONS = {
    "linear": lambda z: z,
    "tanh": np.tanh,
    "relu": lambda z: np.maximum(z, 0.0),
}


def stats_oracle(x, weights, activation, *, pre=False, ddof=0, last=True, transpose=True):
    f = ACTIVATIONS[activation]
    h = np.asarray(x, dtype=np.float64)
    out = {"mean": [], "std": [], "rms": []}
    for i, w in enumerate(weights):
        z = h @ (w.T if transpose else w)
        h = z if (not last and i == len(weights) - 1) else f(z)
        shown = z if pre else h
        out["mean"].append(shown.mean())
        out["std"].append(shown.std(ddof=ddof))
        out["rms"].append(np.sqrt(np.mean(shown**2)))
    return {k: np.array(v) for k, v in out.items()}


def stats_mistakes(x, weights, activation) -> dict[str, dict]:
    out = {
        "these are the statistics of the pre-activations h W^T: summarise the activations "
        "f(h W^T)": stats_oracle(x, weights, activation, pre=True),
        "the standard deviation is the biased one (np.std's default, ddof=0)": stats_oracle(
            x, weights, activation, ddof=1
        ),
        "the activation must also be applied after the last layer": stats_oracle(
            x, weights, activation, last=False
        ),
    }
    if all(w.shape[0] == w.shape[1] for w in weights):
        out["weights are (out_features, in_features): compute h @ w.T, not h @ w"] = stats_oracle(
            x, weights, activation, transpose=False
        )
    return out


def check_layer_stats(s, x, weights, activation) -> None:
    shapes = ", ".join(fmt_shape(w.shape) for w in weights)
    what = f"layer_stats(x of shape {fmt_shape(x.shape)}, weights of shapes [{shapes}], {activation!r})"
    res = call(s, what, "layer_stats", x, list(weights), activation)
    expected = stats_oracle(x, weights, activation)
    mistakes = stats_mistakes(x, weights, activation)
    for key in ("mean", "std", "rms"):
        got = field(res, key, what)
        hints = {h: m[key] for h, m in mistakes.items() if not np.allclose(m[key], expected[key])}
        if key == "rms":
            hints["the root mean square is sqrt(mean(h ** 2)), not the standard deviation"] = (
                expected["std"]
            )
        if key == "std":
            hints["that is the root mean square: the std subtracts the mean first"] = expected[
                "rms"
            ]
        if np.shape(got) == (len(weights) + 1,):
            raise CheckFailure(
                f"{what}[{key!r}]: {len(weights) + 1} entries for {len(weights)} layers",
                "report the output of every layer, not the input",
            )
        close(got, expected[key], f"{what}[{key!r}]", mistakes=hints, rtol=1e-8, atol=1e-12)


def random_weights(rng, sizes, scale=1.0):
    return [
        scale * rng.standard_normal((sizes[i + 1], sizes[i])) / math.sqrt(sizes[i])
        for i in range(len(sizes) - 1)
    ]


@check(
    "layer_stats",
    "layer_stats through 3 layers of different widths with tanh and with relu: mean, std and "
    "rms of each layer's activations",
)
def layer_stats_basic(s, rng):
    x = rng.standard_normal((50, 20))
    weights = random_weights(rng, [20, 30, 25, 10], scale=1.5)
    check_layer_stats(s, x, weights, "tanh")
    check_layer_stats(s, x, weights, "relu")


@check(
    "layer_stats",
    "layer_stats through 8 square layers (16 x 16) with 'linear' and 'relu'",
)
def layer_stats_square(s, rng):
    x = rng.standard_normal((30, 16)) + 0.5
    weights = random_weights(rng, [16] * 9, scale=1.2)
    check_layer_stats(s, x, weights, "linear")
    check_layer_stats(s, x, weights, "relu")


# -- PyTorch initialisers ----------------------------------------------------------------------

TORCH_DTYPES = {"float32": torch.float32, "float64": torch.float64}


def torch_reference(fn_name, shape, dtype, kwargs, seed):
    t = torch.empty(tuple(shape), dtype=TORCH_DTYPES[dtype])
    gen = torch.Generator().manual_seed(int(seed))
    return getattr(nn.init, fn_name)(t, generator=gen, **kwargs).numpy()


def torch_mistakes(kind: str, dist: str, shape, dtype, kwargs, seed) -> dict:
    """What common mistakes produce from the same generator state."""
    if kind == "xavier":
        std = xavier_std(shape, kwargs.get("gain", 1.0))
    else:
        std = kaiming_oracle_std(shape, **kwargs)
    gen = lambda: torch.Generator().manual_seed(int(seed))  # noqa: E731
    t = lambda: torch.empty(tuple(shape), dtype=TORCH_DTYPES[dtype])  # noqa: E731
    out = {}
    if dist == "uniform":
        b = math.sqrt(3.0) * std
        out["the bound is sqrt(3) * std"] = t().uniform_(-std, std, generator=gen()).numpy()
        out["drew from U(0, b): the interval is (-b, b)"] = (
            t().uniform_(0.0, b, generator=gen()).numpy()
        )
        out["drew a normal distribution: use tensor.uniform_"] = (
            t().normal_(0.0, std, generator=gen()).numpy()
        )
    else:
        out["a variance used as the standard deviation"] = (
            t().normal_(0.0, std**2, generator=gen()).numpy()
        )
        out["drew a uniform distribution: use tensor.normal_"] = (
            t().uniform_(-math.sqrt(3.0) * std, math.sqrt(3.0) * std, generator=gen()).numpy()
        )
    if kind == "kaiming":
        mode = kwargs.get("mode", "fan_in")
        other = dict(kwargs, mode="fan_out" if mode == "fan_in" else "fan_in")
        out["used the other fan: check mode"] = torch_reference(
            f"kaiming_{dist}_", shape, dtype, other, seed
        )
        if kwargs.get("a"):
            out["the negative slope a was ignored"] = torch_reference(
                f"kaiming_{dist}_", shape, dtype, dict(kwargs, a=0.0), seed
            )
    return out


def check_torch_init(s, kind, dist, shape, dtype, kwargs, seed, parameter=False) -> None:
    name = f"init_{kind}_{dist}_"
    args = ", ".join(f"{k}={v!r}" for k, v in kwargs.items())
    tensor = (
        f"{'an nn.Parameter' if parameter else 'a tensor'} of shape {fmt_shape(shape)}, {dtype}"
    )
    what = f"{name}({tensor}{', ' + args if args else ''}, generator=g)"
    res = run(
        s,
        what,
        lambda: s.probe("a2_init.torch_init", name, list(shape), dtype, kwargs, seed, parameter),
    )
    expect(
        res["same_object"] is True,
        f"{what} returned {res['returned_kind']}; expected the tensor it was given",
        "fill the tensor in place and `return tensor`",
    )
    expect(
        res["requires_grad"] == parameter,
        f"{what}: requires_grad changed to {res['requires_grad']}",
        "fill the values under torch.no_grad(), without detaching or replacing the tensor",
    )
    values = res["values"]
    if np.isnan(values).any():
        raise CheckFailure(
            f"{what}: some entries were not filled (they are still nan)",
            "fill the whole tensor in place with tensor.uniform_ or tensor.normal_",
        )
    expected = torch_reference(f"{kind}_{dist}_", shape, dtype, kwargs, seed)
    try:
        expect_close(values, expected, what, rtol=1e-6, atol=1e-9)
    except CheckFailure as err:
        mistakes = torch_mistakes(kind, dist, shape, dtype, kwargs, seed)
        hint = next(
            (h for h, m in mistakes.items() if np.allclose(values, m, rtol=1e-6, atol=1e-9)),
            None,
        )
        if hint is None and values.std() > 0:
            ratio = float(values.std() / expected.std())
            if abs(ratio - 1.0) < 0.05:
                hint = (
                    "the scale is right but the numbers differ from torch.nn.init's for the "
                    "same generator: draw once, with tensor.uniform_(-bound, bound, "
                    "generator=generator) or tensor.normal_(0.0, std, generator=generator)"
                )
            else:
                hint = _factor_hint(ratio)
        raise CheckFailure(
            err.message + " (expected: torch.nn.init with the same generator state)", hint
        ) from None


@check(
    "torch_xavier",
    "init_xavier_uniform_ on a float32 (64, 100) tensor and init_xavier_normal_ on an "
    "nn.Parameter (16, 8, 3, 3) with gain 5/3: in place, the same values as torch.nn.init",
)
def torch_xavier_basic(s, rng):
    check_torch_init(s, "xavier", "uniform", (64, 100), "float32", {}, seed_of(rng))
    check_torch_init(
        s,
        "xavier",
        "normal",
        (16, 8, 3, 3),
        "float64",
        {"gain": 5.0 / 3.0},
        seed_of(rng),
        parameter=True,
    )


@check(
    "torch_xavier",
    "init_xavier_uniform_ on an nn.Parameter (10, 6, 5) and init_xavier_normal_ on a float32 "
    "(30, 40) tensor",
)
def torch_xavier_more(s, rng):
    check_torch_init(
        s, "xavier", "uniform", (10, 6, 5), "float32", {"gain": 0.5}, seed_of(rng), True
    )
    check_torch_init(s, "xavier", "normal", (30, 40), "float32", {}, seed_of(rng))


@check(
    "torch_kaiming",
    "init_kaiming_uniform_ on an nn.Parameter (32, 64) with the defaults, and on a (16, 8, 5, 5) "
    "kernel with mode='fan_out', nonlinearity='relu'",
)
def torch_kaiming_uniform(s, rng):
    check_torch_init(s, "kaiming", "uniform", (32, 64), "float32", {}, seed_of(rng), True)
    check_torch_init(
        s,
        "kaiming",
        "uniform",
        (16, 8, 5, 5),
        "float32",
        {"mode": "fan_out", "nonlinearity": "relu"},
        seed_of(rng),
    )


@check(
    "torch_kaiming",
    "init_kaiming_normal_ with a = 0.2 on a float64 (50, 30) tensor, and with "
    "nonlinearity='tanh', mode='fan_out' on an nn.Parameter (12, 4, 3)",
)
def torch_kaiming_normal(s, rng):
    check_torch_init(s, "kaiming", "normal", (50, 30), "float64", {"a": 0.2}, seed_of(rng))
    check_torch_init(
        s,
        "kaiming",
        "normal",
        (12, 4, 3),
        "float32",
        {"nonlinearity": "tanh", "mode": "fan_out"},
        seed_of(rng),
        True,
    )


# -- init_model_ --------------------------------------------------------------------------------

LAYER_TYPES = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d)


def oracle_model(spec, scheme, seed, std=0.01) -> tuple[dict, dict]:
    """Parameters after initialising ``build_model(spec)`` with ``torch.nn.init``, and for every
    parameter name the type of the module that owns it."""
    model = build_model(spec)
    gen = torch.Generator().manual_seed(int(seed))
    fill = {
        "xavier_uniform": lambda w: nn.init.xavier_uniform_(w, generator=gen),
        "xavier_normal": lambda w: nn.init.xavier_normal_(w, generator=gen),
        "kaiming_uniform": lambda w: nn.init.kaiming_uniform_(
            w, nonlinearity="relu", generator=gen
        ),
        "kaiming_normal": lambda w: nn.init.kaiming_normal_(w, nonlinearity="relu", generator=gen),
        "normal": lambda w: nn.init.normal_(w, 0.0, std, generator=gen),
    }[scheme]
    owners = {}
    for prefix, m in model.named_modules():
        for pname, _ in m.named_parameters(recurse=False):
            owners[f"{prefix}.{pname}" if prefix else pname] = type(m).__name__
        if isinstance(m, LAYER_TYPES):
            fill(m.weight)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
    params = {n: p.detach().numpy().copy() for n, p in model.named_parameters()}
    return params, owners


def check_init_model(s, spec, scheme, seed, std=None) -> None:
    kwargs = {} if std is None else {"std": std}
    extra = f", std={std!r}" if std is not None else ""
    what = f"init_model_(model, {scheme!r}, generator=g{extra})"
    res = run(s, what, lambda: s.probe("a2_init.init_model", spec, scheme, seed, kwargs))
    if res.get("failed"):
        raise student_failure(what, res["error"])
    expect(
        res["same_object"] is True,
        f"{what} returned {res['returned_kind']}; expected the model it was given",
        "initialise in place and `return model`",
    )
    expect(
        res["requires_grad"] is True,
        f"{what}: some parameters no longer require gradients",
        "fill the existing parameters under torch.no_grad() instead of replacing them",
    )
    expected, owners = oracle_model(spec, scheme, seed, 0.01 if std is None else std)
    before = {n: p.detach().numpy() for n, p in build_model(spec).named_parameters()}
    got = res["params"]
    expect_equal(sorted(got), sorted(expected), f"{what}: the model's parameter names")
    for pname, exp in expected.items():
        value = got[pname]
        owner = owners[pname]
        label = f"{pname} (of {'an' if owner[:1] in 'AEIOU' else 'a'} {owner}) after {what}"
        if np.allclose(value, exp, rtol=1e-6, atol=1e-9):
            continue
        layer = owner in {t.__name__ for t in LAYER_TYPES}
        nested = pname.count(".") > 1  # "3.0.weight": a layer inside a block of the model
        hint = None
        if not layer:
            hint = (
                f"{'an' if owner[:1] in 'AEIOU' else 'a'} {owner} must be left unchanged: "
                "initialise nn.Linear and nn.Conv1d/2d/3d layers by their type, not every "
                "parameter with 2 dimensions"
            )
        elif np.array_equal(value, before[pname]) and nested:
            hint = (
                "this layer was not initialised: it sits inside a nested module, so walk "
                "model.modules() (recursive), not model.children()"
            )
        elif pname.endswith("bias"):
            hint = "set every bias of a linear or convolutional layer to zero"
        elif np.array_equal(value, before[pname]):
            hint = "this layer's weight was left as PyTorch created it: initialise every layer"
        else:
            hint = (
                "other numbers than torch.nn.init draws with the same generator: initialise the "
                "layers in the order of model.modules(), one draw per weight, with the scheme's "
                "documented settings"
            )
        close(value, exp, label, hint, rtol=1e-6, atol=1e-9)


MLP = [
    ["linear", 20, 30, True],
    ["relu"],
    ["linear", 30, 30, True],
    ["relu"],
    ["linear", 30, 5, True],
]
CNN = [
    ["conv2d", 3, 8, 3, True],
    ["bn2d", 8],
    ["relu"],
    ["seq", [["conv2d", 8, 8, 3, False], ["relu"], ["conv2d", 8, 4, 1, True]]],
    ["linear", 36, 10, True],
]


@check(
    "init_model",
    "init_model_ with 'kaiming_normal' on a 3-layer MLP: the same weights as torch.nn.init "
    "(layer by layer, one generator), zero biases, the model returned",
)
def init_model_mlp(s, rng):
    check_init_model(s, MLP, "kaiming_normal", seed_of(rng))


@check(
    "init_model",
    "init_model_ with 'xavier_uniform' and 'normal' (std 0.05) on a small CNN with a nested "
    "block, a bias-free conv and batch norm (left unchanged)",
)
def init_model_cnn(s, rng):
    check_init_model(s, CNN, "xavier_uniform", seed_of(rng))
    check_init_model(s, CNN, "normal", seed_of(rng), std=0.05)
