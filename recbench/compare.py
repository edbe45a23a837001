"""Putting recorded runs side by side on identical test rows, with significance tests.

Why this exists: language-model runs score only the first ``n_test`` test rows while ID
models score all of them, and a 0.001 AUC difference is meaningful in this field. Comparing
an AUC measured on 97,002 rows with one measured on 1,000 rows would be meaningless, so every
table is built on one set of test-row ids:

* Runs are candidates for one table only when they share the data (dataset variant, raw-data
  digest, protocol version); callers group by that first.
* Within such a group, each distinct set of test-row ids is read from ``predictions.npz``. A
  table is made for every *minimal* row set (one that contains no other run's row set); it
  holds every run whose rows include it. So an ID model scored on all rows is restricted, by
  row id, to the LM models' first-n rows, and its AUC / LogLoss are recomputed there. Runs
  whose row sets are disjoint or only partly overlapping never share a table.
* Significance of a reference model against each baseline: DeLong on the common rows for
  every seed pair (same seed for both models; if they share no seed, the i-th seeds of
  each), taking the *largest* p over the pairs and requiring every pair to favour the
  reference (an intersection-union test: "significant for every seed", valid without a
  further correction). When both models have at least two matching seeds a paired t-test of
  the per-seed AUCs must agree too. Holm's correction is applied across the baselines of a
  table, separately for the DeLong and the t-test p-values.

Example:
    >>> import numpy as np
    >>> from recbench.run_record import RunRecord
    >>> a = RunView(RunRecord("ra", "a", "synth"), np.arange(4), np.array([.9, .2, .8, .1]), np.array([1, 0, 1, 0]))
    >>> b = RunView(RunRecord("rb", "b", "synth"), np.arange(2), np.array([.4, .6]), np.array([1, 0]))
    >>> [(len(c.rows), sorted(c.entries)) for c in comparable_sets({"a": [a], "b": [b]})]
    [(2, ['a', 'b'])]
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field

import numpy as np

from recbench.errors import RecbenchError
from recbench.metrics import auc as auc_metric
from recbench.metrics import logloss as logloss_metric
from recbench.run_record import RunRecord
from recbench.runstore import RunStore
from recbench.stats import delong_test, holm, paired_t_test

ALPHA = 0.01


@dataclass
class RunView:
    """One recorded run with its test predictions, sorted by protocol row id."""

    record: RunRecord
    rows: np.ndarray
    probs: np.ndarray
    labels: np.ndarray

    def __post_init__(self) -> None:
        order = np.argsort(self.rows, kind="stable")
        self.rows = np.asarray(self.rows, dtype=np.int64)[order]
        self.probs = np.asarray(self.probs, dtype=np.float64)[order]
        self.labels = np.asarray(self.labels)[order]
        self.key = hashlib.sha256(self.rows.tobytes()).hexdigest()

    @property
    def seed(self) -> int:
        return self.record.seed


def load_view(store: RunStore, record: RunRecord) -> RunView:
    """The run's checked test predictions.

    Raises:
        RecbenchError: one line naming the run folder: no predictions, unreadable or damaged ones,
            or no test rows (such a run cannot be compared).
    """
    pred = store.predictions(record.run_id, record)
    if not {"test_row", "test_prob", "test_label"} <= set(pred):
        raise RecbenchError(f"{record.run_id}: predictions.npz has no test rows")
    return RunView(record, pred["test_row"], pred["test_prob"], pred["test_label"])


def latest_per_seed(records: list[RunRecord]) -> list[RunRecord]:
    """A re-run of a seed replaces the earlier one (records come oldest first)."""
    latest: dict[int, RunRecord] = {}
    for record in records:
        latest[record.seed] = record
    return [latest[s] for s in sorted(latest)]


@dataclass
class ComparableSet:
    """Runs (grouped by table entry) restricted to one common set of test rows."""

    rows: np.ndarray
    entries: dict[str, list[RunView]]
    #: entries whose runs were scored on more rows than ``rows`` and were restricted
    restricted: dict[str, int] = field(default_factory=dict)
    #: how many other comparable sets the same data produced (disjoint / not nested rows)
    siblings: int = 0


def _contains(big: np.ndarray, small: np.ndarray) -> bool:
    return len(small) <= len(big) and bool(np.isin(small, big, assume_unique=True).all())


def comparable_sets(entries: dict[str, list[RunView]]) -> list[ComparableSet]:
    """Split runs into sets comparable on identical test rows (see the module docstring).

    One set per minimal row set, holding every run whose rows contain it. Sets are ordered by
    size, largest first, so the most complete comparison leads.
    """
    by_key: dict[str, np.ndarray] = {}
    for runs in entries.values():
        for view in runs:
            by_key.setdefault(view.key, view.rows)
    minimal = [
        k for k, rows in by_key.items()
        if not any(o != k and len(other) < len(rows) and _contains(rows, other) for o, other in by_key.items())
    ]  # fmt: skip
    minimal.sort(key=lambda k: (-len(by_key[k]), k))
    out = []
    for key in minimal:
        base = by_key[key]
        chosen: dict[str, list[RunView]] = {}
        restricted: dict[str, int] = {}
        for label, runs in entries.items():
            inside = [v for v in runs if v.key == key or _contains(v.rows, base)]
            if inside:
                chosen[label] = inside
                bigger = [len(v.rows) for v in inside if v.key != key]
                if bigger:
                    restricted[label] = max(bigger)
        out.append(ComparableSet(base, chosen, restricted, len(minimal) - 1))
    return out


@dataclass
class Scored:
    """One table entry measured on the common rows: per-seed AUC / LogLoss and probabilities."""

    label: str
    seeds: list[int]
    aucs: list[float]
    loglosses: list[float]
    probs: dict[int, np.ndarray]

    @property
    def auc_mean(self) -> float:
        return float(np.mean(self.aucs))

    @property
    def logloss_mean(self) -> float:
        return float(np.mean(self.loglosses))

    @property
    def auc_std(self) -> float:
        return float(np.std(self.aucs, ddof=1)) if len(self.aucs) > 1 else math.nan

    @property
    def logloss_std(self) -> float:
        return float(np.std(self.loglosses, ddof=1)) if len(self.loglosses) > 1 else math.nan


def score(comparable: ComparableSet) -> tuple[dict[str, Scored], np.ndarray]:
    """Per-entry metrics on the common rows, and the labels of those rows.

    A run scored on exactly these rows keeps its recorded metrics; a restricted run's AUC and
    LogLoss are recomputed from its stored probabilities on the common rows.

    Raises:
        RecbenchError: two runs disagree on the label of a shared row (different protocols).
    """
    base = comparable.rows
    labels: np.ndarray | None = None
    first_run = ""
    out: dict[str, Scored] = {}
    for label, runs in comparable.entries.items():
        scored = Scored(label, [], [], [], {})
        for view in runs:
            idx = np.searchsorted(view.rows, base)
            probs, run_labels = view.probs[idx], view.labels[idx]
            if labels is None:
                labels, first_run = run_labels, view.record.run_id
            elif not np.array_equal(labels, run_labels):
                raise RecbenchError(
                    f"runs {first_run} and {view.record.run_id} disagree on the labels of shared "
                    "test rows; they were not made by the same protocol"
                )
            test = view.record.test
            if len(view.rows) == len(base) and test is not None and test.auc is not None and test.logloss is not None:
                run_auc, run_loss = float(test.auc), float(test.logloss)
            else:
                run_auc, run_loss = auc_metric(run_labels, probs), logloss_metric(run_labels, probs)
            scored.seeds.append(view.seed)
            scored.aucs.append(run_auc)
            scored.loglosses.append(run_loss)
            scored.probs[view.seed] = probs
        out[label] = scored
    assert labels is not None or not out
    return out, labels if labels is not None else np.zeros(0, dtype=np.int64)


@dataclass
class Significance:
    """The reference against one baseline; p-values are two-sided, ``*_holm`` adjusted."""

    delong_p: float
    delong_pairs: int
    all_pairs_favour_reference: bool
    t_p: float = math.nan
    t_reason: str | None = None
    delong_holm: float = math.nan
    t_holm: float = math.nan
    note: str | None = None

    @property
    def beats(self) -> bool:
        """Significantly better at ALPHA by DeLong for every seed pair and, where defined, by the t-test."""
        if not self.all_pairs_favour_reference or not self.delong_holm < ALPHA:
            return False
        return math.isnan(self.t_p) or self.t_holm < ALPHA


def _seed_pairs(a: Scored, b: Scored) -> tuple[list[tuple[int, int]], bool]:
    common = sorted(set(a.seeds) & set(b.seeds))
    if common:
        return [(s, s) for s in common], True
    return list(zip(sorted(a.seeds), sorted(b.seeds))), False


def compare_to_reference(reference: Scored, others: dict[str, Scored], labels: np.ndarray) -> dict[str, Significance]:
    """DeLong per seed pair (max p), paired t-test over matching seeds, Holm across ``others``."""
    results: dict[str, Significance] = {}
    for label, other in others.items():
        pairs, matched = _seed_pairs(reference, other)
        ps, favour, note = [], True, None
        for seed_ref, seed_other in pairs:
            try:
                r = delong_test(labels, reference.probs[seed_ref], other.probs[seed_other])
            except RecbenchError as exc:
                note = f"DeLong not computable: {exc}"
                ps = [math.nan]
                break
            ps.append(r.p)  # NaN when the test degenerated (see recbench.stats)
            favour = favour and r.diff > 0
        delong_p = math.nan if any(math.isnan(p) for p in ps) else max(ps)
        sig = Significance(delong_p, len(pairs), favour and bool(pairs), note=note)
        if matched and len(pairs) >= 2:
            ref_auc = dict(zip(reference.seeds, reference.aucs))
            oth_auc = dict(zip(other.seeds, other.aucs))
            t = paired_t_test([ref_auc[s] for s, _ in pairs], [oth_auc[s] for s, _ in pairs])
            sig.t_p, sig.t_reason = t.p, t.reason
            if t.computable and t.mean_diff <= 0:
                sig.all_pairs_favour_reference = False
        else:
            sig.t_reason = "fewer than 2 matching seeds"
        results[label] = sig
    delong_adj = holm({k: v.delong_p for k, v in results.items()})
    t_adj = holm({k: v.t_p for k, v in results.items()})
    for label, sig in results.items():
        sig.delong_holm, sig.t_holm = delong_adj[label], t_adj[label]
    return results


def format_p(p: float) -> str:
    """A p-value for a table: two significant digits, or an exponent when tiny.

    Example:
        >>> format_p(0.0123), format_p(3e-9), format_p(0.0), format_p(float("nan"))
        ('0.012', '3e-09', '<1e-300', '–')
    """
    if math.isnan(p):
        return "–"
    if p == 0.0:
        return "<1e-300"
    return f"{p:.2g}" if p >= 1e-3 else f"{p:.0e}"
