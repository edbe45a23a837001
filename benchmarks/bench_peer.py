"""Our DeepFM and DIN against torch-rechub's, matched, on the same split and the same training rows.

    pip install '.[peer]'        # torch-rechub 0.9.0 (pure Python; its base deps are ours)
    python benchmarks/bench_peer.py --rows 100000 --threads 2 --pairs 2

The peer is trained the way its own ``CTRTrainer.train_one_epoch`` does it (its ``DataGenerator``
dataset, a torch ``DataLoader`` of batch 1024, Adam, BCE on its sigmoid output), on its usual
MovieLens features: the five user fields, the target item id and genre, and the history of
the last 60 item ids (mean-pooled for DeepFM, target-attended for DIN): 8 fields. Ours runs
through its own training loop (``bench_training.measure``) on the protocol's 12 fields (the
item's title field and the history's pooled title, genre and rating tokens on top), so ours
does more work per sample; both at embedding 32, DNN 256,128, dropout 0.1 (DIN: attention MLP
256,128). Each measurement runs in a fresh process (its own peak RSS), alternating ours and
the peer's ``--pairs`` times; the ratio of medians is printed.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
MATCHED = {"deepfm": ["embed_dim=32", "hidden=256,128", "dropout=0.1"],
           "din": ["embed_dim=32", "hidden=256,128", "dropout=0.1", "attention_hidden=256,128"]}  # fmt: skip


def peer_inputs(data, rows: np.ndarray) -> tuple[dict[str, np.ndarray], np.ndarray, dict[str, int]]:
    """The peer's feature arrays for ``rows`` (ids shifted by one so 0 is its padding)."""
    from recbench.batches import recent_positions

    own = data.sample_index(rows)
    users = data.sample_user[rows]
    items = data.seq_item[own]
    x = {f"user_{i}": data.user_features[users, i] + 1 for i in range(data.user_features.shape[1])}
    x["item_id"] = data.item_features[items, 0] + 1
    x["genre"] = data.item_features[items, 2] + 1
    index, mask = recent_positions(data, rows, 60)
    x["hist_item_id"] = np.where(mask, data.item_features[data.seq_item[index], 0] + 1, 0)  # materialised, as the peer does
    vocab = {k: int(v.max()) + 1 for k, v in x.items()}
    return x, data.seq_label[own].astype(np.float32), vocab


