"""How long a planned run will take, from what recorded runs measured on this kind of machine.

Why: the language-model half of a programme is many CPU hours, so ``reproduce --dry-run``
must say what each missing run costs before anyone starts it. Estimates come only from
measurements in the store(s), never from guesses:

* a language-model run costs ``train_seconds_per_sample`` x (training rows x epochs) plus
  ``infer_seconds_per_sample`` x (test rows + validation rows x epochs), with the per-sample
  costs (median) of the recorded runs of the same model (any language model's when that one
  has none);
* a prompt's cost grows with its text history (``history_length``; the paper's Table 4: 2.4x
  at 30 behaviours, 4.6x at 60). With recorded runs at two or more lengths the per-sample cost
  is interpolated linearly between them (extrapolated beyond); with one length only, the cost
  lies between that length's rate (the template part of the prompt does not grow) and that
  rate scaled by the ratio of the lengths (as if the whole prompt did), and the estimate is
  that range;
* an ID or reference run costs what recorded runs of the same model on the same dataset took
  (training plus evaluation), or nothing is claimed.

Example:
    >>> from recbench.run_record import RunRecord
    >>> record = RunRecord("r1", "tallrec", "ml-1m", family="lm", dataset_variant="ml-1m", config={"history_length": 10},
    ...                    timings={"train_seconds_per_sample": 2.0, "infer_seconds_per_sample": 0.5})
    >>> costs = Costs([record])
    >>> costs.lm_seconds("tallrec", "lm", n_train=100, epochs=2, n_test=40, n_valid=0)
    (420.0, 420.0)
    >>> costs.lm_seconds("tallrec", "lm", n_train=100, epochs=2, n_test=40, n_valid=0, history=30)
    (420.0, 1260.0)
"""

from __future__ import annotations

import itertools
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

    def lm_rates(self, model: str, family: str) -> dict[int | None, tuple[float, float]]:
        """Text history length -> (train s/sample, infer s/sample), medians of the model's runs (else its family's)."""
        for match in (lambda r: r.model == model, lambda r: r.family == family):
            by_length: dict[int | None, list[Mapping[str, float]]] = {}
            for record in self.records:
                if match(record) and record.timings.get("infer_seconds_per_sample"):
                    by_length.setdefault((record.config or {}).get("history_length"), []).append(record.timings)
            if by_length:
                return {length: _medians(timings) for length, timings in by_length.items()}
        return {}

    def lm_seconds(
        self, model: str, family: str, *, n_train: int, epochs: int, n_test: int, n_valid: int, history: int | None = None
    ) -> tuple[float, float] | None:
        """(low, high) seconds of one run; equal unless only another text history length was measured."""
        rates = _rates_at(self.lm_rates(model, family), history)
        if rates is None:
            return None

        def seconds(train: float, infer: float) -> float:
            return train * n_train * epochs + infer * (n_test + n_valid * (epochs if n_train else 0))

        (train_low, infer_low), (train_high, infer_high) = rates
        return seconds(train_low, infer_low), seconds(train_high, infer_high)

    def id_seconds(self, model: str, variant: str) -> float | None:
        timings = self._timings(lambda r: r.model == model and r.dataset_variant == variant)
        totals = [float(t.get("train_seconds", 0)) + float(t.get("eval_seconds", 0)) + float(t.get("load_seconds", 0)) for t in timings]
        return statistics.median(totals) if totals else None


def estimate(request: Any, variant: str, costs: Costs) -> tuple[float, float] | None:
    """(low, high) seconds the planned ``request`` (a :class:`recbench.runner.RunRequest`) should take, or None."""
    from recbench.errors import RecbenchError
    from recbench.registry import get_model
    from recbench.runner import resolve_configs

    try:
        entry = get_model(request.model)
        model_config, train_config = resolve_configs(entry, request.overrides, request.profile)
    except RecbenchError:
        return None
    if entry.family != "lm":
        seconds = costs.id_seconds(request.model, variant)
        return None if seconds is None else (seconds, seconds)
    n_train = int(getattr(train_config, "n_train", 0))
    return costs.lm_seconds(
        request.model, "lm", n_train=n_train, epochs=int(train_config.epochs),
        n_test=int(train_config.n_test), n_valid=int(train_config.n_valid),
        history=getattr(model_config, "history_length", None),
    )  # fmt: skip


def _medians(timings: list[Mapping[str, float]]) -> tuple[float, float]:
    infer = statistics.median(float(t["infer_seconds_per_sample"]) for t in timings)
    trained = [float(t["train_seconds_per_sample"]) for t in timings if t.get("train_seconds_per_sample")]
    return (statistics.median(trained) if trained else 3.0 * infer), infer


def _rates_at(
    rates: dict[int | None, tuple[float, float]], history: int | None
) -> tuple[tuple[float, float], tuple[float, float]] | None:
    """(low, high) per-sample rates at a text history length, from the rates measured at others.

    Runs recorded without a length (no ``history_length`` in their config) are the key None:
    they stand for any length only when no run with a length was measured.
    """
    if not rates:
        return None
    if history in rates:
        return rates[history], rates[history]
    measured = sorted((k, v) for k, v in rates.items() if isinstance(k, int) and k > 0)
    if history is None or history <= 0 or not measured:  # nothing to scale by
        rate = rates.get(None) or (measured[0][1] if measured else next(iter(rates.values())))
        return rate, rate
    if len(measured) >= 2:  # interpolate between the two measured lengths around it (else the outermost two)
        inside = [(a, b) for a, b in itertools.pairwise(measured) if a[0] <= history <= b[0]]
        (x0, (t0, i0)), (x1, (t1, i1)) = inside[0] if inside else (measured[0], measured[-1])
        f = (history - x0) / (x1 - x0)
        rate = (max(t0 + f * (t1 - t0), 1e-9), max(i0 + f * (i1 - i0), 1e-9))  # a steep fit must not go below zero
        return rate, rate
    # one measured length: the prompt's template part costs the same at any length, its history part grows
    # with it, so the rate lies between the measured one and the measured one scaled by the length ratio
    length, rate = measured[0]
    scaled = (rate[0] * history / length, rate[1] * history / length)
    return (rate, scaled) if history > length else (scaled, rate)


def format_span(span: tuple[float, float] | None) -> str:
    """``~2 h 38 min``, or ``~2 h 38 min to 15 h 48 min`` when only a range is known; ``~?`` with no measurement.

    Example:
        >>> format_span((720, 720)), format_span((720, 3900)), format_span(None)
        ('~12 min', '~12 min to 1 h 05 min', '~?')
    """
    if span is None:
        return "~?"
    low, high = (format_duration(s) for s in span)
    return f"~{low}" if low == high else f"~{low} to {high}"  # "~12 min to 12 min" says nothing


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
