"""Throughput of the LM loop on this machine: scoring prompts/s with and without length bucketing,
LoRA training prompts/s, and peak memory, for the real SmolLM2-135M backbone.

    python benchmarks/bench_lm.py [--dataset ml-100k --data-dir ../shared/data/ml-100k] [--rows 48] [--threads 2]

Prompts are ReLLa's (retrieved history, K=10, chat template) for the first test rows, so their
lengths vary as they do in real runs (that variation is what bucketing exploits).
"""

from __future__ import annotations

import argparse
import resource
import time
from pathlib import Path

import numpy as np
import torch


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="synth")
    parser.add_argument("--data-dir", type=Path, default=None)
    parser.add_argument("--rows", type=int, default=48)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--train-rows", type=int, default=16)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--item-vectors", default="lm")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    from recbench.lm.trainer import LMTrainConfig, score, train
    from recbench.protocol import load_protocol
    from recbench.registry import get_model

    data = load_protocol(args.dataset, args.data_dir)
    entry = get_model("rella")
    config = entry.config_class(item_vectors=args.item_vectors)
    lm_config = LMTrainConfig(batch_size=args.batch, micro_batch_size=max(1, args.batch // 2), eval_batch_size=args.batch, checkpoint_every=0)
    model = entry.cls(config, data, lm_config)
    rows = data.split_rows("test")[: args.rows]
    lengths = [len(e.input_ids) for e in model.encode(rows)]
    print(f"backbone {lm_config.backbone}, {args.threads} threads; {len(rows)} prompts of {min(lengths)}-{max(lengths)} tokens (mean {np.mean(lengths):.0f})")

    results = {}
    for bucket in (False, True):
        score(model, rows[:4], args.batch, bucket)  # warm-up
        started = time.perf_counter()
        probs = score(model, rows, args.batch, bucket)
        results[bucket] = (len(rows) / (time.perf_counter() - started), probs)
    same = np.allclose(results[False][1], results[True][1], atol=1e-5)
    print(f"scoring, no bucketing : {results[False][0]:6.2f} prompts/s")
    print(f"scoring, bucketing    : {results[True][0]:6.2f} prompts/s  ({results[True][0] / results[False][0]:.2f}x; same scores: {same})")

    train_rows = data.split_rows("train")[: args.train_rows]
    outcome = train(model, train_rows, data.labels(train_rows), lm_config, seed=0)
    print(f"LoRA training         : {outcome.train_samples / outcome.train_seconds:6.2f} prompts/s (batch {args.batch}, micro-batch {lm_config.micro_batch_size})")
    print(f"peak RSS              : {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")


if __name__ == "__main__":
    main()
