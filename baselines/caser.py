"""Caser (Tang & Wang, "Personalized Top-N Sequential Recommendation via Convolutional
Sequence Embedding", WSDM 2018), adapted to CTR prediction as in RecLoRA's baselines.

The L most recent behaviours form an L x d "image" E, newest in the last row (Sec. 3.2).
Horizontal filters of height h slide over the rows (h x d kernels) and are max-pooled over
time, so each detects a union-level pattern of h consecutive behaviours wherever it occurs
(Sec. 3.3). Vertical filters (L x 1 kernels) take a learned weighted sum of the rows, a
point-level summary that aggregates behaviours by recency. Both outputs are concatenated with
the user profile and the target item; the paper's fully-connected layer becomes the first
layer of the prediction MLP.

Histories arrive right-padded; they are re-aligned so the newest behaviour is always in row
L - 1 (padding, zero-embedded, goes to the top), and windows overlapping padding are left out
of the max-pooling. Caser uses every height 1..L; with L = 60 a few heights are used instead.

Hyper-parameters (paper Appendix B.1 grid in brackets):
    embed_dim: embedding size per field [32, 64]
    history_length: behaviours read, most recent [60] (L)
    vertical_filters: n_v [2, 4, 8]
    horizontal_filters: n_h per height [4, 8, 16]
    horizontal_heights: heights h of the horizontal filters (not in the grid)
    hidden: prediction MLP sizes [1-3 layers of 64/128/256]; the last is the representation
    dropout: on the convolution outputs and in the MLP [0.0, 0.1, 0.2]
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import nn

from recbench.batches import IDBatch
from recbench.ctr import CTRModel, CTROutput, FeatureSchema, IDModelConfig
from recbench.nn import MLP
from recbench.registry import register_model


@dataclass
class CaserConfig(IDModelConfig):
    GRID: ClassVar[dict[str, tuple]] = {
        **IDModelConfig.GRID,
        "vertical_filters": (2, 4, 8),
        "horizontal_filters": (4, 8, 16),
        "hidden": tuple((width,) * depth for width in (64, 128, 256) for depth in (1, 2, 3)),
    }

    vertical_filters: int = 4
    horizontal_filters: int = 8
    horizontal_heights: tuple[int, ...] = (1, 2, 4, 8)
    hidden: tuple[int, ...] = (256, 256)


@register_model("caser", display="Caser")
class Caser(CTRModel):
    """Caser: horizontal and vertical convolutions over the behaviour embedding matrix."""

    Config = CaserConfig

    def __init__(self, config: CaserConfig, schema: FeatureSchema) -> None:
        super().__init__(config, schema)
        heights = config.horizontal_heights
        if not heights or not all(1 <= h <= config.history_length for h in heights):
            raise ValueError(f"horizontal_heights must lie in 1..{config.history_length}, got {heights}")
        d = self.behaviour_dim
        self.horizontal = nn.ModuleList(nn.Conv1d(d, config.horizontal_filters, h) for h in heights)
        self.vertical = nn.Linear(config.history_length, config.vertical_filters)  # one L x 1 kernel per output
        self.dropout = nn.Dropout(config.dropout)
        conv_dim = config.horizontal_filters * len(heights) + config.vertical_filters * d
        self.mlp = MLP(self.user_dim + self.item_dim + conv_dim, config.hidden, config.dropout)
        self.out = nn.Linear(self.mlp.output_dim, 1)

    def horizontal_features(self, behaviours: torch.Tensor) -> list[torch.Tensor]:
        """Each horizontal convolution's output [B, L - h + 1, n_h] (before the activation).

        Computed as one matrix product with every (height, offset) slice of every kernel, then
        shifted sums: the same numbers as ``Conv1d`` but several times faster on CPU, where
        convolutions with one wide input channel map poorly onto the convolution kernels.
        """
        length = behaviours.shape[1]
        kernels = [conv.weight.permute(2, 0, 1).flatten(0, 1) for conv in self.horizontal]  # [h * n_h, d]
        products = behaviours @ torch.cat(kernels).T  # [B, L, sum_h h * n_h]
        features, start = [], 0
        for conv in self.horizontal:
            n, h = conv.out_channels, conv.kernel_size[0]
            windows = length - h + 1
            total = conv.bias
            for j in range(h):  # kernel row j sees behaviour s + j of window s
                total = total + products[:, j : j + windows, start + j * n : start + (j + 1) * n]
            features.append(total)
            start += h * n
        return features

    def convolve(self, behaviours: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """[o_h; o_v] of Sec. 3.3 from left-padded behaviours [B, L, d] with ``lengths`` [B]."""
        length = behaviours.shape[1]
        pooled = []
        for features in self.horizontal_features(behaviours):
            features = torch.relu(features)  # [B, L - h + 1, n_h], window s covers rows s..s+h-1
            valid = torch.arange(features.shape[1], device=behaviours.device) >= (length - lengths).unsqueeze(1)
            best = features.masked_fill(~valid.unsqueeze(-1), float("-inf")).amax(dim=1)
            pooled.append(torch.where(valid.any(dim=1, keepdim=True), best, torch.zeros_like(best)))
        vertical = self.vertical(behaviours.transpose(1, 2)).flatten(1)  # [B, d * n_v]
        return self.dropout(torch.cat([*pooled, vertical], dim=-1))

    def forward(self, batch: IDBatch) -> CTROutput:
        _, behaviours = self.embed_behaviours(batch, newest_last=True)  # left-padded, [B, L, d]
        sequence = self.convolve(behaviours, batch.hist_len)
        hidden = self.mlp(torch.cat([self.embed_user(batch), self.embed_target(batch), sequence], dim=-1))
        return CTROutput(self.out(hidden).squeeze(-1), hidden)
