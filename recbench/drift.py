"""Has a recorded run's setting changed since it ran? (a profile or a code default moved on)

A run record keeps the settings it ran with (``config`` and ``train_config``). When a size
profile or a config default changes, the same model, profile and ``--set`` overrides now
resolve to other settings, and an old run no longer measures what its name says. Such a run
must neither count as done in a plan (``reproduce`` would skip a run it should make) nor share
a table with runs of the new settings (the table would compare two different set-ups under
one name). This module finds the difference; ``check_plan`` and the tables act on it.

Resource settings (threads, device, eval batch size, checkpoint interval) never count, and a
run that trained on no rows (zero-shot) ignores the training-only settings, since it never
used them.

Example:
    >>> from recbench.run_record import RunRecord
    >>> settings_drift(RunRecord("r1", "pop", "synth", config={"smoothing": 10.0}, train_config={}))
    ()
    >>> settings_drift(RunRecord("r2", "pop", "synth", config={"smoothing": 5.0}, train_config={}))
    ('smoothing=5.0 (now 10.0)',)
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from recbench.config import to_dict
from recbench.errors import RecbenchError
from recbench.records import RESOURCE_KEYS

if TYPE_CHECKING:
    from recbench.run_record import RunRecord

#: settings only a run that trains reads
TRAINING_ONLY = frozenset({"lr", "epochs", "batch_size", "warmup_ratio", "weight_decay", "lora_targets", "max_epochs",
                           "patience"})  # fmt: skip


def _normal(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


def settings_drift(record: RunRecord) -> tuple[str, ...]:
    """``key=recorded (now current)`` for each measured setting that now resolves differently.

    Empty when the run's model is not registered here (nothing to compare with) or when its
    settings still hold.
    """
    resolved = resolve_settings(record.model, record.overrides, record.profile)
    return () if resolved is None else settings_difference(record, *resolved)


def settings_difference(record: RunRecord, model_config: Any, train_config: Any) -> tuple[str, ...]:
    """How the run's recorded settings differ from these configs (keys both know; measured ones only)."""
    out = []
    recorded_train = record.train_config or {}
    for section, current in ((record.config, to_dict(model_config)), (record.train_config, to_dict(train_config))):
        recorded = _measured(section or {}, recorded_train)
        for key in sorted(set(recorded) & set(current)):
            then, now = _normal(recorded[key]), _normal(current[key])
            if then != now:
                out.append(f"{key}={_show(then)} (now {_show(now)})")
    return tuple(out)


def settings_signature(model: str, overrides: tuple[str, ...], profile: str | None) -> str | None:
    """One string per distinct measured set-up of ``model`` (None when it cannot be resolved).

    Two requests with equal signatures make the same run, e.g. Figure 4's N_m = 16 point and
    the default RecLoRA run: a plan makes it once.
    """
    resolved = resolve_settings(model, overrides, profile)
    if resolved is None:
        return None
    config, train = (to_dict(c) for c in resolved)
    return json.dumps([model, profile, _measured(config, train), _measured(train, train)], sort_keys=True, default=str)


def resolve_settings(model: str, overrides: tuple[str, ...], profile: str | None) -> tuple[Any, Any] | None:
    """(model config, train config) that ``model`` with these overrides and profile runs with
    today; None when the model is not registered here or the settings no longer parse."""
    from recbench.registry import get_model
    from recbench.runner import resolve_configs

    try:
        return resolve_configs(get_model(model), tuple(overrides), profile)
    except RecbenchError:
        return None


def _measured(settings: Mapping[str, Any], train: Mapping[str, Any]) -> dict[str, Any]:
    """The settings that decide what a run measures: no resource settings, and no training-only
    ones when the run trains on no rows (``n_train=0``, zero-shot)."""
    untrained = "n_train" in train and int(train["n_train"] or 0) == 0
    return {k: v for k, v in settings.items() if k not in RESOURCE_KEYS and not (untrained and k in TRAINING_ONLY)}


def _show(value: Any) -> str:
    return ",".join(map(str, value)) if isinstance(value, list) else str(value)
