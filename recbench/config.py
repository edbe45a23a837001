"""Typed hyper-parameter dataclasses and ``--set key=value`` overrides.

Every model's ``Config`` and the trainer's :class:`~recbench.training.TrainConfig` are plain
dataclasses with type hints; overrides are parsed against those hints, so a typo or a value of
the wrong type is an error naming the key, never a silently ignored or mistyped setting.

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
        "prompt_history_length",
    ), NON_NEGATIVE),  # fmt: skip
}


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
