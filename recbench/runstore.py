"""The run store: one self-describing, atomically written record per run.

Layout: ``<root>/<run_id>/record.json`` plus ``predictions.npz`` (per-row test and validation
predictions with protocol row ids). A run is first written into ``<root>/.tmp-<random>/`` and
then renamed into place, so readers never see half a record, an interrupted run leaves only a
temporary folder that readers ignore, and concurrent runs never touch each other's files (run
ids are unique and there is no shared index to corrupt).

Example:
    >>> import tempfile, numpy as np
    >>> store = RunStore(tempfile.mkdtemp())
    >>> rid = store.save({"model": "din", "dataset": "synth", "seed": 0},
    ...                  {"test_row": np.arange(3), "test_prob": np.full(3, 0.5)})
    >>> store.records()[0]["run_id"] == rid
    True
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from recbench.errors import RecbenchError

RECORD_SCHEMA_VERSION = 1


def default_store_root() -> Path:
    """``$RECBENCH_RUNS`` or ``./runs``: results stay next to the project that made them."""
    return Path(os.environ.get("RECBENCH_RUNS", "runs"))


class RunStore:
    def __init__(self, root: Path | str | None = None) -> None:
        self.root = Path(root) if root is not None else default_store_root()

    def new_run_id(self, model: str, dataset: str, seed: int) -> str:
        stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
        return f"{stamp}-{model}-{dataset}-s{seed}-{secrets.token_hex(3)}"

    def save(self, record: dict[str, Any], predictions: dict[str, np.ndarray], files: dict[str, bytes] | None = None) -> str:
        """Write a complete run; returns its id. Nothing is visible until it is all on disk.

        ``files`` are extra artefacts stored beside the record (e.g. ``model.safetensors``, the
        trained weights a later stage reloads: RecLoRA's frozen CRM).
        """
        record = dict(record)
        run_id = record.get("run_id") or self.new_run_id(record["model"], record["dataset"], record.get("seed", 0))
        record["run_id"] = run_id
        record["schema_version"] = RECORD_SCHEMA_VERSION
        self.root.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=self.root))
        try:
            np.savez_compressed(tmp / "predictions.npz", **predictions)
            for name, payload in (files or {}).items():
                if "/" in name or name in ("record.json", "predictions.npz"):
                    raise ValueError(f"artefact name {name!r} is reserved or not a plain file name")
                (tmp / name).write_bytes(payload)
            _write_synced(tmp / "record.json", json.dumps(record, indent=2, sort_keys=True, default=_json_default))
            os.rename(tmp, self.root / run_id)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        return run_id

    def records(self, **match: Any) -> list[dict[str, Any]]:
        """All complete records (oldest first), optionally filtered by top-level fields."""
        if not self.root.is_dir():
            return []
        out = []
        for path in sorted(self.root.glob("*/record.json")):
            if path.parent.name.startswith("."):
                continue
            try:
                record = json.loads(path.read_text())
            except (OSError, json.JSONDecodeError):
                continue  # not ours or damaged by hand; never fatal for listing
            if all(record.get(k) == v for k, v in match.items()):
                out.append(record)
        return sorted(out, key=lambda r: (r.get("created_at", ""), r["run_id"]))

    def record(self, run_id: str) -> dict[str, Any]:
        path = self.root / run_id / "record.json"
        if not path.is_file():
            raise RecbenchError(f"no run {run_id!r} in {self.root}")
        return json.loads(path.read_text())

    def artefact(self, run_id: str, name: str) -> Path:
        """Path of an extra file saved with run ``run_id`` (see :meth:`save`)."""
        path = self.root / run_id / name
        if not path.is_file():
            raise RecbenchError(f"run {run_id!r} in {self.root} has no {name}")
        return path

    def predictions(self, run_id: str) -> dict[str, np.ndarray]:
        path = self.root / run_id / "predictions.npz"
        if not path.is_file():
            raise RecbenchError(f"run {run_id!r} has no predictions in {self.root}")
        with np.load(path, allow_pickle=False) as npz:
            return {k: npz[k] for k in npz.files}


def _write_synced(path: Path, text: str) -> None:
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())


def _json_default(value: Any) -> Any:
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating,)):
        return float(value)
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")
