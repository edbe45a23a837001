"""What runs are in flight in a store: their saved training state, and whether it can travel in git.

Why: a language-model programme runs for days on machines that come and go. A run's checkpoint
(``<store>/checkpoints/<run folder>/``, :mod:`recbench.lm.checkpoint`) is what lets it resume;
``recbench checkpoints`` lists each one with its progress and size, so a person (or a script at
the end of a session) can see how far each lane got and which states are small enough to commit
with the reference store so that the next machine resumes them (``git add -f``; TALLRec and ReLLa
states are about 6 MB, RecLoRA's about 100 MB and CTR-BERT's larger: those are finished within
one sitting instead, see ``--budget``).

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

#: the largest training state kept in git with the reference store (tests/test_reference_store.py)
KEEPABLE_BYTES = 16 * 2**20


@dataclass(frozen=True)
class InFlight:
    """One saved training state: where, how far (optimizer step, finished epochs), how large, how old."""

    folder: Path
    step: int | None
    epochs: list[dict]
    size_bytes: int
    written: float
    pinned: dict[str, str]

    @property
    def keepable(self) -> bool:
        return self.size_bytes <= KEEPABLE_BYTES

    def describe(self, now: float | None = None) -> str:
        now = time.time() if now is None else now
        step = "no state yet" if self.step is None else f"step {self.step}"
        aucs = ", ".join(f"{e['valid_auc']:.3f}" for e in self.epochs if isinstance(e.get("valid_auc"), (int, float)))
        done = f", {len(self.epochs)} epoch(s) done" + (f" (valid AUC {aucs})" if aucs else "") if self.epochs else ""
        pins = ", pinned " + ", ".join(f"{k} {v}" for k, v in sorted(self.pinned.items())) if self.pinned else ""
        age = max(0.0, now - self.written)
        ago = f"{age / 3600:.1f} h" if age >= 3600 else f"{age / 60:.0f} min"
        keep = "small enough to commit" if self.keepable else "too large to commit: finish it on this machine"
        return f"{self.folder.name}: {step}{done}{pins}; {self.size_bytes / 2**20:.1f} MiB, written {ago} ago; {keep}"


def list_checkpoints(root: Path) -> list[InFlight]:
    """Every training state under ``root/checkpoints`` (a folder holding only pins counts: a run that
    resolved its prerequisites and had not reached its first save)."""
    folder = Path(root) / "checkpoints"
    if not folder.is_dir():
        return []
    out = []
    for run in sorted(p for p in folder.iterdir() if p.is_dir()):
        files = [p for p in run.iterdir() if p.is_file()]
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
