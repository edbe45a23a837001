"""The typed run record: what one run folder's ``record.json`` says, as the only way code reads it.

Why a type: records used to travel as parsed JSON dicts, read with ``record.get("...")`` in some
sixty places, each with its own default for a missing key, so a renamed key or a typo was a
silent None and "is this a finished run?" had as many answers as readers. Now the store
(:class:`recbench.runstore.RunStore`) turns each file into a :class:`RunRecord` once, after
:func:`recbench.records.check_record` has checked every field's JSON type, so a malformed
record is a :class:`~recbench.records.StoreProblem` naming its folder (never a traceback in a
table builder), and every reader sees the same typed fields and the same derived answers
(:attr:`RunRecord.is_result`, :attr:`RunRecord.data_key`, ...).

What is written does not change: the runner still builds the JSON object and the store writes
it. :meth:`RunRecord.to_dict` gives that object back exactly (``from_dict(d).to_dict() == d``),
keys this code does not know (an older or newer writer's) included, via ``extra``; so a record
can be copied between stores without losing anything.

Settings renamed since a run was recorded (declared by the model's config class,
``RENAMED_SETTINGS`` / ``ADDED_SETTINGS``, see :mod:`recbench.config`) are migrated here, once,
for every reader: ``config`` and ``overrides`` read under the current names, so an old run is
the same run as a request that uses the new ones (plans, drift, tables), while ``to_dict``
still writes back what the file says. Records on disk are never rewritten: old code may still
be writing old names into the same store.

Example:
    >>> r = RunRecord.from_dict({"run_id": "r1", "model": "din", "dataset": "synth", "seed": 2,
    ...                          "metrics": {"test": {"auc": 0.75, "logloss": 0.55, "rows": 10}},
    ...                          "written_by": "a newer recbench"})
    >>> r.seed, r.test.auc, r.is_result, r.data_key, r.extra["written_by"]
    (2, 0.75, True, ('synth', '?', 0), 'a newer recbench')
    >>> r.to_dict() == {"run_id": "r1", "model": "din", "dataset": "synth", "seed": 2,
    ...                 "metrics": {"test": {"auc": 0.75, "logloss": 0.55, "rows": 10}}, "written_by": "a newer recbench"}
    True
    >>> RunRecord.from_dict({"run_id": "r2", "model": "din", "dataset": "synth", "seed": "x"}, Path("runs/r2"))
    Traceback (most recent call last):
    ...
    recbench.run_record.RecordError: runs/r2: seed 'x' is not an integer
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from recbench.config import migrate_assignments, migrate_settings
from recbench.errors import RecbenchError
from recbench.records import StoreProblem, check_record, measured_overrides

_EMPTY: Mapping[str, Any] = MappingProxyType({})


def _frozen(value: Mapping[str, Any] | None) -> Mapping[str, Any] | None:
    """A read-only view of a copy of ``value`` (one level deep: nested values are JSON data)."""
    return None if value is None else MappingProxyType(dict(value))


def _plain(value: Any) -> Any:
    """``value`` as JSON data again: typed parts via their ``to_dict``, read-only mappings as dicts."""
    if isinstance(value, (SplitMetrics, StudyTag)):
        return value.to_dict()
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def _split_known(raw: Mapping[str, Any], keys: tuple[str, ...]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(keys this type reads, set and not null; everything else as written) of a small JSON object."""
    known = {k: raw[k] for k in keys if k in raw and raw[k] is not None}
    return known, {k: v for k, v in raw.items() if k not in known}


_METRIC_KEYS = ("auc", "logloss", "rows")


@dataclass(frozen=True)
class SplitMetrics:
    """One split's recorded metrics (``metrics.test``, ``metrics.valid``), as :func:`recbench.metrics.evaluate` wrote them.

    ``rows`` is how many rows were scored (a language-model run scores only its first n).
    Other keys, and any of these written as null, stay in ``extra`` as written.

    Example:
        >>> SplitMetrics.from_dict({"auc": 0.7, "rows": 3, "ndcg": 0.2})
        SplitMetrics(auc=0.7, logloss=None, rows=3, extra=mappingproxy({'ndcg': 0.2}))
    """

    auc: float | None = None
    logloss: float | None = None
    rows: int | None = None
    extra: Mapping[str, Any] = field(default_factory=lambda: _EMPTY)

    def __post_init__(self) -> None:
        object.__setattr__(self, "extra", _frozen(self.extra))

    def __reduce__(self) -> tuple:
        return SplitMetrics.from_dict, (self.to_dict(),)  # read-only views do not pickle; the JSON does

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> SplitMetrics:
        known, extra = _split_known(raw, _METRIC_KEYS)
        return cls(**known, extra=extra)

    def to_dict(self) -> dict[str, Any]:
        out = {k: getattr(self, k) for k in _METRIC_KEYS if getattr(self, k) is not None}
        return {**out, **_plain(self.extra)}


