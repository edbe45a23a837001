"""Tables 3 and 4 of a suite's paper (default: RecLoRA): the ablations and the cost of ID vs text history.

* Table 3: the suite's ablation table (``Suite.ablation``; RecLoRA's: ``study.name ==
  "ablation"``), RelDecr against its first row, the full model; the plain Table-2 run of that
  model is the full row (never run twice).
* Table 4: the suite's timing table (``Suite.timing``; RecLoRA's: ``time_per_sample``): text /
  ID history lengths, AUC and the time per training and inference sample.

Both share Table 2's rules (:mod:`recbench.paper_tables`): identical test rows, one table per
comparable set, the paper's numbers only beside ours and labelled. A run is a row by its
settings, whichever study made it (:func:`row_label`).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Iterable
from functools import partial
from typing import TYPE_CHECKING, Any

import numpy as np

from recbench.compare import ComparableSet, RunView, comparable_sets, latest_per_seed, score
from recbench.drift import resolve_settings, settings_difference
from recbench.paper_tables import (
    _canonical,
    _common_notes,
    _describe,
    _num,
    _paper_note,
    _seconds,
    _std,
    _Views,
    paper_column,
    percent,
)
from recbench.render import MISSING, Cell, Table, rank_marks
from recbench.run_record import RunRecord
from recbench.run_selection import display_name, profile_of, profile_title, suite_or_default
from recbench.runstore import RunStore
from recbench.suite_parts import parse_time_variant

if TYPE_CHECKING:
    from recbench.suite_parts import VariantTable
    from recbench.suites import Suite

# --------------------------------------------------------------------------- rows by settings


def study_groups(records: Iterable[RunRecord], table: VariantTable) -> dict[tuple, list[RunRecord]]:
    """Result runs that are a row of ``table`` (Table 3 or 4), by data and profile."""
    label = row_labeller(table)
    groups: dict[tuple, list[RunRecord]] = defaultdict(list)
    for record in records:
        if record.is_result and label(record) is not None:
            groups[(*record.data_key, profile_of(record))].append(record)
    return groups


def row_labeller(table: VariantTable) -> Callable[[RunRecord], str | None]:
    """A function giving each run its row label of ``table`` (or None), the rows' settings read once."""
    return partial(row_label, table=table, rows=table.settings())


def row_label(record: RunRecord, table: VariantTable, rows: dict[str, tuple[str, tuple[str, ...]]] | None = None) -> str | None:
    """The row of ``table`` whose settings the run has, whichever study made it.

    E.g. the default RecLoRA run is Table 3's "full" and Table 4's "10/60" row, and an N_m = 1
    run of Figure 4 is "w/o meta-LoRA". A record without settings falls back to its study label
    (or, for a plain run of the first row's model when that row changes nothing, the first row).
    ``rows`` (label -> (model, overrides)) saves reading derived overrides once per record.
    """
    rows = table.settings() if rows is None else rows
    if record.config is None:
        variant = record.study.variant if record.study is not None else None
        if variant in rows:
            return str(variant)
        base = table.base
        return base.label if not base.overrides and record.is_plain_run(base.model) else None
    for label, (model, overrides) in rows.items():
        resolved = resolve_settings(model, overrides, record.profile) if record.model == model else None
        if resolved is not None and not settings_difference(record, *resolved):
            return label
    return None


def _entries_by(
    records: list[RunRecord], label_of: Callable[[RunRecord], str], views: _Views
) -> dict[str, list[RunView]]:
    by_label: dict[str, list[RunRecord]] = defaultdict(list)
    for record in records:
        by_label[label_of(record)].append(record)
    entries = {k: views(latest_per_seed(v)) for k, v in by_label.items()}
    return {k: v for k, v in entries.items() if v}


def _ordered(labels: Iterable[str], known: tuple[str, ...]) -> list[str]:
    labels = set(labels)
    return [v for v in known if v in labels] + sorted(labels - set(known))


