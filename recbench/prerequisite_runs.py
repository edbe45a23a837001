"""Resolving a model's prerequisites (:mod:`recbench.prerequisites`): reuse a recorded run or train one.

Why here, in the run layer: only the harness reads the store(s) and starts runs. A model says
which run it needs; this module finds it (or has the runner train and record it, on the same
data and seed, so it also appears on the leaderboard as a baseline of its own) and reloads it
from its record and ``model.safetensors``, frozen and in eval mode.

Which recorded run serves is fixed so that a recorded result can be reproduced from the same
store: same dataset digest and protocol version, weights stored, ``matches`` on its settings;
among those the newest run with the same seed, else the newest of any seed.

Example (what the runner does before constructing a model)::

    needs = declared_prerequisites(entry.cls, model_config)
    loaded = resolve_prerequisites(needs, data, seed, store, console, train=train_and_record)
    model = entry.cls(model_config, data, train_config, ..., prerequisites=loaded)
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

from rich.console import Console
from safetensors.torch import load_file

from recbench.ctr import FeatureSchema
from recbench.errors import RecbenchError
from recbench.prerequisites import LoadedRun, Prerequisite
from recbench.protocol import PROTOCOL_VERSION, ProtocolData
from recbench.registry import get_model
from recbench.run_record import RunRecord
from recbench.runstore import RunStore

#: trains and records a run of ``model`` with ``overrides`` on the same data and seed
Trainer = Callable[[str, tuple[str, ...]], RunRecord]


def _has_weights(store: RunStore, run_id: str) -> bool:
    try:
        store.artefact(run_id, "model.safetensors")  # any of several stores (StoreSet)
    except RecbenchError:
        return False
    return True


def _serves(store: RunStore, data: ProtocolData, need: Prerequisite, record: RunRecord) -> bool:
    """Whether recorded ``record`` can serve ``need`` on ``data``: same data and protocol, matching settings, weights kept."""
    return (
        record.digest == data.fingerprint.digest
        and record.protocol_version == PROTOCOL_VERSION
        and need.matches(record.config or {})
        and _has_weights(store, record.run_id)
    )


def find_recorded(store: RunStore, data: ProtocolData, need: Prerequisite, seed: int) -> RunRecord | None:
    """The newest usable recorded run serving ``need`` (same seed first), or None."""
    candidates = [r for r in store.records(model=need.model, purpose="run") if _serves(store, data, need, r)]
    if not candidates:
        return None
    same_seed = [r for r in candidates if r.seed == seed]
    return (same_seed or candidates)[-1]


def _pinned_record(store: RunStore, data: ProtocolData, need: Prerequisite, run_id: str) -> RunRecord:
    """The pinned run ``run_id``, checked to still serve ``need``."""
    found = [r for r in store.records(model=need.model, purpose="run") if r.run_id == run_id]
    if not found or not _serves(store, data, need, found[0]):
        raise RecbenchError(
            f"this run started with {need.label} run {run_id} (its checkpoint's {PINNED_FILE} says so), which no longer "
            f"serves as a {need.description} here (missing, without weights, or other data, protocol or settings); restore it, or delete the checkpoint to start over"
        )
    return found[0]


def reload(store: RunStore, data: ProtocolData, need: Prerequisite, record: RunRecord) -> LoadedRun:
    """``record``'s model rebuilt from its settings and weights, frozen and in eval mode."""
    entry = get_model(need.model)
    fields = {k: tuple(v) if isinstance(v, list) else v for k, v in (record.config or {}).items()}
    try:
        model = entry.cls(entry.config_class(**fields), FeatureSchema.from_data(data))
        model.load_state_dict(load_file(str(store.artefact(record.run_id, "model.safetensors"))))
    except (TypeError, RuntimeError) as exc:
        detail = " ".join(str(exc).split())  # load_state_dict's report spans lines; the error stays one
        raise RecbenchError(f"{need.label} run {record.run_id} cannot be reloaded with the current {need.model} code: {detail}") from None
    model.eval()
    for parameter in model.parameters():
        parameter.requires_grad_(False)
    return LoadedRun(model=model, record=record)


