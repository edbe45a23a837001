"""Runs in flight: their saved training state, and carrying it to the next machine through git.

Why: a language-model programme runs for days on machines that come and go (a session ends, a
lease runs out), and a run's training state (``<store>/checkpoints/<run>/``,
:mod:`recbench.lm.checkpoint`) is what lets it resume. That folder is rewritten every few steps
and stays out of git. ``recbench checkpoints`` lists each state with its progress and size;
``recbench checkpoints --keep`` copies every state small enough for git (TALLRec and ReLLa:
about 7 MiB in two files of about 3.5 MiB; no file over 5 MiB, no state over 16 MiB) into ``<store>/inflight/<run>/``, which is committed with the reference store. On
the next machine the run finds no state of its own, takes the kept copy
(:func:`restore_kept`, called by the runner) and resumes; when the run is recorded the kept
copy is deleted (:func:`forget_kept`), and that deletion is committed with the run. RecLoRA's
state (about 128 MiB) and CTR-BERT's are too large: those are started with ``--budget`` so they
finish where they started.

Example:
    >>> from pathlib import Path
    >>> list_checkpoints(Path("/nonexistent"))
    []
"""

from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

#: the largest training state kept in git with the reference store (tests/test_reference_store.py)
KEEPABLE_BYTES = 16 * 2**20
#: the largest single file git takes in the reference store (tests/test_reference_store.py)
FILE_BYTES = 5 * 2**20
#: the files of a state folder: what :class:`recbench.lm.checkpoint.Checkpoint` writes (and wrote
#: before it split its tensors in two), and the pins
STATE_FILES = ("state.json", "weights.safetensors", "optimizer.safetensors", "tensors.safetensors", "prerequisites.json")
KEPT = "inflight"


@dataclass(frozen=True)
class InFlight:
    """One saved training state: where, how far (optimizer step, finished epochs), how large, how old."""

    folder: Path
    step: int | None
    epochs: list[dict]
    size_bytes: int
    written: float
    pinned: dict[str, str]
    #: the size of its largest file
    largest_file_bytes: int = 0

    @property
    def keepable(self) -> bool:
        return self.size_bytes <= KEEPABLE_BYTES and self.largest_file_bytes <= FILE_BYTES

    def describe(self, now: float | None = None) -> str:
        now = time.time() if now is None else now
        step = "no state yet" if self.step is None else f"step {self.step}"
        aucs = ", ".join(f"{e['valid_auc']:.3f}" for e in self.epochs if isinstance(e.get("valid_auc"), (int, float)))
        done = f", {len(self.epochs)} epoch(s) done" + (f" (valid AUC {aucs})" if aucs else "") if self.epochs else ""
        pins = ", pinned " + ", ".join(f"{k} {v}" for k, v in sorted(self.pinned.items())) if self.pinned else ""
        age = max(0.0, now - self.written)
        ago = f"{age / 3600:.1f} h" if age >= 3600 else f"{age / 60:.0f} min"
        keep = "small enough to keep in git (--keep)" if self.keepable else "too large for git: finish it on this machine"
        return f"{self.folder.name}: {step}{done}{pins}; {self.size_bytes / 2**20:.1f} MiB, written {ago} ago; {keep}"


def list_checkpoints(root: Path, where: str = "checkpoints") -> list[InFlight]:
    """Every training state under ``root/<where>`` (a folder holding only pins counts: a run that
    resolved its prerequisites and had not reached its first save)."""
    folder = Path(root) / where
    if not folder.is_dir():
        return []
    out = []
    for run in sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")):
        files = [run / name for name in STATE_FILES if (run / name).is_file()]
        if not files:
            continue
        state = _read_json(run / "state.json")
        pinned = _read_json(run / "prerequisites.json")
        step = state.get("step") if isinstance(state.get("step"), int) else None
        epochs = [e for e in state.get("epochs", []) if isinstance(e, dict)] if isinstance(state.get("epochs"), list) else []
        sizes = [p.stat().st_size for p in files]
        out.append(InFlight(run, step, epochs, sum(sizes), max(p.stat().st_mtime for p in files),
                            {str(k): str(v) for k, v in pinned.items()}, max(sizes)))  # fmt: skip
    return out


def keep_states(root: Path) -> list[InFlight]:
    """Copy every state of at most :data:`KEEPABLE_BYTES` into ``root/inflight/`` (replacing an older
    copy of the same run); returns the states kept. Stop the run first: a state is two files
    renamed one after the other, and a copy taken between the renames does not load (it would
    be reported and the run would start over, never resume wrongly)."""
    kept = []
    for state in list_checkpoints(root):
        if not state.keepable or state.step is None:
            continue
        target = Path(root) / KEPT / state.folder.name
        staging = target.parent / f".{target.name}.tmp"
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        for name in STATE_FILES:
            if (state.folder / name).is_file():
                shutil.copy2(state.folder / name, staging / name)
        shutil.rmtree(target, ignore_errors=True)
        os.replace(staging, target)
        kept.append(state)
    return kept


def restore_kept(checkpoint_dir: Path, root: Path) -> bool:
    """Give a run with no state of its own the copy kept in git, if there is one; returns whether it did."""
    kept = Path(root) / KEPT / Path(checkpoint_dir).name
    if (Path(checkpoint_dir) / "state.json").is_file() or not (kept / "state.json").is_file():
        return False
    Path(checkpoint_dir).mkdir(parents=True, exist_ok=True)
    for name in STATE_FILES:  # the JSON last, as the checkpoint itself writes: a reader never pairs mismatched files
        if (kept / name).is_file() and name != "state.json":
            shutil.copy2(kept / name, Path(checkpoint_dir) / name)
    shutil.copy2(kept / "state.json", Path(checkpoint_dir) / "state.json")
    return True


def forget_kept(checkpoint_dir: Path, root: Path) -> None:
    """The run is recorded: its kept copy is deleted (commit the deletion with the run)."""
    shutil.rmtree(Path(root) / KEPT / Path(checkpoint_dir).name, ignore_errors=True)


def _read_json(path: Path) -> dict:
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}
