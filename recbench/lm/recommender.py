"""The contract of language-model recommenders, and the prompt-based base class with LoRA.

Every ``family="lm"`` model is constructed as ``cls(config, data, lm_config, store=..., seed=...,
console=...)`` (plus ``prerequisites=`` when its class declares runs it needs first, see
:mod:`recbench.prerequisites`) and implements :meth:`fit` and :meth:`score`; the harness does the rest (rows,
metrics, recording). :class:`PromptRecommender` is the shared body of TALLRec, ReLLa and
RecLoRA: it renders each sample as the protocol's prompt with a chosen history (the K most
recent behaviours, or K retrieved by the shared retriever and re-sorted into time order),
wraps it in a template, and tunes an adapter on the answer tokens.

Example (a new prompt-based model is a config and a class)::

    @dataclass
    class MyConfig(PromptConfig):
        history: Literal["recent", "retrieved"] = "retrieved"

    @register_model("my-llm", family="lm")
    class MyLLM(PromptRecommender):
        Config = MyConfig
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Literal

import numpy as np
import torch
from rich.console import Console

from recbench.batches import recent_positions
from recbench.errors import RecbenchError
from recbench.lm.backbone import Backbone, BackboneSpec, check_adaptable, load_backbone
from recbench.lm.prompts import PromptEncoder, template_for
from recbench.lm.trainer import LMTrainConfig, LMTrainResult, PromptModel, score, train
from recbench.protocol import ProtocolData
from recbench.retrieval import BehaviourRetriever, item_vectors
from recbench.text import render_prompt


@dataclass
class PromptConfig:
    """What a prompt-based recommender shows the LM and how its adapter is shaped."""

    history: Literal["recent", "retrieved"] = "recent"
    history_length: int = 10  # K behaviours in the prompt
    style: Literal["chat", "alpaca"] = "chat"
    item_vectors: str = "lm"  # retriever source when history="retrieved"
    lora_rank: int = 8
    lora_alpha: float = 16.0
    lora_dropout: float = 0.0


def backbone_spec(config: LMTrainConfig) -> BackboneSpec:
    return BackboneSpec(name=config.backbone, quantization=config.quantization, dtype=config.dtype, device=config.device)


class LMRecommender:
    """Interface of ``family="lm"`` models (see the module docstring)."""

    Config: type
    name: str

    def fit(self, rows: np.ndarray, labels: np.ndarray, checkpoint_dir: Path | None, validate: Callable[[], dict[str, float]] | None) -> LMTrainResult:  # pragma: no cover
        raise NotImplementedError

    def score(self, rows: np.ndarray) -> np.ndarray:  # pragma: no cover
        raise NotImplementedError

    def n_trainable(self) -> int:  # pragma: no cover
        raise NotImplementedError


class PromptRecommender(LMRecommender, PromptModel):
    """A yes/no recommender on a causal LM with a LoRA adapter (q_proj / v_proj unless ``lora_targets`` says otherwise)."""

    Config = PromptConfig

    def __init__(
        self,
        config: PromptConfig,
        data: ProtocolData,
        lm_config: LMTrainConfig,
        *,
        seed: int = 0,
        store: Any = None,
        console: Console | None = None,
        backbone: Backbone | None = None,
    ) -> None:
        if config.history_length < 0:
            raise RecbenchError(f"--set history_length={config.history_length}: expected 0 or more behaviours")
        self.config, self.data, self.lm_config, self.seed = config, data, lm_config, seed
        self.console = console or Console(stderr=True)
        self.backbone = backbone or load_backbone(backbone_spec(lm_config))
        self.device = self.backbone.device
        template = template_for(self.backbone.tokenizer, config.style)
        self.encoder = PromptEncoder(self.backbone.tokenizer, template, self.backbone.max_length)
        self._retriever: BehaviourRetriever | None = None
        self.lm = self.attach_adapter(self.backbone.model)

    # ------------------------------------------------------------------ what the LM reads
    def retriever(self) -> BehaviourRetriever:
        if self._retriever is None:
            self._retriever = BehaviourRetriever(self.data, item_vectors(self.data, self.config.item_vectors))
        return self._retriever

    def history_positions(self, rows: np.ndarray, kind: str, length: int) -> tuple[np.ndarray, np.ndarray]:
        """Indices into ``data.seq_*`` of the behaviours shown for each row, in time order."""
        if kind == "retrieved":
            return self.retriever().positions(rows, length)
        return recent_positions(self.data, rows, length)

    def texts(self, rows: np.ndarray) -> list[str]:
        index, mask = self.history_positions(rows, self.config.history, self.config.history_length)
        return [render_prompt(self.data, int(r), index[i][mask[i]]) for i, r in enumerate(rows)]

    # ------------------------------------------------------------------ adapter
    def attach_adapter(self, model: torch.nn.Module) -> torch.nn.Module:
        from peft import LoraConfig, get_peft_model

        check_adaptable(model, self.lm_config.backbone, tuple(self.lm_config.lora_targets))

        lora = LoraConfig(
            r=self.config.lora_rank,
            lora_alpha=self.config.lora_alpha,
            lora_dropout=self.config.lora_dropout,
            target_modules=list(self.lm_config.lora_targets),
            bias="none",
            task_type="CAUSAL_LM",
        )
        with warnings.catch_warnings():
            # peft probes a transformers attribute that transformers now flags as deprecated
            warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*", category=FutureWarning)
            return get_peft_model(model, lora)

    def n_trainable(self) -> int:
        return int(sum(p.numel() for p in self.trainable_parameters().values()))

    # ------------------------------------------------------------------ training and scoring
    def fit(self, rows: np.ndarray, labels: np.ndarray, checkpoint_dir: Path | None = None, validate: Callable[[], dict[str, float]] | None = None) -> LMTrainResult:
        if len(rows) == 0:  # zero-shot: the untrained backbone
            return LMTrainResult()
        return train(self, rows, labels, self.lm_config, self.seed, checkpoint_dir, validate, self.console)

    def score(self, rows: np.ndarray) -> np.ndarray:
        return score(self, rows, self.lm_config.eval_batch_size, self.lm_config.bucket, self.console, self.lm_config.autocast)
