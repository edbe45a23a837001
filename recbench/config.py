"""Typed hyper-parameter dataclasses and ``--set key=value`` overrides.

Every model's ``Config`` and the trainer's :class:`~recbench.training.TrainConfig` are plain
dataclasses with type hints; overrides are parsed against those hints, so a typo or a value of
the wrong type is an error naming the key, never a silently ignored or mistyped setting.

A setting that is renamed is declared on its config class, in one place:
``RENAMED_SETTINGS`` (old name -> current name) and, for a setting that old runs did not
record, ``ADDED_SETTINGS`` (its name -> the value those runs used). Recorded runs are never
rewritten; :func:`migrate_settings` and :func:`migrate_assignments` read an old record's
``config`` and ``overrides`` under the current names (:class:`recbench.run_record.RunRecord`
does this for every reader), and an old name reaching :func:`apply_overrides` is an error
naming the new one, never a silently unknown key (the CLI translates it with a note first).

Example:
    >>> from dataclasses import dataclass
    >>> @dataclass
    ... class Demo:
    ...     lr: float = 1e-3
    ...     hidden: tuple[int, ...] = (64, 32)
    >>> apply_overrides([Demo()], ["lr=5e-4", "hidden=128,64"])[0]
    Demo(lr=0.0005, hidden=(128, 64))
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from recbench.errors import RecbenchError


@dataclass(frozen=True)
class Range:
    """The valid values of a numeric setting (for a tuple setting: of each element).

    Example:
        >>> Range(0, 1, high_open=True).describe(), Range(1).describe()
        ('a number in [0, 1)', 'a number >= 1')
    """

    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False

    def contains(self, value: float) -> bool:
        if isinstance(value, float) and not math.isfinite(value):
            return False
        if self.low is not None and (value < self.low or (self.low_open and value == self.low)):
            return False
        return not (self.high is not None and (value > self.high or (self.high_open and value == self.high)))

    def describe(self, integer: bool = False) -> str:
        kind = "an integer" if integer else "a number"
        if self.low is not None and self.high is not None:
            return f"{kind} in {'(' if self.low_open else '['}{self.low:g}, {self.high:g}{')' if self.high_open else ']'}"
        if self.low is not None:
            return f"{kind} {'>' if self.low_open else '>='} {self.low:g}"
        if self.high is not None:
            return f"{kind} {'<' if self.high_open else '<='} {self.high:g}"
        return f"a finite {'integer' if integer else 'number'}"


POSITIVE = Range(0, None, low_open=True)
AT_LEAST_ONE = Range(1)
NON_NEGATIVE = Range(0)
FRACTION = Range(0, 1, high_open=True)

#: valid values of the settings every config shares by name; a field's own
#: ``metadata={"range": Range(...)}`` wins. Every int / float field must be covered (a test checks).
RANGES: dict[str, Range] = {
    **dict.fromkeys(("lr", "head_lr", "alpha", "lora_alpha", "temperature"), POSITIVE),
    **dict.fromkeys(("weight_decay", "smoothing"), NON_NEGATIVE),
    **dict.fromkeys(("dropout", "gate_dropout", "lora_dropout", "warmup_ratio"), FRACTION),
    **dict.fromkeys((
        "batch_size", "eval_batch_size", "micro_batch_size", "epochs", "max_epochs", "embed_dim", "attention_dim",
        "attention_hidden", "gru_hidden", "gru_layers", "heads", "cross_layers", "layers", "hidden",
        "horizontal_filters", "horizontal_heights", "vertical_filters", "lora_rank", "rank", "n_meta",
        "crm_history_length", "history_length",
    ), AT_LEAST_ONE),  # fmt: skip
    **dict.fromkeys((
        "checkpoint_every", "n_train", "n_valid", "n_test", "max_train_rows", "patience", "sample_seed", "threads",
    ), NON_NEGATIVE),  # fmt: skip
}


# --------------------------------------------------------------------------- renamed settings


def renamed_settings(config_class: type | None) -> Mapping[str, str]:
    """Old name -> current name of each setting ``config_class`` declares renamed (``RENAMED_SETTINGS``).

    Example:
        >>> class Old:
        ...     RENAMED_SETTINGS = {"rank": "lora_rank"}
        >>> dict(renamed_settings(Old)), dict(renamed_settings(None))
        ({'rank': 'lora_rank'}, {})
    """
    return dict(getattr(config_class, "RENAMED_SETTINGS", None) or {})


def added_settings(config_class: type | None) -> Mapping[str, Any]:
    """Settings added after runs were recorded without them -> the value those runs used (``ADDED_SETTINGS``)."""
    return dict(getattr(config_class, "ADDED_SETTINGS", None) or {})


def migrate_settings(settings: Mapping[str, Any], config_class: type | None) -> dict[str, Any]:
    """A recorded ``config`` under the current names: renamed keys replaced in place, added settings filled in.

    Why fill in: a comparison of settings looks only at keys both sides know, so a run recorded
    before a setting existed would otherwise match a request for any value of it. Where a
    record has both an old and a new name, the new one wins.

    Example:
        >>> class C:
        ...     RENAMED_SETTINGS = {"rank": "lora_rank"}
        ...     ADDED_SETTINGS = {"lora_dropout": 0.0}
        >>> migrate_settings({"n_meta": 16, "rank": 8}, C)
        {'n_meta': 16, 'lora_rank': 8, 'lora_dropout': 0.0}
    """
    renames, added = renamed_settings(config_class), added_settings(config_class)
    out: dict[str, Any] = {}
    for key, value in settings.items():
        new = renames.get(key)
        if new is None:
            out[key] = value
        elif new not in settings:
            out[new] = value
    for key, value in added.items():
        out.setdefault(key, value)
    return out


def legacy_settings(settings: Mapping[str, Any], config_class: type | None) -> dict[str, Any] | None:
    """The inverse of :func:`migrate_settings`: ``settings`` as code from before the renames wrote
    them, or None when they cannot have been (an added setting away from the value old runs used).

    Why: a run's checkpoint folder is keyed by a hash of its settings, so a run killed under the
    old names resumes under the new ones only if the old key can be recomputed.

    Example:
        >>> class C:
        ...     RENAMED_SETTINGS = {"rank": "lora_rank"}
        ...     ADDED_SETTINGS = {"lora_dropout": 0.0}
        >>> legacy_settings({"n_meta": 16, "lora_rank": 8, "lora_dropout": 0.0}, C)
        {'n_meta': 16, 'rank': 8}
        >>> legacy_settings({"lora_rank": 8, "lora_dropout": 0.1}, C) is None
        True
    """
    added = added_settings(config_class)
    if any(key in settings and settings[key] != value for key, value in added.items()):
        return None
    old_name = {new: old for old, new in renamed_settings(config_class).items()}
    return {old_name.get(key, key): value for key, value in settings.items() if key not in added}


def migrate_assignments(assignments: Iterable[str], config_class: type | None) -> tuple[str, ...]:
    """``key=value`` overrides with each renamed key under its current name (values as written).

    Example:
        >>> class C:
        ...     RENAMED_SETTINGS = {"prompt_history": "history"}
        >>> migrate_assignments(["threads=1", "prompt_history=recent"], C)
        ('threads=1', 'history=recent')
    """
    renames = renamed_settings(config_class)
    out = []
    for text in assignments:
        key, sep, value = str(text).partition("=")
        new = renames.get(key.strip())
        out.append(f"{new}{sep}{value}" if new is not None and sep else str(text))
    return tuple(out)


def range_of(config_class: type, field: dataclasses.Field) -> Range | None:
    """The declared valid values of ``field`` (its metadata, else :data:`RANGES`), or None."""
    return field.metadata.get("range") or RANGES.get(field.name)


def check_value(field: dataclasses.Field, value: Any, shown: str | None = None) -> None:
    """``value`` of ``field`` inside its declared range, else one line ``--set key=value: expected ...``."""
    values = value if isinstance(value, tuple) else (value,)
    numeric = [v for v in values if isinstance(v, (int, float)) and not isinstance(v, bool)]
    if not numeric:
        return
    bounds = range_of(type(None), field) or Range()
    if all(bounds.contains(v) for v in numeric):
        return
    if shown is None:
        shown = ",".join(map(str, values)) if isinstance(value, tuple) else str(value)
    each = " for each value" if isinstance(value, tuple) else ""
    raise RecbenchError(f"--set {field.name}={shown}: expected {bounds.describe(all(isinstance(v, int) for v in numeric))}{each}")


def check_ranges(config: Any) -> None:
    """Every numeric setting of ``config`` inside its declared range (one line naming the key)."""
    for f in dataclasses.fields(config):
        check_value(f, getattr(config, f.name))


def parse_assignment(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise RecbenchError(f"--set {text!r}: expected key=value")
    return key.strip(), value.strip()


def apply_overrides(configs: list[Any], assignments: list[str]) -> list[Any]:
    """Return copies of ``configs`` with each ``key=value`` applied to the one config owning ``key``."""
    updated = list(configs)
    for text in assignments:
        key, value = parse_assignment(text)
        owners = [i for i, c in enumerate(updated) if key in {f.name for f in dataclasses.fields(c)}]
        if not owners:
            renamed = sorted({new for c in updated if (new := renamed_settings(type(c)).get(key)) is not None})
            if renamed:
                raise RecbenchError(f"--set {key}: renamed to {' / '.join(renamed)}; use --set {renamed[0]}={value}")
            valid = sorted({f.name for c in updated for f in dataclasses.fields(c)})
            raise RecbenchError(f"--set {key}: unknown setting; valid keys: {', '.join(valid)}")
        for i in owners:
            hint = typing.get_type_hints(type(updated[i]))[key]
            coerced = coerce(value, hint, key)
            check_value(next(f for f in dataclasses.fields(updated[i]) if f.name == key), coerced, value)
            updated[i] = dataclasses.replace(updated[i], **{key: coerced})
    for config in updated:
        check_ranges(config)
    return updated


def coerce(value: str, hint: Any, key: str) -> Any:
    """Convert the text of an override to the field's declared type."""
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if value.lower() in ("none", "null") and type(None) in args:
            return None
        hint = next(a for a in args if a is not type(None))
        origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is typing.Literal:
        if value not in args:
            raise RecbenchError(f"--set {key}={value}: expected one of {', '.join(map(str, args))}")
        return value
    if origin is tuple:
        item_type = args[0] if args else str
        parts = [p for p in value.replace(" ", "").split(",") if p]
        try:
            return tuple(coerce(p, item_type, key) for p in parts)
        except RecbenchError:
            name = getattr(item_type, "__name__", str(item_type))
            raise RecbenchError(f"--set {key}={value}: expected a comma-separated list of {name}") from None
    if hint is bool:
        lowered = value.lower()
        if lowered in ("1", "true", "yes", "on"):
            return True
        if lowered in ("0", "false", "no", "off"):
            return False
        raise RecbenchError(f"--set {key}={value}: expected true or false")
    if hint is int:
        try:
            return int(value)
        except ValueError:
            raise RecbenchError(f"--set {key}={value}: expected an integer") from None
    if hint is float:
        try:
            return float(value)
        except ValueError:
            raise RecbenchError(f"--set {key}={value}: expected a number") from None
    return value


def to_dict(config: Any) -> dict[str, Any]:
    """JSON-ready dict of a config dataclass (tuples become lists)."""
    return {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(config).items()}
