"""Few2Many, stage 1: the conventional recommender (CRM) whose representation personalizes the LoRA.

The CRM is an ordinary recorded run of the ID zoo, trained with BCE on the FULL training split
(the "many"): SIM over the ``crm_history_length`` behaviours retrieved from the user's whole
history by the shared retriever (the long retriever), or DIN over the most recent ones when
the long retriever is ablated. A matching run in the store is reused (same dataset digest,
model, history length, item vectors; the same seed preferred); otherwise one is trained and
recorded now, so it also appears on the leaderboard as an ID baseline.

Stage 2 keeps it frozen: R_c is its penultimate MLP output for each sample (target-aware).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
import torch
from rich.console import Console
from safetensors.torch import load_file

from recbench.batches import gather_batch
from recbench.ctr import CTRModel, FeatureSchema
from recbench.errors import RecbenchError
from recbench.protocol import PROTOCOL_VERSION, ProtocolData
from recbench.registry import get_model
from recbench.run_record import RunRecord
from recbench.runstore import RunStore


@dataclass(frozen=True)
class CRMRequest:
    """Which CRM a RecLoRA run needs."""

    model: str  # "sim" (long retriever) or "din" (recent history)
    history_length: int
    item_vectors: str
    threads: int = 0

    def matches(self, config: Mapping[str, Any]) -> bool:
        if int(config.get("history_length", -1)) != self.history_length:
            return False
        if self.model == "sim":
            return config.get("item_vectors") == self.item_vectors and config.get("search") == "soft"
        return True

    def overrides(self) -> tuple[str, ...]:
        out = [f"history_length={self.history_length}"]
        if self.model == "sim":
            out.append(f"item_vectors={self.item_vectors}")
        if self.threads:
            out.append(f"threads={self.threads}")
        return tuple(out)


def _has_weights(store: RunStore, run_id: str) -> bool:
    try:
        store.artefact(run_id, "model.safetensors")  # any of several stores (StoreSet)
    except RecbenchError:
        return False
    return True


def find_crm_run(store: RunStore, data: ProtocolData, request: CRMRequest, seed: int) -> RunRecord | None:
    """The newest usable recorded CRM run (same seed first), or None."""
    candidates = [
        r
        for r in store.records(model=request.model, purpose="run")
        if r.digest == data.fingerprint.digest
        and r.protocol_version == PROTOCOL_VERSION
        and request.matches(r.config or {})
        and _has_weights(store, r.run_id)
    ]
    if not candidates:
        return None
    same_seed = [r for r in candidates if r.seed == seed]
    return (same_seed or candidates)[-1]


def obtain_crm(
    store: RunStore, data: ProtocolData, request: CRMRequest, seed: int, console: Console,
    run_prerequisite: Callable[[str, tuple[str, ...]], RunRecord] | None = None,
) -> tuple[CTRModel, RunRecord]:  # fmt: skip
    """Stage 1: reuse or train the CRM; returns it frozen, in eval mode, with its record.

    Training is the harness's job: ``run_prerequisite(model, overrides)`` (handed in by the
    runner) trains and records the run on the same data and seed; this package never starts runs.
    """
    record = find_crm_run(store, data, request, seed)
    if record is None:
        if run_prerequisite is None:
            hint = " ".join(f"--set {o}" for o in request.overrides() if not o.startswith("threads="))
            raise RecbenchError(
                f"no recorded {request.model} run with history {request.history_length} to serve as RecLoRA's CRM in "
                f"{', '.join(str(r) for r in store.roots)}; record one first (recbench run --model {request.model} {hint}) "
                "or run RecLoRA through recbench run, which trains it"
            )
        console.print(f"  Few2Many stage 1: no recorded {request.model} run with history {request.history_length}; training one on the full training split")
        record = run_prerequisite(request.model, request.overrides())
    else:
        console.print(f"  Few2Many stage 1: reusing recorded CRM run {record.run_id}")
    entry = get_model(request.model)
    fields = {k: tuple(v) if isinstance(v, list) else v for k, v in (record.config or {}).items()}
    try:
        model = entry.cls(entry.config_class(**fields), FeatureSchema.from_data(data))
        model.load_state_dict(load_file(str(store.artefact(record.run_id, "model.safetensors"))))
    except (TypeError, RuntimeError) as exc:
        raise RecbenchError(f"CRM run {record.run_id} cannot be reloaded with the current {request.model} code: {exc}") from None
    model.eval()
    for parameter in model.parameters():
        parameter.requires_grad_(False)
    return model, record


@torch.no_grad()
def crm_representation(crm: CTRModel, data: ProtocolData, rows: np.ndarray, device: torch.device) -> torch.Tensor:
    """R_c for ``rows``: the frozen CRM's penultimate representation, ``[len(rows), d_c]``."""
    batch = gather_batch(data, rows, *crm.history(data, rows)).to(device)
    return crm(batch).representation.float()
