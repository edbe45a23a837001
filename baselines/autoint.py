"""AutoInt (Song et al., "AutoInt: Automatic Feature Interaction Learning via Self-Attentive
Neural Networks", CIKM 2019).

Every field is one embedding vector (Sec. 4.2). An interacting layer (Sec. 4.3) lets each field
attend to all the others with multi-head self-attention, so the new vector of a field is a
weighted combination of the fields it interacts with; a residual projection W_res of the input
is added and a ReLU applied (Eq. 8). Stacking layers builds higher-order interactions. The
output layer (Sec. 4.4) is a logistic regression over the concatenated attended fields.

As for DeepFM, the behaviour history enters as extra fields (RecLoRA, Appendix B): the mean of
the behaviours' item-field embeddings and of their rating tokens.

Hyper-parameters (paper Appendix B.1 grid in brackets):
    embed_dim: embedding size per field [32, 64]
    history_length: behaviours pooled [60]
    layers: interacting layers [3, 6, 9, 12]
    attention_dim: attended size of a field (all heads together) [64, 128, 256]
    heads: attention heads [1]
    dropout: on the attention weights [0.0, 0.1, 0.2]
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import nn

from recbench.batches import IDBatch
from recbench.ctr import CTRModel, CTROutput, FeatureSchema, IDModelConfig
from recbench.nn import MLP, MultiHeadSelfAttention
from recbench.registry import register_model


@dataclass
class AutoIntConfig(IDModelConfig):
    GRID: ClassVar[dict[str, tuple]] = {
        **IDModelConfig.GRID,
        "layers": (3, 6, 9, 12),
        "attention_dim": (64, 128, 256),
        "heads": (1,),
    }

    layers: int = 3
    attention_dim: int = 64
    heads: int = 1
    hidden: tuple[int, ...] = (256, 256, 256)


class InteractingLayer(nn.Module):
    """Eq. 5-8: ReLU(concat of the heads' attended fields + W_res e), fields [B, F, d_in] -> [B, F, d]."""

    def __init__(self, input_dim: int, attention_dim: int, heads: int, dropout: float) -> None:
        super().__init__()
        self.attention = MultiHeadSelfAttention(input_dim, attention_dim, heads, dropout, project_output=False)
        self.residual = nn.Linear(input_dim, attention_dim, bias=False)

    def forward(self, fields: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.attention(fields) + self.residual(fields))


@register_model("autoint", display="AutoInt")
class AutoInt(CTRModel):
    """AutoInt: stacked self-attentive interacting layers over the field embeddings."""

    Config = AutoIntConfig

    def __init__(self, config: AutoIntConfig, schema: FeatureSchema) -> None:
        super().__init__(config, schema)
        dims = [config.embed_dim] + [config.attention_dim] * config.layers
        self.interacting = nn.Sequential(
            *(InteractingLayer(d_in, d_out, config.heads, config.dropout) for d_in, d_out in zip(dims, dims[1:]))
        )
        self.out = nn.Linear(self.n_fields * dims[-1], 1)
        self.dnn = MLP(self.n_fields * config.embed_dim, config.hidden, config.dropout) if config.hidden else None
        self.dnn_out = nn.Linear(self.dnn.output_dim, 1) if self.dnn is not None else None

    def forward(self, batch: IDBatch) -> CTROutput:
        fields = self.field_embeddings(batch)  # [B, F, D]
        attended = self.interacting(fields).flatten(1)  # [B, F * attention_dim]
        logit = self.out(attended).squeeze(-1)
        if self.dnn is None:
            return CTROutput(logit, attended)
        hidden = self.dnn(fields.flatten(1))  # AutoInt+: a DNN beside the interacting layers
        return CTROutput(logit + self.dnn_out(hidden).squeeze(-1), hidden)
