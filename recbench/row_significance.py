"""Significance tests on two models' predictions for the same test rows.

Both tests keep the pairing: every model is scored on identical protocol rows, so the two
metrics are correlated, and treating them as independent would overstate the variance of the
difference and hide real improvements.

* :func:`delong_test` -- two *correlated* AUCs measured on the same test rows (DeLong,
  DeLong & Clarke-Pearson 1988), computed with the fast midrank algorithm of Sun & Xu
  (IEEE Signal Processing Letters 21(11), 2014) so a 1,000,000-row test set takes
  O(N log N) instead of the O(m*n) of the textbook definition; :func:`auc_variance` is the
  same estimate for one model.
* :func:`paired_bootstrap_logloss` -- LogLoss has no closed-form paired test, so the rows
  are resampled (the same rows for both models, which keeps the pairing).

The conventions of :mod:`recbench.stats` (callers import from there) hold here: ``log10_p``
never underflows, and a degenerate variance gives a NaN p with a ``reason`` instead of a false
discovery.

Example:
    >>> import numpy as np
    >>> labels = np.array([1, 1, 0, 0])
    >>> r = delong_test(labels, np.array([0.9, 0.4, 0.5, 0.1]), np.array([0.3, 0.8, 0.8, 0.2]))
    >>> round(r.auc_a, 3), round(r.auc_b, 3), round(r.z, 4)
    (0.75, 0.625, 0.3162)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import special

from recbench.errors import RecbenchError
from recbench.metrics import LOGLOSS_EPS, logloss

__all__ = ["BootstrapResult", "DeLongResult", "auc_variance", "delong_test", "paired_bootstrap_logloss"]

_LN10 = math.log(10.0)

# Upper bound on the number of bootstrap indices drawn at once (rows x resamples per chunk).
# 4M int64 indices plus their gathered float64 values is ~64 MB, whatever the test-set size.
_BOOT_CHUNK_ELEMENTS = 4_000_000


# --------------------------------------------------------------------------- results


@dataclass(frozen=True)
class DeLongResult:
    """Outcome of :func:`delong_test`.

    ``log10_p`` is the primary p-value field because the two-sided p of a large test
    set routinely underflows float64; ``p`` is derived from it. ``var_a``, ``var_b`` and
    ``cov_ab`` are the entries of the DeLong covariance matrix S = S10/m + S01/n, and
    ``var_diff`` = var_a + var_b - 2 cov_ab is the variance of ``auc_a - auc_b``.
    ``reason`` is None unless the test degenerated (see :mod:`recbench.stats`).
    """

    auc_a: float
    auc_b: float
    var_a: float
    var_b: float
    cov_ab: float
    var_diff: float
    z: float
    log10_p: float
    n_pos: int
    n_neg: int
    reason: str | None = None

    @property
    def p(self) -> float:
        """Two-sided p-value; 0.0 when it underflows (use ``log10_p`` to rank those)."""
        return float(10.0**self.log10_p) if not math.isnan(self.log10_p) else math.nan

    @property
    def diff(self) -> float:
        """``auc_a - auc_b``."""
        return self.auc_a - self.auc_b


@dataclass(frozen=True)
class BootstrapResult:
    """Outcome of :func:`paired_bootstrap_logloss`.

    ``mean_diff`` is the observed ``logloss_a - logloss_b`` on the full rows (negative means
    model A is better); ``ci_low``/``ci_high`` are the 2.5th/97.5th percentiles of the
    bootstrap distribution of that difference.
    """

    mean_diff: float
    ci_low: float
    ci_high: float
    p: float
    n_boot: int
    n_rows: int
    seed: int


# --------------------------------------------------------------------------- validation


def _as_labels(labels: object) -> np.ndarray:
    """Labels as a boolean positive-mask; anything other than 0/1 is a user error."""
    y = np.asarray(labels)
    if y.ndim != 1:
        raise RecbenchError(f"labels must be one-dimensional, got shape {y.shape}")
    if y.size == 0:
        raise RecbenchError("labels is empty; a significance test needs evaluated rows")
    if y.dtype == bool:
        return y
    if not np.issubdtype(y.dtype, np.number):
        raise RecbenchError(f"labels must be numeric 0/1, got dtype {y.dtype}")
    pos = y == 1
    if not np.all(pos | (y == 0)):
        raise RecbenchError("labels must contain only 0 and 1")
    return pos


def _as_scores(values: object, name: str, n: int) -> np.ndarray:
    """A finite 1-D float64 vector of length ``n``; NaN/inf would silently corrupt ranks."""
    x = np.asarray(values, dtype=np.float64)
    if x.ndim != 1:
        raise RecbenchError(f"{name} must be one-dimensional, got shape {x.shape}")
    if x.shape[0] != n:
        raise RecbenchError(f"{name} has {x.shape[0]} rows but labels has {n}")
    if not np.all(np.isfinite(x)):
        raise RecbenchError(f"{name} contains NaN or infinite values")
    return x


def _log10_two_sided_p(z: float) -> float:
    """log10 of 2 * Phi(-|z|), exact in the far tail where the p itself underflows."""
    return (math.log(2.0) + float(special.log_ndtr(-abs(z)))) / _LN10


# --------------------------------------------------------------------------- DeLong


def _midranks(x: np.ndarray) -> np.ndarray:
    """1-based ranks with ties given the mean of the positions they span (half-integers).

    Ties receive the same rank so that a tie between a positive and a negative counts
    one half, which is what the Mann-Whitney form of the AUC requires.
    """
    n = x.shape[0]
    order = np.argsort(x, kind="stable")
    xs = x[order]
    # Boundaries between runs of equal values in sorted order.
    cuts = np.flatnonzero(xs[1:] != xs[:-1]) + 1
    starts = np.concatenate(([0], cuts))
    ends = np.concatenate((cuts, [n]))
    # Positions starts+1 .. ends (1-based) average to (starts + 1 + ends) / 2.
    ranks_sorted = np.repeat((starts + ends + 1) / 2.0, ends - starts)
    ranks = np.empty(n, dtype=np.float64)
    ranks[order] = ranks_sorted
    return ranks


def _placement_counts(pos: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-row structural components, kept as (half-)integer counts so they are exact.

    For positive i: c10[i] = sum_j psi(x_i, y_j) = Tz_i - Tx_i, so V10_i = c10[i] / n.
    For negative j: c01[j] = sum_i psi(x_i, y_j) = m - (Tz_j - Ty_j), so V01_j = c01[j] / m.
    Keeping counts (exact in float64 below 2**52) means a constant component has exactly
    zero sample variance, so "identical models" is detected without a tolerance.
    """
    x = scores[pos]
    y = scores[~pos]
    m = x.shape[0]
    tz = _midranks(np.concatenate((x, y)))
    c10 = tz[:m] - _midranks(x)
    c01 = m - (tz[m:] - _midranks(y))
    return c10, c01


