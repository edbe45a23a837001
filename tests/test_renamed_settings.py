"""RecLoRA's prompt settings renamed to PromptConfig's, and the declared migration of old records.

Why these tests: ``prompt_history``, ``prompt_history_length``, ``rank`` and ``alpha`` became
``history``, ``history_length``, ``lora_rank`` and ``lora_alpha``. Runs recorded under the old
names stay on disk unchanged (committed evidence; old code keeps writing them for days), so a
record must be read under the new names: the same run as a planned request (not drifted, not
"to make" again), in the same table rows, and written back byte for byte. The old ``--set``
names keep working with a one-line note, and the default RecLoRA run is unchanged.
"""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pytest
from typer.testing import CliRunner

from cli import app
from recbench.config import apply_overrides, to_dict
from recbench.drift import settings_drift
from recbench.errors import RecbenchError
from recbench.lm.recommender import PromptConfig
from recbench.metrics import evaluate
from recbench.plans import check_plan
from recbench.registry import get_model
from recbench.run_record import RunRecord
from recbench.runner import resolve_configs
from recbench.runstore import RunStore, record_json
from recbench.studies import plan_study
from recbench.study_tables import row_label
from recbench.suites.reclora import ABLATIONS, TIMING
from reclora.config import PersonalizedLoRAConfig
from reclora.model import RecLoRA, RecLoRAConfig

runner = CliRunner()

#: the default RecLoRA config as the code before the rename recorded it (the committed cpu run's)
OLD_DEFAULT = {
    "alpha": 16.0, "crm_history": "retrieved", "crm_history_length": 60, "gate_dropout": 0.1, "item_vectors": "lm",
    "mixing": "factors", "n_meta": 16, "prompt_history": "retrieved", "prompt_history_length": 10, "rank": 8,
    "style": "chat", "temperature": 5.0,
}  # fmt: skip


def old_record(store: RunStore, overrides: list[str], study: dict | None = None, seed: int = 0, **config: object) -> str:
    """A RecLoRA run as the old code wrote it: old setting names in ``config`` and ``overrides``."""
    _, train = resolve_configs(get_model("reclora"), (), "cpu")
    labels = np.random.default_rng(7).integers(0, 2, 100)
    prob = np.clip(labels * 0.6 + 0.2, 0, 1).astype(np.float32)
    record = {
        "model": "reclora", "family": "lm", "purpose": "run", "profile": "cpu", "study": study, "dataset": "synth",
        "dataset_variant": "synth", "fingerprint": {"digest": "f" * 64, "canonical": "yes"}, "protocol_version": 1,
        "seed": seed, "config": {**OLD_DEFAULT, **config}, "train_config": {**to_dict(train), "threads": 1},
        "overrides": overrides, "metrics": {"test": evaluate(labels, prob)}, "created_at": f"2026-01-01T{len(store.records()):08d}",
    }  # fmt: skip
    return store.save(record, {"test_row": np.arange(100), "test_prob": prob, "test_label": labels})


# --------------------------------------------------------------------------- the config


def test_reclora_config_is_a_prompt_config_with_the_old_defaults():
    config = RecLoRAConfig()
    assert isinstance(config, PromptConfig) and not hasattr(RecLoRAConfig, "prompt_history")
    assert (config.history, config.history_length, config.lora_rank, config.lora_alpha, config.lora_dropout) == ("retrieved", 10, 8, 16.0, 0.0)
    assert dict(RecLoRAConfig.RENAMED_SETTINGS) == {
        "prompt_history": "history", "prompt_history_length": "history_length", "rank": "lora_rank", "alpha": "lora_alpha",
    }  # fmt: skip


