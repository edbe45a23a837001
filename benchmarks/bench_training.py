"""Training and scoring speed of every registered ID model, where a step's time goes, peak memory.

    python benchmarks/bench_training.py                                   # every ID model, ml-1m-u2999
    python benchmarks/bench_training.py --models deepfm din --epoch-rows 100000 --threads 2
    python benchmarks/bench_training.py --models deepfm --set embed_dim=32 --set hidden=256,128 --set dropout=0.1

Each model runs in a fresh process (so its peak RSS is its own) through the training loop's
own batch generator (``recbench.training.batches``) and optimizer: one epoch over
``--epoch-rows`` seeded training rows at the model's default config plus ``--set`` overrides
(``--set batch_size=...`` sets the batch), then scoring ``--eval-rows`` test rows (all of them
by default) with ``recbench.training.predict``. Printed per model: training samples/s, the
split of a step into gather (history selection + window gathering) / forward / backward /
optimizer, scoring samples/s, parameter count and peak RSS of the process.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"


def measure(args: argparse.Namespace, name: str) -> dict:
    """One model's numbers, in this process."""
    from recbench.ctr import FeatureSchema
    from recbench.protocol import load_protocol
    from recbench.registry import get_model
    from recbench.runner import resolve_configs
    from recbench.training import batches, predict, seed_everything

    try:
        from recbench.training import autocast
    except ImportError:  # timing an older checkout (PYTHONPATH=...) that has no autocast setting
        def autocast(device, mode):
            return contextlib.nullcontext()
    try:
        from recbench.training import fused_adamw
    except ImportError:  # an older checkout's loop used the unfused AdamW
        def fused_adamw(device):
            return False

    torch.set_num_threads(args.threads)
    data = load_protocol(args.dataset, args.data_dir)
    entry = get_model(name)
    model_config, train_config = resolve_configs(entry, tuple(args.set))
    seed_everything(0)
    model = entry.cls(model_config, FeatureSchema.from_data(data))
    device = torch.device("cpu")
    optimizer = torch.optim.AdamW(model.parameters(), lr=train_config.lr, weight_decay=train_config.weight_decay, fused=fused_adamw(device))
    loss_fn = torch.nn.BCEWithLogitsLoss()
    train = data.split_rows("train")
    rng = np.random.default_rng(0)
    rows = train[rng.permutation(len(train))[: args.epoch_rows or len(train)]]
    sections = dict.fromkeys(("gather", "forward", "backward", "optimizer"), 0.0)
    model.train()
    generator = batches(data, model, rows, train_config.batch_size, device)
    started = time.perf_counter()
    while True:
        t0 = time.perf_counter()
        batch = next(generator, None)
        if batch is None:
            break
        t1 = time.perf_counter()
        with autocast(device, getattr(train_config, "autocast", "off")):
            logit = model(batch).logit.float()
        loss = loss_fn(logit, batch.label)
        t2 = time.perf_counter()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        t3 = time.perf_counter()
        optimizer.step()
        t4 = time.perf_counter()
        for key, seconds in zip(sections, (t1 - t0, t2 - t1, t3 - t2, t4 - t3)):
            sections[key] += seconds
    train_seconds = time.perf_counter() - started
    test = data.split_rows("test")[: args.eval_rows or None]
    started = time.perf_counter()
    mode = getattr(train_config, "autocast", "off")
    predict(model, data, test, train_config.eval_batch_size, device, *([mode] if mode != "off" else []))
    eval_seconds = time.perf_counter() - started
    total = sum(sections.values())
    return {
        "model": name,
        "train_samples_per_s": len(rows) / train_seconds,
        "eval_samples_per_s": len(test) / eval_seconds,
        "split": {k: v / total for k, v in sections.items()},
        "batch_size": train_config.batch_size,
        "params": sum(p.numel() for p in model.parameters()),
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "rows": len(rows),
        "eval_rows": len(test),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default = "ml-1m-u2999" if (SHARED / "ml-1m-u2999").is_dir() else "synth"
    parser.add_argument("--dataset", default=default)
    parser.add_argument("--data-dir", type=Path, default=SHARED / default if default != "synth" else None)
    parser.add_argument("--models", nargs="*", help="subset of models (default: every ID model)")
    parser.add_argument("--epoch-rows", type=int, default=50_000, help="training rows of the timed epoch (0: all)")
    parser.add_argument("--eval-rows", type=int, default=0, help="test rows scored (0: all)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--set", action="append", default=[], help="key=value for the model / training config")
    parser.add_argument("--one", help=argparse.SUPPRESS)  # internal: measure this model and print JSON
    args = parser.parse_args()
    if args.one:
        print(json.dumps(measure(args, args.one)))
        return

    from recbench.registry import all_models

    names = [e.name for e in all_models() if e.family == "id" and (not args.models or e.name in args.models)]
    print(f"{args.dataset}: one epoch of {args.epoch_rows or 'all'} training rows, {args.threads} torch threads, "
          f"settings: defaults{''.join(' ' + s for s in args.set)}")  # fmt: skip
    print(f"{'model':<9} {'train/s':>9} {'gather':>7} {'forward':>8} {'backward':>9} {'optim':>6} {'score/s':>9} {'params':>11} {'peak RSS MiB':>13}")
    for name in names:
        command = [sys.executable, __file__, "--one", name, "--dataset", args.dataset, "--epoch-rows", str(args.epoch_rows),
                   "--eval-rows", str(args.eval_rows), "--threads", str(args.threads), *(f"--set={s}" for s in args.set)]  # fmt: skip
        if args.data_dir:
            command += ["--data-dir", str(args.data_dir)]
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if done.returncode:
            print(f"{name:<9} failed: {done.stderr.strip().splitlines()[-1] if done.stderr.strip() else done.returncode}")
            continue
        r = json.loads(done.stdout.strip().splitlines()[-1])
        s = r["split"]
        print(f"{name:<9} {r['train_samples_per_s']:>9,.0f} {s['gather']:>7.1%} {s['forward']:>8.1%} {s['backward']:>9.1%} "
              f"{s['optimizer']:>6.1%} {r['eval_samples_per_s']:>9,.0f} {r['params']:>11,} {r['peak_rss_mib']:>13,.0f}", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
