"""Row gathers and weighted row pools whose backward is a forward bag, not a sorted scatter.

Why: an ID model's step reads the embedding table a few hundred thousand times (user and item
fields, and the behaviour windows), and torch's backward for those reads
(``embedding_dense_backward``, ``_embedding_bag_dense_backward``, ``index_put_`` with
``accumulate``) is the slowest part of it on CPU: it zero-fills, sorts and scatters row by row.
The gradient of a gather is itself a gather, transposed: table row ``u`` receives the sum of
the output gradients at the positions that read ``u``. Grouping those positions once per call
(a stable sort of the index, plus one offset per table row) turns the backward into a plain
``embedding_bag`` forward over the output gradient, which is torch's fast, vectorised kernel.

The sum for each row runs over its positions in increasing order, so the results are
deterministic. On CPU that is the order torch's embedding backward uses, so the gather's
gradient is bit-identical to ``F.embedding``'s (tested); the pool's agrees with
``embedding_bag``'s to float rounding (its kernel rounds the weighted products differently),
and on CUDA both agree to float rounding.

Example:
    >>> table = torch.arange(6.0).view(3, 2).requires_grad_()
    >>> index = torch.tensor([[2, 0], [2, 2]])
    >>> gather_rows(table, index).shape
    torch.Size([2, 2, 2])
    >>> gather_rows(table, index).sum().backward()
    >>> table.grad[:, 0].tolist()
    [1.0, 0.0, 3.0]
"""

from __future__ import annotations

from typing import Any

import torch
from torch.nn import functional as F


def _positions_by_row(flat_index: torch.Tensor, n_rows: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The positions of ``flat_index`` grouped by the row they read, in increasing order within a
    row, and each row's offset into that list (a row no position reads gets an empty group)."""
    order = torch.sort(flat_index, stable=True).indices
    counts = torch.bincount(flat_index, minlength=n_rows)
    offsets = torch.cumsum(counts, 0) - counts
    return order, offsets


class _GatherRows(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, table: torch.Tensor, index: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        flat = index.reshape(-1)
        order, offsets = _positions_by_row(flat, table.shape[0])
        ctx.save_for_backward(order, offsets)
        return table.index_select(0, flat).view(*index.shape, table.shape[1])

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor, None]:  # type: ignore[override]
        order, offsets = ctx.saved_tensors
        flat_grad = grad.reshape(-1, grad.shape[-1])
        return F.embedding_bag(order, flat_grad, offsets, mode="sum"), None


class _PoolRows(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, table: torch.Tensor, index: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        flat = index.reshape(-1)
        order, offsets = _positions_by_row(flat, table.shape[0])
        ctx.save_for_backward(torch.div(order, index.shape[1], rounding_mode="floor"), offsets, weights.reshape(-1)[order])
        return F.embedding_bag(index, table, mode="sum", per_sample_weights=weights)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor, None, None]:  # type: ignore[override]
        owner, offsets, weights = ctx.saved_tensors
        return F.embedding_bag(owner, grad.contiguous(), offsets, mode="sum", per_sample_weights=weights), None, None


def gather_rows(table: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """``table[index]`` of shape ``index.shape + (D,)`` for a 2-D ``table``.

    When a gradient is needed, the backward is a forward bag over the output gradient (see the
    module docstring); otherwise it is the plain lookup, with nothing extra computed.
    """
    if not (torch.is_grad_enabled() and table.requires_grad):
        return F.embedding(index, table)
    return _GatherRows.apply(table, index)


def pool_rows(table: torch.Tensor, index: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """``(weights[..., None] * table[index]).sum(1)``: one weighted bag per row of ``index`` [B, L].

    The weights are constants (window shares); no gradient flows to them.

    Example:
        >>> table = torch.tensor([[1.0], [10.0]])
        >>> pool_rows(table, torch.tensor([[0, 1]]), torch.tensor([[0.5, 0.5]])).tolist()
        [[5.5]]
    """
    if weights.requires_grad:
        raise ValueError("pool_rows: the weights are constants; pass weights.detach()")
    if index.dim() != 2 or index.shape[1] == 0 or weights.shape != index.shape:
        raise ValueError(f"pool_rows: index and weights must both be [B, L] with L >= 1, got {tuple(index.shape)} and {tuple(weights.shape)}")
    if not (torch.is_grad_enabled() and table.requires_grad):
        return F.embedding_bag(index, table, mode="sum", per_sample_weights=weights)
    return _PoolRows.apply(table, index, weights)
