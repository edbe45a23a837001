"""Checking what a run store holds before anything is computed from it.

Why: a table is only as trustworthy as the files behind it, and the committed reference store
(``leaderboards/runs``) is read on other machines, by other people, after other versions of the
code wrote into it. A truncated ``record.json``, a record of a newer schema, or a
``predictions.npz`` that does not load, holds pickled objects, or claims rows outside the split
must never become a traceback, and never silently vanish or yield wrong numbers: each is a
:class:`StoreProblem` naming the run folder and what is wrong. Readers skip such a run and
carry the problem into the rendered table's notes; ``--strict`` turns problems into an error.

Example:
    >>> check_record({"run_id": "r1", "model": "din", "dataset": "synth", "seed": 0, "schema_version": 1})
    >>> check_record({"model": "din"})
    'no run_id'
"""

from __future__ import annotations

import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

#: the newest record layout this code reads; a newer one was written by newer code
RECORD_SCHEMA_VERSION = 1

_REQUIRED_TEXT = ("run_id", "model", "dataset")

#: settings that do not change what a run measures (where and how fast it runs, how often it saves)
RESOURCE_KEYS = frozenset({"threads", "device", "eval_batch_size", "micro_batch_size", "checkpoint_every", "bucket"})


def measured_overrides(overrides: Iterable[str]) -> tuple[str, ...]:
    """Overrides that change what a run measures, normalised (last value of a key wins, sorted).

    Example:
        >>> measured_overrides(["threads=1", "lr=1e-3", "lr=2e-3"])
        ('lr=2e-3',)
    """
    settings: dict[str, str] = {}
    for text in overrides:
        key, _, value = str(text).partition("=")
        if key.strip() not in RESOURCE_KEYS:
            settings[key.strip()] = value.strip()
    return tuple(sorted(f"{k}={v}" for k, v in settings.items()))


def is_result(record: dict[str, Any]) -> bool:
    """A finished, test-scored run (not a tuning trial): what tables, plans and figures count."""
    return record.get("purpose", "run") in (None, "run") and "test" in (record.get("metrics") or {})


def is_plain_run(record: dict[str, Any], model: str) -> bool:
    """A run of ``model`` outside any study with default settings (RecLoRA's is also Table 3's "full")."""
    return record.get("model") == model and not record.get("study") and not measured_overrides(record.get("overrides") or ())


@dataclass(frozen=True)
class StoreProblem:
    """One damaged or unreadable run: its folder and what is wrong, in one line."""

    folder: Path | None
    message: str

    def __str__(self) -> str:
        return f"{self.folder}: {self.message}" if self.folder is not None else self.message


def check_record(record: Any) -> str | None:
    """What is wrong with a parsed ``record.json`` (None when it can be used)."""
    if not isinstance(record, dict):
        return f"record.json holds a JSON {type(record).__name__}, not an object"
    for key in _REQUIRED_TEXT:
        if not isinstance(record.get(key), str) or not record.get(key):
            return f"no {key}"
    if not isinstance(record.get("seed", 0), int) or isinstance(record.get("seed", 0), bool):
        return f"seed {record.get('seed')!r} is not an integer"
    version = record.get("schema_version", 1)
    if not isinstance(version, int) or version > RECORD_SCHEMA_VERSION:
        return f"schema_version {version!r} is newer than this recbench reads ({RECORD_SCHEMA_VERSION}); upgrade recbench"
    for key in ("metrics", "fingerprint", "data_summary", "study", "config", "train_config", "timings"):
        value = record.get(key)
        if value is not None and not isinstance(value, dict):
            return f"{key} is a JSON {type(value).__name__}, not an object"
    overrides = record.get("overrides")
    if overrides is not None and not (isinstance(overrides, list) and all(isinstance(o, str) for o in overrides)):
        return "overrides is not a list of key=value strings"
    return None


def split_bounds(record: dict[str, Any], split: str) -> tuple[int, int] | None:
    """The row-id range ``[start, stop)`` of ``split`` by the record's own data summary."""
    summary = record.get("data_summary") or {}
    try:
        n_train, n_valid, n_test = (int(summary[k]) for k in ("train", "valid", "test"))
    except (KeyError, TypeError, ValueError):
        return None
    return {"valid": (n_train, n_train + n_valid), "test": (n_train + n_valid, n_train + n_valid + n_test)}.get(split)


def read_predictions(path: Path, record: dict[str, Any]) -> dict[str, np.ndarray]:
    """Load and check ``predictions.npz``; raises ValueError with a one-line reason.

    Checked: the file is a numpy archive without pickled objects; for each split present,
    ``row`` / ``prob`` / ``label`` are 1-D, equally long, numeric; rows are unique and inside the
    split's range (by the record's data summary); probabilities are finite and in [0, 1];
    labels are 0 or 1.
    """
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
    except (OSError, EOFError, ValueError, zipfile.BadZipFile, KeyError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ValueError(f"predictions.npz does not load ({reason})") from None
    for split in ("valid", "test"):
        keys = [f"{split}_{k}" for k in ("row", "prob", "label")]
        present = [k in arrays for k in keys]
        if not any(present):
            continue
        if not all(present):
            raise ValueError(f"predictions.npz has only some of {', '.join(keys)}")
        rows, probs, labels = (arrays[k] for k in keys)
        if any(a.ndim != 1 for a in (rows, probs, labels)) or not len(rows) == len(probs) == len(labels):
            raise ValueError(f"predictions.npz: {split} rows, probs and labels are not 1-D arrays of one length")
        if rows.dtype.kind not in "iu" or probs.dtype.kind != "f" or labels.dtype.kind not in "iub":
            raise ValueError(f"predictions.npz: {split} arrays have dtypes {rows.dtype}/{probs.dtype}/{labels.dtype}, expected int/float/int")
        if not np.isfinite(probs).all() or (probs < 0).any() or (probs > 1).any():
            raise ValueError(f"predictions.npz: {split} probabilities outside [0, 1] or not finite")
        if not np.isin(labels, (0, 1)).all():
            raise ValueError(f"predictions.npz: {split} labels other than 0 and 1")
        if len(np.unique(rows)) != len(rows):
            raise ValueError(f"predictions.npz: {split} row ids repeat")
        bounds = split_bounds(record, split)
        if bounds is not None and len(rows) and (rows.min() < bounds[0] or rows.max() >= bounds[1]):
            raise ValueError(
                f"predictions.npz: {split} row ids {int(rows.min())}..{int(rows.max())} are not inside the "
                f"{split} split's rows {bounds[0]}..{bounds[1] - 1}"
            )
    return arrays
