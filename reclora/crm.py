"""Few2Many, stage 1: the conventional recommender (CRM) whose representation personalizes the LoRA.

The CRM is an ordinary recorded run of the ID zoo, trained with BCE on the FULL training split
(the "many"): SIM over the ``crm_history_length`` behaviours retrieved from the user's whole
history by the shared retriever (the long retriever, soft search over ``item_vectors``), or
DIN over the most recent ones when the long retriever is ablated (``crm_history=recent``).

This module only *declares* that need (:func:`crm_prerequisite`, a
:class:`~recbench.prerequisites.Prerequisite`). The harness resolves it: a matching recorded
run is reused (same dataset digest, model, history length, item vectors; the same seed
preferred, then the newest), otherwise one is trained and recorded first, so it also appears
on the leaderboard as an ID baseline; RecLoRA receives it reloaded and frozen. Why not search
here: finding and starting runs is the run layer's job, and a model package stays importable
without the runner or the store.

Stage 2 keeps it frozen: R_c is its penultimate MLP output for each sample (target-aware).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from recbench.batches import gather_batch
from recbench.ctr import CTRModel
from recbench.prerequisites import Prerequisite
from recbench.protocol import ProtocolData


@dataclass(frozen=True)
class CRMSpec:
    """Which CRM a RecLoRA run needs; called on a recorded run's settings, says whether it serves."""

    model: str  # "sim" (long retriever) or "din" (recent history)
    history_length: int
    item_vectors: str

    def __call__(self, config: Mapping[str, Any]) -> bool:
        if int(config.get("history_length", -1)) != self.history_length:
            return False
        if self.model == "sim":
            return config.get("item_vectors") == self.item_vectors and config.get("search") == "soft"
        return True

    def overrides(self) -> tuple[str, ...]:
        """The settings a CRM is trained with when none is recorded (the rest are the model's defaults)."""
        out = [f"history_length={self.history_length}"]
        if self.model == "sim":
            out.append(f"item_vectors={self.item_vectors}")
        return tuple(out)


def crm_spec(config: Any) -> CRMSpec:
    """The CRM a :class:`~reclora.model.RecLoRAConfig` calls for."""
    model = "sim" if config.crm_history == "retrieved" else "din"
    return CRMSpec(model, int(config.crm_history_length), str(config.item_vectors))


def crm_prerequisite(config: Any) -> Prerequisite:
    """RecLoRA's stage 1 as a declaration the harness resolves (handed back as ``prerequisites["crm"]``)."""
    spec = crm_spec(config)
    return Prerequisite("crm", spec.model, spec.overrides(), matches=spec, role="CRM", stage="Few2Many stage 1")


@torch.no_grad()
def crm_representation(crm: CTRModel, data: ProtocolData, rows: np.ndarray, device: torch.device) -> torch.Tensor:
    """R_c for ``rows``: the frozen CRM's penultimate representation, ``[len(rows), d_c]``."""
    batch = gather_batch(data, rows, *crm.history(data, rows)).to(device)
    return crm(batch).representation.float()
