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
  (training plus evaluation), or nothing is claimed;
* rates come from runs measured on this kind of machine (``Costs.hardware``, the key of
  :func:`recbench.hardware.hardware_signature`) when any such run qualifies, else from every run,
  and :attr:`Costs.foreign` then says so (the same LM run costs 2.7x more without AMX); an LM
  model measured only elsewhere keeps its own rates scaled by the speed ratio of the models
  measured on both machines (:attr:`Costs.scaled`).

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

from recbench.hardware import hardware_key

if TYPE_CHECKING:
    from recbench.run_record import RunRecord


@dataclass
class Costs:
    """Per-sample and per-run costs read from recorded runs."""

    records: list[RunRecord]
    #: the key (:func:`recbench.hardware.hardware_key`) of the machine the runs will be made on;
    #: None uses every record alike
    hardware: str | None = None
    #: set once an estimate had to use rates measured on other hardware only
    foreign: bool = False
    #: set once an estimate used a model's rates from other hardware scaled to this machine
    scaled: bool = False

    def _here(self, record: RunRecord) -> bool:
        return self.hardware is None or hardware_key((record.environment or {}).get("hardware")) == self.hardware

    def _pools(self, matches: tuple[Callable[[RunRecord], bool], ...]) -> list[RunRecord]:
        """The first non-empty set of records: each ``match`` on this hardware, then each on any hardware.

        Hardware comes first because it moves an LM run's cost by 2.7x, more than the model does
        (TALLRec, ReLLa and RecLoRA cost within 20% of each other on one machine).
        """
        for here in (True, False):
            for match in matches:
                chosen = [r for r in self.records if match(r) and (self._here(r) or not here)]
                if chosen:
                    self.foreign = self.foreign or not here
                    return chosen
        return []

    def _timings(self, match: Callable[[RunRecord], bool]) -> list[Mapping[str, float]]:
        return [r.timings for r in self._pools((match,))]

    def lm_rates(self, model: str, family: str) -> dict[int | None, tuple[float, float]]:
        """Text history length -> (train s/sample, infer s/sample), medians of the model's runs (else its family's).

        A model measured only on other hardware keeps its own rates, scaled by how much faster
        this machine runs the family's models measured on both (:meth:`speed_ratio`): another
        model's rates here would be the wrong size (CTR-BERT's small encoder costs a fraction
        of a SmolLM2 prompt). With no model measured on both, the family's rates here stand in.
        """
        own = [r for r in self.records if r.model == model and _measured(r)]
        ratio = self.speed_ratio(family) if own and not any(self._here(r) for r in own) else None
        if ratio is not None:
            chosen, scale, self.scaled = own, ratio, True
        else:  # this model here, else the family here, else anything (Costs.foreign)
            chosen, scale = self._pools((lambda r: r.model == model and _measured(r), lambda r: r.family == family and _measured(r))), (1.0, 1.0)
        by_length: dict[int | None, list[Mapping[str, float]]] = {}
        for record in chosen:
            by_length.setdefault((record.config or {}).get("history_length"), []).append(record.timings)
        return {length: (train * scale[0], infer * scale[1]) for length, (train, infer) in
                ((length, _medians(timings)) for length, timings in by_length.items())}  # fmt: skip

    def speed_ratio(self, family: str) -> tuple[float, float] | None:
        """(train, infer) cost here over cost elsewhere: the median over the family's models with
        runs on both, each model's ratio of medians; None when no model was measured on both."""
        if self.hardware is None:
            return None
        ratios: list[tuple[float, float]] = []
        for model in sorted({r.model for r in self.records if r.family == family}):
            runs = [r for r in self.records if r.model == model and _measured(r)]
            here = [r.timings for r in runs if self._here(r)]
            elsewhere = [r.timings for r in runs if not self._here(r)]
            if here and elsewhere:
                (train_here, infer_here), (train_there, infer_there) = _medians(here), _medians(elsewhere)
                ratios.append((train_here / train_there, infer_here / infer_there))
        if not ratios:
            return None
        return statistics.median(r[0] for r in ratios), statistics.median(r[1] for r in ratios)

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


