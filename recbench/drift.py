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
    >>> from recbench.drift import settings_drift
    >>> settings_drift({"model": "pop", "overrides": [], "config": {"smoothing": 10.0}, "train_config": {}})
    ()
    >>> settings_drift({"model": "pop", "overrides": [], "config": {"smoothing": 5.0}, "train_config": {}})
    ('smoothing=5.0 (now 10.0)',)
"""

from __future__ import annotations

import json
from typing import Any

from recbench.config import to_dict
from recbench.errors import RecbenchError
from recbench.records import RESOURCE_KEYS

#: settings that change how a run is executed, not what it measures
IGNORED = RESOURCE_KEYS | {"checkpoint_every", "micro_batch_size", "bucket"}
#: settings only a run that trains reads
TRAINING_ONLY = frozenset({"lr", "epochs", "batch_size", "warmup_ratio", "weight_decay", "lora_targets", "max_epochs",
                           "patience"})  # fmt: skip


def _normal(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


def settings_drift(record: dict[str, Any]) -> tuple[str, ...]:
    """``key=recorded (now current)`` for each measured setting that now resolves differently.

    Empty when the run's model is not registered here (nothing to compare with) or when its
    settings still hold.
    """
    resolved = _resolve(str(record.get("model")), tuple(record.get("overrides") or ()), record.get("profile"))
    return () if resolved is None else settings_difference(record, *resolved)


def settings_difference(record: dict[str, Any], model_config: Any, train_config: Any) -> tuple[str, ...]:
    """How the run's recorded settings differ from these configs (keys both know; measured ones only)."""
    from recbench.registry import get_model

    try:
        family = get_model(str(record.get("model"))).family
    except RecbenchError:
        family = "id"
    trained = family != "lm" or int((record.get("train_config") or {}).get("n_train", 1) or 0) != 0
    out = []
    for section, current in (("config", to_dict(model_config)), ("train_config", to_dict(train_config))):
        recorded = record.get(section) or {}
        for key in sorted(set(recorded) & set(current)):
            if key in IGNORED or (not trained and key in TRAINING_ONLY):
                continue
            then, now = _normal(recorded[key]), _normal(current[key])
            if then != now:
                out.append(f"{key}={_show(then)} (now {_show(now)})")
    return tuple(out)


def settings_signature(model: str, overrides: tuple[str, ...], profile: str | None) -> str | None:
    """One string per distinct measured set-up of ``model`` (None when it cannot be resolved).

    Two requests with equal signatures make the same run, e.g. Figure 4's N_m = 16 point and
    the default RecLoRA run: a plan makes it once.
    """
    resolved = _resolve(model, overrides, profile)
    if resolved is None:
        return None
    model_config, train_config = resolved
    train = {k: v for k, v in to_dict(train_config).items() if k not in IGNORED}
    if model_config is not None and int(train.get("n_train", 1) or 0) == 0 and "n_train" in train:
        train = {k: v for k, v in train.items() if k not in TRAINING_ONLY}
    config = {k: v for k, v in to_dict(model_config).items() if k not in IGNORED}
    return json.dumps([model, profile, config, train], sort_keys=True, default=str)


def _resolve(model: str, overrides: tuple[str, ...], profile: str | None) -> tuple[Any, Any] | None:
    from recbench.registry import get_model
    from recbench.runner import resolve_configs

    try:
        return resolve_configs(get_model(model), overrides, profile)
    except RecbenchError:
        return None


def _show(value: Any) -> str:
    return ",".join(map(str, value)) if isinstance(value, list) else str(value)
