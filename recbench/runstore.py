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
    >>> store.records()[0].run_id == rid
    True

Readers get :class:`recbench.run_record.RunRecord` objects: this module is the one place where a
``record.json`` becomes one (:meth:`RunRecord.from_dict`, which checks it first), so report code
never sees the raw JSON. Writers hand :meth:`RunStore.save` the JSON object itself (or a record).
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from recbench.errors import RecbenchError
from recbench.inflight import KEPT
from recbench.records import RECORD_SCHEMA_VERSION, StoreProblem, read_predictions
from recbench.run_record import FIELDS, RecordError, RunRecord

#: a staging folder this old, from before this process started, belongs to a killed run
STALE_STAGING_SECONDS = 3600
_PROCESS_STARTED = time.time()


def default_store_root() -> Path:
    """``$RECBENCH_RUNS`` or ``./runs``: results stay next to the project that made them."""
    return Path(os.environ.get("RECBENCH_RUNS", "runs"))


class RunStore:
    """One folder of runs. Damaged runs are skipped by readers and listed in :attr:`problems`."""

    def __init__(self, root: Path | str | None = None) -> None:
        self.root = Path(root) if root is not None else default_store_root()
        self.problems: list[StoreProblem] = []

    @property
    def roots(self) -> list[Path]:
        return [self.root]

    def new_run_id(self, model: str, dataset: str, seed: int) -> str:
        stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
        return f"{stamp}-{model}-{dataset}-s{seed}-{secrets.token_hex(3)}"

    def save(self, record: Mapping[str, Any] | RunRecord, predictions: dict[str, np.ndarray], files: dict[str, bytes] | None = None) -> str:
        """Write a complete run; returns its id. Nothing is visible until it is all on disk.

        ``record`` is the JSON object to write (the runner's), or a :class:`RunRecord` (a copy
        of a run, written as it was read). ``files`` are extra artefacts stored beside the record
        (e.g. ``model.safetensors``, the trained weights a later stage reloads: RecLoRA's frozen CRM).
        """
        raw = record.to_dict() if isinstance(record, RunRecord) else dict(record)
        run_id = raw.get("run_id") or self.new_run_id(raw["model"], raw["dataset"], raw.get("seed", 0))
        raw["run_id"] = run_id
        raw["schema_version"] = RECORD_SCHEMA_VERSION
        self.root.mkdir(parents=True, exist_ok=True)
        self.remove_stale_staging()
        tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=self.root))
        try:
            np.savez_compressed(tmp / "predictions.npz", **predictions)
            for name, payload in (files or {}).items():
                if "/" in name or name in ("record.json", "predictions.npz"):
                    raise ValueError(f"artefact name {name!r} is reserved or not a plain file name")
                (tmp / name).write_bytes(payload)
            _write_synced(tmp / "record.json", record_json(raw))
            os.rename(tmp, self.root / run_id)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        return run_id

    def remove_stale_staging(self) -> list[Path]:
        """Delete ``.tmp-*`` folders left by killed runs (older than this process and than an hour)."""
        removed = []
        cutoff = min(_PROCESS_STARTED, time.time() - STALE_STAGING_SECONDS)
        for path in self.root.glob(".tmp-*"):
            try:
                if path.is_dir() and path.stat().st_mtime < cutoff:
                    shutil.rmtree(path)
                    removed.append(path)
            except OSError:
                continue  # another process removed it, or it is not ours to remove
        return removed

    def records(self, **match: Any) -> list[RunRecord]:
        """All usable records (oldest first), optionally filtered by fields (``model="din"``).

        A run whose ``record.json`` is unreadable, truncated or malformed is skipped and
        described in :attr:`problems` (never fatal, never silent).
        """
        unknown = sorted(set(match) - set(FIELDS))
        if unknown:
            raise TypeError(f"records() filters by record fields; not fields: {', '.join(unknown)}")
        if not self.root.is_dir():
            return []
        out, self.problems = [], []
        for folder in sorted(p for p in self.root.iterdir() if p.is_dir() and not p.name.startswith(".")):
            path = folder / "record.json"
            if not path.is_file():
                if folder.name not in ("checkpoints", KEPT) and any(folder.iterdir()):  # training states, not runs
                    self.problems.append(StoreProblem(folder, "no record.json"))
                continue
            try:
                record = RunRecord.from_dict(json.loads(path.read_text(encoding="utf-8")), folder)
            except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
                self.problems.append(StoreProblem(folder, f"record.json is unreadable ({str(exc).splitlines()[0]})"))
                continue
            except RecordError as exc:
                self.problems.append(exc.problem)
                continue
            if all(getattr(record, k) == v for k, v in match.items()):
                out.append(record)
        return sorted(out, key=lambda r: r.sort_key)

    def has(self, run_id: str) -> bool:
        return (self.root / run_id / "record.json").is_file()

    def record(self, run_id: str) -> RunRecord:
        """One run's record; a one-line RecbenchError naming its folder when it is missing or damaged."""
        path = self.root / run_id / "record.json"
        if not path.is_file():
            raise RecbenchError(f"no run {run_id!r} in {self.root}")
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise RecbenchError(f"{path.parent}: record.json is unreadable ({str(exc).splitlines()[0]})") from None
        return RunRecord.from_dict(raw, path.parent)  # RecordError is a RecbenchError

    def artefact(self, run_id: str, name: str) -> Path:
        """Path of an extra file saved with run ``run_id`` (see :meth:`save`)."""
        path = self.root / run_id / name
        if not path.is_file():
            raise RecbenchError(f"run {run_id!r} in {self.root} has no {name}")
        return path

    def predictions(self, run_id: str, record: RunRecord | None = None) -> dict[str, np.ndarray]:
        """The run's checked predictions; a one-line RecbenchError naming the folder otherwise.

        ``record`` (already read by the caller) spares reading ``record.json`` again.
        """
        folder = self.root / run_id
        path = folder / "predictions.npz"
        if not path.is_file():
            raise RecbenchError(f"{folder}: no predictions.npz")
        try:
            return read_predictions(path, record if record is not None else self.record(run_id))
        except ValueError as exc:
            raise RecbenchError(f"{folder}: {exc}") from None


