"""A resumable LM training state on disk, and the key that says which run it belongs to.

Why: language-model runs take hours on a CPU, so :func:`recbench.lm.trainer.train` saves its
state every few steps and a rerun of the same run resumes from it, ending with the same weights
as an uninterrupted run. The format never unpickles anything (see :class:`Checkpoint`).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from rich.console import Console

if TYPE_CHECKING:
    from recbench.lm.trainer import LMTrainConfig


def run_key(config: LMTrainConfig, seed: int, rows: np.ndarray) -> str:
    """What must match for a checkpoint to belong to this training run."""
    payload = json.dumps({"config": asdict(config), "seed": seed}, sort_keys=True).encode() + np.asarray(rows, dtype=np.int64).tobytes()
    return hashlib.sha256(payload).hexdigest()[:16]


class Checkpoint:
    """One resumable training state in ``directory``: tensors in safetensors, the rest in JSON.

    Why not ``torch.save``: the folder sits in a run store that other people and other runs
    write to, and unpickling a planted file runs its code. Nothing here is ever unpickled:
    ``weights.safetensors`` holds the trainable weights, the best epoch's weights and the torch
    RNG state, ``optimizer.safetensors`` the optimizer's per-parameter state; ``state.json``
    holds the run key, the position, the scheduler and optimizer hyper-parameters, the finished
    epochs' summaries and the running loss of the current epoch (so a resumed epoch reports its
    whole loss). Two tensor files rather than one keep a TALLRec or ReLLa state (about 3.5 MiB
    each) under the 5 MiB a file may have in git, so ``recbench checkpoints --keep`` can carry
    it to the next machine. All are written to temporary names and renamed, JSON last, so a
    reader never pairs mismatched files; a state written before the split (one
    ``tensors.safetensors``, named in its JSON by the absence of ``files``) still loads. A
    checkpoint that does not load is reported in one line naming the file and training starts
    fresh; one with another run's key is ignored.
    """

    #: tensor file -> the name prefixes it holds
    LAYOUT = {"weights.safetensors": ("trainable/", "best/", "rng/"), "optimizer.safetensors": ("optimizer/",)}
    LEGACY = "tensors.safetensors"

    def __init__(self, directory: Path, key: str) -> None:
        self.directory = Path(directory)
        self.key = key
        self.path = self.directory / "state.json"

    def save(self, step: int, params: dict[str, torch.nn.Parameter], optimizer: Any, scheduler: Any, epochs: list,
             best_state: Any, best_auc: float, running: list[float] | None = None) -> None:  # fmt: skip
        from safetensors.torch import save_file

        self.directory.mkdir(parents=True, exist_ok=True)
        tensors = {f"trainable/{n}": p.detach().cpu().contiguous() for n, p in params.items()}
        for name, value in (best_state or {}).items():
            tensors[f"best/{name}"] = value.detach().cpu().contiguous()
        optim = optimizer.state_dict()
        for index, state in optim["state"].items():
            for field_name, value in state.items():
                value = value if isinstance(value, torch.Tensor) else torch.tensor(value)
                tensors[f"optimizer/{index}/{field_name}"] = value.detach().cpu().contiguous()
        tensors["rng/torch"] = torch.get_rng_state()
        meta = {
            "format": 2, "key": self.key, "step": step, "epochs": epochs, "best_auc": _finite_or_none(best_auc),
            "has_best": best_state is not None, "scheduler": scheduler.state_dict(),
            "param_groups": optim["param_groups"], "running": list(running or []), "files": list(self.LAYOUT),
        }  # fmt: skip
        written = []
        for name, prefixes in self.LAYOUT.items():
            part = {n: t for n, t in tensors.items() if n.startswith(prefixes)}
            temp = (self.directory / name).with_suffix(".tmp")
            save_file(part, str(temp), metadata={"key": self.key, "step": str(step)})
            written.append((temp, self.directory / name))
        temp_json = self.path.with_suffix(".tmp")
        temp_json.write_text(json.dumps(meta, default=_jsonable))
        for temp, final in written:
            os.replace(temp, final)
        os.replace(temp_json, self.path)
        (self.directory / self.LEGACY).unlink(missing_ok=True)

    def load(self, console: Console | None = None) -> dict[str, Any] | None:
        """The saved state of this run, or None (no checkpoint, another run's, or unreadable)."""
        if not self.path.is_file():
            return None
        try:
            from safetensors.torch import load_file

            meta = json.loads(self.path.read_text(encoding="utf-8"))
            if not isinstance(meta, dict) or meta.get("key") != self.key:
                return None
            from safetensors import safe_open

            tensors: dict[str, torch.Tensor] = {}
            for name in meta.get("files", [self.LEGACY]):
                path = self.directory / Path(str(name)).name  # a bare file name: never a path out of the folder
                with safe_open(str(path), framework="pt") as handle:
                    written = handle.metadata() or {}
                if written.get("key") != self.key or written.get("step") != str(meta["step"]):
                    raise ValueError(f"{path.name} belongs to step {written.get('step')}, state.json to step {meta['step']}")
                tensors.update(load_file(str(path)))
            state: dict[int, dict[str, torch.Tensor]] = {}
            for name, value in tensors.items():
                if name.startswith("optimizer/"):
                    _, index, field_name = name.split("/", 2)
                    state.setdefault(int(index), {})[field_name] = value
            return {
                "step": int(meta["step"]),
                "epochs": list(meta["epochs"]),
                "best_auc": -np.inf if meta["best_auc"] is None else float(meta["best_auc"]),
                "best_state": {n[5:]: v for n, v in tensors.items() if n.startswith("best/")} if meta["has_best"] else None,
                "trainable": {n[10:]: v for n, v in tensors.items() if n.startswith("trainable/")},
                "optimizer": {"state": state, "param_groups": meta["param_groups"]},
                "scheduler": meta["scheduler"],
                "rng": tensors.get("rng/torch"),
                "running": [float(x) for x in meta.get("running", [])],
            }
        except Exception as exc:  # noqa: BLE001 - any damage means "start fresh", said in one line
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            (console or Console(stderr=True)).print(
                f"  warning: checkpoint {self.path} does not load ({reason}); training starts fresh", highlight=False
            )
            return None

    def clear(self) -> None:
        for name in (self.path.name, self.LEGACY, *self.LAYOUT):
            for path in (self.directory / name, (self.directory / name).with_suffix(".tmp")):
                path.unlink(missing_ok=True)
        with contextlib.suppress(OSError):
            self.directory.rmdir()


def _finite_or_none(value: float) -> float | None:
    return float(value) if np.isfinite(value) else None


def _jsonable(value: Any) -> Any:
    if isinstance(value, (np.integer, np.floating)):
        return value.item()
    if isinstance(value, torch.Tensor):
        return value.item()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")
