"""The ID modality: gathering a batch of samples with their history windows.

A history window is gathered per batch from the per-user sequences of
:class:`~recbench.protocol.ProtocolData` by index arithmetic, so memory stays O(batch x L)
whatever the dataset size. Windows are chronological and right-padded: valid behaviours come
first (oldest to newest) and ``hist_mask`` marks them.

Example:
    >>> import numpy as np
    >>> from recbench.datasets import load_dataset
    >>> from recbench.protocol import prepare
    >>> from recbench.batches import gather_batch, recent_positions
    >>> data = prepare(load_dataset("synth"))
    >>> rows = data.split_rows("test")[:4]
    >>> batch = gather_batch(data, rows, *recent_positions(data, rows, 60))
    >>> tuple(batch.hist_item.shape[:2])
    (4, 60)
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
import torch

from recbench.protocol import ProtocolData


@dataclass
class IDBatch:
    """Tensors of one batch; feature tensors hold global ids into the shared embedding table.

    Attributes:
        user: [B, F_user] user id and profile fields.
        item: [B, F_item] target item id, title and genre.
        hist_item: [B, L, F_item] the behaviours' item fields (zeros where padded).
        hist_rating: [B, L] the behaviours' rating tokens.
        hist_mask: [B, L] True for real behaviours.
        label: [B] 0/1 as float.
        row: [B] protocol row ids, so predictions can be matched across models.
    """

    user: torch.Tensor
    item: torch.Tensor
    hist_item: torch.Tensor
    hist_rating: torch.Tensor
    hist_mask: torch.Tensor
    label: torch.Tensor
    row: torch.Tensor

    @property
    def hist_len(self) -> torch.Tensor:
        return self.hist_mask.sum(dim=1)

    def to(self, device: torch.device | str) -> "IDBatch":
        return IDBatch(**{f.name: getattr(self, f.name).to(device, non_blocking=True) for f in fields(self)})

    def __len__(self) -> int:
        return int(self.label.shape[0])


def recent_positions(data: ProtocolData, rows: np.ndarray, length: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices (into ``data.seq_*``) of each row's last ``length`` earlier ratings, and a mask.

    The window of a sample at position p of user u is ``seq[ptr[u] + max(0, p - L) : ptr[u] + p]``;
    it is built as ``start + arange(L)`` with the tail masked, never by slicing per sample.
    """
    pos = data.sample_pos[rows].astype(np.int64)
    n_valid = np.minimum(pos, length)
    start = data.seq_ptr[data.sample_user[rows]] + pos - n_valid
    offsets = np.arange(length, dtype=np.int64)
    mask = offsets[None, :] < n_valid[:, None]
    index = np.where(mask, start[:, None] + offsets[None, :], 0)
    return index, mask


def gather_batch(data: ProtocolData, rows: np.ndarray, hist_index: np.ndarray, hist_mask: np.ndarray) -> IDBatch:
    """Assemble an :class:`IDBatch` for ``rows`` with the given behaviour indices.

    ``hist_index``/``hist_mask`` come from :func:`recent_positions` or from a retriever, so
    recent and retrieved histories share this one code path.
    """
    rows = np.asarray(rows, dtype=np.int64)
    own = data.sample_index(rows)
    users = data.sample_user[rows]
    hist_items = data.item_features[data.seq_item[hist_index]]
    hist_items[~hist_mask] = 0
    hist_rating = np.where(hist_mask, data.seq_rating[hist_index].astype(np.int64) + data.rating_token_offset, 0)
    return IDBatch(
        user=torch.from_numpy(np.ascontiguousarray(data.user_features[users])),
        item=torch.from_numpy(np.ascontiguousarray(data.item_features[data.seq_item[own]])),
        hist_item=torch.from_numpy(hist_items),
        hist_rating=torch.from_numpy(hist_rating),
        hist_mask=torch.from_numpy(hist_mask),
        label=torch.from_numpy(data.seq_label[own].astype(np.float32)),
        row=torch.from_numpy(rows),
    )
