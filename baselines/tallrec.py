"""TALLRec (Bao et al., "TALLRec: An Effective and Efficient Tuning Framework to Align Large
Language Model with Recommendation", RecSys 2023).

Instruction tuning with LoRA on the recommendation question (Sec. 3): the sample becomes an
Alpaca-style instruction ("### Instruction: ... ### Response:") whose history is the user's K
most recent rated items, and the LM learns to answer "Yes." or "No.". LoRA r=8, alpha=16 on
q_proj / v_proj of a frozen backbone; only the answer tokens carry loss. As in the RecLoRA
paper's comparison, the history matches the ID baselines' (recent, with ratings).

Hyper-parameters: history_length K (10), lora_rank / lora_alpha / lora_dropout (8 / 16 / 0);
the optimiser and sizes come from the run's profile (``recbench.lm.profiles``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from recbench.lm.recommender import PromptConfig, PromptRecommender
from recbench.registry import register_model


@dataclass
class TALLRecConfig(PromptConfig):
    history: Literal["recent", "retrieved"] = "recent"
    style: Literal["chat", "alpaca"] = "alpaca"


@register_model("tallrec", family="lm", display="TALLRec")
class TALLRec(PromptRecommender):
    """TALLRec: LoRA instruction tuning on recent history, Alpaca-style prompt."""

    Config = TALLRecConfig