def _check_delong_inputs(labels: object, *scores: tuple[object, str]) -> tuple[np.ndarray, list[np.ndarray], int, int]:
    pos = _as_labels(labels)
    vectors = [_as_scores(s, name, pos.shape[0]) for s, name in scores]
    m = int(pos.sum())
    n = int(pos.shape[0] - m)
    if m < 2 or n < 2:
        raise RecbenchError(
            f"DeLong needs at least 2 positive and 2 negative rows, got {m} positive and {n} negative"
        )
    return pos, vectors, m, n


def auc_variance(labels: Sequence[int] | np.ndarray, scores: Sequence[float] | np.ndarray) -> float:
    """DeLong estimate of the variance of one model's AUC: var(V10)/m + var(V01)/n.

    Useful for a confidence interval on a single AUC; sample variances use ddof=1 as in
    DeLong et al. (1988).

    Example:
        >>> round(auc_variance([1, 1, 0, 0], [0.9, 0.4, 0.5, 0.1]), 6)
        0.125
    """
    pos, (s,), m, n = _check_delong_inputs(labels, (scores, "scores"))
    c10, c01 = _placement_counts(pos, s)
    return float(np.var(c10, ddof=1) / n**2 / m + np.var(c01, ddof=1) / m**2 / n)


def delong_test(
    labels: Sequence[int] | np.ndarray,
    scores_a: Sequence[float] | np.ndarray,
    scores_b: Sequence[float] | np.ndarray,
) -> DeLongResult:
    """DeLong test of H0: AUC_a == AUC_b for two models scored on the same rows.

    The two AUCs share their rows, so they are correlated; treating them as independent
    would overstate the variance of the difference and hide real improvements. The
    covariance S = S10/m + S01/n comes from the structural components V10 (per positive)
    and V01 (per negative), obtained from midranks in O(N log N) (Sun & Xu 2014).
    ``var_diff`` is computed as var(V10_a - V10_b)/m + var(V01_a - V01_b)/n, which equals
    S_aa + S_bb - 2 S_ab exactly but avoids cancellation when the models are nearly equal.

    Zero ``var_diff`` with equal AUCs (e.g. identical or identically-ranked scores) gives
    z = 0 and p = 1. Zero ``var_diff`` with different AUCs leaves the test undefined:
    z = +/-inf, ``log10_p`` = NaN and ``reason`` explains.

    Raises:
        RecbenchError: mismatched lengths, non-0/1 labels, fewer than 2 rows of a class,
            or non-finite scores.

    Example:
        >>> labels = [1, 0, 1, 0, 1, 0]
        >>> r = delong_test(labels, [0.9, 0.1, 0.8, 0.3, 0.7, 0.2], [0.6, 0.5, 0.4, 0.7, 0.9, 0.1])
        >>> round(r.auc_a, 4), round(r.auc_b, 4), r.log10_p < 0, 0 < r.p <= 1
        (1.0, 0.6667, True, True)
        >>> delong_test(labels, [0.9, 0.1, 0.8, 0.3, 0.7, 0.2], [0.9, 0.1, 0.8, 0.3, 0.7, 0.2]).p
        1.0
    """
    pos, (a, b), m, n = _check_delong_inputs(labels, (scores_a, "scores_a"), (scores_b, "scores_b"))
    c10_a, c01_a = _placement_counts(pos, a)
    c10_b, c01_b = _placement_counts(pos, b)

    auc_a = float(c10_a.sum() / (m * n))
    auc_b = float(c10_b.sum() / (m * n))

    # S10 and S01 are 2x2 sample covariances (ddof=1) of the components; scale counts back.
    s10 = np.cov(np.vstack((c10_a, c10_b))) / n**2
    s01 = np.cov(np.vstack((c01_a, c01_b))) / m**2
    s = s10 / m + s01 / n
    var_diff = float(np.var(c10_a - c10_b, ddof=1) / n**2 / m + np.var(c01_a - c01_b, ddof=1) / m**2 / n)

    diff = auc_a - auc_b
    reason = None
    if var_diff > 0.0:
        z = diff / math.sqrt(var_diff)
        log10_p = _log10_two_sided_p(z)
    elif diff == 0.0:
        z, log10_p = 0.0, 0.0
        reason = "the two models' structural components are identical (zero variance, equal AUCs)"
    else:
        z, log10_p = math.copysign(math.inf, diff), math.nan
        reason = "DeLong variance of the AUC difference is zero although the AUCs differ; the test is undefined"
    return DeLongResult(
        auc_a=auc_a,
        auc_b=auc_b,
        var_a=float(s[0, 0]),
        var_b=float(s[1, 1]),
        cov_ab=float(s[0, 1]),
        var_diff=var_diff,
        z=float(z),
        log10_p=float(log10_p),
        n_pos=m,
        n_neg=n,
        reason=reason,
    )