@pytest.mark.parametrize("profile", ["cpu", "paper"])
def test_the_default_run_resolves_to_the_same_settings_and_adapter_as_before(profile):
    model_config, train_config = resolve_configs(get_model("reclora"), ("threads=1",), profile)
    # every setting the old default recorded, read under the new names, is what the default resolves to now
    assert RunRecord("r", "reclora", "synth", config=OLD_DEFAULT).config == to_dict(model_config)
    stand_in = SimpleNamespace(config=model_config, crm_dim=32, lm_config=train_config)
    assert RecLoRA.adapter_config(stand_in) == PersonalizedLoRAConfig(
        n_meta=16, rank=8, alpha=16.0, dropout=0.0, gate_dropout=0.1, temperature=5.0, mixing="factors",
        condition_dim=32, target_modules=("q_proj", "v_proj"),
    )  # fmt: skip


def test_lora_dropout_now_reaches_the_personalized_adapter():
    model_config, train_config = resolve_configs(get_model("reclora"), ("lora_dropout=0.1", "lora_rank=4"), "cpu")
    adapter = RecLoRA.adapter_config(SimpleNamespace(config=model_config, crm_dim=8, lm_config=train_config))
    assert (adapter.dropout, adapter.rank, adapter.scaling) == (0.1, 4, 4.0)


def test_an_old_name_reaching_the_settings_parser_names_the_new_one():
    with pytest.raises(RecbenchError, match=r"^--set rank: renamed to lora_rank; use --set lora_rank=4$"):
        apply_overrides([RecLoRAConfig()], ["rank=4"])


# --------------------------------------------------------------------------- records


def test_an_old_name_record_reads_under_the_new_names_and_writes_back_unchanged(tmp_path):
    store = RunStore(tmp_path / "runs")
    run_id = old_record(store, ["prompt_history=recent", "threads=1", "rank=4"], prompt_history="recent", rank=4)
    path = store.root / run_id / "record.json"
    text = path.read_text(encoding="utf-8")
    record = store.record(run_id)
    assert record.overrides == ("history=recent", "threads=1", "lora_rank=4")
    assert record.measured_overrides == ("history=recent", "lora_rank=4")
    config = dict(record.config)
    assert (config["history"], config["history_length"], config["lora_rank"], config["lora_alpha"], config["lora_dropout"]) == ("recent", 10, 4, 16.0, 0.0)
    assert not {"prompt_history", "prompt_history_length", "rank", "alpha"} & set(config)
    assert record.to_dict() == json.loads(text) and record_json(record.to_dict()) == text  # byte for byte
    assert path.read_text(encoding="utf-8") == text  # the file is never rewritten
    copy = RunStore(tmp_path / "copy")
    copy.save(record, {"test_row": np.arange(2)})
    assert (copy.root / run_id / "record.json").read_text(encoding="utf-8") == text  # a copy keeps what was written


def test_a_record_with_current_names_is_left_as_written():
    record = RunRecord("r", "reclora", "synth", config=to_dict(RecLoRAConfig()), overrides=["history=recent"])
    assert record.to_dict()["config"] == to_dict(RecLoRAConfig()) and record.overrides == ("history=recent",)
    other = RunRecord("s", "sim", "synth", config={"history_length": 60}, overrides=["rank=3"])  # not RecLoRA's names
    assert other.config == {"history_length": 60} and other.overrides == ("rank=3",)


def test_a_plan_counts_old_name_records_as_done_and_tables_find_their_rows(tmp_path):
    store = RunStore(tmp_path / "runs")
    full = old_record(store, ["threads=1"])
    short = old_record(store, ["prompt_history=recent", "threads=1"], {"name": "ablation", "variant": "w/o short retriever"},
                       prompt_history="recent")  # fmt: skip
    same_param = old_record(store, ["n_meta=1", "rank=128"], {"name": "ablation", "variant": "w/o meta-LoRA (same param)"},
                            n_meta=1, rank=128)  # fmt: skip
    timing = old_record(store, ["prompt_history_length=10", "crm_history_length=30"],
                        {"name": "time_per_sample", "variant": "10/30"}, crm_history_length=30)  # fmt: skip
    records = {r.run_id: r for r in store.records()}
    assert all(settings_drift(r) == () for r in records.values())
    assert [row_label(records[i], ABLATIONS) for i in (full, short, same_param)] == ["full", "w/o short retriever", "w/o meta-LoRA (same param)"]
    assert row_label(records[full], TIMING) == "10/60" and row_label(records[timing], TIMING) == "10/30"
    planned = {p.request.study["variant"]: p for p in check_plan(plan_study("ablation", "synth"), store)}
    assert {v: p.recorded for v, p in planned.items() if p.recorded} == {
        "full": full, "w/o short retriever": short, "w/o meta-LoRA (same param)": same_param,
    }  # fmt: skip
    timed = {p.request.study["variant"]: p.recorded for p in check_plan(plan_study("time_per_sample", "synth"), store)}
    assert timed["10/30"] == timing and timed["10/60"] == full