def _per_comparable_set(store: RunStore, records: Iterable[RunRecord], table: VariantTable,
                        one: Callable[..., Table], paper: bool) -> list[Table]:  # fmt: skip
    """One table per comparable set of the runs that are rows of ``table``."""
    label = row_labeller(table)
    tables = []
    for gkey, group in sorted(study_groups(records, table).items()):
        views = _Views(store)
        for comparable in comparable_sets(_entries_by(group, label, views)):
            tables.append(one(gkey, _canonical(group), comparable, views, paper))
    return tables


# --------------------------------------------------------------------------- Table 3


def table3(store: RunStore, records: Iterable[RunRecord], paper: bool = False, suite: Suite | None = None) -> list[Table]:
    """Table 3 (the suite's ablations) per comparable set of ablation runs; none when the suite has no ablations."""
    suite = suite_or_default(suite)
    if suite.ablation is None:
        return []
    return _per_comparable_set(store, records, suite.ablation, partial(_table3_one, suite=suite), paper)


def variant_name(suite: Suite, variant: str) -> str:
    """How Table 3 names a row: the model for the full row, else the model and the variant."""
    assert suite.ablation is not None
    name = display_name(suite.ablation.base.model)
    return name if variant == suite.ablation.base.label else f"{name} ({variant})"


def _table3_one(gkey: tuple, canonical: str, comparable: ComparableSet, views: _Views, paper: bool, suite: Suite) -> Table:
    assert suite.ablation is not None
    known, full_label = suite.ablation.labels, suite.ablation.base.label
    scored, _labels = score(comparable)
    order = _ordered(set(known) | set(scored), known)
    full = scored.get(full_label)
    aucs = [scored[v].auc_mean if v in scored else None for v in order]
    losses = [scored[v].logloss_mean if v in scored else None for v in order]
    auc_marks, loss_marks = rank_marks(aucs, True), rank_marks(losses, False)
    column = paper_column(suite, gkey[0], paper)
    headers = ["Variant", "AUC", "LogLoss", f"RelDecr (vs {full_label})", "seeds"]
    if column:
        headers += [f"paper {column[0]} AUC", f"paper {column[0]} LogLoss", f"paper {column[0]} RelDecr"]
    rows = []
    for i, variant in enumerate(order):
        s = scored.get(variant)
        if s is None:
            row: list[Any] = [variant_name(suite, variant), MISSING, MISSING, MISSING, "0"]
        else:
            decr = MISSING
            if variant != full_label and full is not None:
                decr = percent((s.auc_mean - full.auc_mean) / full.auc_mean, signed=True)
            auc_cell = Cell(_num(s.auc_mean), auc_marks[i], std=_std(s, "auc"))
            loss_cell = Cell(_num(s.logloss_mean), loss_marks[i], std=_std(s, "logloss"))
            row = [variant_name(suite, variant), auc_cell, loss_cell, decr, str(len(s.seeds))]
        if column:
            assert suite.published is not None
            published = suite.published.table3.get(column[0], {})
            p, p_full = published.get(variant), published.get(full_label)
            if p is None:
                row += [MISSING] * 3
            else:
                pdecr = MISSING if variant == full_label or p_full is None else percent((p[0] - p_full[0]) / p_full[0], signed=True)
                row += [f"{p[0]:.4f}", f"{p[1]:.4f}", pdecr]
        rows.append(row)
    profile = gkey[3]
    description = [_describe(gkey[:3], canonical, comparable, f", LM size profile `{profile}`")]
    notes = _common_notes(comparable, partial(variant_name, suite), views)
    notes.append(
        f"Bold: best; underlined: second best; –: no recorded run; RelDecr = (AUC_variant - AUC_{full_label}) / AUC_{full_label}."
    )
    if full is None:
        notes.append(f"No run of the {full_label} {display_name(suite.ablation.base.model)} here, so RelDecr cannot be computed.")
    if column:
        notes.append(_paper_note(gkey[0], column, "Table 3", suite))
    elif paper:
        notes.append(f"The paper reports no numbers for data like {gkey[0]}, so no paper columns are shown.")
    return Table(f"Table 3 — {gkey[0]} ({profile_title(profile)})", headers, rows, description, notes)


