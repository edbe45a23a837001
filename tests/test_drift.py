"""A run whose profile or defaults changed since it ran is neither "done" nor mixed into new tables."""

from __future__ import annotations

import numpy as np
from rich.console import Console

from recbench.config import to_dict
from recbench.drift import settings_drift
from recbench.metrics import evaluate
from recbench.paper_tables import table2
from recbench.plans import check_plan
from recbench.registry import get_model
from recbench.run_record import RunRecord
from recbench.run_selection import profile_of, profile_title
from recbench.runner import RunRequest, resolve_configs
from recbench.runstore import RunStore

QUIET = Console(file=open("/dev/null", "w"))


def lm_record(model: str = "tallrec", overrides: tuple[str, ...] = (), **recorded: object) -> dict:
    """A record of ``model`` at the cpu profile as it resolves today, with ``recorded`` changed."""
    model_config, train_config = resolve_configs(get_model(model), overrides, "cpu")
    train = {**to_dict(train_config), **recorded}
    return {"model": model, "family": "lm", "profile": "cpu", "overrides": list(overrides),
            "config": to_dict(model_config), "train_config": train}  # fmt: skip


def typed(record: dict) -> RunRecord:
    """``record`` as the store hands it out (run id and dataset added)."""
    return RunRecord.from_dict({"run_id": "r1", "dataset": "synth", **record})


def test_current_settings_have_no_drift_and_resource_settings_never_count():
    assert settings_drift(typed(lm_record())) == ()
    assert settings_drift(typed(lm_record(threads=1, eval_batch_size=32, checkpoint_every=50))) == ()


def test_a_changed_profile_value_is_named_with_its_current_value():
    assert settings_drift(typed(lm_record(epochs=99))) == ("epochs=99 (now 3)",)
    drift = settings_drift(typed(lm_record(lora_targets=["q_proj", "k_proj"])))
    assert drift == ("lora_targets=q_proj,k_proj (now q_proj,v_proj)",)


def test_a_zero_shot_run_ignores_training_settings_but_not_the_rows_it_scored():
    zero_shot = lm_record("rella", ("n_train=0",), n_train=0, epochs=99, lr=0.5, lora_targets=["o_proj"])
    assert settings_drift(typed(zero_shot)) == ()
    assert settings_drift(typed({**zero_shot, "train_config": {**zero_shot["train_config"], "n_test": 7}})) == ("n_test=7 (now 2000)",)


def test_an_unknown_model_or_a_record_without_settings_has_nothing_to_compare():
    assert settings_drift(typed({"model": "not-registered", "overrides": [], "config": {"x": 1}})) == ()
    assert settings_drift(typed({"model": "tallrec", "family": "lm", "profile": "cpu", "overrides": []})) == ()


def test_profile_label_and_title():
    assert profile_of(typed(lm_record())) == "cpu"
    label = profile_of(typed(lm_record(epochs=99)))
    assert label == "cpu; earlier settings epochs=99 (now 3)"
    assert profile_title(label) == "cpu profile; earlier settings epochs=99 (now 3)" and profile_title("cpu") == "cpu profile"


def save(store: RunStore, record: dict, seed: int = 0, strength: float = 2.0) -> str:
    labels = np.random.default_rng(1).integers(0, 2, 200)
    prob = (1 / (1 + np.exp(-(strength * (labels - 0.5) + np.random.default_rng(seed).normal(0, 1, 200))))).astype(np.float32)
    full = {**record, "purpose": "run", "study": None, "dataset": "synth", "dataset_variant": "synth",
            "fingerprint": {"digest": "d" * 64, "canonical": "yes"}, "protocol_version": 1, "seed": seed,
            "metrics": {"test": evaluate(labels, prob)}, "data_summary": {"train": 1000, "valid": 100, "test": 200},
            "created_at": f"2026-01-01T00:00:{seed:02d}"}  # fmt: skip
    return store.save(full, {"test_row": 1100 + np.arange(200), "test_prob": prob, "test_label": labels})


def test_a_drifted_run_is_not_done_in_a_plan_and_gets_its_own_table(tmp_path):
    store = RunStore(tmp_path / "runs")
    save(store, lm_record(epochs=99))
    request = RunRequest("tallrec", "synth", 0, profile="cpu")
    assert check_plan([request], store)[0].recorded is None  # must be re-run at today's settings
    current = save(store, lm_record(), seed=0, strength=3.0)
    save(store, {"model": "pop", "family": "reference", "profile": None, "overrides": []}, strength=1.0)
    assert check_plan([request], store)[0].recorded == current
    tables = table2(store, store.records())
    titles = [t.title for t in tables]
    # the caption states the LM rows' training budget, read from their records
    assert "LM rows: TALLRec: smollm2-135m, 1,024 training rows x 3 epochs, lr 0.002, batch 8, LoRA r 8 on q_proj,v_proj." in tables[0].description
    assert titles == ["Table 2 — synth (cpu profile)", "Table 2 — synth (cpu profile; earlier settings epochs=99 (now 3))",
                      "Table 2 — synth"]  # the last: the ID and reference runs on all their rows
