"""The claims tables: verdicts by DeLong on identical rows, the figures' claims between points, Table 4's cost claims."""

from __future__ import annotations

import pytest

from recbench.claims import claims_tables
from recbench.errors import RecbenchError
from recbench.paper_tables import build_tables
from recbench.render import render_tables
from recbench.study_claims import decide_cost, study_claims_tables
from recbench.suite_parts import CostClaim, PointClaim
from tests.test_leaderboard import fabricate, row_of


@pytest.fixture
def store(tmp_path):
    from recbench.runstore import RunStore

    return RunStore(tmp_path / "runs")


def titled(tables, start: str):
    return [t for t in tables if t.title.startswith(start)]


def one_table(tables, title: str) -> str:
    """The Markdown of the one table titled ``title``."""
    (table,) = titled(tables, title)
    return render_tables([table], "md")


def verdict(text: str, claim: str) -> str:
    return row_of(text, claim)[-1]


def test_table2_claims_hold_fail_and_say_when_a_run_is_missing(store):
    for model, strength in [("reclora", 3.0), ("rella", 1.0), ("tallrec", 3.0), ("user-mean", 0.2)]:
        fabricate(store, model, 0, strength)
    text = one_table(claims_tables(store, store.records()), "Claims — ml-100k (cpu profile), Table 2")
    assert verdict(text, "RecLoRA beats ReLLa (same backbone)") == "holds"
    assert verdict(text, "ReLLa beats TALLRec (same backbone)") == "fails"
    assert verdict(text, "RecLoRA beats the untrained backbone (zero-shot)") == "no runs"
    assert verdict(text, "ReLLa beats user-mean") == "holds"


def test_figure_claims_compare_points_and_the_default_run_is_its_default_point(store):
    # Figure 4: N_m = 1 is as weak as chance, 2 and 16 learn; the default run is the N_m = 16 point.
    fabricate(store, "reclora", 0, 0.0, study={"name": "n_meta", "x": 1}, overrides=("n_meta=1",))
    fabricate(store, "reclora", 0, 3.0, study={"name": "n_meta", "x": 2}, overrides=("n_meta=2",))
    fabricate(store, "reclora", 0, 3.0, config={"n_meta": 16})
    text = one_table(study_claims_tables(store, store.records()), "Claims — ml-100k (cpu profile), Figure 4")
    assert verdict(text, "RecLoRA with N_m = 2 beats N_m = 1 (good from N_m = 2 on)") == "holds"
    assert verdict(text, "RecLoRA with N_m = 16 beats N_m = 1 (AUC grows with N_m)") == "holds"
    assert verdict(text, "RecLoRA with N_m = 16 beats N_m = 2 (AUC grows with N_m)") == "undecided"
    assert verdict(text, "RecLoRA with N_m = 16 beats N_m = 8 (AUC grows with N_m)") == "no runs"
    assert "RecLoRA with N_m = 16 beats N_m = 16" not in text


def test_figure6_claims_pair_the_models_at_each_sample_size(store):
    for n, reclora, rella in [(128, 2.0, 0.0), (1024, 3.0, 1.0)]:
        fabricate(store, "reclora", 0, reclora, study={"name": "sample_size", "x": n}, overrides=(f"n_train={n}",))
        fabricate(store, "rella", 0, rella, study={"name": "sample_size", "x": n}, overrides=(f"n_train={n}",))
    text = one_table(study_claims_tables(store, store.records()), "Claims — ml-100k (cpu profile), Figure 6")
    assert verdict(text, "RecLoRA beats ReLLa with 128 training samples") == "holds"
    assert verdict(text, "RecLoRA beats ReLLa with 1024 training samples") == "holds"
    assert verdict(text, "RecLoRA beats ReLLa with 256 training samples") == "no runs"
    assert verdict(text, "RecLoRA with 128 samples beats ReLLa with 1024") == "holds"
    assert verdict(text, "ReLLa with 1024 samples beats ReLLa with 128") == "holds"


