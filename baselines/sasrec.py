"""SASRec (Kang & McAuley, "Self-Attentive Sequential Recommendation", ICDM 2018), adapted to
CTR prediction as in RecLoRA's baselines.

The behaviours, newest last, get a learned positional embedding (Sec. III-A) and pass through
stacked self-attention blocks (Sec. III-B/C): causal multi-head self-attention and a point-wise
feed-forward network, each as x + Dropout(f(LayerNorm(x))). Causality means the output at
position t summarises behaviours 1..t only; SASRec predicts the next item from the output at
the newest position. Here that output, the user profile and the target item are concatenated
and an MLP predicts the click.

Behaviours are the item fields plus the rating token, projected to the attention size.
Histories arrive right-padded; they are re-aligned so the newest behaviour sits at position
L - 1, as in SASRec's left-padded input, padded keys are masked, and a sample without history
gets a zero vector.

Hyper-parameters (paper Appendix B.1 grid in brackets):
    embed_dim: embedding size per field [32, 64]
    history_length: behaviours read, most recent [60]
    heads: attention heads [1, 2, 4]
    layers: self-attention blocks [1, 2, 3]; SASRec used 2, 1 by default here for CPU speed
    attention_dim: attention size [64, 128, 256]
    hidden: prediction MLP sizes [1-3 layers of 64/128/256]; the last is the representation
    dropout: on the input embeddings, each sub-layer's output and in the MLP [0.0, 0.1, 0.2]
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import nn

from recbench.batches import IDBatch
from recbench.ctr import CTRModel, CTROutput, FeatureSchema, IDModelConfig
from recbench.nn import MLP, SelfAttentionBlock
from recbench.registry import register_model


@dataclass
class SASRecConfig(IDModelConfig):
    GRID: ClassVar[dict[str, tuple]] = {
        **IDModelConfig.GRID,
        "heads": (1, 2, 4),
        "layers": (1, 2, 3),
        "attention_dim": (64, 128, 256),
        "hidden": tuple((width,) * depth for width in (64, 128, 256) for depth in (1, 2, 3)),
    }

    heads: int = 1
    layers: int = 1
    attention_dim: int = 64
    hidden: tuple[int, ...] = (256, 256)


@register_model("sasrec", display="SASRec")
class SASRec(CTRModel):
    """SASRec: causal self-attention over the behaviours, newest output fed to an MLP."""

    Config = SASRecConfig

    def __init__(self, config: SASRecConfig, schema: FeatureSchema) -> None:
        super().__init__(config, schema)
        self.project = nn.Linear(self.behaviour_dim, config.attention_dim)
        self.position = nn.Embedding(config.history_length, config.attention_dim)
        self.dropout = nn.Dropout(config.dropout)
        self.blocks = nn.ModuleList(
            SelfAttentionBlock(config.attention_dim, config.heads, config.dropout, causal=True)
            for _ in range(config.layers)
        )
        self.norm = nn.LayerNorm(config.attention_dim)
        self.mlp = MLP(self.user_dim + self.item_dim + config.attention_dim, config.hidden, config.dropout)
        self.out = nn.Linear(self.mlp.output_dim, 1)

    def encode_history(self, batch: IDBatch) -> torch.Tensor:
        """Output at the newest behaviour [B, attention_dim]; zeros where there is no history."""
        _, behaviours = self.embed_behaviours(batch, newest_last=True)  # left-padded, [B, L, d]
        lengths = batch.hist_len
        positions = torch.arange(behaviours.shape[1], device=behaviours.device)
        mask = positions >= (behaviours.shape[1] - lengths).unsqueeze(1)  # [B, L]
        x = self.dropout(self.project(behaviours) + self.position(positions))
        for i, block in enumerate(self.blocks):
            # Only the newest position is read, so the last block computes only that query.
            x = block(x, mask, n_queries=1 if i == len(self.blocks) - 1 else None)
        newest = self.norm(x[:, -1])
        return torch.where((lengths > 0).unsqueeze(-1), newest, torch.zeros_like(newest))

    def forward(self, batch: IDBatch) -> CTROutput:
        interest = self.encode_history(batch)
        hidden = self.mlp(torch.cat([self.embed_user(batch), self.embed_target(batch), interest], dim=-1))
        return CTROutput(self.out(hidden).squeeze(-1), hidden)
