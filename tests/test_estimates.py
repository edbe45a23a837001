"""Run-time estimates come from recorded per-sample costs, scaled honestly to other text history lengths."""

from __future__ import annotations

import dataclasses

import pytest

from recbench.errors import RecbenchError
from recbench.estimates import Budget, Costs, fit_in_order, format_span, parse_duration
from recbench.hardware import _cpu_info, hardware_key, hardware_signature
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


# --- which machine measured the rates -------------------------------------------------------------------------------

AMX = {"device": "cpu", "cpu": "Xeon", "isa": ["amx_bf16", "avx512_bf16"]}
OLD = {"device": "cpu", "cpu": "Xeon", "isa": ["avx512_bf16"]}


def measured_on(record: RunRecord, hardware: dict | None) -> RunRecord:
    return dataclasses.replace(record, environment={"hardware": hardware} if hardware is not None else {})


def test_rates_measured_on_this_hardware_win_over_other_machines():
    runs = [measured_on(lm_run("rella", 10, 6.0, 1.5, "old"), OLD), measured_on(lm_run("rella", 10, 2.0, 0.5, "amx"), AMX)]
    costs = Costs(runs, hardware_key(AMX))
    assert seconds(costs) == (250.0, 250.0) and not costs.foreign
    old = Costs(runs, hardware_key(OLD))
    assert seconds(old) == (750.0, 750.0) and not old.foreign


def test_another_models_run_on_this_hardware_beats_the_same_model_elsewhere():
    """A different machine moves an LM run's cost 2.7x; a different LM model about 20%."""
    runs = [measured_on(lm_run("reclora", 10, 6.0, 1.5, "old"), OLD), measured_on(lm_run("tallrec", 10, 2.0, 0.5, "amx"), AMX)]
    assert seconds(Costs(runs, hardware_key(AMX)), model="reclora") == (250.0, 250.0)


def test_a_model_measured_only_elsewhere_is_scaled_by_the_speed_ratio_of_models_measured_on_both():
    """CTR-BERT's small encoder measured on the old machine only: its own rates, at this machine's speed
    (TALLRec ran 3x faster here in training, 2x in scoring), not TALLRec's much larger SmolLM2 rates."""
    runs = [measured_on(lm_run("tallrec", 10, 6.0, 1.0, "t-old"), OLD), measured_on(lm_run("tallrec", 10, 2.0, 0.5, "t-amx"), AMX),
            measured_on(lm_run("ctr-bert", 10, 0.6, 0.2, "c-old"), OLD)]  # fmt: skip
    costs = Costs(runs, hardware_key(AMX))
    assert costs.speed_ratio("lm") == pytest.approx((1 / 3, 1 / 2))
    assert seconds(costs, model="ctr-bert") == pytest.approx((30.0, 30.0))  # 0.2 x 100 + 0.1 x 100
    assert costs.scaled and not costs.foreign
    assert Costs(runs, hardware_key(OLD)).speed_ratio("lm") == pytest.approx((3.0, 2.0))
    assert Costs(runs).speed_ratio("lm") is None  # no machine named: every run counts alike


def test_with_no_run_on_this_hardware_every_run_counts_and_the_estimate_says_so():
    runs = [measured_on(lm_run("rella", 10, 6.0, 1.5, "old"), OLD), measured_on(lm_run("rella", 10, 2.0, 0.5, "legacy"), None)]
    costs = Costs(runs, hardware_key(AMX))
    assert seconds(costs) == (500.0, 500.0)  # the medians of both machines' runs: 4.0 x 100 + 1.0 x 100
    assert costs.foreign
    assert hardware_key(None) is None and hardware_key({"cpu": "x"}) is None


def test_this_machines_signature_names_its_device_and_matrix_instruction_sets():
    signature = hardware_signature()
    assert signature["device"] and isinstance(signature["cpu"], str)
    assert set(signature["isa"]) <= {"avx2", "avx512f", "avx512_bf16", "amx_tile", "amx_bf16"}
    assert hardware_key(signature) is not None


def test_cpuinfo_parsing_takes_the_first_processor(tmp_path):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nmodel name\t: Intel(R)  Xeon(R)\nflags\t\t: fpu avx2 amx_bf16\n\n"
                       "processor\t: 1\nmodel name\t: other\nflags\t\t: fpu\n")  # fmt: skip
    assert _cpu_info(cpuinfo) == ("Intel(R) Xeon(R)", {"fpu", "avx2", "amx_bf16"})
    assert _cpu_info(tmp_path / "missing") == ("", set())


# --- a time budget for one process ----------------------------------------------------------------------------------


@pytest.mark.parametrize("text, expected", [("2h30m", 9000.0), ("150m", 9000.0), ("90min", 5400.0), ("1.5h", 5400.0),
                                            ("45s", 45.0), ("20", 1200.0), (" 1h 5m ", 3900.0)])  # fmt: skip
def test_durations_read_in_the_usual_spellings(text, expected):
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["", "soon", "2x", "0m", "-5m", "1h30", "h"])
def test_a_bad_duration_names_the_option_and_the_expected_form(text):
    with pytest.raises(RecbenchError, match=r"--budget .*expected a positive duration such as 2h30m"):
        parse_duration(text)


def test_a_budget_lets_a_run_start_only_when_its_upper_estimate_fits_what_is_left():
    now = [0.0]
    budget = Budget(3600.0, clock=lambda: now[0])
    assert budget.refusal((1000.0, 3000.0)) is None
    now[0] = 1200.0  # 40 min left
    assert budget.refusal((1000.0, 3000.0)) == "estimated ~17 min to 50 min, 40 min of the budget left"
    assert budget.refusal((2400.0, 2400.0)) is None
    assert "no recorded run measured its cost" in budget.refusal(None)
    now[0] = 9999.0
    assert budget.left() == 0.0


def test_fitting_in_order_skips_what_is_too_long_and_takes_the_next_that_fits():
    spans = [(1800.0, 1800.0), (7200.0, 7200.0), (900.0, 1500.0), (600.0, 600.0), None]
    assert fit_in_order(spans, 3600.0) == [True, False, True, False, False]