# --------------------------------------------------------------------------- paired bootstrap


def _rowwise_logloss(y: np.ndarray, p: np.ndarray) -> np.ndarray:
    """Per-row cross-entropy with the same clipping as :func:`recbench.metrics.logloss`."""
    q = np.clip(p, LOGLOSS_EPS, 1 - LOGLOSS_EPS)
    return -(y * np.log(q) + (1 - y) * np.log1p(-q))


def paired_bootstrap_logloss(
    labels: Sequence[int] | np.ndarray,
    probs_a: Sequence[float] | np.ndarray,
    probs_b: Sequence[float] | np.ndarray,
    n_boot: int = 1000,
    seed: int = 0,
) -> BootstrapResult:
    """Paired row bootstrap of ``logloss_a - logloss_b``.

    Each resample draws N row indices with replacement and applies the *same* indices to
    both models, preserving the per-row correlation between them. Because LogLoss is a
    mean of per-row losses, the resampled difference is the mean of the per-row loss
    differences over the drawn rows, so only one vector is gathered. Indices are drawn in
    chunks of at most ~4M, bounding memory independently of ``n_boot``; int64 draws make
    the result independent of the chunking as well, so it depends only on the data,
    ``n_boot`` and ``seed``.

    The CI is the percentile interval (2.5%, 97.5%). The two-sided p is
    min(1, 2 * (k + 1) / (n_boot + 1)) where k counts resamples on the other side of 0
    from the observed difference (<= 0 when it is positive, >= 0 when negative); an
    observed difference of exactly 0 gives p = 1. The +1 keeps p above zero: a bootstrap
    with B resamples cannot support a p below about 2/(B+1).

    Raises:
        RecbenchError: mismatched lengths, non-0/1 labels, probabilities outside [0, 1] or
            not finite, or ``n_boot`` < 1.

    Example:
        >>> import numpy as np
        >>> rng = np.random.default_rng(1)
        >>> y = rng.integers(0, 2, 2000)
        >>> good = np.where(y == 1, 0.8, 0.2)
        >>> r = paired_bootstrap_logloss(y, good, np.full(2000, 0.5), n_boot=200, seed=0)
        >>> r.mean_diff < r.ci_high < 0, r.p == 2 / 201
        (True, True)
    """
    if not isinstance(n_boot, (int, np.integer)) or n_boot < 1:
        raise RecbenchError(f"n_boot must be a positive integer, got {n_boot!r}")
    pos = _as_labels(labels)
    n_rows = int(pos.shape[0])
    pa = _as_scores(probs_a, "probs_a", n_rows)
    pb = _as_scores(probs_b, "probs_b", n_rows)
    for name, p in (("probs_a", pa), ("probs_b", pb)):
        if p.min() < 0.0 or p.max() > 1.0:
            raise RecbenchError(f"{name} must be probabilities in [0, 1]")
    y = pos.astype(np.float64)

    d = _rowwise_logloss(y, pa) - _rowwise_logloss(y, pb)
    observed = logloss(y, pa) - logloss(y, pb)

    rng = np.random.default_rng(seed)
    per_chunk = max(1, _BOOT_CHUNK_ELEMENTS // n_rows)
    boot = np.empty(n_boot, dtype=np.float64)
    for start in range(0, n_boot, per_chunk):
        k = min(per_chunk, n_boot - start)
        idx = rng.integers(0, n_rows, size=(k, n_rows), dtype=np.int64)
        boot[start : start + k] = d[idx].mean(axis=1)

    lo, hi = np.percentile(boot, [2.5, 97.5])
    if observed > 0:
        other = int(np.count_nonzero(boot <= 0.0))
    elif observed < 0:
        other = int(np.count_nonzero(boot >= 0.0))
    else:
        other = n_boot
    p = min(1.0, 2.0 * (other + 1) / (n_boot + 1))
    return BootstrapResult(float(observed), float(lo), float(hi), float(p), int(n_boot), n_rows, int(seed))
