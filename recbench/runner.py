"""One run end to end: resolve the model and settings, load the protocol data, train,
evaluate on the validation and test rows, and record everything in the run store.

Settings are validated before any data is touched, and the record is written only after
every metric exists, so a failure at any step leaves the store unchanged.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import resource
import subprocess
import sys
import time
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import numpy as np
import torch
from rich.console import Console
from safetensors.torch import save as save_weights

from recbench.bf16 import bf16_matmul_kernel
from recbench.config import apply_overrides, legacy_settings, to_dict
from recbench.ctr import FeatureSchema
from recbench.errors import RecbenchError
from recbench.hardware import hardware_signature
from recbench.inflight import forget_kept, restore_kept
from recbench.lm.checkpoint import Checkpoint
from recbench.metrics import evaluate
from recbench.prerequisite_runs import clear_pinned, read_pinned, resolve_prerequisites, write_pinned
from recbench.prerequisites import declared_prerequisites
from recbench.protocol import PROTOCOL_VERSION, ProtocolData, load_protocol
from recbench.registry import ModelEntry, get_model
from recbench.run_record import RunRecord
from recbench.runstore import RunStore, record_json
from recbench.training import TrainConfig, predict, seed_everything, train_id_model

_TRACKED_PACKAGES = ("recbench", "torch", "numpy", "pandas", "scikit-learn", "transformers", "peft")


@dataclass
class RunRequest:
    model: str
    dataset: str
    seed: int = 0
    data_dir: Path | None = None
    overrides: tuple[str, ...] = ()
    #: "run" records test metrics; "tune" trials never score the test rows
    purpose: str = "run"
    #: size profile of language-model runs ("cpu" or "paper"); None for ID models
    profile: str | None = None
    #: which study a run belongs to, e.g. {"name": "ablation", "variant": "w/o meta-LoRA"}
    #: or {"name": "n_meta", "x": 16}; None for a plain leaderboard run
    study: dict[str, Any] | None = None


def resolve_configs(entry: ModelEntry, overrides: tuple[str, ...], profile: str | None = None) -> tuple[Any, Any]:
    """The model's config and its trainer's config after the profile's and the user's overrides."""
    if entry.family == "lm":
        from recbench.lm.profiles import profile_overrides
        from recbench.lm.trainer import LMTrainConfig

        preset = profile_overrides(profile or "cpu", entry.name)
        model_config, train_config = apply_overrides([entry.config_class(), LMTrainConfig()], [*preset, *overrides])
        return model_config, train_config
    if profile is not None:
        from recbench.lm.profiles import PROFILES

        if profile not in PROFILES:
            raise RecbenchError(f"--profile {profile}: expected one of {', '.join(PROFILES)}")
    model_config, train_config = apply_overrides([entry.config_class(), TrainConfig()], list(overrides))
    return model_config, train_config


def run(request: RunRequest, store: RunStore, console: Console | None = None) -> RunRecord:
    """Train and evaluate one model under the protocol; returns the saved record."""
    console = console or Console(stderr=True)
    resolve_configs(get_model(request.model), request.overrides, request.profile)  # bad settings fail before loading
    started = time.perf_counter()
    data = load_protocol(request.dataset, request.data_dir)
    return run_on_data(request, data, store, console, load_seconds=time.perf_counter() - started)


def run_on_data(request: RunRequest, data: ProtocolData, store: RunStore, console: Console, load_seconds: float = 0.0) -> RunRecord:
    """:func:`run` on protocol data already in memory (a prerequisite trained for the run that needs it).

    The record is built here as the JSON object ``record.json`` holds (this is its layout), and
    what is returned is that file read back as a :class:`RunRecord`: callers see what was saved.
    """
    entry = get_model(request.model)
    model_config, train_config = resolve_configs(entry, request.overrides, request.profile)
    seed_everything(request.seed)
    if entry.family == "lm":
        outcome = _train_language_model(entry, model_config, train_config, data, request, store, console)
    elif entry.family == "reference":
        outcome = _fit_reference_model(entry, model_config, data, request, console)
    else:
        outcome = _train_id_model(entry, model_config, train_config, data, request, console)
    record = {
        "model": entry.name,
        "family": entry.family,
        "purpose": request.purpose,
        "profile": request.profile if entry.family == "lm" else None,
        "study": request.study,
        "dataset": data.dataset,
        "dataset_variant": data.fingerprint.variant or data.dataset,
        "fingerprint": data.fingerprint.to_dict(),
        "protocol_version": PROTOCOL_VERSION,
        "data_summary": data.summary(),
        "seed": request.seed,
        "config": to_dict(model_config),
        "train_config": to_dict(train_config),
        "overrides": list(request.overrides),
        "metrics": outcome.metrics,
        "epochs": outcome.epochs,
        "best_epoch": outcome.best_epoch,
        "timings": {"load_seconds": round(load_seconds, 3), **outcome.timings},
        "peak_memory": peak_memory(),
        "n_parameters": outcome.n_parameters,
        **outcome.extra,
        "environment": environment(),
        "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "command": " ".join(sys.argv),
    }
    rank = int(os.environ.get("RANK", "0"))
    if rank != 0:  # under `accelerate launch` every process runs this; only the first records
        return RunRecord.from_dict(json.loads(record_json({**record, "run_id": f"(rank {rank}: not recorded)"})))
    saved = store.record(store.save(record, outcome.predictions, outcome.files))
    if outcome.checkpoint_dir is not None:  # recorded: the final training state and its pins are no longer needed
        Checkpoint(outcome.checkpoint_dir, key="").clear()
        clear_pinned(outcome.checkpoint_dir)  # a later run with the same settings resolves its prerequisites afresh
        forget_kept(outcome.checkpoint_dir, store.root)
    return saved


@dataclass
class _Outcome:
    metrics: dict[str, Any]
    predictions: dict[str, np.ndarray]
    epochs: list[dict[str, float]]
    best_epoch: int
    timings: dict[str, float]
    n_parameters: int
    extra: dict[str, Any]
    files: dict[str, bytes] = field(default_factory=dict)
    #: where an LM run's training state waits until the run is recorded (None: nothing to remove)
    checkpoint_dir: Path | None = None


def _evaluate(rows_by_split: dict[str, np.ndarray], data: ProtocolData, predict_rows) -> tuple[dict, dict, float]:
    metrics, predictions = {}, {}
    started = time.perf_counter()
    for split, rows in rows_by_split.items():
        probs = predict_rows(rows)
        labels = data.labels(rows)
        metrics[split] = evaluate(labels, probs)
        predictions.update({f"{split}_row": rows, f"{split}_prob": np.asarray(probs, dtype=np.float32), f"{split}_label": labels})
    return metrics, predictions, time.perf_counter() - started


def _train_id_model(entry: ModelEntry, model_config: Any, train_config: TrainConfig, data: ProtocolData, request: RunRequest, console: Console) -> _Outcome:
    model = entry.cls(model_config, FeatureSchema.from_data(data))
    console.print(f"[bold]{entry.name}[/] on {data.dataset} (seed {request.seed}): {data.n_train:,} train / {data.n_valid:,} valid / {data.n_test:,} test rows")
    result = train_id_model(model, data, train_config, request.seed, console)
    splits = ("valid", "test") if request.purpose == "run" else ("valid",)
    metrics, predictions, eval_seconds = _evaluate(
        {s: data.split_rows(s) for s in splits}, data, lambda rows: predict(model, data, rows, train_config.eval_batch_size, mode=train_config.autocast)
    )
    timings = {
        "train_seconds": round(result.train_seconds, 3),
        "train_samples_per_second": round(result.samples_per_second, 1),
        "eval_seconds": round(eval_seconds, 3),
    }
    n_parameters = int(sum(p.numel() for p in model.parameters()))
    weights = {"model.safetensors": save_weights({k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()})}
    return _Outcome(metrics, predictions, result.epochs, result.best_epoch, timings, n_parameters, {}, weights)


def _fit_reference_model(entry: ModelEntry, model_config: Any, data: ProtocolData, request: RunRequest, console: Console) -> _Outcome:
    """A counting reference (``pop``, ``user-mean``): fitted on the training rows, scored on all rows."""
    console.print(f"[bold]{entry.name}[/] on {data.dataset}: fitted on {data.n_train:,} train rows")
    started = time.perf_counter()
    model = entry.cls(model_config, data).fit(data.split_rows("train"))
    train_seconds = time.perf_counter() - started
    splits = ("valid", "test") if request.purpose == "run" else ("valid",)
    metrics, predictions, eval_seconds = _evaluate({s: data.split_rows(s) for s in splits}, data, model.predict)
    timings = {"train_seconds": round(train_seconds, 3), "eval_seconds": round(eval_seconds, 3)}
    return _Outcome(metrics, predictions, [], 0, timings, 0, {})


def _train_language_model(entry: ModelEntry, model_config: Any, train_config: Any, data: ProtocolData, request: RunRequest, store: RunStore, console: Console) -> _Outcome:
    """Few-shot tuning on ``n_train`` rows, then scoring of the first ``n_valid`` / ``n_test`` rows."""
    if train_config.threads < 0:
        raise RecbenchError(f"--set threads={train_config.threads}: expected 0 (torch's default) or a positive count")
    if train_config.threads:
        torch.set_num_threads(train_config.threads)
    for key in ("n_train", "n_valid", "n_test"):
        if getattr(train_config, key) < 0:
            raise RecbenchError(f"--set {key}={getattr(train_config, key)}: expected 0 or more rows")
    train_rows = data.few_shot_rows(train_config.n_train, train_config.sample_seed) if train_config.n_train else np.zeros(0, dtype=np.int64)
    valid_rows = data.eval_rows("valid", train_config.n_valid, train_config.valid_rows, train_config.sample_seed)
    test_rows = np.zeros(0, dtype=np.int64)
    if request.purpose == "run":
        test_rows = data.eval_rows("test", train_config.n_test, train_config.test_rows, train_config.sample_seed)
    if request.purpose == "run" and len(test_rows) == 0:
        raise RecbenchError("--set n_test=0: a run must score at least one test row")
    console.print(
        f"[bold]{entry.name}[/] on {data.dataset} (seed {request.seed}, backbone {getattr(train_config, 'backbone', '-')}): "
        f"{len(train_rows):,} few-shot train / {len(valid_rows):,} valid / {len(test_rows):,} test rows"
    )
    def train_prerequisite(model: str, overrides: tuple[str, ...]) -> RunRecord:
        """Train and record a run the model needs first (RecLoRA's CRM): same data, same seed."""
        return run_on_data(RunRequest(model, data.dataset, request.seed, None, overrides), data, store, console)

    extra = {}
    checkpoint_dir = checkpoint_folder(store.root, entry.name, data, request.seed, model_config, train_config)
    if restore_kept(checkpoint_dir, store.root):  # a state carried from another machine in git (recbench.inflight)
        console.print(f"  resuming from the state kept in {store.root / 'inflight' / checkpoint_dir.name}", highlight=False)
    needs = declared_prerequisites(entry.cls, model_config)
    if needs:  # found in the store(s) or trained and recorded now, then handed over loaded
        # a resumed run keeps the prerequisite runs it started with, even if newer ones were recorded since
        pinned = read_pinned(checkpoint_dir)
        extra["prerequisites"] = resolve_prerequisites(needs, data, request.seed, store, console, train_prerequisite, train_config.threads, pinned)
        write_pinned(checkpoint_dir, {name: run.record.run_id for name, run in extra["prerequisites"].items()})
    model = entry.cls(model_config, data, train_config, seed=request.seed, store=store, console=console, **extra)
    validate = None
    if len(valid_rows):
        validate = lambda: evaluate(data.labels(valid_rows), model.score(valid_rows))  # noqa: E731
    result = model.fit(train_rows, data.labels(train_rows), checkpoint_dir, validate)
    splits = {"valid": valid_rows, "test": test_rows} if len(valid_rows) else {"test": test_rows}
    if request.purpose != "run":
        splits.pop("test")
    metrics, predictions, eval_seconds = _evaluate(splits, data, model.score)
    scored = sum(len(r) for r in splits.values())
    timings = {
        "train_seconds": round(result.train_seconds, 3),
        "train_samples_per_second": round(result.train_samples / result.train_seconds, 3) if result.train_seconds else 0.0,
        "train_seconds_per_sample": round(result.train_seconds / result.train_samples, 4) if result.train_samples else 0.0,
        "eval_seconds": round(eval_seconds, 3),
        "infer_seconds_per_sample": round(eval_seconds / scored, 4) if scored else 0.0,
    }
    extra = {"few_shot_rows": len(train_rows), "resumed_from_step": result.resumed_from_step, **getattr(model, "record_extra", lambda: {})()}
    files = getattr(model, "artefacts", lambda: {})()
    return _Outcome(metrics, predictions, result.epochs, result.best_epoch, timings, model.n_trainable(), extra, files, checkpoint_dir)


def peak_memory() -> dict[str, float]:
    """Peak resident memory of this process (and of the GPU when one was used), in MiB."""
    rss_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    out = {"rss_mib": round(rss_kib / 1024, 1)}
    if torch.cuda.is_available():
        out["cuda_mib"] = round(torch.cuda.max_memory_allocated() / 2**20, 1)
    return out


def environment() -> dict[str, Any]:
    versions = {}
    for name in _TRACKED_PACKAGES:
        try:
            versions[name] = version(name)
        except PackageNotFoundError:
            versions[name] = None
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "packages": versions,
        "git_commit": git_commit(),
        "device": "cuda" if torch.cuda.is_available() else "cpu",
        "torch_threads": torch.get_num_threads(),
        "hardware": hardware_signature(),  # what the timings were measured on (recbench.hardware)
        # which kernel this machine gives bf16 matmuls under autocast (recbench.bf16), whatever the run's setting
        "bf16_matmul": bf16_matmul_kernel(torch.device("cuda" if torch.cuda.is_available() else "cpu"), "bfloat16"),
    }