def _measured(record: RunRecord) -> bool:
    return bool(record.timings.get("infer_seconds_per_sample"))


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


_UNITS = {"h": 3600.0, "m": 60.0, "min": 60.0, "s": 1.0}


def parse_duration(text: str, option: str = "--budget") -> float:
    """Seconds in ``2h30m``, ``150m``, ``90min``, ``1.5h`` or ``45s`` (a bare number is minutes).

    Example:
        >>> parse_duration("2h30m"), parse_duration("90min"), parse_duration("1.5h"), parse_duration("20")
        (9000.0, 5400.0, 5400.0, 1200.0)
    """
    import re

    from recbench.errors import RecbenchError

    cleaned = text.strip().lower().replace(" ", "")
    if re.fullmatch(r"\d+(\.\d+)?", cleaned):
        return float(cleaned) * 60.0
    parts = re.findall(r"(\d+(?:\.\d+)?)(min|h|m|s)", cleaned)
    if not parts or "".join(n + u for n, u in parts) != cleaned or float(sum(float(n) * _UNITS[u] for n, u in parts)) <= 0:
        raise RecbenchError(f"{option} {text!r}: expected a positive duration such as 2h30m, 150m, 90min, 1.5h or 45s")
    return float(sum(float(n) * _UNITS[u] for n, u in parts))


@dataclass
class Budget:
    """The wall-clock time one process may spend on a plan: a run starts only when its estimate fits.

    Why: a run cut off when a session or a lease ends loses everything since its last checkpoint,
    and a RecLoRA state (about 128 MiB) is too large to carry to the next machine in git (a
    TALLRec or ReLLa state travels with ``recbench checkpoints --keep``). With a budget a
    process skips the runs whose estimated time (the upper end of a range) exceeds what is left,
    takes the next one that fits, and leaves the rest for a later process. A run whose cost no
    recorded run measured is skipped too: nothing says it fits.

    Example:
        >>> budget = Budget(3600.0, started=0.0, clock=lambda: 600.0)
        >>> budget.left()
        3000.0
        >>> budget.refusal((1200.0, 2400.0)) is None
        True
        >>> budget.refusal((1200.0, 4000.0))
        'estimated ~20 min to 1 h 06 min, 50 min of the budget left'
    """

    seconds: float
    started: float | None = None
    clock: Callable[[], float] | None = None

    def __post_init__(self) -> None:
        import time

        self.clock = self.clock or time.monotonic
        self.started = self.clock() if self.started is None else self.started

    def left(self) -> float:
        assert self.clock is not None and self.started is not None
        return max(0.0, self.seconds - (self.clock() - self.started))

    def refusal(self, span: tuple[float, float] | None) -> str | None:
        """Why a run of estimated ``span`` must not start now, or None when it fits."""
        if span is None:
            return f"no recorded run measured its cost, {format_duration(self.left())} of the budget left"
        if span[1] > self.left():
            return f"estimated {format_span(span)}, {format_duration(self.left())} of the budget left"
        return None


def fit_in_order(spans: list[tuple[float, float] | None], seconds: float) -> list[bool]:
    """Which runs, taken in order by one process, start within ``seconds`` (what ``--dry-run`` shows).

    Each run that fits what is left uses its upper estimate; one that does not is skipped and the
    next is tried, as :class:`Budget` does while running.

    Example:
        >>> fit_in_order([(600.0, 600.0), (4000.0, 4000.0), None, (1800.0, 2400.0)], 3600.0)
        [True, False, False, True]
    """
    left, out = seconds, []
    for span in spans:
        fits = span is not None and span[1] <= left
        left -= span[1] if fits and span is not None else 0.0
        out.append(fits)
    return out
