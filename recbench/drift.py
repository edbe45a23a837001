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
    >>> settings_drift({"model": "pop", "overrides": [], "config": {"smoothing": 5.0}, "train_config": {}})
    ()
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
    from recbench.registry import get_model
    from recbench.runner import resolve_configs

    try:
        entry = get_model(str(record.get("model")))
        model_config, train_config = resolve_configs(entry, tuple(record.get("overrides") or ()), record.get("profile"))
    except RecbenchError:
        return ()
    trained = int((record.get("train_config") or {}).get("n_train", 1) or 0) != 0 or entry.family != "lm"
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


def _show(value: Any) -> str:
    return ",".join(map(str, value)) if isinstance(value, list) else str(value)