def test_table4_auc_and_cost_claims_read_the_rows_and_their_timings(store):
    cases = [("rella", "10/-", 1.0, 1.0), ("rella", "60/-", 1.2, 5.0), ("reclora", "10/60", 3.0, 1.1),
             ("reclora", "10/30", 2.0, 1.0)]  # fmt: skip
    for model, variant, strength, seconds in cases:
        timings = {"train_seconds_per_sample": seconds, "infer_seconds_per_sample": seconds / 2}
        fabricate(store, model, 0, strength, study={"name": "time_per_sample", "variant": variant}, timings=timings)
    tables = study_claims_tables(store, store.records())
    auc = render_tables(titled(tables, "Claims — ml-100k (cpu profile), Table 4"), "md")
    cost = render_tables(titled(tables, "Cost claims — ml-100k (cpu profile), Table 4"), "md")
    assert verdict(auc, "RecLoRA 10/60 beats ReLLa 60/- (more than a long text history)") == "holds"
    row = row_of(cost, "ReLLa 10/- trains faster per sample than ReLLa 60/- (text history is costly)")
    assert row[1:] == ["1.00", "5.00", "5.00x", "holds"]
    assert verdict(cost, "RecLoRA's ID history 30 -> 60 adds at most 25% training time per sample") == "holds"
    # and the CLI's table set carries them after Table 2's and Table 3's claims
    titles = [t.title for t in build_tables(store, store.records(), "claims")]
    assert titles[-2:] == ["Claims — ml-100k (cpu profile), Table 4", "Cost claims — ml-100k (cpu profile), Table 4"]


@pytest.mark.parametrize(
    "kind, first, second, expected",
    [("cheaper", 1.0, 1.3, "holds"), ("cheaper", 1.0, 1.2, "undecided"), ("cheaper", 1.3, 1.0, "fails"),
     ("within", 1.2, 1.0, "holds"), ("within", 1.3, 1.0, "fails"), ("cheaper", float("nan"), 1.0, "no runs")],
)  # fmt: skip
def test_cost_verdicts_use_the_margin_both_ways(kind, first, second, expected):
    claim = CostClaim("c", "a", "b", kind=kind)
    assert decide_cost(claim, {"a": first, "b": second})[-1] == expected


def test_point_claims_expand_over_the_profile_values_and_reject_bad_entries():
    claim = PointClaim("R beats L with {x}", "r @ each", "l @ each")
    assert [(c.better, c.worse) for c in claim.expand((128, 1024))] == [("r @ 128", "l @ 128"), ("r @ 1024", "l @ 1024")]
    assert PointClaim("fixed", "r @ 4", "r @ min").expand((1, 4))[0].worse == "r @ 1"
    with pytest.raises(RecbenchError, match="entry 'r 4', expected 'model @ x'"):
        PointClaim("bad", "r 4", "r @ 1").expand((1, 4))
    with pytest.raises(RecbenchError, match="x must be a number, min, max or each"):
        PointClaim("bad", "r @ big", "r @ 1").expand((1, 4))
    with pytest.raises(RecbenchError, match="timing 'wall'"):
        CostClaim("bad", "a", "b", timing="wall")


def test_a_figure_with_no_decidable_claim_gets_no_table(store):
    fabricate(store, "rella", 0, 1.0, study={"name": "sample_size", "x": 128}, overrides=("n_train=128",))
    assert titled(study_claims_tables(store, store.records()), "Claims — ml-100k (cpu profile), Figure 6") == []


def test_a_drifted_profiles_points_are_a_curve_of_their_own(store):
    # Runs with an earlier temperature are never mixed into the current curve, and get their own claims table.
    fabricate(store, "reclora", 0, 3.0, config={"n_meta": 16})
    fabricate(store, "reclora", 0, 0.0, study={"name": "n_meta", "x": 1}, overrides=("n_meta=1",))
    fabricate(store, "reclora", 0, 0.0, config={"n_meta": 16, "temperature": 2.0})
    fabricate(store, "reclora", 0, 3.0, overrides=("n_meta=1",), config={"n_meta": 1, "temperature": 2.0})
    tables = study_claims_tables(store, store.records())
    claim = "RecLoRA with N_m = 16 beats N_m = 1 (AUC grows with N_m)"
    (current,) = titled(tables, "Claims — ml-100k (cpu profile), Figure 4")
    drifted = "cpu profile; earlier settings temperature=2.0 (now 5.0)"
    (earlier,) = titled(tables, f"Claims — ml-100k ({drifted}), Figure 4")
    assert verdict(render_tables([current], "md"), claim) == "holds"
    assert verdict(render_tables([earlier], "md"), claim) == "fails"


