"""The typed run record: every committed record reads and writes back unchanged, unknown keys
survive, and a malformed record is a one-line StoreProblem naming its folder."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest

from recbench.run_record import FIELDS, RecordError, RunRecord, SplitMetrics, StudyTag
from recbench.runstore import RunStore, StoreSet, record_json

ROOT = Path(__file__).resolve().parent.parent
COMMITTED = sorted((ROOT / "leaderboards" / "runs").glob("*/record.json"))


def minimal(**extra: object) -> dict:
    return {"run_id": "r1", "model": "din", "dataset": "synth", "seed": 0, **extra}


def test_every_committed_record_round_trips_and_rewrites_to_the_same_bytes():
    if not COMMITTED:
        pytest.skip("no committed runs in leaderboards/runs")
    for path in COMMITTED:
        text = path.read_text(encoding="utf-8")
        raw = json.loads(text)
        record = RunRecord.from_dict(raw, path.parent)
        assert record.to_dict() == raw, path
        assert record_json(record.to_dict()) == text, path  # what the store writes, byte for byte
        assert record.is_result and record.test is not None and record.digest


def test_the_fields_are_the_dataclass_fields():
    names = {f.name for f in dataclasses.fields(RunRecord)} - {"extra", "_absent", "_null", "_written"}
    assert names == set(FIELDS) and len(FIELDS) == len(set(FIELDS))


def test_missing_keys_stay_missing_and_nulls_stay_null():
    raw = minimal(profile=None, study=None, overrides=None, metrics={"test": {"auc": 0.7, "logloss": None}})
    record = RunRecord.from_dict(raw)
    assert record.to_dict() == raw
    assert record.overrides == () and record.profile is None and record.test == SplitMetrics(auc=0.7, extra={"logloss": None})
    assert "purpose" not in record.to_dict() and record.purpose == "run" and record.is_result


def test_an_unknown_key_survives_reading_and_a_copy_into_another_store(tmp_path):
    raw = minimal(metrics={"test": {"auc": 0.7, "ndcg": 0.3}}, study={"name": "n_meta", "x": 4, "note": "pilot"},
                  written_by={"tool": "recbench 9"})  # fmt: skip
    record = RunRecord.from_dict(raw)
    assert record.extra == {"written_by": {"tool": "recbench 9"}}
    assert record.test.extra == {"ndcg": 0.3} and record.study == StudyTag("n_meta", x=4, extra={"note": "pilot"})
    assert record.to_dict() == raw
    store = RunStore(tmp_path / "copy")
    rid = store.save(record, {"test_row": np.arange(2)})
    assert rid == "r1" and store.record(rid).to_dict() == {**raw, "schema_version": 1}


def test_records_are_read_only_and_hashable():
    record = RunRecord.from_dict(minimal(config={"hidden": [32]}))
    with pytest.raises(dataclasses.FrozenInstanceError):
        record.seed = 3  # type: ignore[misc]
    with pytest.raises(TypeError):
        record.config["hidden"] = [64]  # type: ignore[index]
    assert {record: 1}[RunRecord.from_dict(minimal(config={"hidden": [32]}))] == 1


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"seed": "x"}, "seed 'x' is not an integer"),
        ({"seed": True}, "seed True is not an integer"),
        ({"metrics": [0.7]}, "metrics is a JSON list, not an object"),
        ({"metrics": {"test": 0.7}}, "metrics.test is a JSON float, not an object"),
        ({"metrics": {"test": {"auc": "high"}}}, "metrics.test.auc 'high' is not a number"),
        ({"study": {"name": "n_meta", "x": "16"}}, "study.x '16' is not a number"),
        ({"profile": 3}, "profile 3 is not text"),
        ({"best_epoch": 1.5}, "best_epoch 1.5 is not an integer"),
        ({"epochs": {"1": 0.5}}, "epochs is not a list of objects"),
        ({"schema_version": 99}, "schema_version 99 is newer"),
    ],
)
def test_a_malformed_record_is_a_store_problem_naming_its_folder(tmp_path, changes, message):
    folder = tmp_path / "runs" / "r1"
    with pytest.raises(RecordError) as info:
        RunRecord.from_dict(minimal(**changes), folder)
    assert info.value.problem.folder == folder and message in str(info.value) and str(folder) in str(info.value)

    folder.mkdir(parents=True)
    (folder / "record.json").write_text(json.dumps(minimal(**changes)))
    good = RunStore(tmp_path / "good")
    good.save(minimal(run_id="r2"), {})
    both = StoreSet([tmp_path / "runs", good.root])
    assert [r.run_id for r in both.records()] == ["r2"]  # the damaged run is skipped, never a traceback
    (problem,) = both.problems
    assert problem.folder == folder and message in problem.message


def test_a_record_in_the_wrong_folder_is_a_problem(tmp_path):
    with pytest.raises(RecordError, match="run_id 'r1' does not match its folder name"):
        RunRecord.from_dict(minimal(), tmp_path / "r9")


def test_the_store_filters_by_fields_only(tmp_path):
    store = RunStore(tmp_path)
    store.save(minimal(), {})
    assert [r.model for r in store.records(model="din", purpose="run")] == ["din"]
    with pytest.raises(TypeError, match="not fields: modle"):
        store.records(modle="din")


def test_the_runner_returns_the_saved_record_and_a_non_first_process_saves_none(tmp_path, monkeypatch):
    from rich.console import Console

    from recbench.runner import RunRequest, run

    quiet, store = Console(quiet=True), RunStore(tmp_path)
    saved = run(RunRequest("pop", "synth", 0), store, quiet)
    assert [saved] == store.records() and saved.to_dict() == json.loads((tmp_path / saved.run_id / "record.json").read_text())
    monkeypatch.setenv("RANK", "1")  # another process of `accelerate launch`: only the first records
    other = run(RunRequest("pop", "synth", 0), store, quiet)
    assert other.run_id == "(rank 1: not recorded)" and other.test == saved.test and store.records() == [saved]
