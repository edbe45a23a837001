"""Metrics against hand computations, typed overrides, and the run store's atomicity."""

from __future__ import annotations

import math
import multiprocessing
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from recbench.config import apply_overrides
from recbench.errors import RecbenchError
from recbench.metrics import auc, logloss, relative_improvement
from recbench.runstore import RunStore


# ------------------------------------------------------------------ metrics
def test_auc_counts_ties_as_half():
    # pairs (pos, neg): (0.8,0.3)=1 (0.8,0.5)=1 (0.5,0.3)=1 (0.5,0.5)=0.5 -> 3.5 / 4
    assert auc(np.array([1, 1, 0, 0]), np.array([0.8, 0.5, 0.3, 0.5])) == pytest.approx(0.875)


def test_auc_needs_both_classes():
    with pytest.raises(RecbenchError, match="both positive and negative"):
        auc(np.array([1, 1]), np.array([0.2, 0.3]))


def test_logloss_matches_hand_computation_and_clips():
    assert logloss(np.array([1, 0]), np.array([0.9, 0.2])) == pytest.approx(-(math.log(0.9) + math.log(0.8)) / 2)
    assert logloss(np.array([1]), np.array([0.0])) == pytest.approx(-math.log(1e-7))


def test_relative_improvement_matches_paper_table():
    # ML-1M: RecLoRA 0.8141 vs ReLLa 0.8005 -> about 1.70 %
    assert relative_improvement(0.8141, 0.8005) == pytest.approx(0.01699, abs=1e-5)


# ------------------------------------------------------------------ config
@dataclass
class Model:
    embed_dim: int = 32
    hidden: tuple[int, ...] = (64,)
    softmax: bool = False


@dataclass
class Train:
    lr: float = 1e-3
    device: str = "auto"


def test_overrides_are_typed_and_routed_to_their_owner():
    model, train = apply_overrides([Model(), Train()], ["embed_dim=64", "hidden=256, 128", "softmax=true", "lr=5e-4"])
    assert model == Model(64, (256, 128), True) and train.lr == 5e-4


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("embed_dim=big", "--set embed_dim=big: expected an integer"),
        ("lr=", "--set lr=: expected a number"),
        ("softmax=maybe", "--set softmax=maybe: expected true or false"),
        ("hidden=64,x", "--set hidden=64,x: expected a comma-separated list of int"),
        ("depth=3", "--set depth: unknown setting; valid keys: device, embed_dim, hidden, lr, softmax"),
        ("=3", "expected key=value"),
    ],
)
def test_bad_overrides_name_the_key(text, message):
    with pytest.raises(RecbenchError) as info:
        apply_overrides([Model(), Train()], [text])
    assert message in str(info.value)


# ------------------------------------------------------------------ run store
def record(seed: int = 0) -> dict:
    return {"model": "din", "dataset": "synth", "seed": seed, "metrics": {"test": {"auc": 0.7}}}


def test_store_round_trip(tmp_path: Path):
    store = RunStore(tmp_path)
    run_id = store.save(record(), {"test_row": np.arange(4), "test_prob": np.full(4, 0.25, np.float32), "test_label": np.array([0, 1, 0, 1])})
    assert store.record(run_id).test.auc == 0.7
    assert store.predictions(run_id)["test_prob"].tolist() == [0.25] * 4
    assert [r.run_id for r in store.records(model="din")] == [run_id]
    assert store.records(model="sasrec") == []


def test_interrupted_save_leaves_no_record(tmp_path: Path, monkeypatch):
    store = RunStore(tmp_path)

    def crash(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr("recbench.runstore._write_synced", crash)
    with pytest.raises(KeyboardInterrupt):
        store.save(record(), {"test_row": np.arange(3)})
    assert store.records() == []
    assert list(tmp_path.iterdir()) == []  # the temporary folder was removed too


def test_half_written_folder_is_ignored(tmp_path: Path):
    (tmp_path / ".tmp-abc").mkdir()
    (tmp_path / ".tmp-abc" / "record.json").write_text("{")
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "record.json").write_text("{not json")
    assert RunStore(tmp_path).records() == []


def _save_many(root: str, worker: int) -> None:
    store = RunStore(root)
    for i in range(10):
        store.save(record(seed=worker * 100 + i), {"test_row": np.arange(100)})


def test_concurrent_writers_never_collide(tmp_path: Path):
    context = multiprocessing.get_context("fork")
    workers = [context.Process(target=_save_many, args=(str(tmp_path), w)) for w in range(4)]
    for p in workers:
        p.start()
    for p in workers:
        p.join()
    seeds = sorted(r.seed for r in RunStore(tmp_path).records())
    assert seeds == sorted(w * 100 + i for w in range(4) for i in range(10))
