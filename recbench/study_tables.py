"""Tables 3 and 4 of the RecLoRA paper: the ablations and the cost of ID vs text history.

* Table 3: RecLoRA ablation runs (``study.name == "ablation"``), RelDecr against "full"; the
  plain Table-2 RecLoRA run is the "full" row (never run twice).
* Table 4: ``study.name == "time_per_sample"``: text / ID history lengths, AUC and the time per
  training and inference sample.

Both share Table 2's rules (:mod:`recbench.paper_tables`): identical test rows, one table per
comparable set, the paper's numbers only beside ours and labelled.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from recbench.compare import ComparableSet, RunView, comparable_sets, latest_per_seed, score
from recbench.drift import resolve_settings, settings_difference
from recbench.paper import PAPER_TABLE3, PAPER_TABLE4, paper_column
from recbench.paper_tables import (
    REFERENCE,
    _canonical,
    _common_notes,
    _describe,
    _num,
    _paper_note,
    _seconds,
    _std,
    _Views,
    percent,
)
from recbench.records import is_plain_run, is_result
from recbench.render import MISSING, Cell, Table, rank_marks
from recbench.run_selection import data_key, display_name, profile_of, profile_title
from recbench.runstore import RunStore
from recbench.studies import ABLATION_VARIANTS, TIME_VARIANTS, ablation_overrides, parse_time_variant, time_request

# --------------------------------------------------------------------------- Table 3


def _study_groups(records: Iterable[dict[str, Any]], name: str) -> dict[tuple, list[dict[str, Any]]]:
    """Result runs that are a row of Table 3 (``ablation``) or 4 (``time_per_sample``), by data and profile."""
    label = ablation_variant if name == "ablation" else time_variant
    groups: dict[tuple, list[dict[str, Any]]] = defaultdict(list)
    for record in records:
        if is_result(record) and label(record) is not None:
            groups[(*data_key(record), profile_of(record))].append(record)
    return groups


def is_plain_full_run(record: dict[str, Any]) -> bool:
    """A Table-2 RecLoRA run with default settings is also Table 3's "full" row (no second run)."""
    return is_plain_run(record, REFERENCE)


def _row_of(record: dict[str, Any], rows: dict[str, tuple[str, tuple[str, ...]]]) -> str | None:
    """The row (of ``rows``: label -> (model, overrides)) whose settings the run has, whichever
    study made it: e.g. the default RecLoRA run is Table 3's "full" and Table 4's "10/60" row,
    and an N_m = 1 run of Figure 4 is "w/o meta-LoRA". A record without settings falls back to
    its study label (or "full" for the plain RecLoRA run)."""
    if record.get("config") is None:
        variant = (record.get("study") or {}).get("variant")
        if variant in rows:
            return str(variant)
        return "full" if "full" in rows and is_plain_full_run(record) else None
    for label, (model, overrides) in rows.items():
        resolved = resolve_settings(model, overrides, record.get("profile")) if record.get("model") == model else None
        if resolved is not None and not settings_difference(record, *resolved):
            return label
    return None


def ablation_variant(record: dict[str, Any]) -> str | None:
    """The Table 3 row this run is, if any."""
    return _row_of(record, {v: (REFERENCE, ablation_overrides(v)) for v in ABLATION_VARIANTS})


def time_variant(record: dict[str, Any]) -> str | None:
    """The Table 4 row this run is, if any."""
    return _row_of(record, {v: time_request(v) for v in TIME_VARIANTS})


def _entries_by(
    records: list[dict[str, Any]], label_of: Callable[[dict[str, Any]], str], views: _Views
) -> dict[str, list[RunView]]:
    by_label: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for record in records:
        by_label[label_of(record)].append(record)
    entries = {k: views(latest_per_seed(v)) for k, v in by_label.items()}
    return {k: v for k, v in entries.items() if v}


def _ordered(labels: Iterable[str], known: tuple[str, ...]) -> list[str]:
    labels = set(labels)
    return [v for v in known if v in labels] + sorted(labels - set(known))


def _per_comparable_set(store: RunStore, records: Iterable[dict[str, Any]], study: str, label: Callable[[dict[str, Any]], str | None],
                        one: Callable[..., Table], paper: bool) -> list[Table]:  # fmt: skip
    """One table per comparable set of the runs that are rows of ``study``'s table."""
    tables = []
    for gkey, group in sorted(_study_groups(records, study).items()):
        views = _Views(store)
        for comparable in comparable_sets(_entries_by(group, label, views)):
            tables.append(one(gkey, _canonical(group), comparable, views, paper))
    return tables


def table3(store: RunStore, records: Iterable[dict[str, Any]], paper: bool = False) -> list[Table]:
    """Table 3 (RecLoRA ablations) per comparable set of ablation runs."""
    return _per_comparable_set(store, records, "ablation", ablation_variant, _table3_one, paper)


def _variant_name(variant: str) -> str:
    return "RecLoRA" if variant == "full" else f"RecLoRA ({variant})"