class StoreSet(RunStore):
    """Several run stores read as one; new runs are written into the first.

    Why: a user's own ``./runs`` beside the committed ``leaderboards/runs`` puts a new model in
    the same tables as every reference run without re-running any of them, and a long programme
    continues on a new machine from what was committed. Run ids are unique (time stamp plus
    random suffix), so the same id in two stores is the same run copied: the first store wins.

    Example:
        >>> import tempfile, numpy as np
        >>> mine, reference = RunStore(tempfile.mkdtemp()), RunStore(tempfile.mkdtemp())
        >>> _ = reference.save({"model": "sim", "dataset": "synth", "seed": 0}, {})
        >>> _ = mine.save({"model": "my-model", "dataset": "synth", "seed": 0}, {})
        >>> sorted(r.model for r in StoreSet([mine.root, reference.root]).records())
        ['my-model', 'sim']
    """

    def __init__(self, roots: list[Path | str]) -> None:
        if not roots:
            raise RecbenchError("no run store given")
        self.stores = [RunStore(r) for r in roots]
        super().__init__(self.stores[0].root)

    @property
    def roots(self) -> list[Path]:
        return [s.root for s in self.stores]

    def records(self, **match: Any) -> list[RunRecord]:
        seen: set[str] = set()
        out, self.problems = [], []
        for store in self.stores:
            for record in store.records(**match):
                if record.run_id not in seen:
                    seen.add(record.run_id)
                    out.append(record)
            self.problems += store.problems
        return sorted(out, key=lambda r: r.sort_key)

    def _owner(self, run_id: str) -> RunStore:
        for store in self.stores:
            if store.has(run_id):
                return store
        raise RecbenchError(f"no run {run_id!r} in {', '.join(str(r) for r in self.roots)}")

    def has(self, run_id: str) -> bool:
        return any(s.has(run_id) for s in self.stores)

    def record(self, run_id: str) -> RunRecord:
        return self._owner(run_id).record(run_id)

    def artefact(self, run_id: str, name: str) -> Path:
        return self._owner(run_id).artefact(run_id, name)

    def predictions(self, run_id: str, record: RunRecord | None = None) -> dict[str, np.ndarray]:
        return self._owner(run_id).predictions(run_id, record)


def open_stores(roots: list[Path] | Path | None) -> RunStore:
    """One store, or several read as one (the first receives new runs); default ``./runs``."""
    if roots is None or isinstance(roots, (str, Path)):
        return RunStore(roots)
    roots = list(roots)
    if not roots:
        return RunStore(None)
    return RunStore(roots[0]) if len(roots) == 1 else StoreSet(roots)


def record_json(record: Mapping[str, Any]) -> str:
    """The bytes of a ``record.json``: sorted keys, two-space indent, numpy scalars and paths as JSON."""
    return json.dumps(record, indent=2, sort_keys=True, default=_json_default)


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
