"""Results tables from the run store: mean +- std over seeds per model and dataset.

Only runs that scored the *same test rows* are put in one table: same dataset name, same raw
data digest, same protocol version. Runs on other data are reported in their own table,
never mixed. Tuning trials (``purpose="tune"``) never appear. The paper-layout Tables 2-4
with significance marks (what ``recbench leaderboard`` prints) are in
:mod:`recbench.paper_tables`; this plain summary stays for quick per-seed overviews.

Example:
    >>> rows = summarize([
    ...     {"model": "din", "dataset": "synth", "dataset_variant": "synth", "purpose": "run", "seed": s,
    ...      "protocol_version": 1, "fingerprint": {"digest": "ab" * 32},
    ...      "metrics": {"test": {"auc": a, "logloss": 0.5, "rows": 10}}}
    ...     for s, a in [(0, 0.70), (1, 0.72)]])
    >>> rows[0]["model"], rows[0]["seeds"], round(rows[0]["auc_mean"], 2)
    ('din', 2, 0.71)
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any, Iterable

import numpy as np
from tabulate import tabulate


def table_key(record: dict[str, Any]) -> tuple[str, str, int, int]:
    """What must match for two runs to have been scored on identical test rows."""
    test_rows = record["metrics"]["test"]["rows"]
    return (record["dataset_variant"], record["fingerprint"]["digest"], record["protocol_version"], test_rows)


def summarize(records: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per (test-row set, model): mean and sample std of test AUC / LogLoss over seeds.

    When a model has several runs with the same seed (e.g. re-runs), the latest one counts.
    """
    latest: dict[tuple, dict[str, Any]] = {}
    for record in records:
        if record.get("purpose", "run") != "run" or "test" not in record.get("metrics", {}):
            continue
        latest[(table_key(record), record["model"], record["seed"])] = record
    groups: dict[tuple, list[dict[str, Any]]] = defaultdict(list)
    for (key, model, _seed), record in sorted(latest.items(), key=lambda kv: str(kv[0])):
        groups[(key, model)].append(record)
    rows = []
    for (key, model), runs in groups.items():
        auc = np.array([r["metrics"]["test"]["auc"] for r in runs])
        loss = np.array([r["metrics"]["test"]["logloss"] for r in runs])
        rows.append(
            {
                "dataset": key[0],
                "digest": key[1],
                "protocol_version": key[2],
                "test_rows": key[3],
                "model": model,
                "seeds": len(runs),
                "auc_mean": float(auc.mean()),
                "auc_std": float(auc.std(ddof=1)) if len(runs) > 1 else float("nan"),
                "logloss_mean": float(loss.mean()),
                "logloss_std": float(loss.std(ddof=1)) if len(runs) > 1 else float("nan"),
                "canonical": runs[0]["fingerprint"].get("canonical", "unknown"),
                "commits": sorted({(r.get("environment") or {}).get("git_commit") or "?" for r in runs}),
            }
        )
    return sorted(rows, key=lambda r: (r["dataset"], r["digest"], -r["auc_mean"]))


def _pm(mean: float, std: float) -> str:
    return f"{mean:.4f}" if np.isnan(std) else f"{mean:.4f} ± {std:.4f}"


def render_summary(rows: list[dict[str, Any]], fmt: str = "github") -> str:
    """Markdown (or any tabulate format) tables, one per set of identical test rows."""
    out = []
    by_table: dict[tuple, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        by_table[(row["dataset"], row["digest"], row["protocol_version"], row["test_rows"])].append(row)
    for (dataset, digest, version, test_rows), table in by_table.items():
        canonical = table[0]["canonical"]
        out.append(
            f"### {dataset}\n\nData sha256 `{digest}` (canonical release: {canonical}), "
            f"protocol v{version}, {test_rows:,} test rows.\n"
        )
        body = [[r["model"], _pm(r["auc_mean"], r["auc_std"]), _pm(r["logloss_mean"], r["logloss_std"]), r["seeds"]] for r in table]
        headers = ["model", "test AUC (mean ± std)", "test LogLoss (mean ± std)", "seeds"]
        out.append(tabulate(body, headers=headers, tablefmt=fmt, disable_numparse=True))
        out.append("")
    return "\n".join(out)
