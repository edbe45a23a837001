"""RecLoRA (Zhu et al., "Lifelong Personalized Low-Rank Adaptation of Large Language Models for
Recommendation"), the recommender: SPEC 5 end to end.

1. **Long-short retriever.** One shared retriever (:mod:`recbench.retrieval`, LM item vectors)
   serves two views of each sample: the CRM reads the ``crm_history_length`` (60) behaviours of
   the user's whole history most similar to the target, and the prompt shows the
   ``history_length`` (10) most similar ones, each re-sorted into time order. Either can be
   switched to the most recent behaviours (``crm_history`` / ``history = recent``), which is
   how the Table 3 ablations are expressed.
2. **Few2Many.** Stage 1 (:mod:`reclora.crm`): a CRM trained on the full training split, declared
   as a prerequisite that the harness resolves from the run store (or trains and records first)
   and hands over frozen. Stage 2 (here): the personalized LoRA is tuned on the few-shot rows only;
   the CRM and the LLM stay frozen.
3. **Personalized LoRA** (:mod:`reclora.layer`): in every q_proj / v_proj, N_m meta-LoRAs mixed
   per sample by a gate that reads R_c, the CRM's penultimate representation of that sample.
   ``n_meta = 1`` is plain LoRA (the "w/o meta-LoRA" ablation).

Everything else (prompt, answer-token loss, scoring, checkpoints) is the shared LM loop of
:mod:`recbench.lm`, identical to TALLRec's and ReLLa's.
"""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, ClassVar, Literal

import numpy as np
import torch

from recbench.config import NON_NEGATIVE
from recbench.errors import RecbenchError
from recbench.lm.recommender import PromptConfig, PromptRecommender
from recbench.prerequisites import LoadedRun, Prerequisite
from recbench.registry import register_model
from recbench.run_record import RunRecord
from reclora.adapter import inject_personalized_lora
from reclora.config import PersonalizedLoRAConfig
from reclora.crm import crm_prerequisite, crm_representation, crm_spec


@dataclass
class RecLoRAConfig(PromptConfig):
    """RecLoRA's settings (SPEC 5; ML-1M values as defaults).

    The prompt's settings are :class:`~recbench.lm.recommender.PromptConfig`'s, under its names
    (the short retriever: ``history`` / ``history_length``; the adapter's ``lora_rank``,
    ``lora_alpha`` and ``lora_dropout``, here the shape of every meta-LoRA), so the shared
    prompt code reads RecLoRA like TALLRec and ReLLa; the rest are RecLoRA's own. Runs recorded
    before these names kept the old ones (:data:`RENAMED_SETTINGS`): records are never
    rewritten, they are read under the current names (:func:`recbench.config.migrate_settings`).
    """

    #: RecLoRA's prompt shows the retrieved behaviours (the short retriever; ``recent`` ablates it)
    history: Literal["recent", "retrieved"] = "retrieved"
    #: K behaviours in the prompt; 0 (no history) stays valid, as it was for the old name
    history_length: int = field(default=10, metadata={"range": NON_NEGATIVE})
    n_meta: int = 16  # N_m meta-LoRAs per adapted layer
    temperature: float = 5.0  # gate softmax temperature T
    gate_dropout: float = 0.1
    mixing: Literal["factors", "products"] = "factors"
    crm_history: Literal["retrieved", "recent"] = "retrieved"  # long retriever on / off
    crm_history_length: int = 60

    #: the declared migration: old setting name -> current name (runs recorded before the rename use the old)
    RENAMED_SETTINGS: ClassVar[Mapping[str, str]] = MappingProxyType({
        "prompt_history": "history", "prompt_history_length": "history_length", "rank": "lora_rank", "alpha": "lora_alpha",
    })  # fmt: skip
    #: a setting old runs did not record -> the value they ran with (the adapter's dropout was fixed at 0)
    ADDED_SETTINGS: ClassVar[Mapping[str, Any]] = MappingProxyType({"lora_dropout": 0.0})


@register_model("reclora", family="lm", display="RecLoRA")
class RecLoRA(PromptRecommender):
    """RecLoRA: CRM-gated meta-LoRAs with a long-short retriever, trained Few2Many."""

    Config = RecLoRAConfig

    @classmethod
    def prerequisites(cls, config: RecLoRAConfig) -> tuple[Prerequisite, ...]:
        """Few2Many stage 1: the recorded CRM run this configuration needs (resolved by the harness)."""
        return (crm_prerequisite(config),)

    def __init__(self, config: RecLoRAConfig, data: Any, lm_config: Any, *, seed: int = 0, store: Any = None, console: Any = None,
                 backbone: Any = None, crm: torch.nn.Module | None = None, prerequisites: Mapping[str, LoadedRun] | None = None) -> None:  # fmt: skip
        """``crm=`` supplies the CRM module directly (tests, notebooks); otherwise it is
        ``prerequisites["crm"]``, which ``recbench run`` resolves from the store (or trains and
        records) before constructing the model."""
        self.crm_spec = crm_spec(config)
        #: the recorded run the CRM came from (None for one supplied directly)
        self.crm_record: RunRecord | None = None
        if crm is None:
            if not prerequisites or "crm" not in prerequisites:
                raise RecbenchError(
                    f"RecLoRA needs its CRM (a recorded {crm_prerequisite(config).description}): run it through "
                    "`recbench run --model reclora`, which resolves the CRM from the store or trains and records one, or pass crm="
                )
            crm, self.crm_record = prerequisites["crm"].model, prerequisites["crm"].record
        crm.eval()  # frozen, like a reloaded one (a module supplied directly may not be)
        for parameter in crm.parameters():
            parameter.requires_grad_(False)
        self.crm = crm
        self.crm_dim = int(self.crm.mlp.output_dim)
        super().__init__(config, data, lm_config, seed=seed, store=store, console=console, backbone=backbone)
        self.crm.to(self.device)

    def adapter_config(self) -> PersonalizedLoRAConfig:
        c = self.config
        return PersonalizedLoRAConfig(
            n_meta=c.n_meta, rank=c.lora_rank, alpha=c.lora_alpha, dropout=c.lora_dropout, gate_dropout=c.gate_dropout,
            temperature=c.temperature, mixing=c.mixing, condition_dim=self.crm_dim,
            target_modules=tuple(self.lm_config.lora_targets),
        )  # fmt: skip

    def attach_adapter(self, model: torch.nn.Module) -> torch.nn.Module:
        self.adapter = inject_personalized_lora(model, self.adapter_config())
        return model

    def trainable_parameters(self) -> dict[str, torch.nn.Parameter]:
        return dict(self.adapter.named_trainable_parameters())

    def conditioned(self, rows: np.ndarray) -> contextlib.AbstractContextManager:
        """Bind each row's R_c (frozen CRM, long history) to every personalized layer."""
        return self.adapter.condition(crm_representation(self.crm, self.data, np.asarray(rows), self.device))

    # ------------------------------------------------------------------ persistence
    def save_adapter(self, path: str | Path) -> Path:
        return self.adapter.save_adapter(path)

    def load_adapter(self, path: str | Path) -> None:
        self.adapter.load_adapter(path)

    def artefacts(self) -> dict[str, bytes]:
        with tempfile.TemporaryDirectory() as folder:
            path = self.save_adapter(Path(folder) / "adapter.safetensors")
            return {"adapter.safetensors": Path(path).read_bytes()}

    def record_extra(self) -> dict[str, Any]:
        run_id = self.crm_record.run_id if self.crm_record is not None else None
        return {"crm": {"model": self.crm_spec.model, "run_id": run_id, "history_length": self.crm_spec.history_length}}
