"""Run-time estimates come from recorded per-sample costs, scaled honestly to other text history lengths."""

from __future__ import annotations

import pytest

from recbench.estimates import Costs, format_span
from recbench.run_record import RunRecord


def lm_run(model: str, history: int | None, train: float, infer: float, run_id: str = "r") -> RunRecord:
    config = {} if history is None else {"history_length": history}
    timings = {"train_seconds_per_sample": train, "infer_seconds_per_sample": infer}
    return RunRecord(run_id, model, "ml-1m", family="lm", dataset_variant="ml-1m", config=config, timings=timings)


def seconds(costs: Costs, model: str = "rella", history: int | None = 10) -> tuple[float, float] | None:
    return costs.lm_seconds(model, "lm", n_train=100, epochs=1, n_test=100, n_valid=0, history=history)


def test_the_recorded_length_gives_one_number_from_the_median_run():
    costs = Costs([lm_run("rella", 10, 2.0, 1.0, "a"), lm_run("rella", 10, 4.0, 1.0, "b"), lm_run("rella", 10, 3.0, 1.0, "c")])
    assert seconds(costs) == (400.0, 400.0)  # 3.0 x 100 + 1.0 x 100


def test_one_measured_length_gives_a_range_up_to_proportional_scaling():
    costs = Costs([lm_run("rella", 10, 2.0, 1.0)])
    assert seconds(costs, history=60) == (300.0, 1800.0)
    assert seconds(costs, history=5) == (150.0, 300.0)  # shorter: at most the measured rate


def test_two_measured_lengths_interpolate_and_extrapolate():
    costs = Costs([lm_run("rella", 10, 2.0, 1.0, "a"), lm_run("rella", 30, 6.0, 2.0, "b")])
    assert seconds(costs, history=20) == pytest.approx((550.0, 550.0))  # 4.0 x 100 + 1.5 x 100
    assert seconds(costs, history=60) == pytest.approx((1550.0, 1550.0))  # 12.0 + 3.5


def test_another_models_runs_stand_in_and_no_run_means_no_estimate():
    costs = Costs([lm_run("tallrec", 10, 2.0, 1.0)])
    assert seconds(costs, model="reclora") == (300.0, 300.0)
    assert seconds(Costs([]), model="reclora") is None
    assert seconds(Costs([lm_run("ctr-bert", None, 1.0, 1.0)]), model="ctr-bert", history=None) == (200.0, 200.0)


def test_a_range_prints_both_ends():
    assert format_span((9_500, 57_000)) == "~2 h 38 min to 15 h 50 min"


def test_a_run_without_a_text_history_takes_the_shortest_measured_lengths_rate():
    costs = Costs([lm_run("tallrec", 30, 6.0, 2.0, "a"), lm_run("tallrec", 10, 2.0, 1.0, "b")])
    assert seconds(costs, model="tallrec", history=None) == (300.0, 300.0)


def test_interpolation_uses_the_two_lengths_around_it_and_never_goes_below_zero():
    runs = [lm_run("rella", length, train, 1.0, str(length)) for length, train in [(10, 1.0), (30, 5.0), (60, 8.0)]]
    costs = Costs(runs)
    assert seconds(costs, history=45) == pytest.approx((750.0, 750.0))  # 6.5 between 30 and 60, not 5.9 (10-60 line)
    low, high = seconds(costs, history=1)  # the 10-60 line extrapolated to 1 is below zero: clamped
    assert low == high and 100.0 <= low < 100.1


def test_runs_recorded_without_a_length_stand_in_only_when_no_length_is_measured():
    old = lm_run("rella", None, 9.0, 9.0, "old")
    assert seconds(Costs([old]), history=60) == (1800.0, 1800.0)
    assert seconds(Costs([old, lm_run("rella", 10, 2.0, 1.0, "new")]), history=60) == (300.0, 1800.0)


def test_a_range_within_the_shown_precision_prints_once():
    assert format_span((720, 730)) == "~12 min"
