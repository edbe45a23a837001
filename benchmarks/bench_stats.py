"""Wall time and peak memory of the significance tests at realistic test-set sizes.

Why: DeLong must stay cheap enough to run on every leaderboard cell of a 1,000,000-row
test set (target: under 3 s), and the paired bootstrap must stay memory-bounded at
1,000 resamples of 100,000 rows. Run with ``.venv/bin/python benchmarks/bench_stats.py``.
"""

from __future__ import annotations

import resource
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from recbench.stats import delong_test, paired_bootstrap_logloss


def peak_rss_mib() -> float:
    """Peak resident set size of this process so far (ru_maxrss is KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    """Time one DeLong test on 1M rows and one 1,000 x 100k paired bootstrap.

    Example:
        >>> callable(main)
        True
    """
    rng = np.random.default_rng(0)
    print(f"baseline peak RSS: {peak_rss_mib():.0f} MiB")

    n = 1_000_000
    y = rng.integers(0, 2, n)
    latent = 0.8 * y + rng.normal(0, 1, n)
    a = latent + rng.normal(0, 0.5, n)
    b = np.round(latent + rng.normal(0, 0.6, n), 3)  # rounded: realistic ties
    t0 = time.perf_counter()
    r = delong_test(y, a, b)
    dt = time.perf_counter() - t0
    print(
        f"delong_test  rows={n:,}  {dt:.2f} s  auc_a={r.auc_a:.4f} auc_b={r.auc_b:.4f} "
        f"z={r.z:.2f} log10_p={r.log10_p:.1f}  peak RSS {peak_rss_mib():.0f} MiB"
    )

    n = 100_000
    y = rng.integers(0, 2, n)
    logit = 2 * (y - 0.5) + rng.normal(0, 1, n)
    pa = 1 / (1 + np.exp(-logit))
    pb = 1 / (1 + np.exp(-(logit + rng.normal(0, 0.3, n))))
    t0 = time.perf_counter()
    br = paired_bootstrap_logloss(y, pa, pb, n_boot=1000, seed=0)
    dt = time.perf_counter() - t0
    print(
        f"bootstrap    rows={n:,} n_boot=1000  {dt:.2f} s  diff={br.mean_diff:.5f} "
        f"CI=[{br.ci_low:.5f}, {br.ci_high:.5f}] p={br.p:.4f}  peak RSS {peak_rss_mib():.0f} MiB"
    )


if __name__ == "__main__":
    main()
