"""Throughput of the LM loop on this machine: scoring prompts/s with and without length bucketing,
LoRA training prompts/s, and peak memory, for the real SmolLM2-135M backbone.

    python benchmarks/bench_lm.py [--dataset ml-100k --data-dir ../shared/data/ml-100k] [--rows 48] [--threads 2]

Runs at the cpu profile's settings (bf16 autocast, its LoRA targets; ``--set`` changes them) and
reports achieved FLOP/s of the loop's scoring and training beside a bare forward (and forward +
backward) of the same backbone on the same token batches: how close the loop runs to what this
machine gives. FLOPs are counted from the model's shapes (``forward_flops``); training counts
2x a forward, since the frozen base needs activation gradients but no weight gradients.

Prompts are ReLLa's (retrieved history, K=10, chat template) for the first test rows, so their
lengths vary as they do in real runs (that variation is what bucketing exploits).
"""

from __future__ import annotations

import argparse
import contextlib
import resource
import time
from pathlib import Path

import numpy as np
import torch
from rich.console import Console


def forward_flops(config, lengths: list[int]) -> float:
    """Forward FLOPs of the decoder over prompts of these lengths: 2 per weight per token in the
    blocks' linears plus causal attention's two T x T products (the LM head runs at one
    position per prompt, negligible)."""
    d, layers, inter = config.hidden_size, config.num_hidden_layers, config.intermediate_size
    kv = d * config.num_key_value_heads // config.num_attention_heads
    per_token = 2 * layers * (d * d * 2 + d * kv * 2 + 3 * d * inter)  # q, o; k, v; gate, up, down
    attention = sum(2 * layers * d * t * t for t in lengths)  # QK^T and AV, causal half of 2 * 2 * d * T^2
    return per_token * sum(lengths) + attention


def bare(model, encoded, batch: int, autocast: str, backward: bool) -> float:
    """Seconds for the bare backbone over the loop's own batches (no LoRA bookkeeping, no loop)."""
    from recbench.lm.prompts import collate, length_buckets

    base = model.lm.get_base_model() if hasattr(model.lm, "get_base_model") else model.lm
    decoder = base.get_decoder()
    pad = model.encoder.tokenizer.pad_token_id
    batches = [collate([encoded[i] for i in index], pad) for index in length_buckets([len(e.input_ids) for e in encoded], batch, True)]
    adapters_off = model.lm.disable_adapter() if hasattr(model.lm, "disable_adapter") else contextlib.nullcontext()
    with adapters_off:
        for timed in (False, True):  # the first pass warms up kernels and bf16 weight casts, as the loop's warm-up does
            if timed:
                started = time.perf_counter()
            for tokens in batches:
                _bare_pass(decoder, tokens, autocast, backward)
    return time.perf_counter() - started


def _bare_pass(decoder, tokens, autocast: str, backward: bool) -> None:
    from recbench.bf16 import bf16_matmuls

    # the same bf16 matmul kernels as the loop (fp32 kernels on bf16 values where the CPU has no bf16 units)
    with bf16_matmuls(torch.device("cpu"), autocast):
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast == "bfloat16"):
            if backward:
                embeds = decoder.embed_tokens(tokens.input_ids).detach().requires_grad_(True)
                hidden = decoder(inputs_embeds=embeds, attention_mask=tokens.attention_mask).last_hidden_state
            else:
                with torch.inference_mode():
                    hidden = decoder(input_ids=tokens.input_ids, attention_mask=tokens.attention_mask).last_hidden_state
        if backward:
            hidden.float().square().mean().backward()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="synth")
    parser.add_argument("--data-dir", type=Path, default=None)
    parser.add_argument("--rows", type=int, default=48)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--train-rows", type=int, default=16)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--item-vectors", default="lm")
    parser.add_argument("--set", action="append", default=[], help="key=value on top of the cpu profile")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    from recbench.lm.trainer import score, train
    from recbench.protocol import load_protocol
    from recbench.registry import get_model
    from recbench.runner import resolve_configs

    data = load_protocol(args.dataset, args.data_dir)
    entry = get_model("rella")
    sets = (f"item_vectors={args.item_vectors}", f"batch_size={args.batch}", f"micro_batch_size={args.batch}",
            f"eval_batch_size={args.batch}", "checkpoint_every=0", *args.set)  # fmt: skip
    config, lm_config = resolve_configs(entry, sets, "cpu")
    model = entry.cls(config, data, lm_config)
    rows = data.split_rows("test")[: args.rows]
    encoded = model.encode(rows)
    lengths = [len(e.input_ids) for e in encoded]
    lm = (model.lm.get_base_model() if hasattr(model.lm, "get_base_model") else model.lm).config
    from recbench.bf16 import cpu_bf16_matmul

    print(f"backbone {lm_config.backbone}, autocast {lm_config.autocast} (CPU bf16 matmuls: {cpu_bf16_matmul()} kernels), LoRA on {','.join(lm_config.lora_targets)}, "
          f"{args.threads} threads; {len(rows)} prompts of {min(lengths)}-{max(lengths)} tokens (mean {np.mean(lengths):.0f})")  # fmt: skip

    results = {}
    for bucket in (False, True):
        score(model, rows[:4], args.batch, bucket, autocast=lm_config.autocast)  # warm-up
        started = time.perf_counter()
        probs = score(model, rows, args.batch, bucket, autocast=lm_config.autocast)
        results[bucket] = (len(rows) / (time.perf_counter() - started), probs)
    # Under bf16 autocast a prompt's score depends in the last bits on how much padding shares its
    # batch, so the two orders agree to bf16 rounding, not exactly: print the largest difference.
    gap = float(np.abs(np.asarray(results[False][1]) - np.asarray(results[True][1])).max())
    print(f"scoring, no bucketing : {results[False][0]:6.2f} prompts/s")
    print(f"scoring, bucketing    : {results[True][0]:6.2f} prompts/s  ({results[True][0] / results[False][0]:.2f}x; largest score difference {gap:.1e})")

    flops = forward_flops(lm, lengths)
    loop_score = flops * results[True][0] / len(rows)
    bare_score = flops / bare(model, encoded, args.batch, lm_config.autocast, backward=False)
    print(f"scoring FLOP/s        : loop {loop_score / 1e9:6.1f} GFLOP/s, bare backbone forward {bare_score / 1e9:6.1f} GFLOP/s "
          f"on the same batches: the loop runs at {loop_score / bare_score:.0%} of it")  # fmt: skip

    train_rows = data.split_rows("train")[: args.train_rows]
    train_encoded = model.encode(train_rows, data.labels(train_rows))
    outcome = train(model, train_rows, data.labels(train_rows), lm_config, seed=0, console=Console(quiet=True))
    passes = outcome.train_samples / len(train_rows)  # the profile's epochs
    train_flops = 2 * passes * forward_flops(lm, [len(e.input_ids) for e in train_encoded])  # frozen base: no weight gradients
    loop_train = train_flops / outcome.train_seconds
    bare_train = train_flops / passes / bare(model, train_encoded, args.batch, lm_config.autocast, backward=True)
    print(f"LoRA training         : {outcome.train_samples / outcome.train_seconds:6.2f} prompts/s (batch {args.batch}); "
          f"loop {loop_train / 1e9:.1f} GFLOP/s, bare forward + backward {bare_train / 1e9:.1f} GFLOP/s: {loop_train / bare_train:.0%}")  # fmt: skip
    print(f"peak RSS              : {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")


if __name__ == "__main__":
    main()
