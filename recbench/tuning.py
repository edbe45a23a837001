"""Hyper-parameter search over the paper's Appendix-B grids, selected on the validation split.

Each trial is a recorded run with ``purpose="tune"``: it is scored on the validation rows only,
so tuning never looks at the test rows. The winner is saved as a named config (a list of
``--set`` overrides) that ``recbench run --config NAME`` reuses.

Example:
    >>> from recbench.registry import get_model
    >>> points = grid_points(get_model("din"), trials=3, seed=0)
    >>> len(points), all(p.startswith(("embed_dim=", "dropout=", "lr=", "batch_size=",
    ...     "attention_hidden=", "hidden=")) for point in points for p in point)
    (3, True)
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console

from recbench.errors import RecbenchError
from recbench.registry import ModelEntry
from recbench.runner import RunRequest, run
from recbench.runstore import RunStore
from recbench.training import TrainConfig


def _format(value: Any) -> str:
    return ",".join(map(str, value)) if isinstance(value, tuple) else str(value)


def search_space(entry: ModelEntry) -> dict[str, tuple]:
    """The model's grid plus the trainer's (learning rate, batch size)."""
    return {**getattr(entry.config_class, "GRID", {}), **TrainConfig.GRID}


def grid_points(entry: ModelEntry, trials: int | None, seed: int) -> list[tuple[str, ...]]:
    """Every grid point, or ``trials`` of them drawn uniformly without replacement (seeded)."""
    space = search_space(entry)
    if not space:
        raise RecbenchError(f"model {entry.name!r} declares no search grid")
    keys = list(space)
    sizes = [len(space[k]) for k in keys]
    total = int(np.prod(sizes))
    if trials is None or trials >= total:
        chosen = range(total)
    else:
        chosen = sorted(np.random.default_rng(seed).choice(total, size=trials, replace=False).tolist())
    points = []
    for flat in chosen:
        indices = np.unravel_index(flat, sizes)
        points.append(tuple(f"{k}={_format(space[k][i])}" for k, i in zip(keys, indices)))
    return points


def configs_dir(store: RunStore) -> Path:
    return store.root / "configs"


def save_named_config(store: RunStore, name: str, payload: dict[str, Any]) -> Path:
    directory = configs_dir(store)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name}.json"
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=directory)
    with os.fdopen(fd, "w") as handle:
        json.dump(payload, handle, indent=2)
    os.replace(tmp, path)
    return path


def load_named_config(store: RunStore, name: str) -> dict[str, Any]:
    path = configs_dir(store) / f"{name}.json"
    if not path.is_file():
        known = sorted(p.stem for p in configs_dir(store).glob("*.json")) if configs_dir(store).is_dir() else []
        raise RecbenchError(f"--config {name}: no tuned config of that name in {configs_dir(store)}; known: {', '.join(known) or 'none'}")
    return json.loads(path.read_text())


def tune(
    entry: ModelEntry,
    dataset: str,
    store: RunStore,
    *,
    trials: int | None,
    seed: int = 0,
    data_dir: Path | None = None,
    fixed: tuple[str, ...] = (),
    name: str | None = None,
    console: Console | None = None,
) -> dict[str, Any]:
    """Run the trials, keep the best validation AUC, save it as a named config."""
    console = console or Console(stderr=True)
    points = grid_points(entry, trials, seed)
    results = []
    for i, point in enumerate(points, 1):
        console.print(f"[bold]trial {i}/{len(points)}[/]: {' '.join(point)}")
        record = run(RunRequest(entry.name, dataset, seed, data_dir, (*point, *fixed), purpose="tune"), store, console)
        results.append({"overrides": list(point), "valid_auc": record.metrics["valid"].auc, "run_id": record.run_id})
    best = max(results, key=lambda r: r["valid_auc"])
    name = name or f"{entry.name}-{dataset}"
    payload = {
        "model": entry.name,
        "dataset": dataset,
        "overrides": best["overrides"] + list(fixed),
        "valid_auc": best["valid_auc"],
        "selected_by": "validation AUC",
        "trials": results,
    }
    payload["path"] = str(save_named_config(store, name, payload))
    payload["name"] = name
    return payload


__all__ = ["grid_points", "load_named_config", "search_space", "tune"]
