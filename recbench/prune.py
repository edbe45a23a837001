"""Superseded runs: finding the recorded runs no table can show any more, and removing them.

Why: the reference store is committed, and every run adds its predictions (about 0.5 MB for an
ID model scored on all of ml-1m-u2999's test split) and, for a CRM, its weights (2.3 MB). When a
run is re-made with the same settings (after a fix, or to check determinism), tables, figures,
claims and plans all read the newest one (:func:`recbench.compare.latest_per_seed`,
:func:`recbench.plans.check_plan`), and the older copy only weighs on every clone. Git history
keeps it, so removing it from the working tree loses nothing.

A run is *superseded* when a newer finished run in the same store has the same identity
(:func:`recbench.plans.record_identity`: model, dataset variant, seed, profile, study and the
settings that change the result) on the same data (:attr:`RunRecord.data_key`: raw digest and
protocol version) with the same resolved settings (its ``config`` and ``train_config``: a run
made under a profile's earlier values is shown apart, as "earlier settings", and stays). A run that another
run still reads is never superseded: a kept run's prerequisite (its ``crm`` run id) or a run in
flight's pinned prerequisite (``prerequisites.json`` in ``checkpoints/`` or ``inflight/``), so a
committed RecLoRA result can always be re-checked from a clone.

Example:
    >>> from pathlib import Path
    >>> superseded_runs(RunStore(Path("/nonexistent")))
    []
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

from recbench.inflight import KEPT, list_checkpoints
from recbench.plans import record_identity
from recbench.run_record import RunRecord
from recbench.runstore import RunStore


@dataclass(frozen=True)
class Superseded:
    """A recorded run that a newer run with the same identity and data replaces everywhere."""

    run_id: str
    by: str  #: the newer run the tables read instead
    folder: Path
    bytes: int

    def describe(self) -> str:
        return f"{self.run_id}: superseded by {self.by} ({self.bytes / 2**20:.2f} MiB)"


def superseded_runs(store: RunStore, read_elsewhere: frozenset[str] = frozenset()) -> list[Superseded]:
    """The runs of ``store`` (one root) that a newer run supersedes and nothing reads, oldest first.

    ``read_elsewhere``: run ids that runs of other stores read (a user's store beside the
    reference one reads the reference CRMs); those stay too."""
    records = [r for r in store.records() if r.is_result]
    newest: dict[tuple, RunRecord] = {}
    for record in records:  # oldest first: the last one seen per identity is the newest
        newest[_identity(record)] = record
    candidates = {r.run_id for r in records if newest[_identity(r)].run_id != r.run_id}
    read = _pinned_run_ids(store.root) | read_elsewhere
    while True:  # a superseded run's own prerequisite is free only if nothing else kept reads it
        kept_reads = {run_id for r in records if r.run_id not in candidates for run_id in _prerequisite_ids(r)}
        protected = (read | kept_reads) & candidates
        if not protected:
            break
        candidates -= protected
    return [Superseded(r.run_id, newest[_identity(r)].run_id, store.root / r.run_id, _folder_bytes(store.root / r.run_id))
            for r in records if r.run_id in candidates]  # fmt: skip


def remove_runs(runs: list[Superseded]) -> None:
    """Delete the runs' folders."""
    for run in runs:
        if run.folder.is_dir():
            shutil.rmtree(run.folder)


def runs_read_by(root: Path) -> frozenset[str]:
    """Every run id that the runs and the runs in flight of the store at ``root`` read."""
    ids = {run_id for record in RunStore(root).records() for run_id in _prerequisite_ids(record)}
    return frozenset(ids | _pinned_run_ids(root))


def prune_store(root: Path, apply: bool, read_elsewhere: frozenset[str] = frozenset()) -> list[str]:
    """What ``recbench prune`` says about the store at ``root``: one line per superseded run and a
    summary; with ``apply`` the runs are deleted first."""
    runs = superseded_runs(RunStore(root), read_elsewhere)
    lines = [run.describe() for run in runs]
    total = sum(run.bytes for run in runs) / 2**20
    if not runs:
        lines.append(f"{root}: no superseded run")
    elif apply:
        remove_runs(runs)
        lines.append(f"{root}: removed {len(runs)} superseded run(s), {total:.2f} MiB; tables, figures and plans "
                     "read the newer runs; in git, commit the deletion (history keeps them)")  # fmt: skip
    else:
        lines.append(f"{root}: {len(runs)} superseded run(s), {total:.2f} MiB; --apply deletes them")
    return lines


def _identity(record: RunRecord) -> tuple:
    """Same run, same data, and the same settings as resolved when it ran: a run made under a
    profile's earlier values (shown apart as "earlier settings") is never superseded by a newer one."""
    resolved = json.dumps([record.config, record.train_config], sort_keys=True, default=str)
    return (*record_identity(record), record.data_key, resolved)


def _prerequisite_ids(record: RunRecord) -> set[str]:
    """Run ids a record read as prerequisites (today: RecLoRA's ``crm``)."""
    crm = record.crm or {}
    return {str(crm["run_id"])} if crm.get("run_id") else set()


def _pinned_run_ids(root: Path) -> set[str]:
    """Run ids pinned by the training states in flight (local checkpoints and kept copies)."""
    states = [*list_checkpoints(root), *list_checkpoints(root, KEPT)]
    return {run_id for state in states for run_id in state.pinned.values()}


def _folder_bytes(folder: Path) -> int:
    if not folder.is_dir():
        return 0
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
