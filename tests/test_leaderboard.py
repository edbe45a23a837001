"""Summary tables: seeds aggregate, different test rows never mix, tuning trials never count."""

from __future__ import annotations

import math

from recbench.leaderboard import render_summary, summarize


def record(model: str, seed: int, auc: float, digest: str = "a" * 64, purpose: str = "run", rows: int = 100) -> dict:
    return {
        "model": model, "seed": seed, "purpose": purpose, "dataset": "ml-1m", "dataset_variant": "ml-1m",
        "protocol_version": 1, "fingerprint": {"digest": digest, "canonical": "yes"},
        "metrics": {"test": {"auc": auc, "logloss": 0.5, "rows": rows}} if purpose == "run" else {"valid": {"auc": auc}},
    }  # fmt: skip


def test_seeds_are_averaged_with_sample_std():
    (row,) = summarize([record("din", 0, 0.80), record("din", 1, 0.82)])
    assert row["seeds"] == 2 and math.isclose(row["auc_mean"], 0.81)
    assert math.isclose(row["auc_std"], math.sqrt(2 * 0.01**2))


def test_single_seed_has_no_std_and_renders_plainly():
    rows = summarize([record("din", 0, 0.8)])
    assert math.isnan(rows[0]["auc_std"])
    assert "| din     | 0.8000" in render_summary(rows)


def test_rerun_of_a_seed_replaces_the_earlier_run():
    (row,) = summarize([record("din", 0, 0.70), record("din", 0, 0.80)])
    assert row["seeds"] == 1 and row["auc_mean"] == 0.80


def test_different_data_or_rows_are_separate_tables():
    rows = summarize([record("din", 0, 0.8), record("din", 0, 0.7, digest="b" * 64), record("sim", 0, 0.9, rows=99)])
    assert len(rows) == 3
    assert render_summary(rows).count("### ml-1m") == 3


def test_tuning_trials_are_excluded():
    assert summarize([record("din", 0, 0.8, purpose="tune")]) == []
