"""Does the LM loop learn on real data, and how much signal does the frozen backbone carry?

    python benchmarks/lm_probe.py --dataset ml-1m-u2999 --data-dir ../shared/data/ml-1m-u2999 \
        [--model tallrec] [--overfit-rows 64 --overfit-epochs 6] [--probe-train 512 --probe-test 512] \
        [--curve-rows 512 --curve-every 8 --curve-valid 128] [--threads 1] [--set key=value ...]

Three reports, each on the cpu profile's settings (plus ``--set``):

(a) **overfit**: tune on ``--overfit-rows`` real training rows for several epochs and report the
    AUC on those same rows after each epoch. A loop that cannot fit 64 rows has a bug.
(b) **frozen probe**: a logistic regression on the untuned backbone's hidden state at the
    answer position, fitted on ``--probe-train`` training rows, AUC on ``--probe-test``
    sampled test rows, beside the user-mean score on the same rows: the signal SmolLM2's
    features hold before any tuning.
(c) **learning curve**: train / valid AUC every ``--curve-every`` optimizer steps while tuning
    on ``--curve-rows`` rows (train AUC on a fixed 128-row subset of them).

Parts can be skipped with ``--skip a,b,c``. All numbers go to stdout as plain lines.
"""

from __future__ import annotations

import argparse
import resource
import time
from pathlib import Path

import numpy as np
import torch
from rich.console import Console

QUIET = Console(quiet=True)


def build(args, data, **overrides):
    from recbench.prerequisite_runs import resolve_prerequisites
    from recbench.prerequisites import declared_prerequisites
    from recbench.registry import get_model
    from recbench.runner import resolve_configs
    from recbench.runstore import RunStore

    entry = get_model(args.model)
    sets = [*args.set, *(f"{k}={v}" for k, v in overrides.items())]
    model_config, lm_config = resolve_configs(entry, tuple(sets), "cpu")
    torch.manual_seed(0)
    needs = declared_prerequisites(entry.cls, model_config)  # RecLoRA's CRM: from ./runs (or $RECBENCH_RUNS)
    extra = {"prerequisites": resolve_prerequisites(needs, data, 0, RunStore(), QUIET, train=None)} if needs else {}
    return entry.cls(model_config, data, lm_config, seed=0, console=QUIET, **extra), lm_config


def user_mean(data, rows):
    from baselines.reference import UserMean, UserMeanConfig

    return UserMean(UserMeanConfig(), data).fit(data.split_rows("train")).predict(rows)


def overfit(args, data) -> None:
    from recbench.lm.trainer import score, train
    from recbench.metrics import auc

    rows = data.few_shot_rows(args.overfit_rows, 0)
    labels = data.labels(rows)
    model, cfg = build(args, data, epochs=args.overfit_epochs, checkpoint_every=0)
    print(f"(a) overfit {len(rows)} training rows ({labels.mean():.2f} positive), {cfg.epochs} epochs at lr {cfg.lr} "
          f"(warm-up {cfg.warmup_ratio:.0%}, linear decay), batch {cfg.batch_size}")  # fmt: skip
    print(f"    epoch 0: train AUC {auc(labels, score(model, rows, cfg.eval_batch_size, console=QUIET, autocast=cfg.autocast)):.4f}")
    seen: list[float] = []

    def on_epoch() -> dict[str, float]:
        probs = score(model, rows, cfg.eval_batch_size, console=QUIET, autocast=cfg.autocast)
        seen.append(auc(labels, probs))
        print(f"    epoch {len(seen)}: train AUC {seen[-1]:.4f}  P(yes) {probs.min():.2f}..{probs.max():.2f}", flush=True)
        return {"auc": seen[-1], "logloss": float("nan")}

    # one optimizer and one schedule over all epochs; the epoch-end check scores the training rows
    result = train(model, rows, labels, cfg, seed=0, console=QUIET, validate=on_epoch)
    print("    train loss per epoch: " + ", ".join(f"{e['train_loss']:.4f}" for e in result.epochs))


