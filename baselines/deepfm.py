"""DeepFM (Guo et al., "DeepFM: A Factorization-Machine based Neural Network for CTR
Prediction", IJCAI 2017).

Two parts share one embedding table (Sec. 2.1): an FM component (first-order weights plus
pairwise interactions <v_i, v_j> of all field embeddings, computed in O(F k) with the
square-of-sum trick) and a DNN over the concatenated field embeddings. Their logits add up.

As in the paper being reproduced (RecLoRA, Appendix B), the behaviour history enters as extra
fields: the mean of the behaviours' item-field embeddings and of their rating tokens.

Hyper-parameters (paper Appendix B.1 grid in brackets):
    embed_dim: [32, 64]
    history_length: behaviours pooled [60]
    hidden: DNN sizes [3, 6, 9 or 12 layers of 128 or 256]
    dropout: [0.0, 0.1, 0.2]
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
class DeepFMConfig(IDModelConfig):
    GRID: ClassVar[dict[str, tuple]] = {
        **IDModelConfig.GRID,
        "hidden": tuple((width,) * depth for width in (128, 256) for depth in (3, 6, 9, 12)),
    }

    hidden: tuple[int, ...] = (256, 256, 256)


@register_model("deepfm", display="DeepFM")
class DeepFM(CTRModel):
    """DeepFM: FM and DNN over shared embeddings, history mean-pooled as extra fields."""

    Config = DeepFMConfig

    def __init__(self, config: DeepFMConfig, schema: FeatureSchema) -> None:
        super().__init__(config, schema)
        self.first_order = nn.Embedding(schema.n_features, 1)
        nn.init.zeros_(self.first_order.weight)
        self.bias = nn.Parameter(torch.zeros(1))
        self.dnn = MLP(self.n_fields * config.embed_dim, config.hidden, config.dropout)
        self.out = nn.Linear(self.dnn.output_dim, 1)

    def forward(self, batch: IDBatch) -> CTROutput:
        # one lookup for both: the shared embedding with the first-order weight as a last column
        both = self.field_embeddings(batch, torch.cat([self.embedding.weight, self.first_order.weight], dim=1))
        vectors, weights = both[..., :-1], both[..., -1]  # [B, F, D], [B, F]
        square_of_sum = vectors.sum(dim=1).pow(2)
        sum_of_squares = vectors.pow(2).sum(dim=1)
        fm = weights.sum(dim=1) + 0.5 * (square_of_sum - sum_of_squares).sum(dim=1)
        hidden = self.dnn(vectors.flatten(1))
        return CTROutput(self.bias + fm + self.out(hidden).squeeze(-1), hidden)
