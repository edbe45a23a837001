"""How much of the label a prompt's history already shows, for each way of choosing that history.

    python benchmarks/history_signal.py --dataset ml-1m-u2999 --data-dir ../shared/data/ml-1m-u2999 \
        [--split valid] [--rows 5000] [--k 10 30] [--sources lm cooccurrence genre]

Why: TALLRec's prompt lists the user's K most recent rated items, ReLLa's and RecLoRA's the K
most similar to the target (the shared retriever, SPEC 3.9), and a tuned LM first learns to read
the stars it is shown. The share of positive ratings among the K shown behaviours is the
simplest score such a prompt supports; its AUC, for each history choice, says which prompts
carry more of the easy signal before any model is trained. It needs no model and runs in
seconds (the ``lm`` source embeds every item title once with the default backbone, cached).

Rows are ``--rows`` drawn uniformly from ``--split`` with seed 0 (the sampling the ``cpu``
profile's ``test_rows=sample`` uses); choose settings on ``valid``, never on ``test``. Prints
one line per (source, K): the share's AUC and how often the chosen K differ from the recent K.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np


def positive_share(data, index: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """The share of positive labels among each row's shown behaviours (0.5 with none shown)."""
    shown = mask.sum(1)
    positives = (data.seq_label[index] * mask).sum(1)
    return np.where(shown > 0, positives / np.maximum(shown, 1), 0.5)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", default="ml-1m-u2999")
    parser.add_argument("--data-dir", type=Path, default=None)
    parser.add_argument("--split", default="valid", choices=("train", "valid", "test"))
    parser.add_argument("--rows", type=int, default=5000, help="rows drawn uniformly from the split (0: all)")
    parser.add_argument("--k", type=int, nargs="+", default=[10, 30])
    parser.add_argument("--sources", nargs="+", default=["lm", "cooccurrence", "genre"])
    args = parser.parse_args()

    from recbench.batches import recent_positions
    from recbench.metrics import auc
    from recbench.protocol import load_protocol
    from recbench.retrieval import BehaviourRetriever, item_vectors

    data = load_protocol(args.dataset, args.data_dir)
    rows = data.eval_rows(args.split, args.rows, "sample", 0) if args.rows else data.split_rows(args.split)
    labels = data.labels(rows)
    drawn = f"{len(rows):,} {args.split} rows drawn with seed 0" if args.rows else f"all {len(rows):,} {args.split} rows"
    print(f"{args.dataset}: {drawn}, positive rate {labels.mean():.3f}")
    print(f"{'history':24s} {'K':>3s}  share AUC  rows whose K differ from the recent K")
    recent = {k: recent_positions(data, rows, k) for k in args.k}
    for k, (index, mask) in recent.items():
        print(f"{'recent':24s} {k:3d}  {auc(labels, positive_share(data, index, mask)):9.4f}  -")
    for source in args.sources:
        retriever = BehaviourRetriever(data, item_vectors(data, source))
        for k in args.k:
            index, mask = retriever.positions(rows, k)
            differ = (index != recent[k][0]).any(1).mean()
            name = f"retrieved ({source})"
            print(f"{name:24s} {k:3d}  {auc(labels, positive_share(data, index, mask)):9.4f}  {differ:.1%}")


if __name__ == "__main__":
    main()