_STUDY_KEYS = ("name", "variant", "x")


@dataclass(frozen=True)
class StudyTag:
    """Which study made a run (``record.study``): its name and the row (``variant``) or point (``x``).

    E.g. ``{"name": "ablation", "variant": "w/o meta-LoRA"}`` or ``{"name": "n_meta", "x": 16}``;
    other keys stay in ``extra``. An empty tag is falsy, like the empty object it was read from.

    Example:
        >>> tag = StudyTag.from_dict({"name": "n_meta", "x": 16})
        >>> tag.name, tag.x, tag.variant, bool(StudyTag.from_dict({}))
        ('n_meta', 16, None, False)
    """

    name: str | None = None
    variant: str | None = None
    x: float | None = None
    extra: Mapping[str, Any] = field(default_factory=lambda: _EMPTY)

    def __post_init__(self) -> None:
        object.__setattr__(self, "extra", _frozen(self.extra))

    def __bool__(self) -> bool:
        return bool(self.to_dict())

    def __reduce__(self) -> tuple:
        return StudyTag.from_dict, (self.to_dict(),)

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> StudyTag:
        known, extra = _split_known(raw, _STUDY_KEYS)
        return cls(**known, extra=extra)

    def to_dict(self) -> dict[str, Any]:
        out = {k: getattr(self, k) for k in _STUDY_KEYS if getattr(self, k) is not None}
        return {**out, **_plain(self.extra)}


class RecordError(RecbenchError):
    """A ``record.json`` that cannot be a :class:`RunRecord`; ``problem`` names its folder and what is wrong."""

    def __init__(self, problem: StoreProblem) -> None:
        super().__init__(str(problem))
        self.problem = problem


#: fields whose JSON null reads as empty (no overrides, no metrics, ...); to_dict writes the null back
_NULL_IS_EMPTY = frozenset({"overrides", "metrics", "epochs", "timings"})
_MAPPINGS = ("fingerprint", "data_summary", "config", "train_config", "timings", "peak_memory", "crm", "environment", "extra")