#: the committed reference store and the tables rendered from it: data, not code, so their changes
#: (a run landing, a kept checkpoint being rewritten, a table re-rendered) never make the code "dirty"
_NOT_CODE = ":(exclude)leaderboards"


def git_commit() -> str | None:
    """The project's commit, with ``-dirty`` when the code in the work tree has uncommitted changes."""
    root = Path(__file__).resolve().parent.parent
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=5, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no", "--", ".", _NOT_CODE], cwd=root, capture_output=True, text=True, timeout=5
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return commit + ("-dirty" if dirty else "")


def describe_data(data: ProtocolData) -> dict[str, Any]:
    """What ``recbench data info`` shows about a prepared dataset."""
    return {"dataset": data.dataset, "fingerprint": data.fingerprint.to_dict(), **data.summary()}


def checkpoint_folder(root: Path, model: str, data: ProtocolData, seed: int, model_config: Any, train_config: Any) -> Path:
    """Where a run keeps its resumable state: keyed by its model, dataset, seed and a hash of every setting.

    A run killed before its model's settings were renamed (``RENAMED_SETTINGS``) left its state
    under the hash of the old names; that folder is used when it exists and no current one does,
    so the run resumes instead of starting over.
    """
    def folder(model_values: dict[str, Any]) -> Path:
        settings = json.dumps([model_values, to_dict(train_config), data.fingerprint.digest], sort_keys=True)
        return root / "checkpoints" / f"{model}-{data.dataset}-s{seed}-{hashlib.sha256(settings.encode()).hexdigest()[:12]}"

    values = to_dict(model_config)
    current = folder(values)
    legacy = legacy_settings(values, type(model_config))
    if not current.exists() and legacy not in (None, values) and folder(legacy).exists():
        return folder(legacy)
    return current