def test_a_run_is_a_point_only_when_it_changes_nothing_but_the_figures_setting(store):
    fabricate(store, "reclora", 0, 3.0, config={"n_meta": 16})
    same_param = {"name": "ablation", "variant": "w/o meta-LoRA (same param)"}
    fabricate(store, "reclora", 0, 3.0, study=same_param, overrides=("n_meta=1", "lora_rank=128"),
              config={"n_meta": 1, "lora_rank": 128})  # fmt: skip
    assert titled(study_claims_tables(store, store.records()), "Claims — ml-100k (cpu profile), Figure 4") == []
    ablation = {"name": "ablation", "variant": "w/o meta-LoRA"}
    fabricate(store, "reclora", 0, 0.0, study=ablation, overrides=("n_meta=1",), config={"n_meta": 1})
    (table,) = titled(study_claims_tables(store, store.records()), "Claims — ml-100k (cpu profile), Figure 4")
    assert verdict(render_tables([table], "md"), "RecLoRA with N_m = 16 beats N_m = 1 (AUC grows with N_m)") == "holds"


def test_table4_runs_without_timings_get_auc_claims_and_no_cost_table(store):
    for model, variant, strength in [("rella", "10/-", 1.0), ("reclora", "10/60", 3.0)]:
        fabricate(store, model, 0, strength, study={"name": "time_per_sample", "variant": variant})
    tables = study_claims_tables(store, store.records())
    assert [t.title for t in tables if "Table 4" in t.title] == ["Claims — ml-100k (cpu profile), Table 4"]


def test_cost_rows_show_sub_centisecond_timings_like_table4():
    row = decide_cost(CostClaim("c", "a", "b"), {"a": 0.002, "b": 0.004})
    assert row[1:] == ["2.0e-03", "4.0e-03", "2.00x", "holds"]


def test_the_suites_study_claims_name_its_rows_and_points_at_every_profile():
    from recbench.suite_parts import point_label
    from recbench.suites import get_suite

    suite = get_suite("reclora")
    assert suite.timing is not None
    rows = set(suite.timing.labels)
    assert {e for c in suite.timing_claims for e in (c.better, c.worse)} <= rows
    assert {e for c in suite.cost_claims for e in (c.first, c.second)} <= rows
    for figure in suite.figures:
        for profile in suite.profiles:
            points = {point_label(m, x) for m in figure.models for x in figure.points(profile)}
            for claim in figure.claims:
                expanded = claim.expand(figure.points(profile))
                where = (figure.number, profile, claim.text)
                assert expanded and all({c.better, c.worse} <= points for c in expanded), where


def test_point_claims_are_checked_where_the_suite_declares_them():
    from recbench.suite_parts import Figure

    with pytest.raises(RecbenchError, match=r"may name \{min\}, \{max\} and, beside 'each', \{x\}"):
        PointClaim("R beats L with {x}", "r @ 4", "l @ 4")
    with pytest.raises(RecbenchError, match="may name"):
        PointClaim("R beats L with {n}", "r @ each", "l @ each")
    with pytest.raises(RecbenchError, match=r"figure 6: claims name \['tallrec'\], not its models"):
        Figure(6, "sample_size", "n", "f.png", models=("reclora", "rella"),
               claims=(PointClaim("T beats R", "tallrec @ max", "rella @ max"),))  # fmt: skip
    assert PointClaim("R at {max} beats R at {min}", "r @ max", "r @ min").expand((4,)) == ()  # one point: no claim


def test_a_suite_rejects_claims_on_rows_its_tables_do_not_have():
    from recbench.suites import Claim, Group, Suite, get_suite

    timing = get_suite("reclora").timing
    with pytest.raises(RecbenchError, match=r"cost claim 'typo' names \['10/6'\], not rows of its table"):
        Suite("mine", "t", groups=(Group("ID-based", ("din",), "id"),), reference="din", studies=("time_per_sample",),
              timing=timing, cost_claims=(CostClaim("typo", "10/6", "10/-"),))  # fmt: skip
    with pytest.raises(RecbenchError, match="ablation claim 'no table' names"):
        Suite("mine", "t", groups=(Group("ID-based", ("din",), "id"),), reference="din",
              ablation_claims=(Claim("no table", "full", "w/o x"),))  # fmt: skip