@dataclass(frozen=True)
class RunRecord:
    """One recorded run: who ran what on which data with which settings, and what it measured.

    The fields are ``record.json``'s keys (see :func:`recbench.runner.run_on_data`, which
    writes them); mappings are read-only views, ``overrides`` and ``epochs`` tuples. A record
    read by :meth:`from_dict` remembers which of its keys were missing, so :meth:`to_dict`
    returns exactly the object it was read from; keys this code does not know are kept in
    ``extra``. Build one in code with keywords (tests, examples): only ``run_id``, ``model`` and
    ``dataset`` are required.

    Example:
        >>> r = RunRecord("r1", "reclora", "ml-1m", profile="cpu", overrides=["threads=1", "n_meta=4"],
        ...               config={"n_meta": 4}, metrics={"test": {"auc": 0.8, "logloss": 0.5, "rows": 2000}})
        >>> r.measured_overrides, r.config["n_meta"], r.test.rows, r.is_plain_run("reclora")
        (('n_meta=4',), 4, 2000, False)
    """

    run_id: str
    model: str
    dataset: str
    seed: int = 0
    #: a record without one predates the key: layout 1
    schema_version: int = 1
    #: "id", "lm" or "reference"; None in records older than the key (see run_selection.family)
    family: str | None = None
    #: "run" (test-scored) or "tune" (a tuning trial, validation only); null reads as "run"
    purpose: str | None = "run"
    #: the LM size profile ("cpu", "paper"); None for ID and reference models
    profile: str | None = None
    study: StudyTag | None = None
    #: what the data really is by its fingerprint (e.g. ml-1m files that are ml-1m-u2999)
    dataset_variant: str | None = None
    #: the raw files' digests: ``digest`` (all files), ``canonical``, ``files``, ``variant``, ``note``
    fingerprint: Mapping[str, Any] | None = None
    protocol_version: int | None = None
    #: split sizes (``train``, ``valid``, ``test``), users, items, ... of the protocol data
    data_summary: Mapping[str, Any] | None = None
    #: the model's resolved settings and the trainer's (None in records made before they were kept);
    #: ``config`` under the current setting names (renamed ones migrated, see the module docstring)
    config: Mapping[str, Any] | None = None
    train_config: Mapping[str, Any] | None = None
    #: the ``--set key=value`` overrides as given (resource ones included), under the current names
    overrides: tuple[str, ...] = ()
    metrics: Mapping[str, SplitMetrics] = field(default_factory=lambda: _EMPTY)
    epochs: tuple[Mapping[str, Any], ...] = ()
    best_epoch: int | None = None
    #: seconds: ``load_seconds``, ``train_seconds``, ``eval_seconds``, LM runs' ``*_seconds_per_sample``
    timings: Mapping[str, float] = field(default_factory=lambda: _EMPTY)
    peak_memory: Mapping[str, float] | None = None
    n_parameters: int | None = None
    #: rows an LM run trained on (its few-shot sample)
    few_shot_rows: int | None = None
    resumed_from_step: int | None = None
    #: a RecLoRA run's frozen CRM: ``model``, ``run_id``, ``history_length``
    crm: Mapping[str, Any] | None = None
    environment: Mapping[str, Any] | None = None
    created_at: str | None = None
    command: str | None = None
    #: keys this code does not read, as written (an older or a newer writer's)
    extra: Mapping[str, Any] = field(default_factory=lambda: _EMPTY)
    #: keys the source object did not have, and keys in _NULL_IS_EMPTY it had as null (for to_dict)
    _absent: frozenset[str] = field(default=frozenset(), compare=False, repr=False)
    _null: frozenset[str] = field(default=frozenset(), compare=False, repr=False)
    #: ``config`` / ``overrides`` as written, where the migration to current names changed them (for to_dict);
    #: init=False, so rebuild a changed record with from_dict(to_dict()) rather than dataclasses.replace
    _written: Mapping[str, Any] = field(default_factory=lambda: _EMPTY, init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        self._migrate()
        for name in _MAPPINGS:
            object.__setattr__(self, name, _frozen(getattr(self, name)))
        object.__setattr__(self, "overrides", tuple(self.overrides))
        object.__setattr__(self, "epochs", tuple(_frozen(e) for e in self.epochs))
        if self.study is not None and not isinstance(self.study, StudyTag):
            object.__setattr__(self, "study", StudyTag.from_dict(self.study))
        metrics = {k: m if isinstance(m, SplitMetrics) else SplitMetrics.from_dict(m) for k, m in self.metrics.items()}
        object.__setattr__(self, "metrics", MappingProxyType(metrics))

    def _migrate(self) -> None:
        """Read ``config`` and ``overrides`` under the model's current setting names, keeping what was written."""
        config_class = _config_class(self.model)
        written: dict[str, Any] = {}
        config = None if self.config is None else migrate_settings(self.config, config_class)
        if config is not None and config != dict(self.config):
            written["config"] = _plain(self.config)
            object.__setattr__(self, "config", config)
        overrides = migrate_assignments(self.overrides, config_class)
        if overrides != tuple(self.overrides):
            written["overrides"] = list(self.overrides)
            object.__setattr__(self, "overrides", overrides)
        object.__setattr__(self, "_written", MappingProxyType(written))

    def __hash__(self) -> int:
        return hash(self.run_id)  # run ids are unique; records are equal only with equal ids

    def __reduce__(self) -> tuple:
        return RunRecord.from_dict, (self.to_dict(),)  # pickle / copy as the JSON it was read from

    # ------------------------------------------------------------------ JSON

    @classmethod
    def from_dict(cls, raw: Any, folder: Path | None = None) -> RunRecord:
        """The record a parsed ``record.json`` describes.

        Raises:
            RecordError: the object is not a usable record (:func:`recbench.records.check_record`),
                or, with ``folder``, its run id is not the folder's name; the error's
                ``problem`` names ``folder``.
        """
        problem = check_record(raw)
        if problem is None and folder is not None and raw["run_id"] != folder.name:
            problem = f"run_id {raw['run_id']!r} does not match its folder name"
        if problem is not None:
            raise RecordError(StoreProblem(folder, problem))
        null = frozenset(k for k in _NULL_IS_EMPTY if k in raw and raw[k] is None)
        values = {k: raw[k] for k in FIELDS if k in raw and k not in null}
        extra = {k: v for k, v in raw.items() if k not in FIELDS}
        return cls(**values, extra=extra, _absent=frozenset(set(FIELDS) - raw.keys()), _null=null)

    def to_dict(self) -> dict[str, Any]:
        """The JSON object this record was read from (or, built in code, one with every field)."""
        out: dict[str, Any] = {}
        for name in FIELDS:
            if name in self._null:
                out[name] = None
            elif name in self._written:
                out[name] = _plain(self._written[name])
            elif name not in self._absent:
                out[name] = _plain(getattr(self, name))
        return {**out, **_plain(self.extra)}

    # ------------------------------------------------------------------ derived answers, one implementation each

    @property
    def is_result(self) -> bool:
        """A finished, test-scored run (not a tuning trial): what tables, plans and figures count."""
        return self.purpose in (None, "run") and "test" in self.metrics

    def is_plain_run(self, model: str) -> bool:
        """A run of ``model`` outside any study with default settings (RecLoRA's is also Table 3's "full")."""
        return self.model == model and not self.study and not self.measured_overrides

    @property
    def measured_overrides(self) -> tuple[str, ...]:
        """The overrides that change what the run measures (:func:`recbench.records.measured_overrides`)."""
        return measured_overrides(self.overrides)

    @property
    def test(self) -> SplitMetrics | None:
        return self.metrics.get("test")

    @property
    def valid(self) -> SplitMetrics | None:
        return self.metrics.get("valid")

    @property
    def variant(self) -> str:
        """The dataset variant the run was made on (its name when the record has none)."""
        return self.dataset_variant or self.dataset

    @property
    def digest(self) -> str | None:
        """The raw data's sha256 by the record's fingerprint (None when it has none)."""
        return self.fingerprint.get("digest") if self.fingerprint is not None else None

    @property
    def canonical(self) -> Any:
        """Whether the raw files are the publisher's release ("yes" / "no"), None when unknown."""
        return self.fingerprint.get("canonical") if self.fingerprint is not None else None

    @property
    def data_key(self) -> tuple[str, str, int]:
        """What must match for two runs to be on the same data: variant, raw digest, protocol."""
        return self.variant, "?" if self.digest is None else self.digest, int(self.protocol_version or 0)

    @property
    def sort_key(self) -> tuple[str, str]:
        """Oldest first (creation time, then id): the order stores hand records out in."""
        return ("" if self.created_at is None else self.created_at), self.run_id

    def split_bounds(self, split: str) -> tuple[int, int] | None:
        """The row-id range ``[start, stop)`` of ``split`` by the record's own data summary."""
        summary = self.data_summary or {}
        try:
            n_train, n_valid, n_test = (int(summary[k]) for k in ("train", "valid", "test"))
        except (KeyError, TypeError, ValueError):
            return None
        return {"valid": (n_train, n_train + n_valid), "test": (n_train + n_valid, n_train + n_valid + n_test)}.get(split)


def _config_class(model: str) -> type | None:
    """The registered config class of ``model`` (its declared renames apply), None for a model not installed here."""
    from recbench.registry import get_model  # deferred: loading the registry imports the model packages

    try:
        return get_model(model).config_class
    except RecbenchError:
        return None


#: record.json's keys that are fields, in the order the runner writes them
FIELDS: tuple[str, ...] = (
    "run_id", "model", "family", "purpose", "profile", "study", "dataset", "dataset_variant", "fingerprint",
    "protocol_version", "data_summary", "seed", "config", "train_config", "overrides", "metrics", "epochs",
    "best_epoch", "timings", "peak_memory", "n_parameters", "few_shot_rows", "resumed_from_step", "crm",
    "environment", "created_at", "command", "schema_version",
)  # fmt: skip
