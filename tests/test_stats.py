"""Tests for recbench.stats against independent computations.

Nothing here checks the implementation against itself: AUCs come from scikit-learn,
DeLong variances from the O(m*n) definition of the structural components, z and p of a
tiny case are worked out by hand, t-tests come from scipy.stats.ttest_rel, the bootstrap
is checked against the normal approximation and a known population difference, and Holm
against hand-computed values and the step-down rejection procedure.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as sps
from sklearn.metrics import log_loss, roc_auc_score

from recbench import row_significance
from recbench.errors import RecbenchError
from recbench.stats import auc_variance, delong_test, holm, paired_bootstrap_logloss, paired_t_test

# --------------------------------------------------------------------------- helpers


def brute_force_components(labels: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """V10 and V01 straight from the definition psi(x, y) = 1 if x > y, 0.5 if x == y, else 0."""
    x = scores[labels == 1][:, None]
    y = scores[labels == 0][None, :]
    psi = (x > y).astype(float) + 0.5 * (x == y)
    return psi.mean(axis=1), psi.mean(axis=0)


def brute_force_delong(labels: np.ndarray, a: np.ndarray, b: np.ndarray) -> dict[str, float]:
    v10a, v01a = brute_force_components(labels, a)
    v10b, v01b = brute_force_components(labels, b)
    m, n = v10a.size, v01a.size
    s10 = np.cov(np.vstack([v10a, v10b]), ddof=1)
    s01 = np.cov(np.vstack([v01a, v01b]), ddof=1)
    s = s10 / m + s01 / n
    var_diff = s[0, 0] + s[1, 1] - 2 * s[0, 1]
    return {
        "auc_a": v10a.mean(),
        "auc_b": v10b.mean(),
        "var_a": s[0, 0],
        "var_b": s[1, 1],
        "cov_ab": s[0, 1],
        "var_diff": var_diff,
        "z": (v10a.mean() - v10b.mean()) / math.sqrt(var_diff),
    }


def tied_data(seed: int, n: int = 300) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Random labels and two correlated score vectors rounded to force many ties."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    latent = y + rng.normal(0, 1.0, n)
    a = np.round(latent + rng.normal(0, 0.5, n), 1)
    b = np.round(latent + rng.normal(0, 0.8, n), 1)
    return y, a, b


# --------------------------------------------------------------------------- DeLong


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_delong_aucs_match_sklearn(seed: int) -> None:
    y, a, b = tied_data(seed)
    r = delong_test(y, a, b)
    assert r.auc_a == pytest.approx(roc_auc_score(y, a), abs=1e-12)
    assert r.auc_b == pytest.approx(roc_auc_score(y, b), abs=1e-12)
    assert r.n_pos == int(y.sum()) and r.n_neg == int((1 - y).sum())


@pytest.mark.parametrize("seed", [3, 4, 5])
def test_delong_covariance_matches_brute_force_with_ties(seed: int) -> None:
    y, a, b = tied_data(seed, n=120)
    assert len(np.unique(a)) < len(a) / 2, "the data must actually contain ties"
    ref = brute_force_delong(y, a, b)
    r = delong_test(y, a, b)
    for field in ("auc_a", "auc_b", "var_a", "var_b", "cov_ab", "var_diff", "z"):
        assert getattr(r, field) == pytest.approx(ref[field], rel=1e-10, abs=1e-15), field
    assert auc_variance(y, a) == pytest.approx(ref["var_a"], rel=1e-10)
    assert auc_variance(y, b) == pytest.approx(ref["var_b"], rel=1e-10)


def test_delong_hand_computed_tiny_case() -> None:
    # Positives/negatives:  A: pos (0.9, 0.4), neg (0.5, 0.1)   B: pos (0.3, 0.8), neg (0.8, 0.2)
    # A: V10 = (1, 1/2), V01 = (1/2, 1), AUC_A = 3/4
    # B: V10 = (1/2, 3/4) [0.8 ties 0.8], V01 = (1/4, 1), AUC_B = 5/8
    # D10 = V10_A - V10_B = (1/2, -1/4): sample var (ddof=1) = 9/32; / m=2 -> 9/64
    # D01 = V01_A - V01_B = (1/4, 0):    sample var (ddof=1) = 1/32; / n=2 -> 1/64
    # var = 10/64 = 5/32; z = (1/8) / sqrt(5/32) = 1/sqrt(10); p = erfc(z / sqrt 2)
    # Rows are interleaved so the result cannot depend on positives coming first.
    labels = np.array([0, 1, 0, 1])
    a = np.array([0.5, 0.9, 0.1, 0.4])
    b = np.array([0.8, 0.3, 0.2, 0.8])
    r = delong_test(labels, a, b)
    assert r.auc_a == 0.75 and r.auc_b == 0.625
    assert r.var_diff == pytest.approx(5 / 32, rel=1e-14)
    z = 1 / math.sqrt(10)
    assert r.z == pytest.approx(z, rel=1e-14)
    assert r.p == pytest.approx(math.erfc(z / math.sqrt(2)), rel=1e-12)
    assert r.p == pytest.approx(0.75182963, abs=1e-7)
    # Single-AUC variances of A: var(V10)/2 + var(V01)/2 = (1/8)/2 + (1/8)/2
    assert r.var_a == pytest.approx(1 / 8, rel=1e-14)
    # Swapping models flips z and keeps p.
    swapped = delong_test(labels, b, a)
    assert swapped.z == pytest.approx(-z, rel=1e-14) and swapped.p == pytest.approx(r.p, rel=1e-14)


def test_delong_identical_scores_give_p_one() -> None:
    y, a, _ = tied_data(7)
    r = delong_test(y, a, a.copy())
    assert (r.z, r.p, r.log10_p, r.var_diff) == (0.0, 1.0, 0.0, 0.0)
    assert r.reason is not None
    # A strictly monotone transform has the same ranks, hence the same components.
    r2 = delong_test(y, a, np.exp(3 * a) - 7)
    assert (r2.z, r2.p) == (0.0, 1.0)


def test_delong_moderate_z_matches_normal_tail() -> None:
    y, a, b = tied_data(11, n=400)
    r = delong_test(y, a, b)
    assert 0.5 < abs(r.z) < 8
    assert r.p == pytest.approx(math.erfc(abs(r.z) / math.sqrt(2)), rel=1e-9)


def test_delong_huge_z_log10_p_does_not_underflow() -> None:
    rng = np.random.default_rng(0)
    n = 5_000
    y = rng.integers(0, 2, n)
    good = y + rng.normal(0, 0.3, n)  # AUC ~ 0.99
    noise = rng.normal(0, 1, n)  # AUC ~ 0.5
    r = delong_test(y, good, noise)
    assert r.z > 40
    assert r.p == 0.0, "the point of the test: the plain p underflows float64"
    assert math.isfinite(r.log10_p) and r.log10_p < -340
    # Independent check of the tail via Mills-ratio bounds:
    #   phi(z) * z / (1 + z^2) < Phi(-z) < phi(z) / z,   p = 2 Phi(-z)
    z = r.z
    log_phi = -z * z / 2 - 0.5 * math.log(2 * math.pi)
    lower = (math.log(2) + log_phi + math.log(z / (1 + z * z))) / math.log(10)
    upper = (math.log(2) + log_phi - math.log(z)) / math.log(10)
    assert lower < r.log10_p < upper
    # The z itself against the O(m*n) definition.
    assert z == pytest.approx(brute_force_delong(y, good, noise)["z"], rel=1e-9)


def test_delong_null_p_values_are_calibrated() -> None:
    """Under H0 (equal AUCs, correlated models) about 5% of p-values fall below 0.05."""
    rng = np.random.default_rng(123)
    rejections = 0
    reps = 200
    for _ in range(reps):
        y = rng.integers(0, 2, 400)
        latent = y * 0.8 + rng.normal(0, 1, 400)
        a = latent + rng.normal(0, 0.7, 400)
        b = latent + rng.normal(0, 0.7, 400)
        rejections += delong_test(y, a, b).p < 0.05
    assert 0.01 <= rejections / reps <= 0.11


def test_delong_degenerate_variance_is_reported_not_hidden() -> None:
    y = np.array([1, 1, 1, 0, 0, 0])
    perfect = np.array([0.9, 0.8, 0.7, 0.3, 0.2, 0.1])
    constant = np.full(6, 0.5)
    r = delong_test(y, perfect, constant)
    assert (r.auc_a, r.auc_b, r.var_diff) == (1.0, 0.5, 0.0)
    assert r.z == math.inf and math.isnan(r.log10_p) and math.isnan(r.p)
    assert "undefined" in r.reason


@pytest.mark.parametrize(
    ("labels", "a", "b", "match"),
    [
        ([1, 0, 1, 0], [0.1, 0.2, 0.3], [0.1, 0.2, 0.3, 0.4], "scores_a has 3 rows"),
        ([1, 1, 1, 1], [0.1, 0.2, 0.3, 0.4], [0.1, 0.2, 0.3, 0.4], "at least 2 positive and 2 negative"),
        ([1, 0, 0, 0], [0.1, 0.2, 0.3, 0.4], [0.1, 0.2, 0.3, 0.4], "got 1 positive and 3 negative"),
        ([1, 0, 1, 0], [0.1, np.nan, 0.3, 0.4], [0.1, 0.2, 0.3, 0.4], "scores_a contains NaN"),
        ([1, 0, 1, 0], [0.1, 0.2, 0.3, 0.4], [0.1, np.inf, 0.3, 0.4], "scores_b contains NaN or infinite"),
        ([1, 0, 2, 0], [0.1, 0.2, 0.3, 0.4], [0.1, 0.2, 0.3, 0.4], "only 0 and 1"),
        ([], [], [], "labels is empty"),
        ([[1, 0], [1, 0]], [0.1, 0.2], [0.1, 0.2], "one-dimensional"),
    ],
)
def test_delong_rejects_bad_input(labels, a, b, match) -> None:
    with pytest.raises(RecbenchError, match=match) as info:
        delong_test(labels, a, b)
    assert "\n" not in str(info.value)


def test_delong_accepts_bool_labels_and_lists() -> None:
    y, a, b = tied_data(9, n=60)
    r1 = delong_test(y, a, b)
    r2 = delong_test(y.astype(bool), list(a), list(b))
    assert r1 == r2


# --------------------------------------------------------------------------- paired t


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_paired_t_matches_scipy(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(2, 12))
    a = 0.80 + rng.normal(0, 0.01, n)
    b = a - 0.004 + rng.normal(0, 0.006, n)
    ref = sps.ttest_rel(a, b)
    r = paired_t_test(list(a), list(b))
    assert r.t == pytest.approx(ref.statistic, rel=1e-10)
    assert r.p == pytest.approx(ref.pvalue, rel=1e-9)
    assert r.df == n - 1 and r.n == n and r.reason is None and r.computable
    assert r.mean_diff == pytest.approx(float(np.mean(a - b)), rel=1e-12)


def test_paired_t_single_seed_and_empty_are_not_computable() -> None:
    one = paired_t_test([0.81], [0.80])
    assert math.isnan(one.p) and math.isnan(one.t) and not one.computable
    assert one.mean_diff == pytest.approx(0.01) and "at least 2" in one.reason
    empty = paired_t_test([], [])
    assert math.isnan(empty.p) and math.isnan(empty.mean_diff) and empty.n == 0 and "got 0" in empty.reason


def test_paired_t_zero_variance_cases() -> None:
    same = paired_t_test([0.8, 0.7, 0.9], [0.8, 0.7, 0.9])
    assert (same.t, same.p) == (0.0, 1.0) and "zero" in same.reason
    # 0.8-0.7 and 0.7-0.6 differ by float noise only; this must not become t ~ 1e15.
    const = paired_t_test([0.8, 0.7, 0.5], [0.7, 0.6, 0.4])
    assert const.t == math.inf and math.isnan(const.p) and not const.computable
    assert "constant" in const.reason


def test_paired_t_rejects_bad_input() -> None:
    with pytest.raises(RecbenchError, match="equally many"):
        paired_t_test([0.1, 0.2], [0.1])
    with pytest.raises(RecbenchError, match="NaN"):
        paired_t_test([0.1, float("nan")], [0.1, 0.2])


# --------------------------------------------------------------------------- bootstrap


def test_bootstrap_point_estimate_matches_sklearn_logloss() -> None:
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 500)
    pa = rng.uniform(0, 1, 500)
    pb = rng.uniform(0, 1, 500)
    pa[:3] = [0.0, 1.0, 0.5]  # exercise the clipping
    r = paired_bootstrap_logloss(y, pa, pb, n_boot=50)
    eps = 1e-7
    ref = log_loss(y, np.clip(pa, eps, 1 - eps)) - log_loss(y, np.clip(pb, eps, 1 - eps))
    assert r.mean_diff == pytest.approx(ref, rel=1e-12)
    assert (r.n_boot, r.n_rows, r.seed) == (50, 500, 0)


def test_bootstrap_ci_covers_known_population_difference() -> None:
    # y ~ Bernoulli(0.3); A predicts the truth 0.3, B predicts 0.5.
    # E[logloss_A] - E[logloss_B] = H(0.3) - ln 2 (entropy in nats).
    true_diff = -(0.3 * math.log(0.3) + 0.7 * math.log(0.7)) - math.log(2)
    covered = 0
    reps = 20
    for rep in range(reps):
        rng = np.random.default_rng(1000 + rep)
        y = (rng.uniform(size=4000) < 0.3).astype(int)
        r = paired_bootstrap_logloss(y, np.full(4000, 0.3), np.full(4000, 0.5), n_boot=1000, seed=rep)
        covered += r.ci_low <= true_diff <= r.ci_high
        assert r.ci_low < r.mean_diff < r.ci_high
        # Percentile CI of a mean ~ normal CI: mean +- 1.96 * sd / sqrt(N); with 1000 resamples
        # the Monte Carlo error of a 2.5% quantile is ~0.09 SE, so 0.35 SE is a ~4-sigma band.
        d = np.where(y == 1, -math.log(0.3), -math.log(0.7)) - math.log(2)
        se = d.std(ddof=1) / math.sqrt(d.size)
        assert r.ci_low == pytest.approx(r.mean_diff - 1.96 * se, abs=0.35 * se)
        assert r.ci_high == pytest.approx(r.mean_diff + 1.96 * se, abs=0.35 * se)
    assert covered >= 16  # nominal 95%: 19 of 20 expected


def test_bootstrap_is_deterministic_and_chunking_invariant(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(5)
    y = rng.integers(0, 2, 1000)
    pa = np.clip(0.5 + 0.3 * (y - 0.5) + rng.normal(0, 0.2, 1000), 0, 1)
    pb = np.clip(0.5 + 0.2 * (y - 0.5) + rng.normal(0, 0.2, 1000), 0, 1)
    r1 = paired_bootstrap_logloss(y, pa, pb, n_boot=300, seed=42)
    assert paired_bootstrap_logloss(y, pa, pb, n_boot=300, seed=42) == r1
    assert paired_bootstrap_logloss(y, pa, pb, n_boot=300, seed=43) != r1
    monkeypatch.setattr(row_significance, "_BOOT_CHUNK_ELEMENTS", 1000 * 7)  # 7 resamples per chunk
    assert paired_bootstrap_logloss(y, pa, pb, n_boot=300, seed=42) == r1


def test_bootstrap_p_values() -> None:
    rng = np.random.default_rng(2)
    y = rng.integers(0, 2, 3000)
    truth = np.where(y == 1, 0.8, 0.2)
    # Clearly better model: no resample crosses 0, so p is the smallest the +1 rule allows.
    r = paired_bootstrap_logloss(y, truth, np.full(3000, 0.5), n_boot=999)
    assert r.p == pytest.approx(2 * 1 / 1000) and r.ci_high < 0
    # Same model twice: the observed difference is exactly 0 -> p = 1.
    same = paired_bootstrap_logloss(y, truth, truth, n_boot=99)
    assert (same.mean_diff, same.p, same.ci_low, same.ci_high) == (0.0, 1.0, 0.0, 0.0)
    # Moderate difference: bootstrap p ~ normal-approximation p.
    noise = rng.normal(0, 1, 3000)
    pa = 1 / (1 + np.exp(-(2 * (y - 0.5) + noise)))
    pb = 1 / (1 + np.exp(-(2 * (y - 0.5) + noise + rng.normal(0, 0.25, 3000))))
    r = paired_bootstrap_logloss(y, pa, pb, n_boot=4000, seed=1)
    eps = 1e-7
    la = -(y * np.log(np.clip(pa, eps, 1 - eps)) + (1 - y) * np.log(1 - np.clip(pa, eps, 1 - eps)))
    lb = -(y * np.log(np.clip(pb, eps, 1 - eps)) + (1 - y) * np.log(1 - np.clip(pb, eps, 1 - eps)))
    d = la - lb
    z = d.mean() / (d.std(ddof=1) / math.sqrt(d.size))
    p_normal = math.erfc(abs(z) / math.sqrt(2))
    assert 0.001 < p_normal < 0.5, "the case must be moderate for this comparison to mean anything"
    assert r.p == pytest.approx(p_normal, abs=0.03)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"labels": [1, 0], "probs_a": [0.5], "probs_b": [0.5, 0.5]}, "probs_a has 1 rows"),
        ({"labels": [1, 0], "probs_a": [0.5, 1.5], "probs_b": [0.5, 0.5]}, r"probs_a must be probabilities in \["),
        ({"labels": [1, 0], "probs_a": [0.5, 0.5], "probs_b": [0.5, np.nan]}, "probs_b contains NaN"),
        ({"labels": [], "probs_a": [], "probs_b": []}, "labels is empty"),
        ({"labels": [1, 0], "probs_a": [0.5, 0.5], "probs_b": [0.5, 0.5], "n_boot": 0}, "n_boot must be a positive"),
    ],
)
def test_bootstrap_rejects_bad_input(kwargs, match) -> None:
    with pytest.raises(RecbenchError, match=match):
        paired_bootstrap_logloss(**kwargs)


# --------------------------------------------------------------------------- Holm


def test_holm_hand_computed() -> None:
    # k = 4, sorted: d .005, a .01, c .03, b .04
    # scaled: 4*.005 = .02, 3*.01 = .03, 2*.03 = .06, 1*.04 = .04 -> running max .02 .03 .06 .06
    out = holm({"a": 0.01, "b": 0.04, "c": 0.03, "d": 0.005})
    assert list(out) == ["a", "b", "c", "d"]
    for key, want in {"a": 0.03, "b": 0.06, "c": 0.06, "d": 0.02}.items():
        assert out[key] == pytest.approx(want, rel=1e-12)


def test_holm_caps_at_one_and_skips_nan() -> None:
    # Valid k = 3 (NaN not counted): sorted .02, .3, .6 -> 3*.02=.06, 2*.3=.6, 1*.6=.6
    out = holm({"x": 0.3, "y": float("nan"), "z": 0.02, "w": 0.6})
    assert out["z"] == pytest.approx(0.06) and out["x"] == pytest.approx(0.6) and out["w"] == pytest.approx(0.6)
    assert math.isnan(out["y"])
    # 3*0.5 = 1.5 capped at 1; the rest stay at the running max.
    capped = holm({"a": 0.5, "b": 0.7, "c": 0.9})
    assert capped == {"a": 1.0, "b": 1.0, "c": 1.0}
    assert holm({}) == {}
    assert math.isnan(holm({"only": float("nan")})["only"])
    assert holm({"single": 0.04}) == {"single": 0.04}


def test_holm_ties_are_order_independent() -> None:
    # k = 3: sorted .01, .01, .2 -> 3*.01 = .03, 2*.01 = .02 -> max .03, 1*.2 = .2
    out = holm({"a": 0.01, "b": 0.2, "c": 0.01})
    assert out["a"] == out["c"] == pytest.approx(0.03) and out["b"] == pytest.approx(0.2)


def test_holm_agrees_with_step_down_rejections() -> None:
    """adjusted p <= alpha  <=>  Holm's step-down procedure rejects at level alpha."""
    rng = np.random.default_rng(0)
    for _ in range(50):
        k = int(rng.integers(1, 9))
        p = rng.uniform(0, 0.1, k) ** rng.uniform(0.5, 2)
        adjusted = holm({str(i): float(v) for i, v in enumerate(p)})
        order = np.argsort(p)
        for alpha in (0.01, 0.05, 0.1):
            rejected = set()
            for rank, i in enumerate(order):
                if p[i] > alpha / (k - rank):
                    break
                rejected.add(str(i))
            assert {key for key, v in adjusted.items() if v <= alpha} == rejected
        # monotone in the raw p-values and never below them
        values = np.array([adjusted[str(i)] for i in order])
        assert np.all(np.diff(values) >= 0) and np.all(values >= np.sort(p))


def test_holm_rejects_out_of_range() -> None:
    with pytest.raises(RecbenchError, match=r"\[0, 1\]"):
        holm({"a": 1.2})
