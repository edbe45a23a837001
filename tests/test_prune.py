"""`recbench prune`: superseded runs go, the tables do not change, runs that others read stay."""

from __future__ import annotations

import json

import numpy as np
from typer.testing import CliRunner

from cli import app
from recbench.metrics import evaluate
from recbench.prune import superseded_runs
from recbench.runstore import RunStore

runner = CliRunner()


def record_run(store: RunStore, model: str, when: int, seed: int = 0, overrides: tuple[str, ...] = (),
               digest: str = "d" * 64, crm: str | None = None, config: dict | None = None) -> str:  # fmt: skip
    """A finished run on a 300-row test split, made at minute ``when`` of a fixed day."""
    labels = np.random.default_rng(1).integers(0, 2, 300)
    prob = (1 / (1 + np.exp(-(labels - 0.5 + np.random.default_rng(when).normal(0, 1, 300))))).astype(np.float32)
    record = {
        "model": model, "family": "id", "purpose": "run", "profile": None, "study": None, "dataset": "ml-100k",
        "dataset_variant": "ml-100k", "fingerprint": {"digest": digest, "canonical": "yes"}, "protocol_version": 1,
        "seed": seed, "overrides": list(overrides), "metrics": {"test": evaluate(labels, prob)},
        "data_summary": {"train": 1000, "valid": 100, "test": 300}, "created_at": f"2026-01-01T00:{when:02d}:00",
    }  # fmt: skip
    if config is not None:
        record["config"] = config
    if crm is not None:
        record["crm"] = {"model": "sim", "run_id": crm, "history_length": 60}
    return store.save(record, {"test_row": 1100 + np.arange(300), "test_prob": prob, "test_label": labels})


def test_only_an_older_run_with_the_same_settings_and_data_is_superseded(tmp_path):
    store = RunStore(tmp_path)
    old, new = record_run(store, "din", 1), record_run(store, "din", 2)
    record_run(store, "din", 3, seed=1)  # another seed
    record_run(store, "din", 4, overrides=("embedding_dim=8",))  # other settings
    record_run(store, "din", 5, digest="e" * 64)  # other data
    record_run(store, "sim", 0)
    record_run(store, "dcnv2", 6, config={"n_cross": 2})  # made under a profile's earlier values
    record_run(store, "dcnv2", 7, config={"n_cross": 3})
    found = superseded_runs(store)
    assert [(run.run_id, run.by) for run in found] == [(old, new)]
    assert found[0].bytes > 0 and found[0].folder == tmp_path / old


def test_a_run_another_run_reads_is_kept(tmp_path):
    store = RunStore(tmp_path)
    read_crm, _ = record_run(store, "sim", 1), record_run(store, "sim", 2)
    record_run(store, "reclora", 3, crm=read_crm)
    pinned_crm, _ = record_run(store, "din", 4), record_run(store, "din", 5)
    state = tmp_path / "checkpoints" / "reclora-ml-100k-s0-abc"
    state.mkdir(parents=True)
    (state / "prerequisites.json").write_text(json.dumps({"crm": pinned_crm}))
    assert superseded_runs(store) == []


def test_a_crm_read_only_by_a_superseded_run_goes_with_it(tmp_path):
    store = RunStore(tmp_path)
    crm, _ = record_run(store, "sim", 1), record_run(store, "sim", 2)
    old_reclora = record_run(store, "reclora", 3, crm=crm)
    record_run(store, "reclora", 4)
    assert {run.run_id for run in superseded_runs(store)} == {crm, old_reclora}


def test_prune_lists_then_applies_and_the_table_is_unchanged(tmp_path):
    store = RunStore(tmp_path)
    for when, model in enumerate(("sim", "din", "sim", "din", "deepfm"), 1):
        record_run(store, model, when)
    table = ["leaderboard", "--store", str(tmp_path), "--table", "2"]
    before = runner.invoke(app, table)
    assert before.exit_code == 0, before.output

    listed = runner.invoke(app, ["prune", "--store", str(tmp_path)])
    assert listed.exit_code == 0, listed.output
    assert "2 superseded run(s)" in listed.output and "--apply deletes them" in listed.output
    assert len(store.records()) == 5

    applied = runner.invoke(app, ["prune", "--store", str(tmp_path), "--apply"])
    assert applied.exit_code == 0, applied.output
    assert "removed 2 superseded run(s)" in applied.output
    assert sorted(r.model for r in store.records()) == ["deepfm", "din", "sim"]
    after = runner.invoke(app, table)
    assert after.output == before.output

    again = runner.invoke(app, ["prune", "--store", str(tmp_path)])
    assert "no superseded run" in again.output


def test_a_run_that_a_run_of_another_given_store_reads_is_kept(tmp_path):
    reference, mine = RunStore(tmp_path / "reference"), RunStore(tmp_path / "mine")
    crm, _ = record_run(reference, "sim", 1), record_run(reference, "sim", 2)
    record_run(mine, "reclora", 3, crm=crm)
    assert [run.run_id for run in superseded_runs(reference)] == [crm]  # alone, nothing reads it
    result = runner.invoke(app, ["prune", "--store", str(mine.root), "--store", str(reference.root), "--apply"])
    assert result.exit_code == 0, result.output
    assert "no superseded run" in result.output and reference.has(crm)