def test_an_old_record_is_not_done_for_a_request_of_a_setting_it_never_had(tmp_path):
    store = RunStore(tmp_path / "runs")
    old_record(store, ["threads=1"])
    from recbench.runner import RunRequest

    (planned,) = check_plan([RunRequest("reclora", "synth", 0, None, ("lora_dropout=0.1",), profile="cpu")], store)
    assert planned.pending  # it ran with the adapter dropout fixed at 0 (ADDED_SETTINGS)


# --------------------------------------------------------------------------- the command line


def test_run_reads_an_old_set_name_under_the_new_one_with_a_note(tmp_path):
    args = ["run", "-m", "reclora", "-d", "synth", "--store", str(tmp_path / "runs"), "--set", "prompt_history=recent", "--set", "lr=-1"]
    result = runner.invoke(app, args)
    assert result.exit_code == 2  # the bad lr stops it before any data or backbone is loaded
    assert "note: setting prompt_history is now called history; read as history=recent" in result.output
    assert "--set lr=-1: expected" in result.output and "unknown setting" not in result.output
    other = runner.invoke(app, ["run", "-m", "din", "-d", "synth", "--store", str(tmp_path / "runs"), "--set", "prompt_history=recent"])
    assert other.exit_code == 2 and "--set prompt_history: unknown setting" in other.output  # not DIN's old name


def test_a_plan_reads_an_old_set_name_under_the_new_one_noted_once(tmp_path):
    store = RunStore(tmp_path / "runs")
    old_record(store, ["threads=1", "prompt_history_length=10"])
    args = ["ablate", "-d", "synth", "--store", str(store.root), "--dry-run", "--set", "prompt_history_length=10"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert result.output.count("note: setting prompt_history_length is now called history_length") == 1
    plan_lines = [line for line in result.output.splitlines() if line.startswith("reclora")]
    assert len(plan_lines) == 6 and all("history_length=10" in line and "prompt_" not in line for line in plan_lines)
    assert "recorded" in plan_lines[0]  # the old-name full run serves the new-name request


def test_a_run_killed_under_the_old_names_resumes_from_its_checkpoint(tmp_path):
    """The checkpoint folder is keyed by a hash of the settings; the old-name key is found again."""
    import hashlib

    from recbench.runner import checkpoint_folder
    from tests.lm_support import synth_data

    data = synth_data()
    model_config, train_config = resolve_configs(get_model("reclora"), ("n_meta=1",), "cpu")
    fresh = checkpoint_folder(tmp_path, "reclora", data, 0, model_config, train_config)
    assert not fresh.exists()
    old_values = {**OLD_DEFAULT, "n_meta": 1}
    settings = json.dumps([old_values, to_dict(train_config), data.fingerprint.digest], sort_keys=True)
    old = tmp_path / "checkpoints" / f"reclora-{data.dataset}-s0-{hashlib.sha256(settings.encode()).hexdigest()[:12]}"
    old.mkdir(parents=True)
    assert checkpoint_folder(tmp_path, "reclora", data, 0, model_config, train_config) == old
    other, _ = resolve_configs(get_model("reclora"), ("n_meta=1", "lora_dropout=0.1"), "cpu")
    assert checkpoint_folder(tmp_path, "reclora", data, 0, other, train_config) != old  # old code never ran this
