"""The one training loop for ID models: AdamW, early stopping on validation AUC, best
checkpoint restored, seeded and deterministic on CPU.

Example:
    >>> from recbench.datasets import load_dataset
    >>> from recbench.protocol import prepare
    >>> from recbench.registry import get_model
    >>> from recbench.ctr import FeatureSchema
    >>> data = prepare(load_dataset("synth"))
    >>> entry = get_model("din")
    >>> model = entry.cls(entry.cls.Config(), FeatureSchema.from_data(data))
    >>> result = train_id_model(model, data, TrainConfig(max_epochs=1), seed=0)  # doctest: +SKIP
"""

from __future__ import annotations

import copy
import random
import time
from dataclasses import dataclass, field
from typing import ClassVar, Literal

import numpy as np
import torch
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from recbench.batches import gather_batch
from recbench.bf16 import bf16_matmuls
from recbench.ctr import CTRModel
from recbench.devices import pick_device
from recbench.errors import RecbenchError
from recbench.metrics import evaluate
from recbench.protocol import ProtocolData


@dataclass
class TrainConfig:
    """Optimisation settings shared by every ID model (paper Appendix B.1)."""

    GRID: ClassVar[dict[str, tuple]] = {"lr": (1e-3, 5e-4, 1e-4), "batch_size": (64, 128, 256, 512, 1024)}

    lr: float = 1e-3
    weight_decay: float = 0.0
    batch_size: int = 1024
    max_epochs: int = 5
    patience: int = 1  # epochs without a better validation AUC before stopping
    eval_batch_size: int = 1024  # scoring batch: larger ones only add memory traffic (DIN scores 3x faster at 1024 than 8192)
    max_train_rows: int = 0  # >0: train on a seeded uniform subset of this many rows (smoke runs)
    device: str = "auto"  # auto | cpu | cuda
    threads: int = 0  # CPU threads for torch; 0 keeps torch's default (small models often run best on 1)
    #: bfloat16: forward passes under bf16 autocast (weights, optimizer and loss stay fp32); about
    #: 1.7x on attention-MLP models on CPUs with bf16 units, with bf16-rounded activations
    autocast: Literal["off", "bfloat16"] = "off"


@dataclass
class TrainResult:
    best_epoch: int
    epochs: list[dict[str, float]] = field(default_factory=list)
    train_seconds: float = 0.0
    train_samples: int = 0

    @property
    def samples_per_second(self) -> float:
        return self.train_samples / self.train_seconds if self.train_seconds else 0.0


def seed_everything(seed: int) -> None:
    """Seed every generator a run touches and ask torch for deterministic kernels."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True, warn_only=torch.cuda.is_available())
    # Deterministic mode also fills every fresh tensor with NaN (a debugging aid against reading
    # uninitialised memory); it was the top operator of an ID training step (13% of CPU time).
    # Kernels stay deterministic without it: every value we read is written first.
    torch.utils.deterministic.fill_uninitialized_memory = False


def batches(data: ProtocolData, model: CTRModel, rows: np.ndarray, batch_size: int, device: torch.device):
    """Yield device batches for ``rows`` in the given order, histories chosen by the model."""
    for start in range(0, len(rows), batch_size):
        chunk = rows[start : start + batch_size]
        yield gather_batch(data, chunk, *model.history(data, chunk)).to(device)


def fused_adamw(device: torch.device) -> bool:
    """Whether torch has a fused AdamW kernel for ``device`` (CPU and CUDA in torch >= 2.4)."""
    return device.type in ("cpu", "cuda")


def autocast(device: torch.device, mode: str) -> torch.autocast:
    """bf16 autocast on ``device`` when ``mode`` is "bfloat16", else a no-op context."""
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=mode == "bfloat16")


@torch.no_grad()
def predict(
    model: CTRModel, data: ProtocolData, rows: np.ndarray, batch_size: int = 1024, device: torch.device | None = None,
    mode: str = "off",
) -> np.ndarray:
    """Probabilities of a positive label for ``rows``, in that order."""
    device = device or next(model.parameters()).device
    model.eval()
    out = []
    for batch in batches(data, model, rows, batch_size, device):
        with autocast(device, mode), bf16_matmuls(device, mode):
            out.append(torch.sigmoid(model(batch).logit.float()).cpu())
    return torch.cat(out).numpy() if out else np.zeros(0, dtype=np.float32)


def train_id_model(
    model: CTRModel,
    data: ProtocolData,
    config: TrainConfig,
    seed: int,
    console: Console | None = None,
) -> TrainResult:
    """Train ``model`` on the train split; keep the epoch with the best validation AUC."""
    console = console or Console(stderr=True)
    device = pick_device(config.device)
    if config.threads < 0:
        raise RecbenchError(f"--set threads={config.threads}: expected 0 (torch's default) or a positive count")
    if config.threads:
        torch.set_num_threads(config.threads)
    model.to(device)
    rng = np.random.default_rng(seed)
    train_rows = data.split_rows("train")
    if config.max_train_rows and config.max_train_rows < len(train_rows):
        train_rows = np.sort(rng.choice(train_rows, size=config.max_train_rows, replace=False))
    valid_rows = data.split_rows("valid")
    valid_labels = data.labels(valid_rows)
    # fused: one kernel per step for all parameters instead of ~10 passes each (AdamW was ~20% of a
    # DeepFM step on CPU); same update rule, deterministic
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay, fused=fused_adamw(device))
    loss_fn = torch.nn.BCEWithLogitsLoss()

    result = TrainResult(best_epoch=-1)
    best_auc, best_state, stale = -np.inf, None, 0
    n_steps = -(-len(train_rows) // config.batch_size)
    progress = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("loss {task.fields[loss]:.4f}"),
        TimeRemainingColumn(),
        console=console,
        transient=True,
        disable=not console.is_terminal,
    )
    with progress:
        for epoch in range(config.max_epochs):
            model.train()
            task = progress.add_task(f"{model.name} epoch {epoch + 1}", total=n_steps, loss=0.0)
            order = train_rows[rng.permutation(len(train_rows))]
            started, running = time.perf_counter(), 0.0
            for step, batch in enumerate(batches(data, model, order, config.batch_size, device)):
                with bf16_matmuls(device, config.autocast):  # forward and backward (recbench.bf16)
                    with autocast(device, config.autocast):
                        logit = model(batch).logit.float()
                    loss = loss_fn(logit, batch.label)
                    optimizer.zero_grad(set_to_none=True)
                    loss.backward()
                optimizer.step()
                running = loss.item() if step == 0 else 0.98 * running + 0.02 * loss.item()
                progress.update(task, advance=1, loss=running)
            result.train_seconds += time.perf_counter() - started
            result.train_samples += len(order)
            progress.remove_task(task)
            valid = evaluate(valid_labels, predict(model, data, valid_rows, config.eval_batch_size, device, config.autocast))
            result.epochs.append({"epoch": epoch + 1, "train_loss": running, "valid_auc": valid["auc"], "valid_logloss": valid["logloss"]})
            console.print(f"  epoch {epoch + 1}: train loss {running:.4f}  valid AUC {valid['auc']:.4f}  LogLoss {valid['logloss']:.4f}")
            if valid["auc"] > best_auc:
                best_auc, best_state, stale = valid["auc"], copy.deepcopy(model.state_dict()), 0
                result.best_epoch = epoch + 1
            else:
                stale += 1
                if stale >= config.patience:
                    break
    if best_state is not None:
        model.load_state_dict(best_state)
    return result
