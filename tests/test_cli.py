"""End to end through the CLI on the embedded synth dataset, plus every bad-input path."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli import app
from recbench.runstore import RunStore
from tests.test_datasets import good_ratings, write_ml1m

runner = CliRunner()
QUICK = ["--set", "max_train_rows=3000", "--set", "max_epochs=1", "--set", "hidden=32"]


def invoke(*args: str):
    return runner.invoke(app, list(args), catch_exceptions=False)


@pytest.fixture
def store(tmp_path: Path) -> Path:
    return tmp_path / "runs"


def test_run_records_a_complete_run(store):
    result = invoke("run", "--model", "din", "--dataset", "synth", "--store", str(store), *QUICK)
    assert result.exit_code == 0, result.output
    assert "test AUC" in result.output
    (record,) = RunStore(store).records()
    assert record.model == "din" and record.dataset == "synth" and record.seed == 0
    assert record.config["hidden"] == [32]
    assert record.train_config["max_train_rows"] == 3000
    assert set(record.metrics) == {"valid", "test"}
    assert 0.5 < record.test.auc < 1.0
    assert record.digest and record.protocol_version >= 1
    assert record.environment["packages"]["torch"]
    assert record.peak_memory["rss_mib"] > 0
    predictions = RunStore(store).predictions(record.run_id)
    assert len(predictions["test_row"]) == record.test.rows == record.data_summary["test"]
    assert ((predictions["test_prob"] > 0) & (predictions["test_prob"] < 1)).all()


def test_same_seed_gives_identical_metrics_and_predictions(store):
    for _ in range(2):
        assert invoke("run", "-m", "deepfm", "-d", "synth", "--seed", "3", "--store", str(store), *QUICK).exit_code == 0
    a, b = RunStore(store).records()
    assert a.metrics == b.metrics
    pa, pb = (RunStore(store).predictions(r.run_id) for r in (a, b))
    assert (pa["test_prob"] == pb["test_prob"]).all()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["run", "-m", "nope", "-d", "synth"], "unknown model 'nope'; choose one of: autoint, caser, ctr-bert, dcnv2, deepfm, din, gru4rec, pop, reclora, rella, sasrec, sim, tallrec, user-mean"),
        (["run", "-m", "din", "-d", "ml-2m"], "unknown dataset 'ml-2m'; choose one of:"),
        (["run", "-m", "din", "-d", "synth", "--set", "lr=fast"], "--set lr=fast: expected a number"),
        (["run", "-m", "din", "-d", "synth", "--set", "depth=3"], "--set depth: unknown setting; valid keys:"),
        (["run", "-m", "din", "-d", "synth", "--set", "lr"], "--set 'lr': expected key=value"),
        (["run", "-m", "din", "-d", "ml-100k"], "ml-100k': u.data, u.user, u.item, u.genre not found"),
    ],
)
def test_bad_input_is_one_line_and_records_nothing(store, args, message):
    result = runner.invoke(app, [*args, "--store", str(store)])
    assert result.exit_code == 2
    lines = [line for line in result.output.strip().splitlines() if line.strip()]
    assert lines[0].startswith("error: ") and message in " ".join(lines)
    assert "Traceback" not in result.output
    assert not store.exists() or RunStore(store).records() == []


def test_malformed_data_dir_is_one_line_error(tmp_path, store):
    data_dir = write_ml1m(tmp_path / "ml1m", good_ratings() + "1::1::")
    result = runner.invoke(app, ["run", "-m", "din", "-d", "ml-1m", "--data-dir", str(data_dir), "--store", str(store)])
    assert result.exit_code == 2
    assert "ratings.dat, line 13: too few fields" in result.output
    assert not store.exists() or RunStore(store).records() == []


def test_listing_commands():
    assert "din" in invoke("models").output
    output = invoke("datasets").output
    assert all(name in output for name in ("ml-100k", "ml-1m", "ml-25m", "goodreads", "synth"))


def test_data_info_json():
    result = invoke("data", "info", "synth", "--json")
    info = json.loads(result.output)
    assert info["samples"] == info["train"] + info["valid"] + info["test"]


def test_data_fetch_offline_fails_with_instructions(tmp_path):
    result = runner.invoke(app, ["data", "fetch", "ml-100k", "--data-dir", str(tmp_path / "x")], env={**os.environ})
    assert result.exit_code == 2
    assert "could not download" in result.output or "error:" in result.output


def test_tune_saves_best_config_and_run_reuses_it(store):
    result = invoke("tune", "-m", "deepfm", "-d", "synth", "--trials", "2", "--store", str(store), *QUICK)
    assert result.exit_code == 0, result.output
    trials = RunStore(store).records(purpose="tune")
    assert len(trials) == 2 and all("test" not in t.metrics for t in trials)  # tuning never scores test rows
    saved = json.loads((store / "configs" / "deepfm-synth.json").read_text())
    best = max(saved["trials"], key=lambda t: t["valid_auc"])
    assert saved["valid_auc"] == best["valid_auc"]
    result = invoke("run", "-m", "deepfm", "-d", "synth", "--config", "deepfm-synth", "--store", str(store), "--set", "max_epochs=1")
    assert result.exit_code == 0, result.output
    (run,) = RunStore(store).records(purpose="run")
    assert list(run.overrides[: len(best["overrides"])]) == best["overrides"] and run.overrides[-1] == "max_epochs=1"


def test_run_with_unknown_or_mismatched_config(store):
    result = runner.invoke(app, ["run", "-m", "din", "-d", "synth", "--config", "nope", "--store", str(store)])
    assert result.exit_code == 2 and "--config nope: no tuned config of that name" in result.output


def test_leaderboard_groups_seeds_and_excludes_tuning(store):
    for seed in ("0", "1"):
        assert invoke("run", "-m", "din", "-d", "synth", "--seed", seed, "--store", str(store), *QUICK).exit_code == 0
    output = invoke("leaderboard", "--store", str(store)).output
    assert "### Table 2 — synth" in output
    # the runs changed settings (QUICK), so they are their own row, not the default DIN's
    line = next(line for line in output.splitlines() if "| DIN [" in line)
    cells = [cell.strip() for cell in line.strip("|").split("|")]
    assert "±" in cells[2] and cells[7] == "2"  # AUC mean ± std, seeds
    csv_output = invoke("leaderboard", "--store", str(store), "--format", "csv").output
    assert csv_output.splitlines()[0].startswith("table,Group,Model,AUC,AUC std")
    empty = runner.invoke(app, ["leaderboard", "--store", str(store / "none")])
    assert empty.exit_code == 2 and "no recorded runs" in empty.output
