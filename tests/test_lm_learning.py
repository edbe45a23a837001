"""The LoRA loop learns a rule its prompts show, before anyone tunes it on real data.

Why: a language-model row at chance can mean a bug in the loop (labels, answer positions,
loss masking, gradients reaching the adapter, the scheduler) or too small a budget. This test
takes the budget out: on a tiny random-weight Llama over the real SmolLM2 tokenizer, the label
of each synth row is replaced by a rule that is readable in its own prompt ("yes iff the shown
history has more 5-star than 1-star ratings"), and the loop must drive the training AUC above
0.95. It is deterministic on CPU (fixed seeds), so it either always passes or always fails.

What it does not show: a 64-wide random model fits 32 rows by memorising them (its held-out AUC
on the same rule stays near 0.5), so generalisation is measured on the real backbone by
``benchmarks/lm_probe.py``, not here.
"""

from __future__ import annotations

import numpy as np
import pytest
from rich.console import Console

from recbench.batches import recent_positions
from recbench.lm.trainer import score, train
from recbench.metrics import evaluate
from tests.lm_support import data, tiny_tallrec, tokenizer, smollm2_dir  # noqa: F401 (fixtures)

HISTORY = 5
QUIET = Console(quiet=True)


def rule_labels(data, rows: np.ndarray) -> np.ndarray:
    """1 where the shown history holds more 5-star than 1-star ratings, else 0."""
    index, mask = recent_positions(data, rows, HISTORY)
    stars = np.asarray(data.rating_values)[data.seq_rating[index]]
    fives = ((stars == 5) & mask).sum(axis=1)
    ones = ((stars == 1) & mask).sum(axis=1)
    return (fives > ones).astype(np.int64)


def balanced_rows(data, n: int, seed: int = 0) -> np.ndarray:
    """``n`` training rows, half of each rule label, whose histories contain 1s or 5s."""
    rows = data.split_rows("train")
    labels = rule_labels(data, rows)
    rng = np.random.default_rng(seed)
    pos = rng.choice(rows[labels == 1], n // 2, replace=False)
    neg = rng.choice(rows[labels == 0], n - n // 2, replace=False)
    return np.sort(np.concatenate([pos, neg]))


@pytest.mark.parametrize("style", ["alpaca", "chat"])  # TALLRec's template, and ReLLa's / RecLoRA's
def test_lora_loop_learns_a_rule_the_prompt_shows(tokenizer, data, style):  # noqa: F811
    rows = balanced_rows(data, 32)
    labels = rule_labels(data, rows)
    assert labels.mean() == 0.5
    model = tiny_tallrec(
        tokenizer, data, history_length=HISTORY, lora_rank=8, shape={"hidden": 64, "init_range": 0.2}, style=style,
        batch_size=8, micro_batch_size=8, lr=1e-2, epochs=25, warmup_ratio=0.05, checkpoint_every=0,
        lora_targets=("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"),
    )  # fmt: skip
    before = evaluate(labels, score(model, rows, 16, console=QUIET))
    train(model, rows, labels, model.lm_config, seed=0, console=QUIET)
    after = evaluate(labels, score(model, rows, 16, console=QUIET))
    # the full-vocabulary answer loss of a random tiny Llama cannot fall far (its frozen output
    # embedding is tiny), so learning is read off the two-way yes/no probability, as scoring does
    assert after["logloss"] < before["logloss"]
    assert after["auc"] > 0.95, f"train AUC {before['auc']:.3f} -> {after['auc']:.3f}"
