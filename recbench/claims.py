"""A suite's claims (default: the RecLoRA paper's), one line each, decided from the recorded runs.

Why: "RecLoRA beats ReLLa" is only worth writing down next to the numbers and the test behind
it, and a claim table typed by hand drifts from the runs. Each claim here is a pair of table
entries on the identical test rows of one comparable set (Tables 2 and 3), decided by DeLong
on every seed pair at ALPHA (:func:`recbench.compare.compare_to_reference`); the claims on the
studies' figures and on Table 4 are :mod:`recbench.study_claims`:

* **holds**: the first entry's AUC is higher and the difference is significant;
* **fails**: the second entry is significantly better;
* **undecided**: neither is significantly better on these rows;
* **no runs**: one of the two entries has no recorded run here yet.

Rendered by ``recbench leaderboard --table claims`` like any table, so the committed claims are
re-built from the committed store by the same test as the tables.

The claims themselves are suite data (``Suite.claims`` on Table 2's rows, ``Suite.ablation_claims``
on Table 3's; RecLoRA's in :mod:`recbench.suites.reclora`); an entry named ``BEST_ID`` stands for
the best model of the suite's ID groups on those rows.

Example:
    >>> decide({}, np.array([]), Claim("A beats B", "a", "b"))
    ['A beats B', '–', '–', '–', '–', 'no runs']
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

import numpy as np

from recbench.compare import ALPHA, Scored, comparable_sets, compare_to_reference, format_p, score
from recbench.paper_tables import _Views, table2_sets
from recbench.render import MISSING, Table
from recbench.run_record import RunRecord
from recbench.run_selection import display_name, profile_title, suite_or_default
from recbench.runstore import RunStore
from recbench.study_tables import _entries_by, row_labeller, study_groups
from recbench.suite_parts import BEST_ID, Claim

if TYPE_CHECKING:
    from recbench.suites import Suite


def decide(scored: dict[str, Scored], labels: np.ndarray, claim: Claim) -> list[str]:
    """One row: claim, AUCs, DeLong p, verdict."""
    better, worse = scored.get(claim.better), scored.get(claim.worse)
    if better is None or worse is None:
        return [claim.text, MISSING, MISSING, MISSING, MISSING, "no runs"]
    forward = compare_to_reference(better, {worse.label: worse}, labels)[worse.label]
    backward = compare_to_reference(worse, {better.label: better}, labels)[better.label]
    verdict = "holds" if forward.beats else "fails" if backward.beats else "undecided"
    name = display_name(worse.label) if claim.worse == BEST_ID else ""
    text = f"{claim.text} ({name})" if name else claim.text
    return [text, f"{better.auc_mean:.4f}", f"{worse.auc_mean:.4f}", format_p(forward.delong_p), str(len(labels)), verdict]


def _with_best_id(scored: dict[str, Scored], id_models: tuple[str, ...]) -> dict[str, Scored]:
    ids = [s for k, s in scored.items() if k in id_models or k.partition(" [")[0] in id_models]
    if ids:
        return {**scored, BEST_ID: max(ids, key=lambda s: (s.auc_mean, -s.logloss_mean))}
    return scored


HEADERS = ["Claim", "AUC (first)", "AUC (second)", "DeLong p", "test rows", "verdict"]


def claims_tables(store: RunStore, records: Iterable[RunRecord], suite: Suite | None = None) -> list[Table]:
    """One claims table per comparable set that has language-model runs (Table 2), then Table 3's."""
    suite = suite_or_default(suite)
    records = list(records)
    tables = []
    if suite.claims:
        for key, _canonical, profile, comparable, _views, _keys in table2_sets(store, records):
            if profile is None:
                continue
            scored, labels = score(comparable)
            rows = [decide(_with_best_id(scored, suite.models_of("id")), labels, c) for c in suite.claims]
            tables.append(claims_table(f"Claims — {key[0]} ({profile_title(profile)}), Table 2", key, rows))
    ablation = suite.ablation
    if ablation is None or not suite.ablation_claims:
        return tables
    label, models = row_labeller(ablation), {v.model for v in ablation.rows}
    for gkey, group in sorted(study_groups(records, ablation).items()):
        views = _Views(store)
        entries = _entries_by([r for r in group if r.model in models], label, views)
        for comparable in comparable_sets(entries):
            scored, labels = score(comparable)
            if len(scored) < 2:
                continue
            rows = [decide(scored, labels, c) for c in suite.ablation_claims]
            tables.append(claims_table(f"Claims — {gkey[0]} ({profile_title(gkey[3])}), Table 3", gkey[:3], rows))
    return tables


def _verdict_notes() -> list[str]:
    """What a claims table's verdicts mean (every DeLong-decided claims table carries these notes)."""
    return [
        (
            f"holds: the first entry's AUC is higher with DeLong p < {ALPHA} on every seed pair (largest p shown); "
            "fails: the second is significantly better; undecided: neither; no runs: an entry has no recorded run."
        ),
        "p-values are per claim, not adjusted across claims.",
    ]


def claims_table(title: str, key: tuple, rows: list[list[str]], what: str = "entries") -> Table:
    """A DeLong-decided claims table on the data ``key``; ``what`` names the compared things (entries, points, rows)."""
    description = [f"Data `{key[0]}` sha256 `{key[1]}`, protocol v{key[2]}; each claim on the test rows both {what} share."]
    return Table(title, HEADERS, rows, description, _verdict_notes())
