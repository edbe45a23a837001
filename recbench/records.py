"""Checking what a run store holds before anything is computed from it.

Why: a table is only as trustworthy as the files behind it, and the committed reference store
(``leaderboards/runs``) is read on other machines, by other people, after other versions of the
code wrote into it. A truncated ``record.json``, a record of a newer schema, or a
``predictions.npz`` that does not load, holds pickled objects, or claims rows outside the split
must never become a traceback, and never silently vanish or yield wrong numbers: each is a
:class:`StoreProblem` naming the run folder and what is wrong. Readers skip such a run and
carry the problem into the rendered table's notes; ``--strict`` turns problems into an error.
:func:`check_record` is the one check a record passes before it becomes a
:class:`recbench.run_record.RunRecord`, the type every reader gets.

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
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from recbench.run_record import RunRecord

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


@dataclass(frozen=True)
class StoreProblem:
    """One damaged or unreadable run: its folder and what is wrong, in one line."""

    folder: Path | None
    message: str

    def __str__(self) -> str:
        return f"{self.folder}: {self.message}" if self.folder is not None else self.message


#: keys that, when present, hold an integer (seed, schema_version) or an integer or null (the rest),
#: text or null, an object or null
_INTEGERS = ("seed", "schema_version", "protocol_version", "best_epoch", "n_parameters", "few_shot_rows", "resumed_from_step")
_TEXTS = ("family", "purpose", "profile", "dataset_variant", "created_at", "command")
_OBJECTS = ("metrics", "fingerprint", "data_summary", "study", "config", "train_config", "timings", "peak_memory",
            "environment", "crm")  # fmt: skip


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def check_record(raw: Any) -> str | None:
    """What is wrong with a parsed ``record.json`` (None when it can be used).

    Every key :class:`recbench.run_record.RunRecord` reads is checked for its JSON type here,
    so reading a record can fail only here, with one line, and never later in a table.
    """
    if not isinstance(raw, dict):
        return f"record.json holds a JSON {type(raw).__name__}, not an object"
    for key in _REQUIRED_TEXT:
        if not isinstance(raw.get(key), str) or not raw.get(key):
            return f"no {key}"
    version = raw.get("schema_version", 1)
    if not _is_int(version) or version > RECORD_SCHEMA_VERSION:  # first: a newer layout may differ anywhere
        return f"schema_version {version!r} is newer than this recbench reads ({RECORD_SCHEMA_VERSION}); upgrade recbench"
    for key in _INTEGERS:
        value = raw.get(key)
        if key in raw and not (_is_int(value) or (value is None and key not in ("seed", "schema_version"))):
            return f"{key} {value!r} is not an integer"
    for key in _TEXTS:
        if raw.get(key) is not None and not isinstance(raw.get(key), str):
            return f"{key} {raw.get(key)!r} is not text"
    for key in _OBJECTS:
        value = raw.get(key)
        if value is not None and not isinstance(value, dict):
            return f"{key} is a JSON {type(value).__name__}, not an object"
    overrides = raw.get("overrides")
    if overrides is not None and not (isinstance(overrides, list) and all(isinstance(o, str) for o in overrides)):
        return "overrides is not a list of key=value strings"
    epochs = raw.get("epochs")
    if epochs is not None and not (isinstance(epochs, list) and all(isinstance(e, dict) for e in epochs)):
        return "epochs is not a list of objects"
    return _check_metrics(raw.get("metrics") or {}) or _check_study(raw.get("study") or {})


def _check_metrics(metrics: dict[str, Any]) -> str | None:
    for split, values in metrics.items():
        if not isinstance(values, dict):
            return f"metrics.{split} is a JSON {type(values).__name__}, not an object"
        for key in ("auc", "logloss"):
            if values.get(key) is not None and not _is_number(values[key]):
                return f"metrics.{split}.{key} {values[key]!r} is not a number"
        if values.get("rows") is not None and not _is_int(values["rows"]):
            return f"metrics.{split}.rows {values['rows']!r} is not an integer"
    return None


def _check_study(study: dict[str, Any]) -> str | None:
    for key in ("name", "variant"):
        if study.get(key) is not None and not isinstance(study[key], str):
            return f"study.{key} {study[key]!r} is not text"
    if study.get("x") is not None and not _is_number(study["x"]):
        return f"study.x {study['x']!r} is not a number"
    return None


def read_predictions(path: Path, record: RunRecord) -> dict[str, np.ndarray]:
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
        bounds = record.split_bounds(split)
        if bounds is not None and len(rows) and (rows.min() < bounds[0] or rows.max() >= bounds[1]):
            raise ValueError(
                f"predictions.npz: {split} row ids {int(rows.min())}..{int(rows.max())} are not inside the "
                f"{split} split's rows {bounds[0]}..{bounds[1] - 1}"
            )
    return arrays