def measure_peer(args: argparse.Namespace, name: str) -> dict:
    from torch.utils.data import DataLoader
    from torch_rechub.basic.features import SequenceFeature, SparseFeature
    from torch_rechub.models.ranking import DIN, DeepFM
    from torch_rechub.trainers import CTRTrainer
    from torch_rechub.utils.data import TorchDataset

    from recbench.protocol import load_protocol

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    data = load_protocol(args.dataset, args.data_dir)
    train = data.split_rows("train")
    rows = np.sort(train[np.random.default_rng(0).permutation(len(train))[: args.rows]])
    x, y, vocab = peer_inputs(data, rows)
    item = SparseFeature("item_id", max(vocab["item_id"], vocab["hist_item_id"]), embed_dim=32)
    sparse = [SparseFeature(k, vocab[k], embed_dim=32) for k in x if k.startswith("user_")] + [SparseFeature("genre", vocab["genre"], embed_dim=32)]
    if name == "deepfm":
        history = SequenceFeature("hist_item_id", item.vocab_size, embed_dim=32, pooling="mean", shared_with="item_id", padding_idx=0)
        features = [*sparse, item, history]
        model = DeepFM(features, features, {"dims": [256, 128], "dropout": 0.1, "activation": "relu"})
    else:
        history = SequenceFeature("hist_item_id", item.vocab_size, embed_dim=32, pooling="concat", shared_with="item_id", padding_idx=0)
        model = DIN(sparse, [history], [item], {"dims": [256, 128], "dropout": 0.1}, {"dims": [256, 128], "activation": "dice"})
    trainer = CTRTrainer(model, n_epoch=1, device="cpu", model_path=str(args.tmp))
    loader = DataLoader(TorchDataset(x, y), batch_size=1024, shuffle=True, num_workers=0)
    started = time.perf_counter()
    trainer.train_one_epoch(loader)
    train_seconds = time.perf_counter() - started
    test = data.split_rows("test")
    tx, ty, _ = peer_inputs(data, test)
    eval_loader = DataLoader(TorchDataset(tx, ty), batch_size=8192, shuffle=False, num_workers=0)
    started = time.perf_counter()
    trainer.evaluate(model, eval_loader)
    return {"train_samples_per_s": len(rows) / train_seconds, "eval_samples_per_s": len(test) / (time.perf_counter() - started),
            "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}  # fmt: skip


def measure_ours(args: argparse.Namespace, name: str) -> dict:
    sys.path.insert(0, str(Path(__file__).parent))
    from bench_training import measure

    ours = argparse.Namespace(dataset=args.dataset, data_dir=args.data_dir, threads=args.threads, epoch_rows=args.rows,
                              eval_rows=0, set=[*MATCHED[name], *args.set])  # fmt: skip
    return measure(ours, name)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="ml-1m-u2999")
    parser.add_argument("--data-dir", type=Path, default=SHARED / "ml-1m-u2999")
    parser.add_argument("--models", nargs="*", default=["deepfm", "din"])
    parser.add_argument("--rows", type=int, default=100_000, help="training rows of the timed epoch")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--pairs", type=int, default=2, help="alternating (ours, peer) measurements per model")
    parser.add_argument("--set", action="append", default=[], help="extra key=value for our model (e.g. autocast=bfloat16)")
    parser.add_argument("--tmp", type=Path, default=Path("/tmp"), help=argparse.SUPPRESS)
    parser.add_argument("--one", nargs=2, metavar=("SIDE", "MODEL"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        side, name = args.one
        print(json.dumps((measure_peer if side == "peer" else measure_ours)(args, name)))
        return
    try:
        import torch_rechub  # noqa: F401
    except ImportError:
        sys.exit("bench_peer: torch-rechub is not installed; run pip install '.[peer]' (the issue's figures are the fallback)")
    print(f"{args.dataset}: {args.rows:,} training rows, {args.threads} torch threads, {args.pairs} alternating pairs")
    print(f"{'model':<7} {'side':<5} {'train/s':>9} {'score/s':>9} {'peak RSS MiB':>13}")
    for name in args.models:
        seen: dict[str, list[dict]] = {"ours": [], "peer": []}
        for _ in range(args.pairs):
            for side in ("ours", "peer"):
                command = [sys.executable, __file__, "--one", side, name, "--dataset", args.dataset, "--data-dir", str(args.data_dir),
                           "--rows", str(args.rows), "--threads", str(args.threads), *(f"--set={s}" for s in args.set)]  # fmt: skip
                done = subprocess.run(command, capture_output=True, text=True, check=False)
                if done.returncode:
                    sys.exit(f"bench_peer: {side} {name} failed:\n{done.stderr[-2000:]}")
                r = json.loads(done.stdout.strip().splitlines()[-1])
                seen[side].append(r)
                print(f"{name:<7} {side:<5} {r['train_samples_per_s']:>9,.0f} {r['eval_samples_per_s']:>9,.0f} {r['peak_rss_mib']:>13,.0f}", flush=True)
        med = {s: {k: statistics.median(r[k] for r in runs) for k in runs[0] if k in ("train_samples_per_s", "eval_samples_per_s", "peak_rss_mib")}
               for s, runs in seen.items()}  # fmt: skip
        print(f"{name:<7} ours/peer: train {med['ours']['train_samples_per_s'] / med['peer']['train_samples_per_s']:.2f}x, "
              f"scoring {med['ours']['eval_samples_per_s'] / med['peer']['eval_samples_per_s']:.2f}x, "
              f"peak RSS {med['ours']['peak_rss_mib']:,.0f} / {med['peer']['peak_rss_mib']:,.0f} MiB", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
