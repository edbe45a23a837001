"""Run plans for the paper's studies, resuming, and the ablate / study / reproduce / leaderboard
commands end to end (LM runs are faked: their training loops are not in the harness yet)."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest
from rich.console import Console
from typer.testing import CliRunner

import recbench.runner
from cli import app
from recbench.config import to_dict
from recbench.errors import RecbenchError
from recbench.metrics import evaluate
from recbench.plans import check_plan, execute
from recbench.registry import get_model
from recbench.run_record import RunRecord, StudyTag
from recbench.runner import RunRequest, resolve_configs
from recbench.runstore import RunStore
from recbench.studies import parse_entry, plan_claimed, plan_main, plan_reproduce, plan_study
from recbench.suites.reclora import ABLATIONS, few_shot_size, sample_sizes

runner = CliRunner()
QUIET = Console(file=open("/dev/null", "w"))
TINY = ("max_epochs=1", "max_train_rows=1500", "hidden=16", "threads=1")
_clock = itertools.count()


@pytest.fixture
def store(tmp_path: Path) -> RunStore:
    return RunStore(tmp_path / "runs")


def fake_run(request: RunRequest, store: RunStore, console=None) -> RunRecord:
    """Stand-in for recbench.runner.run: records a plausible run on a 400-row test split
    (LM models: its first 100 rows), with a quality that depends on the model and settings."""
    labels = np.random.default_rng(7).integers(0, 2, 400)
    lm = request.model in ("ctr-bert", "tallrec", "rella", "reclora")
    rows = np.arange(100 if lm else 400)
    strength = {"reclora": 3.0, "rella": 2.0}.get(request.model, 1.0) + 0.1 * len(request.overrides)
    noise = np.random.default_rng(request.seed).normal(0, 1, len(rows))
    prob = (1 / (1 + np.exp(-(strength * (labels[rows] - 0.5) + noise)))).astype(np.float32)
    record = {
        "model": request.model, "family": "lm" if lm else "id", "purpose": request.purpose, "profile": request.profile,
        "study": request.study, "dataset": request.dataset, "dataset_variant": request.dataset,
        "fingerprint": {"digest": "f" * 64, "canonical": "yes"}, "protocol_version": 1, "seed": request.seed,
        "overrides": list(request.overrides), "metrics": {"test": evaluate(labels[rows], prob)},
        "timings": {"train_seconds_per_sample": 1.0 + len(request.overrides), "infer_seconds_per_sample": 0.5} if lm else {},
        "created_at": f"2026-01-01T{next(_clock):08d}",
    }  # fmt: skip
    try:  # the settings it ran with, as the runner records them
        model_config, train_config = resolve_configs(get_model(request.model), request.overrides, request.profile)
        record.update(config=to_dict(model_config), train_config=to_dict(train_config))
    except RecbenchError:
        pass  # a model this test made up
    return store.record(store.save(record, {"test_row": rows, "test_prob": prob, "test_label": labels[rows]}))


# --------------------------------------------------------------------------- plans


def test_ablation_plan_matches_the_paper_variants():
    plan = plan_study("ablation", "ml-1m", profile="cpu", seeds=[0, 1])
    assert len(plan) == 12 and {r.model for r in plan} == {"reclora"}
    by_variant = {r.study["variant"]: r.overrides for r in plan if r.seed == 0}
    assert list(by_variant) == list(ABLATIONS.labels)
    assert by_variant == {
        "full": (),
        "w/o meta-LoRA": ("n_meta=1",),
        "w/o meta-LoRA (same param)": ("n_meta=1", "lora_rank=128"),
        "w/o long retriever": ("crm_history=recent",),
        "w/o short retriever": ("history=recent",),
        "w/o long-short retriever": ("crm_history=recent", "history=recent"),
    }
    assert all(r.profile == "cpu" and r.study["name"] == "ablation" and r.purpose == "run" for r in plan)


def test_study_plans_carry_study_and_profile():
    n_meta = plan_study("n_meta", "ml-1m", profile="paper")
    assert [(r.study["x"], r.overrides) for r in n_meta] == [(k, (f"n_meta={k}",)) for k in (1, 2, 4, 8, 16)]
    history = plan_study("id_history", "ml-1m")
    assert [r.overrides for r in history][-1] == ("crm_history_length=60",)
    sizes = plan_study("sample_size", "ml-1m", profile="paper")
    assert {r.study["x"] for r in sizes} == {2048, 4096, 10000, 20000, 40000, 70000}
    assert sorted({r.model for r in sizes}) == ["reclora", "rella"]
    n = few_shot_size("cpu")
    assert sample_sizes("cpu") == (n // 8, n // 4, n // 2, n)
    timing = {r.study["variant"]: (r.model, r.overrides) for r in plan_study("time_per_sample", "goodreads")}
    assert timing["30/-"] == ("rella", ("history_length=30",))
    assert timing["10/60"] == ("reclora", ("history_length=10", "crm_history_length=60"))
    assert {r.profile for r in n_meta + sizes} == {"paper"} and {r.profile for r in history} == {"cpu"}


def test_main_plan_gives_id_models_no_profile():
    plan = plan_main("ml-1m", "paper", seeds=[0])
    assert len(plan) == 14 and [r.model for r in plan[:2]] == ["pop", "user-mean"]
    assert {r.profile for r in plan if r.model in ("din", "sim")} == {None}
    assert {r.profile for r in plan if r.model == "reclora"} == {"paper"}
    assert len(plan_reproduce(["ml-1m"], "cpu", seeds=[0])) == 14 + 3 + 6 + 5 + 6 + 8 + 5


def test_reproduce_plans_the_runs_its_claims_name():
    """Zero-shot ReLLa (once: it trains on nothing) and the co-occurrence ReLLa / RecLoRA (per seed)."""
    claimed = plan_claimed("ml-1m", "cpu", seeds=[0, 1, 2])
    assert [(r.model, r.overrides, r.seed) for r in claimed] == [
        ("rella", ("n_train=0",), 0),
        *[("rella", ("item_vectors=cooccurrence",), s) for s in (0, 1, 2)],
        *[("reclora", ("item_vectors=cooccurrence",), s) for s in (0, 1, 2)],
    ]
    assert {r.profile for r in claimed} == {"cpu"} and {r.study for r in claimed} == {None}
    plan = plan_reproduce(["ml-1m"], "cpu", seeds=[0])
    assert [r.overrides for r in plan[14:17]] == [("n_train=0",), ("item_vectors=cooccurrence",), ("item_vectors=cooccurrence",)]
    assert parse_entry("sim [item_vectors=lm, hidden=256,128]") == ("sim", ("item_vectors=lm", "hidden=256,128"))
    with pytest.raises(RecbenchError, match="expected 'model"):
        parse_entry("sim [item_vectors=lm")


def test_reproduce_only_plans_the_named_tables_and_figures():
    """--only keeps Table 2 (its rows and claimed runs), a table or figure by number, or a study by name."""
    full = plan_reproduce(["ml-1m"], "cpu", seeds=[0])
    table2 = plan_reproduce(["ml-1m"], "cpu", seeds=[0], only=["table2"])
    assert table2 == full[:17] and {r.study for r in table2} == {None}
    parts = plan_reproduce(["ml-1m"], "cpu", seeds=[0], only=["Table3", "figure4", "sample_size"])
    assert [r.study["name"] for r in parts] == ["ablation"] * 6 + ["n_meta"] * 5 + ["sample_size"] * 8
    assert parts == [r for r in full if r.study and r.study["name"] in ("ablation", "n_meta", "sample_size")]
    with pytest.raises(RecbenchError, match="--only figure9: expected one of table2, table3, table4, figure4"):
        plan_reproduce(["ml-1m"], "cpu", seeds=[0], only=["figure9"])


def test_bad_names_are_one_line_errors():
    with pytest.raises(RecbenchError, match="unknown study 'nope'; choose one of: ablation, n_meta"):
        plan_study("nope", "ml-1m")
    with pytest.raises(RecbenchError, match="--profile gpu: expected one of cpu, paper"):
        plan_study("n_meta", "ml-1m", profile="gpu")


# --------------------------------------------------------------------------- resuming


def test_recorded_runs_are_skipped_and_only_what_is_missing_runs(store):
    plan = plan_study("n_meta", "synth", profile="cpu")
    fake_run(plan[0], store)
    fake_run(RunRequest("reclora", "synth", 0, overrides=("n_meta=2",), profile="paper", study=plan[1].study), store)
    fake_run(RunRequest("reclora", "synth", 1, overrides=("n_meta=4",), profile="cpu", study=plan[2].study), store)
    fake_run(RunRequest("reclora", "synth", 0, overrides=("n_meta=8", "threads=1"), profile="cpu", study=plan[3].study), store)
    planned = check_plan(plan, store)
    # same run; other profile; other seed; same run with a resource-only override
    assert [p.recorded is not None for p in planned] == [True, False, False, True, False]
    calls = []
    made, failures = execute(planned, store, QUIET, run_fn=lambda r, s, c: calls.append(r) or fake_run(r, s))
    assert made == 3 and failures == [] and [r.study["x"] for r in calls] == [2, 4, 16]
    assert all(p.recorded for p in check_plan(plan, store))
    assert execute(check_plan(plan, store), store, QUIET, run_fn=pytest.fail) == (0, [])


def test_a_killed_run_leaves_nothing_and_is_redone(store):
    plan = plan_study("id_history", "synth")

    def dies_on_the_third(request, run_store, console):
        if request.study["x"] == 30:
            raise KeyboardInterrupt  # the record is never written
        return fake_run(request, run_store)

    with pytest.raises(KeyboardInterrupt):
        execute(check_plan(plan, store), store, QUIET, run_fn=dies_on_the_third)
    assert [p.recorded is not None for p in check_plan(plan, store)] == [True, True, False, False, False, False]
    made, _ = execute(check_plan(plan, store), store, QUIET, run_fn=fake_run)
    assert made == 4 and len(store.records()) == 6


def test_keep_going_collects_failures(store):
    plan = plan_study("n_meta", "synth")

    def fails_for_two(request, run_store, console):
        if request.study["x"] == 2:
            raise RecbenchError("model 'reclora' is not runnable here")
        return fake_run(request, run_store)

    with pytest.raises(RecbenchError):
        execute(check_plan(plan, store), store, QUIET, run_fn=fails_for_two)
    made, failures = execute(check_plan(plan, store), store, QUIET, run_fn=fails_for_two, keep_going=True)
    assert made == 3 and [(f.request.study["x"], msg) for f, msg in failures] == [(2, "model 'reclora' is not runnable here")]


def test_real_id_runs_execute_through_the_runner_and_resume(store):
    plan = [RunRequest("deepfm", "synth", 0, overrides=TINY, study={"name": "smoke"})]
    made, failures = execute(check_plan(plan, store), store, QUIET)
    assert made == 1 and not failures
    (record,) = store.records()
    assert record.model == "deepfm" and record.study == StudyTag("smoke") and record.overrides == TINY
    assert all(p.recorded for p in check_plan(plan, store))


# --------------------------------------------------------------------------- CLI


def invoke(*args: str):
    return runner.invoke(app, list(args), catch_exceptions=False)


def test_ablate_and_study_dry_runs_show_the_plan(store):
    fake_run(plan_study("ablation", "synth")[0], store)
    result = invoke("ablate", "--dataset", "synth", "--store", str(store.root), "--dry-run")
    assert result.exit_code == 0, result.output
    assert "6 planned runs: 1 already recorded, 5 to run" in result.output
    assert "ablation=w/o meta-LoRA (same param)" in result.output and "n_meta=1 lora_rank=128" in result.output
    result = invoke("study", "sample_size", "-d", "synth", "--profile", "paper", "--seed", "0", "--seed", "1",
                    "--store", str(store.root), "--dry-run")  # fmt: skip
    assert "24 planned runs: 0 already recorded, 24 to run" in result.output and "n_train=70000" in result.output
    assert store.records() and len(store.records()) == 1


def test_a_dry_run_with_a_budget_marks_what_one_process_would_start(store):
    fake_run(plan_study("n_meta", "synth")[0], store)  # its timings are the rates of every estimate
    result = invoke("study", "n_meta", "-d", "synth", "--store", str(store.root), "--dry-run", "--budget", "3h")
    assert result.exit_code == 0, result.output
    text = result.output.replace("\n", " ")
    assert text.count("(within the budget)") == 1 and text.count("(left for later: over the budget)") == 3
    assert "--budget 3 h 00 min: one process taking the plan in order starts 1 of the 4 runs" in text
    assert "measured on other hardware than this machine's" in text  # the fake record names no hardware


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["study", "ablation", "-d", "synth"], "unknown study 'ablation'; choose one of: n_meta, id_history"),
        (["study", "n_meta", "-d", "ml-2m"], "unknown dataset 'ml-2m'"),
        (["ablate", "-d", "synth", "--profile", "gpu", "--dry-run"], "--profile gpu: expected one of cpu, paper"),
        (["reproduce", "--profile", "cpu", "--data-dir", "x", "--dry-run"], "--data-dir needs exactly one --dataset"),
        (["study", "n_meta", "-d", "synth", "--budget", "soon", "--dry-run"], "--budget 'soon': expected a positive duration"),
        (["reproduce", "--profile", "cpu", "-d", "synth", "--budget", "0h"], "--budget '0h': expected a positive duration"),
        (["leaderboard", "--table", "9"], "--table 9: expected 2, 3, 4, claims or all"),
        (["leaderboard", "--table", "3"], "no ablation runs"),
        (["leaderboard", "--format", "pdf"], "--format pdf: expected one of md, csv, latex, html"),
    ],
)
def test_bad_input_is_one_line(store, args, message):
    result = runner.invoke(app, [*args, "--store", str(store.root)])
    assert result.exit_code == 2
    assert result.output.startswith("error: ") and message in result.output.replace("\n", " ")


def test_study_runs_the_missing_runs_and_fails_cleanly(store, monkeypatch):
    monkeypatch.setattr(recbench.runner, "run", fake_run)
    result = invoke("study", "n_meta", "-d", "synth", "--store", str(store.root))
    assert result.exit_code == 0, result.output
    assert len(store.records()) == 5
    again = invoke("study", "n_meta", "-d", "synth", "--store", str(store.root))
    assert "5 planned runs: 5 already recorded, 0 to run" in again.output and len(store.records()) == 5

    def broken(request, run_store, console):
        raise RecbenchError("model 'reclora' is a lm model; its training loop is not available yet")

    monkeypatch.setattr(recbench.runner, "run", broken)
    failed = runner.invoke(app, ["ablate", "-d", "synth", "--store", str(store.root)])
    assert failed.exit_code == 2 and "error: model 'reclora' is a lm model" in failed.output


def test_reproduce_runs_everything_then_renders_stamped_tables_and_figures(store, monkeypatch, tmp_path):
    monkeypatch.setattr(recbench.runner, "run", fake_run)
    out = tmp_path / "boards"
    args = ["reproduce", "--profile", "cpu", "-d", "synth", "--seeds", "2", "--store", str(store.root), "--out", str(out)]
    result = invoke(*args)
    assert result.exit_code == 0, result.output
    # 9 study points per seed are a run made already; references: one seed; claimed runs: zero-shot once, the
    # co-occurrence ReLLa and RecLoRA per seed
    assert len(store.records()) == 2 * 33 + 2 + 1 + 2 * 2
    tables = (out / "cpu" / "tables.md").read_text()
    again = f"recbench leaderboard --store {store.root} -d synth --profile cpu --paper"
    assert tables.startswith(f"Generated by `{again}` (recbench reproduce) from 73 recorded runs (profile cpu; data synth ffffffffffff)")
    assert "at commit " in tables.splitlines()[0]
    for title in ("Table 2 — synth (cpu profile)", "Table 3 — synth (cpu profile)", "Table 4 — synth (cpu profile)"):
        assert title in tables
    assert "Restricted by row id to these 100 rows" in tables
    assert sorted(p.name for p in (out / "cpu" / "figures").iterdir()) == [
        "fig4_n_meta.png", "fig5_id_history.png", "fig6_sample_size.png"]  # fmt: skip
    again = invoke(*args, "--dry-run")
    assert "91 planned runs: 91 already recorded, 0 to run" in again.output  # the 18 study points found as the runs they equal
    only = invoke(*args, "--dry-run", "--only", "table3", "--only", "figure6")
    assert "28 planned runs: 28 already recorded, 0 to run" in only.output and "id_history=" not in only.output
    wrong = runner.invoke(app, [*args, "--dry-run", "--only", "table9"])
    assert wrong.exit_code == 2 and "error: --only table9: expected one of table2, table3" in wrong.output


def test_leaderboard_cli_end_to_end(store, tmp_path, monkeypatch):
    for seed in (0, 1):
        fake_run(RunRequest("sim", "synth", seed), store)
        fake_run(RunRequest("reclora", "synth", seed, profile="cpu"), store)
    for request in plan_study("ablation", "synth"):
        fake_run(request, store)
    base = ["leaderboard", "--store", str(store.root)]
    text = invoke(*base, "--table", "2").output
    assert "### Table 2 — synth (cpu profile)" in text and "| LM-based  | CTR-BERT" in text and "Table 3" not in text
    both = invoke(*base, "--paper").output
    assert "### Table 3 — synth (cpu profile)" in both and "paper synth" not in both
    assert "The paper reports no numbers for data like synth, so no paper columns are shown." in both
    csv_text = invoke(*base, "--format", "csv", "--table", "3").output
    assert csv_text.splitlines()[0].startswith("table,Variant,AUC")
    target = tmp_path / "out" / "board.md"
    figures = tmp_path / "figs"
    result = invoke(*base, "-o", str(target), "--figures", str(figures), "--dataset", "synth")
    assert result.exit_code == 0 and target.read_text().startswith(f"Generated by `recbench leaderboard --store {store.root} -d synth` from 10 recorded runs")
    # no n_meta study was run, but the default RecLoRA (N_m = 16) and "w/o meta-LoRA" (N_m = 1) runs are its points
    assert sorted(p.name for p in figures.iterdir()) == ["fig4_n_meta.png", "fig5_id_history.png", "fig6_sample_size.png"]
    assert runner.invoke(app, [*base, "--dataset", "ml-1m"]).exit_code == 2


def test_a_study_point_equal_to_a_run_already_planned_or_made_is_that_run(store):
    plain = RunRequest("reclora", "synth", 0, profile="cpu")
    plan = [plain, *plan_study("n_meta", "synth"), *plan_study("ablation", "synth")]
    planned = check_plan(plan, store)
    labels = {(p.request.study or {}).get("x", (p.request.study or {}).get("variant")): p.same_as for p in planned}
    assert labels[16] == 1 and labels["full"] == 1  # N_m = 16 and "full" are the default run, line 1
    assert labels["w/o meta-LoRA"] == 2  # the same settings as Figure 4's N_m = 1 (line 2)
    assert sum(p.pending for p in planned) == len(plan) - 3
    made = fake_run(plain, store)
    again = check_plan(plan, store)
    assert again[0].recorded == made.run_id
    assert [p.recorded for p in again if (p.request.study or {}).get("x") == 16] == [made.run_id]
