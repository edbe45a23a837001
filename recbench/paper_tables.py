"""Tables 2, 3 and 4 of a suite's paper (default: RecLoRA), built from the run store.

Why: the paper's claims are comparisons ("RecLoRA beats the best baseline with p < 0.01",
"removing meta-LoRA costs 3.3 % AUC", "a longer ID history is nearly free"), so each table is
built on identical test rows (:mod:`recbench.compare`) and says how it was built: which data,
which rows, which runs were restricted to fewer rows, which tests back each ``*``.

* Table 2: plain runs (``study`` None) in the suite's groups, AUC, LogLoss and RelImpr of the
  suite's reference (or the best model when it has no run) over every other model, with DeLong
  and t-test p-values (Holm-adjusted across the table's baselines). LM runs of different size
  profiles ("cpu", "paper") get separate tables, each with the ID models restricted to its rows.
* Tables 3 and 4 (:mod:`recbench.study_tables`): the suite's ablation and timing tables.

The :class:`recbench.suites.Suite` is passed in (default: RecLoRA's, via
:func:`recbench.run_selection.suite_or_default`). Tuning trials never appear; a re-run of a
seed replaces the earlier run.

Example:
    >>> display_name("reclora"), display_name("my-model")
    ('RecLoRA', 'my-model')
    >>> percent(0.0204), percent(-0.0334, signed=True)
    ('2.04%', '-3.34%')
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any

import numpy as np

from recbench.compare import (
    ALPHA,
    ComparableSet,
    RunView,
    Scored,
    comparable_sets,
    compare_to_reference,
    format_p,
    latest_per_seed,
    load_view,
    score,
)
from recbench.errors import RecbenchError
from recbench.metrics import relative_improvement
from recbench.records import StoreProblem
from recbench.render import MISSING, Cell, Table, rank_marks
from recbench.run_record import RunRecord
from recbench.run_selection import (
    display_name,
    family,
    profile_of,
    profile_title,
    suite_or_default,
    variant_label,
)
from recbench.runstore import RunStore

if TYPE_CHECKING:
    from recbench.suites import Suite


def percent(x: float, signed: bool = False) -> str:
    if x != x:
        return MISSING
    return f"{x * 100:+.2f}%" if signed else f"{x * 100:.2f}%"


def _num(x: float) -> str:
    return MISSING if x != x else f"{x:.4f}"


def _seconds(x: float) -> str:
    return MISSING if x != x else (f"{x:.2f}" if x >= 0.01 else f"{x:.1e}")


def _std(scored: Scored, which: str) -> str:
    value = scored.auc_std if which == "auc" else scored.logloss_std
    return "" if math.isnan(value) else f"{value:.4f}"


class _Views:
    """Predictions loaded once per run, with a note for each run that has none."""

    def __init__(self, store: RunStore) -> None:
        self.store = store
        self.cache: dict[str, RunView | None] = {}
        #: why each run left out could not be compared (one line each, naming the run)
        self.missing: list[str] = []

    def __call__(self, records: list[RunRecord]) -> list[RunView]:
        out = []
        for record in records:
            rid = record.run_id
            if rid not in self.cache:
                try:
                    self.cache[rid] = load_view(self.store, record)
                except RecbenchError as exc:
                    self.cache[rid] = None
                    self.missing.append(str(exc))
                    problems = getattr(self.store, "problems", None)
                    if problems is not None and str(exc) not in {str(p) for p in problems}:
                        problems.append(StoreProblem(None, str(exc)))
            if self.cache[rid] is not None:
                out.append(self.cache[rid])
        return out


def _describe(key: tuple[str, str, int], canonical: str, comparable: ComparableSet, extra: str = "") -> str:
    variant, digest, version = key
    return (
        f"Data `{variant}` sha256 `{digest}` (canonical release: {canonical}), protocol v{version}, "
        f"{len(comparable.rows):,} common test rows{extra}."
    )


def _common_notes(comparable: ComparableSet, names: Callable[[str], str], views: _Views) -> list[str]:
    notes = []
    if comparable.restricted:
        # named in a fixed order, not the store's history: pruning an older run changes nothing here
        restricted = sorted(comparable.restricted.items(), key=lambda item: names(item[0]).casefold())
        parts = ", ".join(f"{names(k)} ({n:,} rows)" for k, n in restricted)
        notes.append(
            f"Restricted by row id to these {len(comparable.rows):,} rows, with AUC and LogLoss recomputed "
            f"on them: {parts}."
        )
    if comparable.siblings:
        notes.append(
            f"Other runs on this data were scored on {comparable.siblings} other test-row set(s) that are "
            "disjoint from or not nested with these rows; they are in separate tables, never mixed with this one."
        )
    return notes  # runs left out for damaged predictions are listed once per table by build_tables


def _canonical(records: list[RunRecord]) -> str:
    return "unknown" if not records or records[0].canonical is None else str(records[0].canonical)


# --------------------------------------------------------------------------- Table 2


def table2_sets(store: RunStore, records: Iterable[RunRecord]) -> Iterator[tuple[tuple, str, str | None, ComparableSet, _Views, list[tuple]]]:
    """Each comparable set of plain runs: (data key, canonical, LM profile, set, views, all data keys).

    One set per LM profile with the ID and reference models cut to its rows, then the ID models
    on all their rows; Table 2 and the claims (``recbench.claims``) read the same sets.
    """
    main = [r for r in records if r.is_result and r.study is None]
    groups: dict[tuple, list[RunRecord]] = defaultdict(list)
    for record in main:
        groups[record.data_key].append(record)
    for key in sorted(groups):
        group = groups[key]
        profiles: list[str | None] = sorted({profile_of(r) for r in group if family(r) == "lm"})
        for profile in [*profiles, None]:
            members = [r for r in group if family(r) != "lm" or (profile is not None and profile_of(r) == profile)]
            if not members:
                continue
            by_model: dict[str, list[RunRecord]] = defaultdict(list)
            for record in members:
                by_model[variant_label(record)].append(record)
            views = _Views(store)
            entries = {m: views(latest_per_seed(rs)) for m, rs in by_model.items()}
            entries = {m: v for m, v in entries.items() if v}
            for comparable in comparable_sets(entries):
                yield key, _canonical(group), profile, comparable, views, list(groups)


def table2(store: RunStore, records: Iterable[RunRecord], paper: bool = False, reference: str | None = None,
           suite: Suite | None = None) -> list[Table]:  # fmt: skip
    """Table 2 of ``suite`` for every set of comparable plain runs in ``records``.

    ``reference`` is the entry whose RelImpr and significance tests the table reports (default
    the suite's reference, else the best entry): a user's own model, to ask "does mine beat
    every baseline?".
    """
    suite = suite_or_default(suite)
    tables = []
    for key, canonical, profile, comparable, views, keys in table2_sets(store, records):
        table = _table2_one(key, canonical, profile, comparable, views, paper, reference or suite.reference, suite)
        mismatch = data_mismatch_note(key, keys)
        if mismatch:
            table.notes.insert(0, mismatch)
        tables.append(table)
    return tables


def _table2_one(
    key: tuple, canonical: str, profile: str | None, comparable: ComparableSet, views: _Views, paper: bool,
    wanted: str, suite: Suite,
) -> Table:
    scored, labels = score(comparable)
    ranked = sorted(scored.values(), key=lambda s: (-s.auc_mean, s.logloss_mean, s.label))
    variants = [k for k in scored if k.partition(" [")[0] == wanted]
    reference = scored.get(wanted) or (scored[variants[0]] if len(variants) == 1 else None) or ranked[0]
    others = {k: v for k, v in scored.items() if k != reference.label}
    sig = compare_to_reference(reference, others, labels) if others else {}
    runner_up = max(others.values(), key=lambda s: (s.auc_mean, -s.logloss_mean), default=None)
    is_top = runner_up is None or reference.auc_mean > runner_up.auc_mean
    starred = bool(runner_up is not None and is_top and sig[runner_up.label].beats)

    # each model's row is followed by its runs with changed settings, if any
    layout = [(g.title, [label for m in g.models for label in [m, *sorted(k for k in scored if k.startswith(m + " ["))]])
              for g in suite.groups]  # fmt: skip
    extra = sorted(set(scored) - {label for _, labels in layout for label in labels})
    if extra:
        layout.append(("Other", extra))
    order = [(g, m) for g, ms in layout for m in ms]
    aucs = [scored[m].auc_mean if m in scored else None for _, m in order]
    losses = [scored[m].logloss_mean if m in scored else None for _, m in order]
    auc_marks, loss_marks = rank_marks(aucs, True), rank_marks(losses, False)

    column = paper_column(suite, key[0], paper)
    relimpr = f"RelImpr ({display_name(reference.label)} over)"
    headers = ["Group", "Model", "AUC", "LogLoss", relimpr, "DeLong p (Holm)", "t-test p (Holm)", "seeds"]
    if column:
        headers += [f"paper {column[0]} AUC", f"paper {column[0]} LogLoss"]
    rows = []
    previous_group = None
    for i, (group, model) in enumerate(order):
        group_cell = group if group != previous_group else ""
        previous_group = group
        s = scored.get(model)
        if s is None:
            row: list[Any] = [group_cell, display_name(model), MISSING, MISSING, MISSING, MISSING, MISSING, "0"]
        else:
            star = starred and model == reference.label
            auc_cell = Cell(_num(s.auc_mean), auc_marks[i], star, _std(s, "auc"))
            loss_cell = Cell(_num(s.logloss_mean), loss_marks[i], False, _std(s, "logloss"))
            if model == reference.label:
                rel, dp, tp = MISSING, MISSING, MISSING
            else:
                g = sig[model]
                rel = percent(relative_improvement(reference.auc_mean, s.auc_mean))
                dp = Cell(format_p(g.delong_holm), star=g.beats)
                tp = format_p(g.t_holm) if not math.isnan(g.t_p) else MISSING
            row = [group_cell, display_name(model), auc_cell, loss_cell, rel, dp, tp, str(len(s.seeds))]
        if column:
            published = suite.published.table2.get(column[0], {}).get(model)
            row += [f"{published[0]:.4f}", f"{published[1]:.4f}"] if published else [MISSING, MISSING]
        rows.append(row)

    where = f", LM size profile `{profile}`" if profile else ""
    ref_name = display_name(reference.label)
    description = [_describe(key, canonical, comparable, where)]
    if reference.label.partition(" [")[0] != wanted:
        description.append(
            f"{display_name(wanted)} has no run here, so RelImpr and the tests use the best model, {ref_name}, as the reference."
        )
    settings = lm_settings_line(comparable)
    if profile and settings:
        description.append(settings)
    notes = _common_notes(comparable, display_name, views)
    notes.append(
        "Bold: best; underlined: second best (by the values shown); –: no recorded run; ± is the std over seeds."
    )
    if runner_up is None:
        notes.append(f"{ref_name} is the only model here: nothing to compare.")
    else:
        notes.append(
            f"*: {ref_name} beats the best baseline ({display_name(runner_up.label)}) with p < {ALPHA} by DeLong "
            "on the common rows for every seed pair (largest p over the pairs) and, where both have >= 2 matching "
            "seeds, by a paired t-test of the per-seed AUCs; p-values are Holm-adjusted across the "
            f"{len(others)} baselines. A * in the DeLong column marks each baseline {ref_name} beats that way."
        )
        if not is_top:
            best = display_name(ranked[0].label)
            notes.append(f"{ref_name} is not the best model here (best: {best}), so it gets no *.")
        elif not starred:
            notes.append(f"{ref_name} does not beat the best baseline significantly, so it gets no *.")
        beaten = [k for k, g in sig.items() if g.beats]
        if not beaten:
            notes.append(f"{ref_name} beats none of the baselines significantly.")
        single = sorted(display_name(k) for k, g in sig.items() if math.isnan(g.t_p))
        if single:
            notes.append(f"t-test not applied (fewer than 2 matching seeds), DeLong only: {', '.join(single)}.")
        failed = sorted(f"{display_name(k)} ({g.note})" for k, g in sig.items() if g.note)
        if failed:
            notes.append(f"No DeLong p: {'; '.join(failed)}.")
    floor_note = _floor_note(scored, labels, suite)
    if floor_note:
        notes.append(floor_note)
    if column:
        notes.append(_paper_note(key[0], column, "Table 2", suite))
    elif paper:
        notes.append(f"The paper reports no numbers for data like {key[0]}, so no paper columns are shown.")
    title = f"Table 2 — {key[0]}" + (f" ({profile_title(profile)})" if profile else "")
    return Table(title, headers, rows, description, notes)


def lm_settings_line(comparable: ComparableSet) -> str | None:
    """What the LM rows were trained on, read from their records: the caption names the few-shot
    size, epochs, lr and LoRA targets (CTR-BERT's training rows too), so a table states its budget."""
    by_text: dict[str, list[str]] = defaultdict(list)
    for label, views in comparable.entries.items():
        if not views or family(views[0].record) != "lm":
            continue
        record = views[0].record
        train, config = record.train_config or {}, record.config or {}
        if not train:
            continue
        if int(train.get("n_train", 0) or 0) == 0:
            text = f"untrained {train.get('backbone', '?')} (zero-shot)"
        else:
            text = f"{int(train['n_train']):,} training rows x {train.get('epochs', '?')} epochs, lr {float(train.get('lr', float('nan'))):g}, batch {train.get('batch_size', '?')}"
            if record.model == "ctr-bert":
                text += ", MiniLM towers fine-tuned"
            else:
                rank = config.get("lora_rank", "?")  # a RecLoRA record's old "rank" is read as lora_rank (RunRecord)
                text = f"{train.get('backbone', '?')}, " + text + f", LoRA r {rank} on {','.join(train.get('lora_targets') or ['?'])}"
        by_text[text].append(display_name(label))
    if not by_text:
        return None
    return "LM rows: " + "; ".join(f"{', '.join(names)}: {text}" for text, names in by_text.items()) + "."


def _floor_note(scored: dict[str, Scored], labels: np.ndarray, suite: Suite) -> str | None:
    """Which learned models do not beat the suite's floor model significantly (DeLong, Holm, p < ALPHA)."""
    name = suite.floor
    floor = scored.get(name) if name else None
    if name is None or floor is None:
        return None
    counting = suite.models_of("reference")
    learned = {k: v for k, v in scored.items() if k.partition(" [")[0] not in counting}
    failing = []
    for label, model in sorted(learned.items()):
        sig = compare_to_reference(model, {name: floor}, labels)[name]
        if not sig.beats:
            failing.append(f"{display_name(label)} (p {format_p(sig.delong_holm)})")
    meaning = suite.floor_meaning
    if not failing:
        what = f" ({meaning})" if meaning else ""
        return f"Every learned model beats {display_name(name)}{what} with p < {ALPHA} by DeLong."
    what = f"{meaning}; " if meaning else ""
    return (f"Not significantly better than {display_name(name)} ({what}DeLong, "
            f"p < {ALPHA} needed for every seed pair): {', '.join(failing)}. These rows carry no evidence of learning beyond it.")  # fmt: skip


def paper_column(suite: Suite, dataset: str, paper: bool) -> tuple[str, bool] | None:
    """With ``--paper``: the suite's published column beside ``dataset`` and whether it is the same data."""
    return suite.published.column(dataset) if paper and suite.published is not None else None


def _paper_note(dataset: str, column: tuple[str, bool], table: str, suite: Suite) -> str:
    name, same = column
    source = suite.published.paper if suite.published is not None else suite.title
    if same:
        return f"'paper {name}' columns: the {source} paper's published {table} numbers on {name}, for reference."
    return (
        f"'paper {name}' columns: the {source} paper's published {table} numbers on {name} — other data than "
        f"{dataset}, shown for orientation only, not comparable."
    )


def _builders() -> dict[str, Callable[..., list[Table]]]:
    from recbench.study_tables import table3, table4  # they build on this module's helpers

    return {"2": table2, "3": table3, "4": table4}


def build_tables(
    store: RunStore, records: list[RunRecord], which: str = "all", paper: bool = False, reference: str | None = None,
    suite: Suite | None = None,
) -> list[Table]:
    """The requested tables ("2", "3", "4", "claims" or "all") of ``suite`` from ``records``; ``reference``: see :func:`table2`."""
    suite = suite_or_default(suite)
    if which == "claims":
        from recbench.claims import claims_tables
        from recbench.study_claims import study_claims_tables

        tables = claims_tables(store, records, suite) + study_claims_tables(store, records, suite)
    elif which not in ("all", "2", "3", "4"):
        raise RecbenchError(f"--table {which}: expected 2, 3, 4, claims or all")
    else:
        builders = _builders()
        chosen = builders if which == "all" else {which: builders[which]}
        tables = []
        for name, build in chosen.items():
            tables += build(store, records, paper, reference, suite) if name == "2" else build(store, records, paper, suite)
    problems = [str(p) for p in getattr(store, "problems", [])]
    if problems:
        note = f"Skipped {len(problems)} damaged run(s) of the store: " + "; ".join(problems) + "."
        for t in tables:
            t.notes.append(note)
    return tables


def data_mismatch_note(key: tuple[str, str, int], keys: Iterable[tuple[str, str, int]]) -> str | None:
    """Why runs of the same dataset name sit in another table: other raw data or protocol.

    Example:
        >>> data_mismatch_note(("ml-100k", "aa", 1), [("ml-100k", "aa", 1), ("ml-100k", "bb", 1)])
        'Other runs of ml-100k were made on other data or another protocol (sha256 bb, protocol v1): they are in their own table, never merged with this one.'
    """
    others = sorted(k for k in set(keys) if k[0] == key[0] and k != key)
    if not others:
        return None
    what = "; ".join(f"sha256 {digest}, protocol v{version}" for _, digest, version in others)
    return (f"Other runs of {key[0]} were made on other data or another protocol ({what}): "
            "they are in their own table, never merged with this one.")  # fmt: skip
