"""The contract every ID-based (CTR) model implements, and the embedding layout it shares.

A model receives an :class:`~recbench.batches.IDBatch` and returns a :class:`CTROutput`:
the logit of a positive label and the penultimate representation (RecLoRA's gate reads the
latter from a frozen CRM). Training, evaluation and recording are the harness's job.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import torch
from torch import nn

from recbench.batches import IDBatch, recent_positions
from recbench.nn import align_right, embed_distinct, masked_mean_lookup, pooled_distinct
from recbench.protocol import ITEM_FIELDS, ProtocolData
from recbench.row_gather import gather_rows


@dataclass(frozen=True)
class BehaviourWindow:
    """A batch's embedded behaviour windows (see :meth:`CTRModel.behaviour_window`)."""

    items: torch.Tensor  # [B, L, F_item * D], padding zeroed
    full: torch.Tensor  # [B, L, (F_item + 1) * D]: items and the rating token
    valid: torch.Tensor  # [B, L] which positions hold a behaviour (right-aligned with newest_last)
    #: while training: the batch's distinct items [U, F_item * D] and each position's row [B, L]
    item_table: torch.Tensor | None = None
    item_index: torch.Tensor | None = None


@dataclass
class IDModelConfig:
    """Hyper-parameters every ID model has (paper Appendix B.1).

    ``GRID`` lists the paper's search space for each tunable field; subclasses extend it with
    their own fields (``GRID = {**IDModelConfig.GRID, ...}``). ``recbench tune`` reads it.
    """

    GRID: ClassVar[dict[str, tuple]] = {"embed_dim": (32, 64), "dropout": (0.0, 0.1, 0.2)}

    embed_dim: int = 32
    history_length: int = 60  # behaviours read per sample (L)
    dropout: float = 0.1


@dataclass(frozen=True)
class FeatureSchema:
    """What a model needs to know about the data to size its layers."""

    n_features: int
    n_user_fields: int
    n_item_fields: int

    @classmethod
    def from_data(cls, data: ProtocolData) -> FeatureSchema:
        return cls(data.n_features, len(data.user_fields), len(ITEM_FIELDS))


@dataclass
class CTROutput:
    logit: torch.Tensor  # [B]
    representation: torch.Tensor  # [B, d] penultimate layer


class CTRModel(nn.Module):
    """Base class of ID models: one embedding table over all fields plus helpers to embed a batch.

    A behaviour is embedded as its item fields and its rating token, concatenated:
    ``behaviour_dim = (n_item_fields + 1) * embed_dim``; a target item has no rating, so
    ``item_dim = n_item_fields * embed_dim``.
    """

    Config: ClassVar[type[IDModelConfig]] = IDModelConfig
    name: ClassVar[str] = "ctr"

    def __init__(self, config: IDModelConfig, schema: FeatureSchema) -> None:
        super().__init__()
        self.config = config
        self.schema = schema
        self.embedding = nn.Embedding(schema.n_features, config.embed_dim)
        nn.init.normal_(self.embedding.weight, std=0.01)

    @property
    def user_dim(self) -> int:
        return self.schema.n_user_fields * self.config.embed_dim

    @property
    def item_dim(self) -> int:
        return self.schema.n_item_fields * self.config.embed_dim

    @property
    def behaviour_dim(self) -> int:
        return self.item_dim + self.config.embed_dim

    def embed_user(self, batch: IDBatch) -> torch.Tensor:
        return gather_rows(self.embedding.weight, batch.user).flatten(1)  # [B, F_user * D]

    def embed_target(self, batch: IDBatch) -> torch.Tensor:
        return gather_rows(self.embedding.weight, batch.item).flatten(1)  # [B, F_item * D]

    def embed_behaviours(self, batch: IDBatch, newest_last: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
        """Item part [B, L, F_item * D] and full behaviour [B, L, (F_item + 1) * D], padding zeroed.

        With ``newest_last`` the windows are left-padded instead (:func:`~recbench.nn.align_right`):
        the newest behaviour sits at index L - 1, for models whose weights are tied to positions.
        """
        window = self.behaviour_window(batch, newest_last)
        return window.items, window.full

    def behaviour_window(self, batch: IDBatch, newest_last: bool = False) -> BehaviourWindow:
        """:meth:`embed_behaviours` plus, while training, the distinct-item table the window indexes.

        Training embeds each distinct item / rating token of the batch once and indexes it, so the
        embedding backward scatters U rows, not B x L x F (:func:`~recbench.nn.embed_distinct`);
        both are pure gathers, so the values equal the direct lookup used when scoring. A model
        that applies a per-item linear map to every behaviour (DIN's attention) can apply it to
        the U table rows instead of the B x L window.
        """
        item_ids, rating_ids, valid = batch.hist_item, batch.hist_rating, batch.hist_mask
        if newest_last:
            lengths = batch.hist_len
            item_ids, rating_ids, valid = (align_right(t, lengths) for t in (item_ids, rating_ids, valid))
        item_table = item_index = None
        if torch.is_grad_enabled():
            item_table, item_index = embed_distinct(self.embedding.weight, item_ids)
            rating_table, rating_index = embed_distinct(self.embedding.weight, rating_ids.unsqueeze(-1))
            items, ratings = gather_rows(item_table, item_index), gather_rows(rating_table, rating_index)
        else:
            items, ratings = self.embedding(item_ids).flatten(2), self.embedding(rating_ids)
        mask = valid.unsqueeze(-1).to(items.dtype)
        items = items * mask
        return BehaviourWindow(items, torch.cat([items, ratings * mask], dim=-1), valid, item_table, item_index)

    @property
    def n_fields(self) -> int:
        """Fields of :meth:`field_embeddings`: user, target item, pooled history (item fields + rating)."""
        return self.schema.n_user_fields + 2 * self.schema.n_item_fields + 1

    def field_embeddings(self, batch: IDBatch, weight: torch.Tensor | None = None) -> torch.Tensor:
        """The sample as ``n_fields`` field vectors [B, F, D], for feature-interaction models.

        User fields and target item fields are looked up directly; the history enters as extra
        fields, the masked mean over behaviours of each item field and of the rating token (as in
        RecLoRA, Appendix B), pooled over the batch's distinct items and rating tokens
        (:func:`~recbench.nn.pooled_distinct`) without gathering the [B, L, F, D] window. ``weight``
        defaults to the shared embedding table; DeepFM passes that table with its first-order
        weights as one more column, so both come from a single lookup.
        """
        weight = self.embedding.weight if weight is None else weight
        direct = gather_rows(weight, torch.cat([batch.user, batch.item], dim=1))  # [B, F_user + F_item, D]
        if not torch.is_grad_enabled():  # scoring: no backward to save, so one bag per (sample, field) is cheaper
            history = torch.cat([batch.hist_item, batch.hist_rating.unsqueeze(-1)], dim=-1)
            return torch.cat([direct, masked_mean_lookup(weight, history, batch.hist_mask)], dim=1)
        items = pooled_distinct(weight, batch.hist_item, batch.hist_mask)  # [B, F_item, D]
        ratings = pooled_distinct(weight, batch.hist_rating.unsqueeze(-1), batch.hist_mask)  # [B, 1, D]
        return torch.cat([direct, items, ratings], dim=1)

    def history(self, data: ProtocolData, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Which earlier behaviours this model reads: the most recent L by default.

        Retrieval-based models (SIM) override this; it is called once per batch.
        """
        return recent_positions(data, rows, self.config.history_length)

    def forward(self, batch: IDBatch) -> CTROutput:  # pragma: no cover - abstract
        raise NotImplementedError
