"""ReLLa (Lin et al., "ReLLa: Retrieval-enhanced Large Language Models for Lifelong Sequential
Behavior Comprehension in Recommendation", WWW 2024).

Long histories do not fit a prompt, and the most recent K items are often irrelevant to the
target. ReLLa's semantic user behaviour retrieval (Sec. 3.2) instead shows the K behaviours of
the user's whole history most similar to the target item (cosine of LM item-text embeddings,
PCA-reduced), re-sorted into time order; retrieval-enhanced instruction tuning (Sec. 3.3) then
tunes LoRA on those prompts. The retriever is the shared one of SPEC 3.9, the same SIM and
RecLoRA use (``item_vectors="lm"``). The prompt is the protocol's ReLLa wording inside the
backbone's chat template.

Two reference-code bugs are not copied (SPEC 5): retrieval here has one id space, and the
best epoch is chosen on the validation split (``n_valid``), never on the test rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from recbench.lm.recommender import PromptConfig, PromptRecommender
from recbench.registry import register_model


@dataclass
class ReLLaConfig(PromptConfig):
    history: Literal["recent", "retrieved"] = "retrieved"
    style: Literal["chat", "alpaca"] = "chat"


@register_model("rella", family="lm", display="ReLLa")
class ReLLa(PromptRecommender):
    """ReLLa: LoRA instruction tuning with retrieved (semantically relevant) history."""

    Config = ReLLaConfig