def _table3_one(gkey: tuple, canonical: str, comparable: ComparableSet, views: _Views, paper: bool) -> Table:
    scored, _labels = score(comparable)
    order = _ordered(set(ABLATION_VARIANTS) | set(scored), ABLATION_VARIANTS)
    full = scored.get("full")
    aucs = [scored[v].auc_mean if v in scored else None for v in order]
    losses = [scored[v].logloss_mean if v in scored else None for v in order]
    auc_marks, loss_marks = rank_marks(aucs, True), rank_marks(losses, False)
    column = paper_column(gkey[0]) if paper else None
    headers = ["Variant", "AUC", "LogLoss", "RelDecr (vs full)", "seeds"]
    if column:
        headers += [f"paper {column[0]} AUC", f"paper {column[0]} LogLoss", f"paper {column[0]} RelDecr"]
    rows = []
    for i, variant in enumerate(order):
        s = scored.get(variant)
        if s is None:
            row: list[Any] = [_variant_name(variant), MISSING, MISSING, MISSING, "0"]
        else:
            decr = MISSING
            if variant != "full" and full is not None:
                decr = percent((s.auc_mean - full.auc_mean) / full.auc_mean, signed=True)
            auc_cell = Cell(_num(s.auc_mean), auc_marks[i], std=_std(s, "auc"))
            loss_cell = Cell(_num(s.logloss_mean), loss_marks[i], std=_std(s, "logloss"))
            row = [_variant_name(variant), auc_cell, loss_cell, decr, str(len(s.seeds))]
        if column:
            published = PAPER_TABLE3[column[0]]
            p = published.get(variant)
            if p is None:
                row += [MISSING] * 3
            else:
                paper_full = published["full"][0]
                pdecr = MISSING if variant == "full" else percent((p[0] - paper_full) / paper_full, signed=True)
                row += [f"{p[0]:.4f}", f"{p[1]:.4f}", pdecr]
        rows.append(row)
    profile = gkey[3]
    description = [_describe(gkey[:3], canonical, comparable, f", LM size profile `{profile}`")]
    notes = _common_notes(comparable, _variant_name, views)
    notes.append(
        "Bold: best; underlined: second best; –: no recorded run; RelDecr = (AUC_variant - AUC_full) / AUC_full."
    )
    if full is None:
        notes.append("No run of the full RecLoRA here, so RelDecr cannot be computed.")
    if column:
        notes.append(_paper_note(gkey[0], column, "Table 3"))
    elif paper:
        notes.append(f"The paper reports no numbers for data like {gkey[0]}, so no paper columns are shown.")
    return Table(f"Table 3 — {gkey[0]} ({profile_title(profile)})", headers, rows, description, notes)


# --------------------------------------------------------------------------- Table 4


def _mean_timing(views: list[RunView], key: str) -> float:
    timings = [v.record.get("timings") or {} for v in views]
    values = [float(t[key]) for t in timings if t.get(key) is not None]
    return float(np.mean(values)) if values else math.nan


def table4(store: RunStore, records: Iterable[dict[str, Any]], paper: bool = False) -> list[Table]:
    """Table 4 (time per sample vs text / ID history length) per comparable set of runs."""
    return _per_comparable_set(store, records, "time_per_sample", time_variant, _table4_one, paper)


def _table4_one(gkey: tuple, canonical: str, comparable: ComparableSet, views: _Views, paper: bool) -> Table:
    scored, _labels = score(comparable)
    order = _ordered(set(TIME_VARIANTS) | set(scored), TIME_VARIANTS)
    base = scored.get(TIME_VARIANTS[0])
    base_train = _mean_timing(comparable.entries.get(TIME_VARIANTS[0], []), "train_seconds_per_sample")
    base_infer = _mean_timing(comparable.entries.get(TIME_VARIANTS[0], []), "infer_seconds_per_sample")
    headers = ["Model", "Text", "ID", "AUC", "Improve", "Train s/sample", "Increase", "Infer s/sample", "Increase"]
    headers.append("seeds")
    column = ("GoodReads", gkey[0] == "goodreads") if paper else None
    if column:
        headers += ["paper GoodReads AUC", "paper train s/sample", "paper infer s/sample"]

    def rel(x: float, ref: float) -> str:
        return MISSING if x != x or ref != ref or ref == 0 else percent((x - ref) / ref, signed=True)

    rows = []
    for variant in order:
        text, ident = parse_time_variant(variant)
        s = scored.get(variant)
        runs = comparable.entries.get(variant, [])
        model = display_name(runs[0].record["model"]) if runs else ("ReLLa" if ident is None else "RecLoRA")
        if s is None:
            row: list[Any] = [model, str(text), str(ident or MISSING)] + [MISSING] * 6 + ["0"]
        else:
            train = _mean_timing(runs, "train_seconds_per_sample")
            infer = _mean_timing(runs, "infer_seconds_per_sample")
            first = variant == TIME_VARIANTS[0]
            row = [
                model, str(text), str(ident or MISSING), Cell(_num(s.auc_mean), std=_std(s, "auc")),
                MISSING if first or base is None else rel(s.auc_mean, base.auc_mean),
                _seconds(train), MISSING if first else rel(train, base_train),
                _seconds(infer), MISSING if first else rel(infer, base_infer),
                str(len(s.seeds)),
            ]  # fmt: skip
        if column:
            p = PAPER_TABLE4.get(variant)
            row += [f"{p[0]:.4f}", f"{p[1]:.2f}", f"{p[2]:.2f}"] if p else [MISSING] * 3
        rows.append(row)
    profile = gkey[3]
    description = [_describe(gkey[:3], canonical, comparable, f", LM size profile `{profile}`")]
    notes = _common_notes(comparable, lambda v: v, views)
    notes.append(
        f"Improve and Increase are relative to the {TIME_VARIANTS[0]} row (text history 10, no ID history); times are "
        "seconds per sample averaged over seeds, as recorded by each run on its own machine; –: no recorded run."
    )
    if column:
        notes.append(_paper_note(gkey[0], column, "Table 4"))
    return Table(f"Table 4 — {gkey[0]} ({profile_title(profile)})", headers, rows, description, notes)
