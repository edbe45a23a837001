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
import types
import typing
from typing import Any

from recbench.errors import RecbenchError


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
            updated[i] = dataclasses.replace(updated[i], **{key: coerce(value, hint, key)})
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
