"""One run end to end: resolve the model and settings, load the protocol data, train,
evaluate on the validation and test rows, and record everything in the run store.

Settings are validated before any data is touched, and the record is written only after
every metric exists, so a failure at any step leaves the store unchanged.
"""

from __future__ import annotations

import platform
import resource
import subprocess
import sys
import time
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import numpy as np
import torch
from rich.console import Console

from recbench.config import apply_overrides, to_dict
from recbench.ctr import FeatureSchema
from recbench.errors import RecbenchError
from recbench.metrics import evaluate
from recbench.protocol import PROTOCOL_VERSION, ProtocolData, load_protocol
from recbench.registry import ModelEntry, get_model
from recbench.runstore import RunStore
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


def resolve_configs(entry: ModelEntry, overrides: tuple[str, ...]) -> tuple[Any, TrainConfig]:
    model_config, train_config = apply_overrides([entry.config_class(), TrainConfig()], list(overrides))
    return model_config, train_config


def run(request: RunRequest, store: RunStore, console: Console | None = None) -> dict[str, Any]:
    """Train and evaluate one model under the protocol; returns the saved record."""
    console = console or Console(stderr=True)
    entry = get_model(request.model)
    model_config, train_config = resolve_configs(entry, request.overrides)
    if entry.family != "id":
        raise RecbenchError(f"model {entry.name!r} is a {entry.family} model; its training loop is not available yet")
    started = time.perf_counter()
    data = load_protocol(request.dataset, request.data_dir)
    load_seconds = time.perf_counter() - started

    seed_everything(request.seed)
    model = entry.cls(model_config, FeatureSchema.from_data(data))
    console.print(f"[bold]{entry.name}[/] on {data.dataset} (seed {request.seed}): {data.n_train:,} train / {data.n_valid:,} valid / {data.n_test:,} test rows")
    result = train_id_model(model, data, train_config, request.seed, console)

    metrics, predictions = {}, {}
    eval_started = time.perf_counter()
    splits = ("valid", "test") if request.purpose == "run" else ("valid",)
    for split in splits:
        rows = data.split_rows(split)
        probs = predict(model, data, rows, train_config.eval_batch_size)
        labels = data.labels(rows)
        metrics[split] = evaluate(labels, probs)
        predictions.update({f"{split}_row": rows, f"{split}_prob": probs.astype(np.float32), f"{split}_label": labels})
    eval_seconds = time.perf_counter() - eval_started

    record = {
        "model": entry.name,
        "family": entry.family,
        "purpose": request.purpose,
        "dataset": data.dataset,
        "dataset_variant": data.fingerprint.variant or data.dataset,
        "fingerprint": data.fingerprint.to_dict(),
        "protocol_version": PROTOCOL_VERSION,
        "data_summary": data.summary(),
        "seed": request.seed,
        "config": to_dict(model_config),
        "train_config": to_dict(train_config),
        "overrides": list(request.overrides),
        "metrics": metrics,
        "epochs": result.epochs,
        "best_epoch": result.best_epoch,
        "timings": {
            "load_seconds": round(load_seconds, 3),
            "train_seconds": round(result.train_seconds, 3),
            "train_samples_per_second": round(result.samples_per_second, 1),
            "eval_seconds": round(eval_seconds, 3),
        },
        "peak_memory": peak_memory(),
        "n_parameters": int(sum(p.numel() for p in model.parameters())),
        "environment": environment(),
        "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "command": " ".join(sys.argv),
    }
    record["run_id"] = store.save(record, predictions)
    return record


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
    }


def git_commit() -> str | None:
    """The project's commit, with ``-dirty`` when the work tree has uncommitted changes."""
    root = Path(__file__).resolve().parent.parent
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=5, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"], cwd=root, capture_output=True, text=True, timeout=5
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return commit + ("-dirty" if dirty else "")


def describe_data(data: ProtocolData) -> dict[str, Any]:
    """What ``recbench data info`` shows about a prepared dataset."""
    return {"dataset": data.dataset, "fingerprint": data.fingerprint.to_dict(), **data.summary()}
