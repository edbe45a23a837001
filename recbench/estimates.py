"""How long a planned run will take, from what recorded runs measured on this kind of machine.

Why: the language-model half of a programme is many CPU hours, so ``reproduce --dry-run``
must say what each missing run costs before anyone starts it. Estimates come only from
measurements in the store(s), never from guesses:

* a language-model run costs ``train_seconds_per_sample`` x (training rows x epochs) plus
  ``infer_seconds_per_sample`` x (test rows + validation rows x epochs), with the per-sample
  costs (median) of the recorded runs of the same model (any language model's when that one
  has none); a run with a longer text history costs more than that says (Table 4: about 3x at
  30 items, 6x at 60), so its estimate is a lower bound;
* an ID or reference run costs what recorded runs of the same model on the same dataset took
  (training plus evaluation), or nothing is claimed.

Example:
    >>> from recbench.run_record import RunRecord
    >>> record = RunRecord("r1", "tallrec", "ml-1m", family="lm", dataset_variant="ml-1m",
    ...                    timings={"train_seconds_per_sample": 2.0, "infer_seconds_per_sample": 0.5})
    >>> costs = Costs([record])
    >>> costs.lm_seconds("tallrec", "lm", n_train=100, epochs=2, n_test=40, n_valid=0)
    420.0
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from recbench.run_record import RunRecord


@dataclass
class Costs:
    """Per-sample and per-run costs read from recorded runs."""

    records: list[RunRecord]

    def _timings(self, match: Callable[[RunRecord], bool]) -> list[Mapping[str, float]]:
        return [r.timings for r in self.records if match(r)]

    def lm_rates(self, model: str, family: str) -> tuple[float, float] | None:
        """(train s/sample, infer s/sample) of the model's recorded runs (else its family's)."""
        for match in (lambda r: r.model == model, lambda r: r.family == family):
            timings = [t for t in self._timings(match) if t.get("infer_seconds_per_sample")]
            trained = [float(t["train_seconds_per_sample"]) for t in timings if t.get("train_seconds_per_sample")]
            if timings:
                infer = statistics.median(float(t["infer_seconds_per_sample"]) for t in timings)
                return (statistics.median(trained) if trained else 3.0 * infer), infer
        return None

    def lm_seconds(self, model: str, family: str, *, n_train: int, epochs: int, n_test: int, n_valid: int) -> float | None:
        rates = self.lm_rates(model, family)
        if rates is None:
            return None
        train, infer = rates
        return train * n_train * epochs + infer * (n_test + n_valid * (epochs if n_train else 0))

    def id_seconds(self, model: str, variant: str) -> float | None:
        timings = self._timings(lambda r: r.model == model and r.dataset_variant == variant)
        totals = [float(t.get("train_seconds", 0)) + float(t.get("eval_seconds", 0)) + float(t.get("load_seconds", 0)) for t in timings]
        return statistics.median(totals) if totals else None


def estimate(request: Any, variant: str, costs: Costs) -> float | None:
    """Seconds the planned ``request`` (a :class:`recbench.runner.RunRequest`) should take, or None."""
    from recbench.errors import RecbenchError
    from recbench.registry import get_model
    from recbench.runner import resolve_configs

    try:
        entry = get_model(request.model)
        _, train_config = resolve_configs(entry, request.overrides, request.profile)
    except RecbenchError:
        return None
    if entry.family != "lm":
        return costs.id_seconds(request.model, variant)
    n_train = int(getattr(train_config, "n_train", 0))
    return costs.lm_seconds(
        request.model, "lm", n_train=n_train, epochs=int(train_config.epochs),
        n_test=int(train_config.n_test), n_valid=int(train_config.n_valid),
    )  # fmt: skip


def format_duration(seconds: float | None) -> str:
    """``1 h 05 min``, ``12 min``, ``40 s`` or ``?`` (no measurement to go by).

    Example:
        >>> format_duration(3900), format_duration(720), format_duration(40), format_duration(None)
        ('1 h 05 min', '12 min', '40 s', '?')
    """
    if seconds is None:
        return "?"
    if seconds >= 3600:
        return f"{int(seconds // 3600)} h {int(seconds % 3600 // 60):02d} min"
    if seconds >= 60:
        return f"{round(seconds / 60)} min"
    return f"{round(seconds)} s"
