"""Which runs a table shows and under what name: display names, settings labels, families and profile keys.

Shared by every table and figure (``paper_tables``, ``study_tables``, ``claims``, ``figures``),
so "the same data", "the same profile" and "the same model with other settings" mean one
thing everywhere. It is also the one place where the report layer finds the default suite
(:func:`suite_or_default`): every other report module takes the suite it is given. What makes
two runs "on the same data" is :attr:`recbench.run_record.RunRecord.data_key`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from recbench.drift import settings_drift
from recbench.errors import RecbenchError

if TYPE_CHECKING:
    from recbench.run_record import RunRecord
    from recbench.suites import Suite


def suite_or_default(suite: Suite | None) -> Suite:
    """``suite``, or the default suite (the RecLoRA paper) when None.

    Why here and lazily: suites sit above the report modules (a suite file imports their part
    types), so a report module never imports one at import time; this function is the report
    layer's single way to the default, for callers (tests, scripts) that pass no suite.
    """
    if suite is not None:
        return suite
    from recbench.suites import DEFAULT_SUITE, get_suite

    return get_suite(DEFAULT_SUITE)


def display_name(model: str) -> str:
    """The registered display name (``register_model(..., display=...)``), keeping a ``[settings]`` suffix."""
    from recbench.registry import get_model

    base, sep, rest = model.partition(" [")
    try:
        shown = get_model(base).display
    except RecbenchError:
        shown = base  # a model recorded elsewhere and not installed here
    return shown + (sep + rest if sep else "")


def variant_label(record: RunRecord) -> str:
    """The model name, plus the settings a run changed (``sim [item_vectors=lm]``).

    Runs with different settings are different entries of a table, never averaged together
    as seeds of one model; settings that only place or pace a run are ignored.
    """
    measured = changed_settings(record)
    return f"{record.model} [{', '.join(measured)}]" if measured else record.model


def changed_settings(record: RunRecord) -> list[str]:
    """The run's ``key=value`` overrides that change what it measures: neither resources nor a restated default."""
    defaults = _default_settings(record.model)
    return [m for m in record.measured_overrides if _differs(m, defaults)]


def parse_entry(entry: str) -> tuple[str, tuple[str, ...]]:
    """A table entry's model and settings: ``"sim [item_vectors=lm, embed_dim=64]"`` ->
    ``("sim", ("item_vectors=lm", "embed_dim=64"))`` (the inverse of :func:`variant_label`)."""
    model, _, rest = entry.partition(" [")
    if not rest.endswith("]"):
        raise RecbenchError(f"claim entry {entry!r}: expected 'model [key=value, ...]'")
    return model, tuple(part.strip() for part in rest[:-1].split(", "))


def _default_settings(model: str) -> dict[str, Any]:
    """The registered model's default settings (empty for an unknown model)."""
    import dataclasses

    from recbench.errors import RecbenchError
    from recbench.registry import get_model

    try:
        config_class = get_model(model).config_class
    except RecbenchError:
        return {}
    return {f.name: getattr(config_class(), f.name) for f in dataclasses.fields(config_class)}


def _differs(assignment: str, defaults: dict[str, Any]) -> bool:
    """Whether ``key=value`` changes the default (an override restating a default changes nothing)."""
    key, _, value = assignment.partition("=")
    if key not in defaults:
        return True
    default = defaults[key]
    shown = ",".join(map(str, default)) if isinstance(default, tuple) else str(default)
    return value.replace(" ", "") != shown.replace(" ", "")


def family(record: RunRecord) -> str:
    """The record's model family; for an old record without one, the registered model's (else "id")."""
    if record.family:
        return record.family
    from recbench.registry import get_model

    try:
        return get_model(record.model).family
    except RecbenchError:
        return "id"


def filter_datasets(records: Iterable[RunRecord], datasets: Iterable[str]) -> list[RunRecord]:
    wanted = set(datasets)
    return [r for r in records if not wanted or r.dataset_variant in wanted or r.dataset in wanted]


def filter_profile(records: Iterable[RunRecord], profile: str | None) -> list[RunRecord]:
    """Runs without a size profile (ID and reference models) plus the LM runs of ``profile``."""
    return [r for r in records if profile is None or r.profile in (None, profile)]


def profile_of(record: RunRecord) -> str:
    """The LM size profile of a run; LM runs recorded without one are grouped as "unspecified".

    An LM run whose profile has changed since it ran is labelled with the settings it ran with
    (``recbench.drift``), so it gets tables of its own instead of joining runs of the new ones.
    """
    name = record.profile or "unspecified"
    drift = settings_drift(record) if family(record) == "lm" else ()
    return f"{name}; earlier settings {', '.join(drift)}" if drift else name


def profile_title(label: str) -> str:
    """``cpu`` -> ``cpu profile``; a drifted label keeps its settings after the word profile."""
    name, _, rest = label.partition("; ")
    return f"{name} profile" + (f"; {rest}" if rest else "")
