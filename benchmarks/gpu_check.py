"""Helpers of ``benchmarks/gpu_check.sh``: the tokenizer that travels, and a random-weight backbone.

    python benchmarks/gpu_check.py prepare .gpu                 # here: SmolLM2's tokenizer into .gpu/tokenizer
    python benchmarks/gpu_check.py backbone .gpu/tokenizer DIR  # there: a random Llama + that tokenizer in DIR

The GPU machine has no model hub and no copy of SmolLM2, and a call carries at most 64 MiB, so
only the tokenizer (a few MB) travels; the backbone is a randomly initialised Llama built on
the spot (``save_pretrained`` folder), which takes the same code path as any local backbone.
"""

from __future__ import annotations

import sys
from pathlib import Path


def prepare(folder: Path) -> None:
    from transformers import AutoTokenizer

    from recbench.lm.backbone import BUILTIN_BACKBONES, materialize_gguf

    source = materialize_gguf("smollm2-135m", BUILTIN_BACKBONES["smollm2-135m"])
    AutoTokenizer.from_pretrained(str(source)).save_pretrained(str(folder / "tokenizer"))
    print(f"wrote {folder / 'tokenizer'}")


def backbone(tokenizer_dir: Path, out: Path, hidden: int = 512, layers: int = 4) -> None:
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    tokenizer = AutoTokenizer.from_pretrained(str(tokenizer_dir))
    config = LlamaConfig(
        vocab_size=len(tokenizer), hidden_size=hidden, intermediate_size=4 * hidden, num_hidden_layers=layers,
        num_attention_heads=8, num_key_value_heads=4, max_position_embeddings=2048,
        pad_token_id=tokenizer.pad_token_id, bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
    )  # fmt: skip
    torch.manual_seed(0)
    LlamaForCausalLM(config).save_pretrained(str(out))
    tokenizer.save_pretrained(str(out))
    print(f"wrote a random {layers}-layer Llama (hidden {hidden}) with the SmolLM2 tokenizer to {out}")


if __name__ == "__main__":
    verb, *rest = sys.argv[1:]
    if verb == "prepare":
        prepare(Path(rest[0]))
    elif verb == "backbone":
        backbone(Path(rest[0]), Path(rest[1]))
    else:
        raise SystemExit(f"unknown verb {verb!r}: prepare or backbone")
