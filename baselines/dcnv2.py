"""DCN-V2 (Wang et al., "DCN V2: Improved Deep & Cross Network and Practical Lessons for
Web-scale Learning to Rank Systems", WWW 2021).

The concatenated field embeddings x_0 feed two networks (Sec. 3): a cross network whose layers
compute x_{l+1} = x_0 * (W_l x_l + b_l) + x_l with a full-rank W_l (Eq. 1), building explicit
bounded-degree feature crosses, and a plain DNN for implicit ones. They are combined either in
parallel (both read x_0, outputs concatenated) or stacked (the DNN reads the cross output)
(Sec. 3, Fig. 1); a linear layer gives the logit from the combined vector.

As for DeepFM, the behaviour history enters as extra fields (RecLoRA, Appendix B): the mean of
the behaviours' item-field embeddings and of their rating tokens.

Hyper-parameters (paper Appendix B.1 grid in brackets):
    embed_dim: embedding size per field [32, 64]
    history_length: behaviours pooled [60]
    cross_layers: cross network depth [3, 6, 9, 12]
    hidden: DNN sizes [3, 6, 9 or 12 layers of 128 or 256]
    structure: "parallel" or "stacked" (not in the grid; the DCN-V2 paper reports both)
    dropout: in the DNN [0.0, 0.1, 0.2]
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Literal

import torch
from torch import nn

from recbench.batches import IDBatch
from recbench.ctr import CTRModel, CTROutput, FeatureSchema, IDModelConfig
from recbench.nn import MLP, CrossNetworkV2
from recbench.registry import register_model


@dataclass
class DCNv2Config(IDModelConfig):
    GRID: ClassVar[dict[str, tuple]] = {
        **IDModelConfig.GRID,
        "cross_layers": (3, 6, 9, 12),
        "hidden": tuple((width,) * depth for width in (128, 256) for depth in (3, 6, 9, 12)),
    }

    cross_layers: int = 3
    hidden: tuple[int, ...] = (256, 256, 256)
    structure: Literal["parallel", "stacked"] = "parallel"


@register_model("dcnv2", display="DCNv2")
class DCNv2(CTRModel):
    """DCN-V2: full-rank cross network and DNN over the field embeddings."""

    Config = DCNv2Config

    def __init__(self, config: DCNv2Config, schema: FeatureSchema) -> None:
        super().__init__(config, schema)
        if config.structure not in ("parallel", "stacked"):
            raise ValueError(f"structure must be parallel or stacked, not {config.structure!r}")
        input_dim = self.n_fields * config.embed_dim
        self.cross = CrossNetworkV2(input_dim, config.cross_layers)
        self.dnn = MLP(input_dim, config.hidden, config.dropout)
        combined = self.dnn.output_dim + (input_dim if config.structure == "parallel" else 0)
        self.out = nn.Linear(combined, 1)

    def forward(self, batch: IDBatch) -> CTROutput:
        x0 = self.field_embeddings(batch).flatten(1)  # [B, F * D]
        if self.config.structure == "parallel":
            hidden = torch.cat([self.cross(x0), self.dnn(x0)], dim=-1)
        else:
            hidden = self.dnn(self.cross(x0))
        return CTROutput(self.out(hidden).squeeze(-1), hidden)
