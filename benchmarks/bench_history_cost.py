"""Table 4 on this machine: what a longer ID history costs RecLoRA, against a longer text history.

    python benchmarks/bench_history_cost.py [--dataset ml-100k --data-dir ../shared/data/ml-100k] [--rows 16]

For each (text history K, ID history L) it times one training pass and one scoring pass of
RecLoRA (real SmolLM2 backbone, N_m = 16) over the same rows (samples with at least 60 earlier
ratings, so every history is really that long) and prints seconds per sample and
the ratio to (K=10, L=10). The CRM is an untrained SIM of the right history length: weights
do not change its cost, and the claim is about cost only (AUCs come from recorded runs).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="synth")
    parser.add_argument("--data-dir", type=Path, default=None)
    parser.add_argument("--rows", type=int, default=16)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--item-vectors", default="lm")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    from baselines.sim import SIM, SIMConfig
    from recbench.ctr import FeatureSchema
    from recbench.lm.backbone import load_backbone
    from recbench.lm.recommender import backbone_spec
    from recbench.lm.trainer import LMTrainConfig, score, train
    from recbench.protocol import load_protocol
    from reclora.crm import crm_representation
    from reclora.model import RecLoRA, RecLoRAConfig

    data = load_protocol(args.dataset, args.data_dir)
    lm_config = LMTrainConfig(batch_size=4, micro_batch_size=4, eval_batch_size=4, checkpoint_every=0)
    # rows whose users already have >= 60 earlier ratings, so every history length is really filled
    candidates = data.split_rows("train")
    rows = candidates[data.sample_pos[candidates] >= 60][: args.rows]
    labels = data.labels(rows)
    settings = [(10, 10), (10, 30), (10, 60), (30, 10), (60, 10)]
    timings = {}
    for text, ident in settings:
        torch.manual_seed(0)
        crm = SIM(SIMConfig(history_length=ident, item_vectors=args.item_vectors), FeatureSchema.from_data(data)).eval()
        model = RecLoRA(
            RecLoRAConfig(history_length=text, crm_history_length=ident, item_vectors=args.item_vectors),
            data, lm_config, crm=crm, backbone=load_backbone(backbone_spec(lm_config)),
        )  # fmt: skip
        tokens = np.mean([len(e.input_ids) for e in model.encode(rows)])
        crm_times = []
        for _ in range(5):  # the CRM's own share: R_c for the rows (retrieval + SIM forward)
            started = time.perf_counter()
            crm_representation(crm, data, rows, model.device)
            crm_times.append((time.perf_counter() - started) / len(rows))
        outcome = train(model, rows, labels, lm_config, seed=0)
        started = time.perf_counter()
        score(model, rows, lm_config.eval_batch_size)
        infer = (time.perf_counter() - started) / len(rows)
        timings[(text, ident)] = (outcome.train_seconds / outcome.train_samples, infer, tokens, float(np.median(crm_times)))
    base_train, base_infer, _, _ = timings[(10, 10)]
    print(f"{'text K':>6} {'ID L':>5} {'prompt tok':>10} {'train s/sample':>15} {'x':>6} {'infer s/sample':>15} {'x':>6} {'CRM ms/sample':>14}")
    for (text, ident), (tr, inf, tok, crm_s) in timings.items():
        print(f"{text:>6} {ident:>5} {tok:>10.0f} {tr:>15.3f} {tr / base_train:>6.2f} {inf:>15.3f} {inf / base_infer:>6.2f} {crm_s * 1000:>14.2f}")


if __name__ == "__main__":
    main()
