"""DIN: Deep Interest Network (Zhou et al., "Deep Interest Network for Click-Through Rate
Prediction", KDD 2018).

The user's interest is not one fixed vector: DIN pools the behaviours with weights given by a
local activation unit that compares each behaviour with the target item (Sec. 4.3), so the
same history yields a different interest vector per candidate. The pooled interest, the user
profile and the target are concatenated and fed to an MLP (Sec. 4.2).

Hyper-parameters (paper Appendix B.1 grid in brackets):
    embed_dim: embedding size per field [32, 64]
    history_length: behaviours read, most recent first [60]
    attention_hidden: attention MLP sizes [1-3 layers of 64/128/256]
    hidden: prediction MLP sizes [1-3 layers of 64/128/256]; the last is the representation
    dropout: [0.0, 0.1, 0.2]
    attention_softmax: normalise attention scores (the paper does not)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import nn

from recbench.batches import IDBatch
from recbench.ctr import CTRModel, CTROutput, FeatureSchema, IDModelConfig
from recbench.nn import MLP, TargetAttention
from recbench.registry import register_model


@dataclass
class DINConfig(IDModelConfig):
    GRID: ClassVar[dict[str, tuple]] = {
        **IDModelConfig.GRID,
        "attention_hidden": ((64,), (64, 64), (64, 64, 64), (128,), (256,)),
        "hidden": ((64,), (128, 128), (256, 256), (256, 256, 256), (128, 128, 128)),
    }

    attention_hidden: tuple[int, ...] = (64,)
    hidden: tuple[int, ...] = (256, 256)
    attention_softmax: bool = False


@register_model("din", display="DIN")
class DIN(CTRModel):
    """Deep Interest Network: target attention over the recent behaviours."""

    Config = DINConfig

    def __init__(self, config: DINConfig, schema: FeatureSchema) -> None:
        super().__init__(config, schema)
        self.attention = TargetAttention(self.item_dim, config.attention_hidden, softmax=config.attention_softmax)
        self.mlp = MLP(self.user_dim + self.item_dim + self.behaviour_dim, config.hidden, config.dropout)
        self.out = nn.Linear(self.mlp.output_dim, 1)

    def forward(self, batch: IDBatch) -> CTROutput:
        target = self.embed_target(batch)
        window = self.behaviour_window(batch)
        interest = self.attention(target, window.items, window.full, window.valid, window.item_table, window.item_index)
        hidden = self.mlp(torch.cat([self.embed_user(batch), target, interest], dim=-1))
        return CTROutput(self.out(hidden).squeeze(-1), hidden)
