"""Runs with prerequisites, through the runner: a toy language-model run that needs a recorded DIN
run gets it trained and recorded first, then reused, and is handed it loaded and frozen."""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
import pytest
import torch
from rich.console import Console

from recbench import registry
from recbench.lm.trainer import LMTrainResult
from recbench.prerequisites import LoadedRun, Prerequisite, declared_prerequisites
from recbench.runstore import RunStore
from tests.lm_support import data  # noqa: F401 - fixture

BASE_OVERRIDES = ("max_epochs=1", "max_train_rows=2000", "embed_dim=8", "hidden=16", "attention_hidden=8", "history_length=4")


@dataclass
class ToyConfig:
    base_history: int = 4


class ToyLM:
    """A language-model-family stand-in that scores with the DIN run it declares it needs."""

    Config = ToyConfig
    name = "toy-lm"

    @classmethod
    def prerequisites(cls, config: ToyConfig) -> tuple[Prerequisite, ...]:
        matches = lambda settings: settings.get("history_length") == config.base_history
        return (Prerequisite("base", "din", BASE_OVERRIDES, matches=matches, stage="toy stage 1"),)

    def __init__(self, config, data, lm_config, *, seed, store, console, prerequisites: dict[str, LoadedRun]) -> None:
        self.data, self.base = data, prerequisites["base"]

    def fit(self, rows, labels, checkpoint_dir=None, validate=None) -> LMTrainResult:
        return LMTrainResult(train_samples=len(rows))

    def score(self, rows: np.ndarray) -> np.ndarray:
        from recbench.training import predict

        return predict(self.base.model, self.data, rows).astype(np.float64)

    def n_trainable(self) -> int:
        return 0

    def record_extra(self) -> dict:
        return {"base_run": self.base.record.run_id}


@pytest.fixture
def toy_model(monkeypatch):
    registry.load_plugins()
    monkeypatch.setitem(registry._MODELS, "toy-lm", registry.ModelEntry("toy-lm", "lm", ToyLM, "toy", "Toy"))
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)  # the runs below set one thread for this process


def test_a_model_without_a_declaration_needs_nothing():
    assert declared_prerequisites(ToyConfig, ToyConfig()) == ()
    assert [p.name for p in declared_prerequisites(ToyLM, ToyConfig())] == ["base"]


def test_prerequisite_is_trained_recorded_then_reused(toy_model, data, tmp_path):
    from recbench.runner import RunRequest, run_on_data

    store = RunStore(tmp_path / "runs")
    request = RunRequest("toy-lm", "synth", 0, None, ("n_train=4", "n_valid=0", "n_test=16", "threads=1"))
    out = io.StringIO()
    first = run_on_data(request, data, store, Console(file=out, width=400))
    (base,) = store.records(model="din")
    assert "toy stage 1: no recorded din run with " in out.getvalue()
    assert base.overrides == (*BASE_OVERRIDES, "threads=1") and base.seed == 0 and base.test is not None
    assert first.extra["base_run"] == base.run_id

    out = io.StringIO()
    second = run_on_data(request, data, store, Console(file=out, width=400))
    assert f"toy stage 1: reusing recorded base run {base.run_id}" in out.getvalue()
    assert second.extra["base_run"] == base.run_id and len(store.records(model="din")) == 1
    assert second.test.auc == first.test.auc  # the same frozen weights score the same rows


def test_a_resumed_run_keeps_the_prerequisite_it_started_with(toy_model, data, tmp_path, monkeypatch):
    """A run killed after resolving its CRM resumes with that CRM, even if a newer matching run was recorded meanwhile."""
    from recbench.prerequisite_runs import PINNED_FILE
    from recbench.runner import RunRequest, run_on_data

    store = RunStore(tmp_path / "runs")
    request = RunRequest("toy-lm", "synth", 0, None, ("n_train=4", "n_valid=0", "n_test=16", "threads=1"))
    quiet = Console(file=io.StringIO())

    def killed(self, rows, labels, checkpoint_dir=None, validate=None):
        raise KeyboardInterrupt  # the machine went away mid-training

    monkeypatch.setattr(ToyLM, "fit", killed)
    with pytest.raises(KeyboardInterrupt):
        run_on_data(request, data, store, quiet)
    (first,) = store.records(model="din")
    (pin,) = (tmp_path / "runs" / "checkpoints").glob(f"*/{PINNED_FILE}")
    newer = run_on_data(RunRequest("din", "synth", 0, None, (*BASE_OVERRIDES, "threads=1")), data, store, quiet)
    assert newer.run_id != first.run_id
    monkeypatch.undo()
    monkeypatch.setitem(registry._MODELS, "toy-lm", registry.ModelEntry("toy-lm", "lm", ToyLM, "toy", "Toy"))
    resumed = run_on_data(request, data, store, quiet)
    assert resumed.extra["base_run"] == first.run_id  # pinned, not the newest match
    assert not pin.exists()  # finished: the pin is gone
    assert not list((tmp_path / "runs" / "checkpoints").glob("*"))  # and the empty checkpoint folder
