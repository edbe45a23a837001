"""Runs in flight: their saved training state, how far each got and how large it is.

Why: a language-model programme runs for days, two lanes at a time, and a run's training state
(``<store>/checkpoints/<run>/``, :mod:`recbench.lm.checkpoint`) is what lets a killed run
resume. ``recbench checkpoints`` lists each state with its step, finished epochs and their
validation AUC, pinned prerequisites, size and age, so a person can see how far each lane got
without reading its log. A state does not travel to another machine: the repository takes no
file over 5 MB and a TALLRec or ReLLa state is 5.3-7 MiB (RecLoRA's about 128 MiB), so a run is
started with ``--budget`` to finish where it started.

Example:
    >>> from pathlib import Path
    >>> list_checkpoints(Path("/nonexistent"))
    []
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

#: the files of a state folder: what :class:`recbench.lm.checkpoint.Checkpoint` writes, and the pins
STATE_FILES = ("state.json", "tensors.safetensors", "prerequisites.json")


@dataclass(frozen=True)
class InFlight:
    """One saved training state: where, how far (optimizer step, finished epochs), how large, how old."""

    folder: Path
    step: int | None
    epochs: list[dict]
    size_bytes: int
    written: float
    pinned: dict[str, str]

    def describe(self, now: float | None = None) -> str:
        now = time.time() if now is None else now
        step = "no state yet" if self.step is None else f"step {self.step}"
        aucs = ", ".join(f"{e['valid_auc']:.3f}" for e in self.epochs if isinstance(e.get("valid_auc"), (int, float)))
        done = f", {len(self.epochs)} epoch(s) done" + (f" (valid AUC {aucs})" if aucs else "") if self.epochs else ""
        pins = ", pinned " + ", ".join(f"{k} {v}" for k, v in sorted(self.pinned.items())) if self.pinned else ""
        age = max(0.0, now - self.written)
        ago = f"{age / 3600:.1f} h" if age >= 3600 else f"{age / 60:.0f} min"
        return f"{self.folder.name}: {step}{done}{pins}; {self.size_bytes / 2**20:.1f} MiB, written {ago} ago"


def list_checkpoints(root: Path) -> list[InFlight]:
    """Every training state under ``root/checkpoints`` (a folder holding only pins counts: a run that
    resolved its prerequisites and had not reached its first save)."""
    folder = Path(root) / "checkpoints"
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
        out.append(InFlight(run, step, epochs, sum(p.stat().st_size for p in files), max(p.stat().st_mtime for p in files),
                            {str(k): str(v) for k, v in pinned.items()}))  # fmt: skip
    return out


def _read_json(path: Path) -> dict:
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}
