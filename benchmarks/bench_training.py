"""Training throughput of every registered ID model, and how much of a step is batch assembly.

    python benchmarks/bench_training.py                      # all ID models on ml-1m-u2999 (synth if absent)
    python benchmarks/bench_training.py --models din --embed-dim 64

For each model: batch assembly time (history selection + gathering the windows into tensors),
optimisation step time (forward, backward, AdamW), training samples/s and the process's peak
RSS so far. Settings: batch 1024, history 60, embedding 64 unless told otherwise.
Targets on the 2-core reference machine: every model >= 1,500 samples/s; assembly < 15 % of
DIN's step.
"""

from __future__ import annotations

import argparse
import dataclasses
import resource
import time
from pathlib import Path

import numpy as np
import torch

from recbench.batches import gather_batch
from recbench.ctr import FeatureSchema
from recbench.protocol import load_protocol
from recbench.registry import all_models
from recbench.training import seed_everything

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"


def bench(entry, data, batch_size: int, history: int, embed_dim: int, steps: int, warmup: int) -> dict:
    seed_everything(0)
    config = dataclasses.replace(entry.cls.Config(), history_length=history, embed_dim=embed_dim)
    model = entry.cls(config, FeatureSchema.from_data(data))
    model.train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    rng = np.random.default_rng(0)
    train = data.split_rows("train")
    assembly = step = 0.0
    for i in range(warmup + steps):
        rows = np.sort(rng.choice(train, size=batch_size, replace=False))
        t0 = time.perf_counter()
        batch = gather_batch(data, rows, *model.history(data, rows))
        t1 = time.perf_counter()
        loss = torch.nn.functional.binary_cross_entropy_with_logits(model(batch).logit, batch.label)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        t2 = time.perf_counter()
        if i >= warmup:
            assembly += t1 - t0
            step += t2 - t1
    return {
        "assembly_ms": 1000 * assembly / steps,
        "step_ms": 1000 * step / steps,
        "samples_per_s": batch_size * steps / (assembly + step),
        "assembly_share": assembly / (assembly + step),
        "params": sum(p.numel() for p in model.parameters()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--models", nargs="*", help="subset of models (default: every ID model)")
    parser.add_argument("--batch-size", type=int, default=1024)
    parser.add_argument("--history", type=int, default=60)
    parser.add_argument("--embed-dim", type=int, default=64)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=3)
    args = parser.parse_args()
    if (SHARED / "ml-1m-u2999").is_dir():
        data = load_protocol("ml-1m-u2999", SHARED / "ml-1m-u2999")
    else:
        data = load_protocol("synth")
    print(
        f"{data.dataset}: batch {args.batch_size}, history {args.history}, embedding {args.embed_dim}, "
        f"{torch.get_num_threads()} torch threads, {args.steps} timed steps"
    )
    print(f"{'model':<10} {'samples/s':>10} {'step ms':>9} {'assembly ms':>12} {'assembly %':>11} {'params':>10} {'peak RSS MiB':>13}")
    for entry in all_models():
        if entry.family != "id" or (args.models and entry.name not in args.models):
            continue
        r = bench(entry, data, args.batch_size, args.history, args.embed_dim, args.steps, args.warmup)
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(
            f"{entry.name:<10} {r['samples_per_s']:>10,.0f} {r['step_ms']:>9.1f} {r['assembly_ms']:>12.1f} "
            f"{100 * r['assembly_share']:>10.1f}% {r['params']:>10,} {rss:>13,.0f}"
        )


if __name__ == "__main__":
    main()
