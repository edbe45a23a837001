"""The claims a paper makes about its studies: the figures' curves and Table 4's cost, decided from the runs.

Why apart from :mod:`recbench.claims`: Table 2's and Table 3's claims compare table rows; these
compare the points of a figure ("RecLoRA with N_m = 16 beats N_m = 1", "RecLoRA beats ReLLa
with 128 training samples") and Table 4's rows, two of them on recorded time per sample rather
than on predictions. Each figure claim is decided by DeLong on the identical test rows of one
comparable set of the figure's runs, exactly like a Table 2 claim (:func:`recbench.claims.decide`);
a point is any run :func:`recbench.figures.point_of` places on the figure, so the default run is
its default value's point and no run is made twice.

Cost claims (:class:`recbench.suite_parts.CostClaim`) read the seconds per training and
inference sample each run recorded. Each is one measurement of one run on whatever machine it
ran on, not a sample of test rows, so they carry a ratio and a noise margin instead of a p-value.

Example:
    >>> decide_cost(CostClaim("A is cheaper than B", "a", "b"), {"a": 1.0, "b": 3.0})
    ['A is cheaper than B', '1.00', '3.00', '3.00x', 'holds']
    >>> decide_cost(CostClaim("A is cheaper than B", "a", "b"), {"a": 1.0, "b": 1.1})[-1]
    'undecided'
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

from recbench.claims import claims_table, decide
from recbench.compare import comparable_sets, score
from recbench.figures import point_of
from recbench.paper_tables import _seconds, _Views
from recbench.render import MISSING, Table
from recbench.run_record import RunRecord
from recbench.run_selection import profile_of, profile_title, suite_or_default
from recbench.runstore import RunStore
from recbench.study_tables import _entries_by, _mean_timing, row_labeller, study_groups
from recbench.suite_parts import CostClaim, Figure, point_label

if TYPE_CHECKING:
    from recbench.suites import Suite

COST_HEADERS = ["Claim", "s/sample (first)", "s/sample (second)", "second / first", "verdict"]


def study_claims_tables(store: RunStore, records: Iterable[RunRecord], suite: Suite | None = None) -> list[Table]:
    """The figures' claims, then Table 4's AUC and cost claims, per comparable set where one claim has its runs."""
    suite = suite_or_default(suite)
    records = list(records)  # each part keeps only result runs (point_of callers, study_groups)
    tables = []
    for figure in suite.figures:
        if figure.claims:
            tables += figure_claims_tables(store, records, figure)
    if suite.timing is not None and (suite.timing_claims or suite.cost_claims):
        tables += _table4_claims(store, records, suite)
    return tables


def figure_claims_tables(store: RunStore, records: Iterable[RunRecord], figure: Figure) -> list[Table]:
    """One claims table per dataset, profile and comparable set of ``figure``'s points.

    A run whose profile has drifted (``"cpu; earlier settings ..."``, :func:`profile_of`) is
    grouped with the runs of the same earlier settings only; its claims are expanded over the
    x values the profile ("cpu") declares now, since the earlier values are not recorded.
    """
    labels: dict[str, str] = {}  # run id -> its point's label, "reclora @ 16"
    groups: dict[tuple, list[RunRecord]] = defaultdict(list)
    for record in records:
        x = point_of(record, figure) if record.is_result else None
        if x is not None:
            labels[record.run_id] = point_label(record.model, x)
            groups[(*record.data_key, profile_of(record))].append(record)
    tables = []
    for gkey, group in sorted(groups.items()):
        profile = gkey[3].partition(";")[0]
        if profile not in figure.values:  # e.g. "unspecified": no x values to expand min / max / each over
            continue
        claims = [c for claim in figure.claims for c in claim.expand(figure.points(profile))]
        views = _Views(store)
        for comparable in comparable_sets(_entries_by(group, lambda r: labels[r.run_id], views)):
            scored, row_labels = score(comparable)
            rows = [decide(scored, row_labels, c) for c in claims]
            if any(row[-1] != "no runs" for row in rows):  # e.g. one earlier-settings run is no curve
                title = f"Claims — {gkey[0]} ({profile_title(gkey[3])}), Figure {figure.number}"
                tables.append(claims_table(title, gkey[:3], rows, "points"))
    return tables


def _table4_claims(store: RunStore, records: list[RunRecord], suite: Suite) -> list[Table]:
    """Per comparable set of Table 4's rows: the AUC claims (DeLong), then the cost claims (timings)."""
    assert suite.timing is not None
    label, tables = row_labeller(suite.timing), []
    for gkey, group in sorted(study_groups(records, suite.timing).items()):
        views = _Views(store)
        for comparable in comparable_sets(_entries_by(group, label, views)):
            where = f"{gkey[0]} ({profile_title(gkey[3])}), Table 4"
            if suite.timing_claims:
                scored, labels = score(comparable)
                rows = [decide(scored, labels, c) for c in suite.timing_claims]
                if any(row[-1] != "no runs" for row in rows):
                    tables.append(claims_table(f"Claims — {where}", gkey[:3], rows, "rows"))
            if suite.cost_claims:
                seconds = {
                    kind: {k: _mean_timing(v, f"{kind}_seconds_per_sample") for k, v in comparable.entries.items()}
                    for kind in ("train", "infer")
                }  # fmt: skip
                rows = [decide_cost(c, seconds[c.timing]) for c in suite.cost_claims]
                if any(row[-1] != "no runs" for row in rows):
                    tables.append(_cost_table(f"Cost claims — {where}", gkey[:3], rows, suite.cost_claims))
    return tables


def decide_cost(claim: CostClaim, seconds: Mapping[str, float]) -> list[str]:
    """One row: claim, both rows' seconds per sample, their ratio, verdict (see ``CostClaim``)."""
    first, second = seconds.get(claim.first, math.nan), seconds.get(claim.second, math.nan)
    if not (first > 0 and second > 0):  # also catches NaN: a missing run or one without timings
        return [claim.text, MISSING, MISSING, MISSING, "no runs"]
    ratio, bound = second / first, 1 + claim.margin
    if claim.kind == "cheaper":
        verdict = "holds" if ratio >= bound else "fails" if 1 / ratio >= bound else "undecided"
    else:
        verdict = "holds" if 1 / ratio <= bound else "fails"
    return [claim.text, _seconds(first), _seconds(second), f"{ratio:.2f}x", verdict]


def _cost_table(title: str, key: tuple, rows: list[list[str]], claims: tuple[CostClaim, ...]) -> Table:
    key_text = f"Data `{key[0]}` sha256 `{key[1]}`, protocol v{key[2]}"
    description = [f"{key_text}; seconds per sample as the runs recorded them, averaged over seeds."]
    bound = " or ".join(f"{1 + m:g}" for m in sorted({c.margin for c in claims}))  # one unless a claim sets its own
    notes = [
        (
            f"cheaper: holds when the second row takes at least {bound}x the first's time, fails when the first takes "
            "at least that multiple of the second's, undecided in between (timing noise); within: holds when the first "
            "takes at most that multiple of the second's time, else fails. no runs: a row has no run or no timing."
        ),
        (
            "Each run's time is one measurement on the machine it ran on (recorded in its record), so two rows may "
            "have been timed on different machines; a ratio with a margin, not a significance test."
        ),
    ]
    return Table(title, COST_HEADERS, rows, description, notes)