def hidden_states(model, cfg, rows) -> np.ndarray:
    from recbench.lm.prompts import collate, length_buckets

    encoded = model.encode(rows)
    base = model.lm.get_base_model() if hasattr(model.lm, "get_base_model") else model.lm
    out = np.zeros((len(rows), base.config.hidden_size), dtype=np.float32)
    pad = model.encoder.tokenizer.pad_token_id
    with torch.inference_mode():
        for index in length_buckets([len(e.input_ids) for e in encoded], cfg.eval_batch_size, True):
            batch = collate([encoded[i] for i in index], pad)
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=cfg.autocast == "bfloat16"):
                hidden = base.get_decoder()(input_ids=batch.input_ids, attention_mask=batch.attention_mask).last_hidden_state
            out[index] = hidden.float()[torch.arange(len(index)), batch.score_position].numpy()
    return out


def probe(args, data) -> None:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from recbench.metrics import auc

    model, cfg = build(args, data)
    train_rows = data.few_shot_rows(args.probe_train, 1)
    test_rows = data.eval_rows("test", args.probe_test, "sample", 0)
    started = time.perf_counter()
    x_train, x_test = hidden_states(model, cfg, train_rows), hidden_states(model, cfg, test_rows)
    y_train, y_test = data.labels(train_rows), data.labels(test_rows)
    best = None
    for c in (0.01, 0.1, 1.0):
        fit = make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=2000)).fit(x_train, y_train)
        value = auc(y_test, fit.predict_proba(x_test)[:, 1])
        print(f"(b) frozen probe C={c}: test AUC {value:.4f}")
        best = value if best is None else max(best, value)
    print(f"(b) frozen probe on {len(train_rows)} train / {len(test_rows)} sampled test rows ({time.perf_counter() - started:.0f} s): "
          f"best test AUC {best:.4f}; user-mean on the same rows {auc(y_test, user_mean(data, test_rows)):.4f}")  # fmt: skip


def curve(args, data) -> None:
    from recbench.lm.trainer import score, train
    from recbench.metrics import auc

    rows = data.few_shot_rows(args.curve_rows, 0)
    labels = data.labels(rows)
    subset = rows[:: max(1, len(rows) // 128)][:128]
    valid = data.eval_rows("valid", args.curve_valid, "sample", 0)
    model, cfg = build(args, data, checkpoint_every=0, epochs=args.curve_epochs)
    print(f"(c) learning curve: {len(rows)} rows x {cfg.epochs} epochs, lr {cfg.lr}, batch {cfg.batch_size}, "
          f"targets {','.join(cfg.lora_targets)}; valid {len(valid)} sampled rows (user-mean there {auc(data.labels(valid), user_mean(data, valid)):.4f})")
    started = time.perf_counter()

    def report(step: int) -> None:
        if step % args.curve_every:
            return
        p_train = score(model, subset, cfg.eval_batch_size, console=QUIET, autocast=cfg.autocast)
        p_valid = score(model, valid, cfg.eval_batch_size, console=QUIET, autocast=cfg.autocast)
        print(f"    step {step:4d} ({time.perf_counter() - started:5.0f} s): train AUC {auc(data.labels(subset), p_train):.4f}  "
              f"valid AUC {auc(data.labels(valid), p_valid):.4f}", flush=True)  # fmt: skip

    report(0)
    train(model, rows, labels, cfg, seed=0, console=QUIET, on_step=report)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="synth")
    parser.add_argument("--data-dir", type=Path, default=None)
    parser.add_argument("--model", default="tallrec")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--overfit-rows", type=int, default=64)
    parser.add_argument("--overfit-epochs", type=int, default=6)
    parser.add_argument("--probe-train", type=int, default=512)
    parser.add_argument("--probe-test", type=int, default=512)
    parser.add_argument("--curve-rows", type=int, default=512)
    parser.add_argument("--curve-epochs", type=int, default=1)
    parser.add_argument("--curve-every", type=int, default=8)
    parser.add_argument("--curve-valid", type=int, default=128)
    parser.add_argument("--skip", default="", help="comma-separated parts to skip: a, b, c")
    parser.add_argument("--set", action="append", default=[], help="extra key=value for the model / LM config")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    from recbench.protocol import load_protocol

    data = load_protocol(args.dataset, args.data_dir)
    skip = set(args.skip.split(","))
    started = time.perf_counter()
    for name, part in (("a", overfit), ("b", probe), ("c", curve)):
        if name not in skip:
            part(args, data)
    print(f"total {time.perf_counter() - started:.0f} s, peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")


if __name__ == "__main__":
    main()
