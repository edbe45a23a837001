"""Significance tests for comparing recommendation models: the one place callers import them from.

A leaderboard that says "model A beats model B" is only as good as the test behind it, so
every comparison the harness reports goes through one of these functions:

* :func:`delong_test` -- two *correlated* AUCs measured on the same test rows (DeLong), in
  O(N log N); :func:`auc_variance` for one model's AUC.
* :func:`paired_bootstrap_logloss` -- LogLoss on the same rows, resampled in pairs.
* :func:`paired_t_test` -- a metric measured over several training seeds of both models.
* :func:`holm` -- many comparisons at once inflate false positives; Holm-Bonferroni
  controls the family-wise error rate without assuming independence.

The two tests on one test set's rows live in :mod:`recbench.row_significance` (they share its
input checks) and are re-exported here; the seed-level t-test and the correction are below.

Two conventions hold throughout, because both were real failure modes:

* p-values far below 1e-308 are common with a million rows, and a p that underflows to
  0.0 cannot be ranked or adjusted. :class:`DeLongResult` therefore stores ``log10_p``
  (computed from :func:`scipy.special.log_ndtr`, which never underflows) and derives
  ``p`` from it.
* Degenerate statistics are not papered over. Zero variance with zero difference means
  "no evidence of a difference" (statistic 0, p = 1). Zero variance with a non-zero
  difference means the test's variance estimate is degenerate, so p is NaN and the
  result carries a ``reason``; :func:`holm` leaves NaN out instead of calling it
  significant.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats as sps

from recbench.errors import RecbenchError
from recbench.row_significance import BootstrapResult, DeLongResult, auc_variance, delong_test, paired_bootstrap_logloss

__all__ = [
    "BootstrapResult",
    "DeLongResult",
    "TTestResult",
    "auc_variance",
    "delong_test",
    "holm",
    "paired_bootstrap_logloss",
    "paired_t_test",
]


@dataclass(frozen=True)
class TTestResult:
    """Outcome of :func:`paired_t_test`; ``p`` is NaN and ``reason`` says why when not computable."""

    mean_diff: float
    t: float
    df: int
    p: float
    n: int
    reason: str | None = None

    @property
    def computable(self) -> bool:
        """Whether the test produced a p-value."""
        return not math.isnan(self.p)


# --------------------------------------------------------------------------- paired t


def paired_t_test(a: Sequence[float], b: Sequence[float]) -> TTestResult:
    """Paired two-sided t-test of mean(a - b) == 0, for one metric over training seeds.

    Seeds are paired (seed k of model A against seed k of model B) so the differences
    carry the test. Cases where the t statistic does not exist return a result rather
    than raise, because a leaderboard must still render them:

    * n < 2: ``p`` NaN, ``reason`` says a variance needs two seeds.
    * all differences exactly (or up to float noise) equal:
      zero -> t = 0, p = 1; non-zero -> t = +/-inf, p = NaN with a ``reason``.

    Raises:
        RecbenchError: lengths differ or values are not finite.

    Example:
        >>> r = paired_t_test([0.81, 0.80, 0.82], [0.79, 0.80, 0.79])
        >>> r.df, round(r.mean_diff, 4), round(r.t, 3), round(r.p, 3)
        (2, 0.0167, 1.89, 0.199)
        >>> paired_t_test([0.8], [0.7]).reason
        'needs at least 2 paired values to estimate a variance, got 1'
    """
    x = np.asarray(a, dtype=np.float64)
    y = np.asarray(b, dtype=np.float64)
    if x.ndim != 1 or y.ndim != 1:
        raise RecbenchError("paired_t_test expects two one-dimensional sequences")
    if x.shape[0] != y.shape[0]:
        raise RecbenchError(f"paired_t_test needs equally many values, got {x.shape[0]} and {y.shape[0]}")
    if not (np.all(np.isfinite(x)) and np.all(np.isfinite(y))):
        raise RecbenchError("paired_t_test values contain NaN or infinite entries")
    n = int(x.shape[0])
    d = x - y
    if n < 2:
        mean = float(d[0]) if n == 1 else math.nan
        reason = f"needs at least 2 paired values to estimate a variance, got {n}"
        return TTestResult(mean, math.nan, 0, math.nan, n, reason)
    mean = float(d.mean())
    sd = float(d.std(ddof=1))
    df = n - 1
    # Differences that agree to ~12 significant digits are equal up to float noise (e.g.
    # 0.8-0.7 vs 0.7-0.6); a t of 1e15 from that noise would be a false discovery.
    scale = float(np.max(np.abs(d)))
    if sd <= 1e-12 * scale or scale == 0.0:
        if scale == 0.0 or abs(mean) <= 1e-12 * scale:
            return TTestResult(mean, 0.0, df, 1.0, n, "all differences are zero: no evidence of a difference")
        return TTestResult(
            mean,
            math.copysign(math.inf, mean),
            df,
            math.nan,
            n,
            "differences are constant and non-zero (zero variance); the t-test is undefined",
        )
    t = mean / (sd / math.sqrt(n))
    p = float(2.0 * sps.t.sf(abs(t), df))
    return TTestResult(mean, float(t), df, min(p, 1.0), n)


# --------------------------------------------------------------------------- Holm


def holm(p_values: Mapping[str, float]) -> dict[str, float]:
    """Holm-Bonferroni adjusted p-values, keyed and ordered like the input.

    With k non-NaN p-values sorted ascending p_(1) <= ... <= p_(k), the adjusted value is
    min(1, max_{j<=i} (k - j + 1) * p_(j)); comparing it with alpha controls the
    family-wise error rate at alpha under any dependence. NaN entries (tests that were not
    computable) stay NaN and do not count towards k, so they neither pass nor penalise
    the others. Tied p-values get identical adjusted values whatever their order.

    Raises:
        RecbenchError: a p-value outside [0, 1].

    Example:
        >>> holm({"a": 0.01, "b": 0.04, "c": 0.03, "d": float("nan")})
        {'a': 0.03, 'b': 0.06, 'c': 0.06, 'd': nan}
    """
    keys = list(p_values)
    values = np.array([float(p_values[k]) for k in keys], dtype=np.float64)
    valid = ~np.isnan(values)
    if np.any((values[valid] < 0.0) | (values[valid] > 1.0)):
        raise RecbenchError("holm: p-values must lie in [0, 1]")
    out = np.full(values.shape, np.nan)
    idx = np.flatnonzero(valid)
    k = idx.shape[0]
    if k:
        order = idx[np.argsort(values[idx], kind="stable")]
        scaled = (k - np.arange(k)) * values[order]
        out[order] = np.minimum(1.0, np.maximum.accumulate(scaled))
    return {key: float(v) for key, v in zip(keys, out)}