# --------------------------------------------------------------------------- Table 4


def _mean_timing(views: list[RunView], key: str) -> float:
    timings = [v.record.timings for v in views]
    values = [float(t[key]) for t in timings if t.get(key) is not None]
    return float(np.mean(values)) if values else math.nan


def table4(store: RunStore, records: Iterable[RunRecord], paper: bool = False, suite: Suite | None = None) -> list[Table]:
    """Table 4 (time per sample vs text / ID history length) per comparable set of the suite's timing runs."""
    suite = suite_or_default(suite)
    if suite.timing is None:
        return []
    return _per_comparable_set(store, records, suite.timing, partial(_table4_one, suite=suite), paper)


def _history_words(variant: str) -> str:
    """"10/-" -> "text history 10, no ID history": what a Table 4 row label means."""
    text, ident = parse_time_variant(variant)
    return f"text history {text}, " + ("no ID history" if ident is None else f"ID history {ident}")


def _table4_one(gkey: tuple, canonical: str, comparable: ComparableSet, views: _Views, paper: bool, suite: Suite) -> Table:
    assert suite.timing is not None
    known, first_label = suite.timing.labels, suite.timing.base.label
    models = {v.label: v.model for v in suite.timing.rows}
    scored, _labels = score(comparable)
    order = _ordered(set(known) | set(scored), known)
    base = scored.get(first_label)
    base_train = _mean_timing(comparable.entries.get(first_label, []), "train_seconds_per_sample")
    base_infer = _mean_timing(comparable.entries.get(first_label, []), "infer_seconds_per_sample")
    headers = ["Model", "Text", "ID", "AUC", "Improve", "Train s/sample", "Increase", "Infer s/sample", "Increase"]
    headers.append("seeds")
    published = suite.published if paper else None
    name = published.table4_column if published is not None else None
    column = (name, published.column(gkey[0]) == (name, True)) if published is not None and name else None
    if column:
        headers += [f"paper {name} AUC", "paper train s/sample", "paper infer s/sample"]

    def rel(x: float, ref: float) -> str:
        return MISSING if x != x or ref != ref or ref == 0 else percent((x - ref) / ref, signed=True)

    rows = []
    for variant in order:
        text, ident = parse_time_variant(variant)
        s = scored.get(variant)
        runs = comparable.entries.get(variant, [])
        model = display_name(runs[0].record.model if runs else models.get(variant, "?"))
        if s is None:
            row: list[Any] = [model, str(text), str(ident or MISSING)] + [MISSING] * 6 + ["0"]
        else:
            train = _mean_timing(runs, "train_seconds_per_sample")
            infer = _mean_timing(runs, "infer_seconds_per_sample")
            first = variant == first_label
            row = [
                model, str(text), str(ident or MISSING), Cell(_num(s.auc_mean), std=_std(s, "auc")),
                MISSING if first or base is None else rel(s.auc_mean, base.auc_mean),
                _seconds(train), MISSING if first else rel(train, base_train),
                _seconds(infer), MISSING if first else rel(infer, base_infer),
                str(len(s.seeds)),
            ]  # fmt: skip
        if column:
            assert published is not None
            p = published.table4.get(variant)
            row += [f"{p[0]:.4f}", f"{p[1]:.2f}", f"{p[2]:.2f}"] if p else [MISSING] * 3
        rows.append(row)
    profile = gkey[3]
    description = [_describe(gkey[:3], canonical, comparable, f", LM size profile `{profile}`")]
    notes = _common_notes(comparable, lambda v: v, views)
    notes.append(
        f"Improve and Increase are relative to the {first_label} row ({_history_words(first_label)}); times are "
        "seconds per sample averaged over seeds, as recorded by each run on its own machine; –: no recorded run."
    )
    if column:
        notes.append(_paper_note(gkey[0], column, "Table 4", suite))
    return Table(f"Table 4 — {gkey[0]} ({profile_title(profile)})", headers, rows, description, notes)