#: in a run's checkpoint folder: which recorded run served each prerequisite when the run started
PINNED_FILE = "prerequisites.json"


def read_pinned(checkpoint_dir: Path) -> dict[str, str]:
    """The prerequisite run ids a checkpointed run started with ({} when there is none or it does not read).

    Why: the newest matching run serves a new run, so a run killed and resumed after a newer
    matching run was recorded would otherwise resume with another CRM than it trained with.
    """
    path = checkpoint_dir / PINNED_FILE
    try:
        values = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return {str(k): str(v) for k, v in values.items()} if isinstance(values, dict) else {}


def write_pinned(checkpoint_dir: Path, run_ids: dict[str, str]) -> None:
    """Remember ``run_ids`` for :func:`read_pinned` (JSON, written whole or not at all)."""
    checkpoint_dir.mkdir(parents=True, exist_ok=True)
    staging = checkpoint_dir / f".{PINNED_FILE}.tmp"
    staging.write_text(json.dumps(run_ids, sort_keys=True))
    os.replace(staging, checkpoint_dir / PINNED_FILE)


def clear_pinned(checkpoint_dir: Path) -> None:
    """Forget the pins of a finished run (and its checkpoint folder, once that is empty)."""
    (checkpoint_dir / PINNED_FILE).unlink(missing_ok=True)
    try:
        checkpoint_dir.rmdir()
    except OSError:
        pass  # not empty (the trainer's own files) or already gone


def resolve_prerequisites(
    needs: tuple[Prerequisite, ...], data: ProtocolData, seed: int, store: RunStore, console: Console,
    train: Trainer | None, threads: int = 0, pinned: dict[str, str] | None = None,
) -> dict[str, LoadedRun]:  # fmt: skip
    """Each of ``needs`` found in ``store`` (or trained through ``train`` and recorded), reloaded.

    With ``train=None`` (a script that must not start runs) a missing one is a one-line error
    naming the ``recbench run`` that records it.

    ``threads`` (the requesting run's ``--set threads``) is passed on to a run trained here: it
    runs in the same process, and a lane limited to one thread must stay limited.

    ``pinned`` (prerequisite name -> run id, from :func:`read_pinned`) names the run to use
    instead of the newest match, for a resumed run; a pinned run that no longer serves (gone,
    no weights, other data or settings) is an error, never a silent switch to another run.
    """
    loaded: dict[str, LoadedRun] = {}
    for need in needs:
        entry = get_model(need.model)
        if entry.family != "id":  # only an ID run's weights can be rebuilt by reload()
            raise RecbenchError(f"prerequisite {need.name!r} is a {entry.family} model ({need.model}); only ID models can be prerequisites")
        stage = f"  {need.stage or 'prerequisite ' + need.name}"
        if pinned and need.name in pinned:
            record = _pinned_record(store, data, need, pinned[need.name])
        else:
            record = find_recorded(store, data, need, seed)
        if record is None and train is None:
            sets = "".join(f" --set {o}" for o in need.overrides)
            raise RecbenchError(
                f"no recorded {need.description} to serve as the {need.label} in {', '.join(str(r) for r in store.roots)}; "
                f"record one first (recbench run --model {need.model}{sets})"
            )
        if record is None:
            console.print(f"{stage}: no recorded {need.description}; training one on the full training split")
            overrides = need.overrides
            if threads and not any(o.startswith("threads=") for o in overrides):
                overrides = (*overrides, f"threads={threads}")
            record = train(need.model, overrides)
        else:
            console.print(f"{stage}: reusing recorded {need.label} run {record.run_id}")
        loaded[need.name] = reload(store, data, need, record)
    return loaded
