"""GRU4Rec (Hidasi et al., "Session-based Recommendations with Recurrent Neural Networks",
ICLR 2016), adapted to CTR prediction as in RecLoRA's baselines.

A GRU reads the behaviours in time order (Sec. 3.1: the network input is the current event,
its hidden state summarises the sequence so far; layers are stacked, each feeding the next).
GRU4Rec scores the next item from the final hidden state; here that state, the user profile
and the target item are concatenated and an MLP predicts the click.

Behaviours are the item fields plus the rating token. Histories are right-padded, so the state
after the newest behaviour is the output at index hist_len - 1 (padding comes later and cannot
affect it); a sample without history gets a zero state.

Hyper-parameters (paper Appendix B.1 grid in brackets):
    embed_dim: embedding size per field [32, 64]
    history_length: behaviours read, most recent [60]
    gru_layers: stacked GRU layers [1, 2, 3]
    gru_hidden: GRU state size [64, 128, 256]
    hidden: prediction MLP sizes [64, 128, 256]; the paper gives no depth, two layers here
    dropout: between GRU layers and in the MLP [0.0, 0.1, 0.2]
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
class GRU4RecConfig(IDModelConfig):
    GRID: ClassVar[dict[str, tuple]] = {
        **IDModelConfig.GRID,
        "gru_layers": (1, 2, 3),
        "gru_hidden": (64, 128, 256),
        "hidden": ((64, 64), (128, 128), (256, 256)),
    }

    gru_layers: int = 1
    gru_hidden: int = 64
    hidden: tuple[int, ...] = (128, 128)


@register_model("gru4rec", display="GRU4Rec")
class GRU4Rec(CTRModel):
    """GRU4Rec: a GRU over the behaviours, its final state fed to an MLP with user and target."""

    Config = GRU4RecConfig

    def __init__(self, config: GRU4RecConfig, schema: FeatureSchema) -> None:
        super().__init__(config, schema)
        self.gru = nn.GRU(
            self.behaviour_dim,
            config.gru_hidden,
            num_layers=config.gru_layers,
            batch_first=True,
            dropout=config.dropout if config.gru_layers > 1 else 0.0,
        )
        self.mlp = MLP(self.user_dim + self.item_dim + config.gru_hidden, config.hidden, config.dropout)
        self.out = nn.Linear(self.mlp.output_dim, 1)

    def encode_history(self, batch: IDBatch) -> torch.Tensor:
        """Top-layer GRU state after the newest behaviour [B, gru_hidden]; zeros without history.

        The GRU is causal and histories are right-padded, so its output at index hist_len - 1 is
        exactly the final state of the packed (padding-free) sequence; reading it from the
        padded run is faster on CPU than ``pack_padded_sequence``.
        """
        _, behaviours = self.embed_behaviours(batch)
        lengths = batch.hist_len
        outputs, _ = self.gru(behaviours)  # [B, L, H]
        newest = outputs[torch.arange(len(lengths), device=outputs.device), (lengths - 1).clamp_min(0)]
        return torch.where((lengths > 0).unsqueeze(-1), newest, torch.zeros_like(newest))

    def forward(self, batch: IDBatch) -> CTROutput:
        interest = self.encode_history(batch)
        hidden = self.mlp(torch.cat([self.embed_user(batch), self.embed_target(batch), interest], dim=-1))
        return CTROutput(self.out(hidden).squeeze(-1), hidden)
