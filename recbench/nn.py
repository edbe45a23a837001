"""Neural building blocks shared by the ID models; each lives here once.

Example:
    >>> import torch
    >>> mlp = MLP(8, (16, 4))
    >>> mlp(torch.zeros(2, 8)).shape
    torch.Size([2, 4])
"""

from __future__ import annotations

import torch
from torch import nn

from recbench.row_gather import gather_rows, pool_rows


class MLP(nn.Module):
    """Linear -> ReLU -> Dropout, repeated; ``output_dim`` is the last hidden size.

    The last hidden layer's output is what models expose as their penultimate representation,
    so the final logit layer is kept outside this block.
    """

    def __init__(self, input_dim: int, hidden: tuple[int, ...], dropout: float = 0.0) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        for width in hidden:
            layers += [nn.Linear(input_dim, width), nn.ReLU(), nn.Dropout(dropout)]
            input_dim = width
        self.layers = nn.Sequential(*layers)
        self.output_dim = input_dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)


def masked_mean(values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean over dim 1 of ``values`` [B, L, ...] where ``mask`` [B, L] is True; 0 if none."""
    weights = mask.to(values.dtype)
    while weights.dim() < values.dim():
        weights = weights.unsqueeze(-1)
    total = (values * weights).sum(dim=1)
    count = weights.sum(dim=1).clamp_min(1.0)
    return total / count


def window_shares(mask: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """Each behaviour's weight in its sample's masked mean [B, L]: 1 / (valid count), 0 where masked."""
    share = mask.to(dtype)
    return share / share.sum(dim=1, keepdim=True).clamp_min(1.0)


def masked_mean_lookup(weight: torch.Tensor, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """``masked_mean(weight[ids], mask)`` [B, F, D] for ids [B, L, F], without the [B, L, F, D] gather.

    One ``embedding_bag`` per (sample, field) over the L behaviours, each weighted by its mask
    over the number of valid behaviours: the pooled history fields of the feature-interaction
    models, at a fraction of the memory traffic (and an embedding backward that scatters only
    [B, F, L] weights, not a [B, L, F, D] gradient).

    Example:
        >>> weight = torch.arange(6.0).view(3, 2)
        >>> ids, mask = torch.tensor([[[1], [2]]]), torch.tensor([[True, False]])
        >>> masked_mean_lookup(weight, ids, mask).tolist()
        [[[2.0, 3.0]]]
    """
    batch, length, fields = ids.shape
    if length == 0:  # no behaviours kept at all (history_length 0): every mean is 0, as in masked_mean
        return weight.new_zeros(batch, fields, weight.shape[1])
    share = window_shares(mask, weight.dtype)
    bags = ids.permute(0, 2, 1).reshape(batch * fields, length)
    per_sample = share.unsqueeze(1).expand(batch, fields, length).reshape(batch * fields, length)
    pooled = torch.nn.functional.embedding_bag(bags, weight, mode="sum", per_sample_weights=per_sample)
    return pooled.view(batch, fields, weight.shape[1])


def distinct_rows(ids: torch.Tensor, size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The distinct rows of ``ids`` [..., F] keyed by their first column (< ``size``), and each row's index into them.

    Why: a behaviour window names the same few thousand items many times over (a batch of 256
    x 60 ml-1m-u2999 behaviours holds about 2,400 distinct items), and an item's fields are a
    function of its id. Embedding the distinct items once and indexing them moves the costly
    part of the embedding backward (a sorted scatter into the whole table) from B x L x F
    lookups to U x F. Rows are told apart by column 0 only (the item-id feature), so callers pass
    rows whose other columns are determined by it (the protocol's all-zero padding row is keyed
    0, user 0's id feature, which is never an item's). No sort: a presence mask over the ``size``
    possible keys and its running count give the slots, in key order, so the result is
    deterministic (rows written twice get the same values).

    Example:
        >>> rows, index = distinct_rows(torch.tensor([[[7, 1], [3, 0], [7, 1]]]), size=8)
        >>> rows.tolist(), index.tolist()
        ([[3, 0], [7, 1]], [[1, 0, 1]])
    """
    flat = ids.reshape(-1, ids.shape[-1])
    keys = flat[:, 0]
    seen = torch.zeros(size, dtype=torch.bool, device=ids.device)
    seen[keys] = True
    slot = torch.cumsum(seen, 0) - 1
    index = slot[keys]
    rows = flat.new_empty(int(slot[-1]) + 1 if size else 0, flat.shape[1])
    rows[index] = flat
    return rows, index.view(ids.shape[:-1])


def embed_distinct(weight: torch.Tensor, ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``weight[ids]`` for ids [B, L, F] as a table of distinct rows [U, F * D] and an index [B, L].

    ``table[index]`` equals ``weight[ids].flatten(2)``; see :func:`distinct_rows` for why.

    Example:
        >>> weight = torch.arange(8.0).view(4, 2)
        >>> table, index = embed_distinct(weight, torch.tensor([[[3, 1], [3, 1]]]))
        >>> table[index].tolist()
        [[[6.0, 7.0, 2.0, 3.0], [6.0, 7.0, 2.0, 3.0]]]
    """
    rows, index = distinct_rows(ids, weight.shape[0])
    return gather_rows(weight, rows).flatten(1), index


def pooled_distinct(weight: torch.Tensor, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """``masked_mean_lookup(weight, ids, mask)`` [B, F, D], pooled over distinct rows of ``ids``.

    Each sample's mean is one weighted bag over the distinct-row table of :func:`embed_distinct`,
    so the embedding backward scatters U x F rows into ``weight`` instead of B x L x F.

    Example:
        >>> weight = torch.arange(6.0).view(3, 2)
        >>> ids, mask = torch.tensor([[[1], [2]]]), torch.tensor([[True, False]])
        >>> pooled_distinct(weight, ids, mask).tolist()
        [[[2.0, 3.0]]]
    """
    batch, length, fields = ids.shape
    if length == 0:
        return weight.new_zeros(batch, fields, weight.shape[1])
    table, index = embed_distinct(weight, ids)
    share = window_shares(mask, weight.dtype)
    if len(table) <= _DENSE_POOL_ROWS:  # a handful of rows (rating tokens): a [B, U] share matrix, no sort
        pooled = share.new_zeros(batch, len(table)).scatter_add_(1, index, share) @ table
    else:
        pooled = pool_rows(table, index, share)
    return pooled.view(batch, fields, weight.shape[1])


#: up to this many distinct rows, :func:`pooled_distinct` pools by a dense matmul instead of a bag
_DENSE_POOL_ROWS = 64


class TargetAttention(nn.Module):
    """DIN's local activation unit (Zhou et al., KDD 2018, Sec. 4.3).

    Scores each behaviour key h against the target t with an MLP over [t, h, t - h, t * h] and
    returns the score-weighted sum of the behaviour values. As in the paper the scores are not
    softmax-normalised by default, so the pooled vector keeps information on how much of the
    history is relevant; ``softmax=True`` gives the normalised variant.

    Example:
        >>> att = TargetAttention(key_dim=6, hidden=(8,))
        >>> t, h = torch.zeros(2, 6), torch.zeros(2, 5, 6)
        >>> att(t, h, torch.ones(2, 5, 4), torch.ones(2, 5, dtype=torch.bool)).shape
        torch.Size([2, 4])
    """

    def __init__(self, key_dim: int, hidden: tuple[int, ...] = (64,), dropout: float = 0.0, softmax: bool = False):
        super().__init__()
        if not hidden:
            raise ValueError("TargetAttention needs at least one hidden layer")
        self.key_dim = key_dim
        self.first = nn.Linear(4 * key_dim, hidden[0])  # acts on [t, h, t - h, t * h]
        self.rest = MLP(hidden[0], hidden[1:], dropout)
        self.dropout = nn.Dropout(dropout)
        self.score = nn.Linear(self.rest.output_dim, 1)
        self.softmax = softmax

    def forward(
        self, target: torch.Tensor, keys: torch.Tensor, values: torch.Tensor, mask: torch.Tensor,
        key_table: torch.Tensor | None = None, key_index: torch.Tensor | None = None,
    ) -> torch.Tensor:  # fmt: skip
        """Pool ``values`` [B, L, V] by each behaviour's score against ``target`` [B, K].

        ``key_table`` [U, K] with ``key_index`` [B, L] (``keys`` equals ``key_table[key_index]``
        at the valid positions) lets the keys' own linear term run once per distinct item of the
        batch instead of once per behaviour.
        """
        # W [t, h, t-h, t*h] = (W_t + W_d) t + (W_h - W_d) h + W_p (t*h): the target's share is
        # computed once per sample, the key's share once per distinct key when a table is given,
        # and the 4x-wide concatenation is never built. Same function, fewer FLOPs.
        # Only valid behaviours go through the MLP (a sixth of ML-1M's windows is padding); the
        # padded positions' scores are 0 (or -inf before a softmax) either way.
        if (key_table is None) != (key_index is None):
            raise ValueError("TargetAttention: key_table and key_index go together (pass both or neither)")
        batch, length = mask.shape
        flat = mask.reshape(-1)
        valid = None if bool(flat.all()) else flat.nonzero().squeeze(1)  # [V] indices into B * L
        owner = torch.arange(batch, device=mask.device).repeat_interleave(length) if valid is None else valid // length
        keys = keys.reshape(batch * length, -1) if valid is None else gather_rows(keys.reshape(batch * length, -1), valid)
        w_t, w_h, w_d, w_p = self.first.weight.split(self.key_dim, dim=1)
        per_target = target @ (w_t + w_d).T + self.first.bias  # [B, H]
        if key_table is None:
            per_key = keys @ (w_h - w_d).T
        else:
            rows = key_index.reshape(-1) if valid is None else key_index.reshape(-1)[valid]
            per_key = gather_rows(key_table @ (w_h - w_d).T, rows)  # [V, H] from [U, H]
        # the target and its term, gathered to their behaviours in one pass; then one add: the
        # product term's matmul accumulates onto the key and target terms
        owned_term, owned_target = gather_rows(torch.cat([per_target, target], dim=1), owner).split((per_target.shape[1], target.shape[1]), dim=1)
        per_behaviour = torch.addmm(per_key + owned_term, owned_target * keys, w_p.T)  # [V, H]
        hidden = self.rest(self.dropout(torch.relu(per_behaviour)))
        packed = self.score(hidden).squeeze(-1)  # [V]
        scores = packed if valid is None else packed.new_zeros(batch * length).index_put((valid,), packed)
        scores = scores.view(batch, length)
        if self.softmax:
            scores = scores.masked_fill(~mask, float("-inf")).softmax(dim=1).nan_to_num(0.0)
        else:
            scores = scores * mask.to(scores.dtype)
        return torch.bmm(scores.unsqueeze(1), values).squeeze(1)


def align_right(values: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """Turn right-padded sequences [B, L, ...] into left-padded ones: the newest valid element
    lands at index L - 1 and padding moves to the front.

    Models whose weights are tied to positions (Caser's vertical filters, SASRec's positional
    embeddings) read "index L - 1" as "most recent" this way, as in their papers.

    Example:
        >>> align_right(torch.tensor([[1, 2, 0, 0], [1, 2, 3, 4]]), torch.tensor([2, 4]))
        tensor([[0, 0, 1, 2],
                [1, 2, 3, 4]])
    """
    length = values.shape[1]
    index = (torch.arange(length, device=values.device) + lengths.unsqueeze(1)) % length  # [B, L]
    return values.gather(1, index.view(*index.shape, *([1] * (values.dim() - 2))).expand_as(values))


class MultiHeadSelfAttention(nn.Module):
    """Scaled dot-product self-attention with ``heads`` heads (Vaswani et al., NeurIPS 2017).

    Queries, keys and values are projected from ``input_dim`` to ``attention_dim`` (split evenly
    over the heads); the heads' outputs are concatenated and, if ``project_output``, mixed by a
    final linear map. ``mask`` [B, N] marks valid positions (keys elsewhere are ignored);
    ``causal`` lets position t see only positions <= t. Every position may always attend to
    itself, so no row of the attention is empty (padded queries get a finite, unused output).
    ``n_queries`` computes only the last that many positions' outputs (exactly as if all were
    computed and the rest dropped) for models that read only the newest one.

    Example:
        >>> attention = MultiHeadSelfAttention(input_dim=6, attention_dim=8, heads=2)
        >>> attention(torch.randn(3, 5, 6), torch.ones(3, 5, dtype=torch.bool)).shape
        torch.Size([3, 5, 8])
    """

    def __init__(
        self,
        input_dim: int,
        attention_dim: int,
        heads: int = 1,
        dropout: float = 0.0,
        causal: bool = False,
        project_output: bool = True,
    ) -> None:
        super().__init__()
        if attention_dim % heads:
            raise ValueError(f"attention_dim {attention_dim} is not divisible by heads {heads}")
        self.heads = heads
        self.dropout = dropout
        self.causal = causal
        self.query = nn.Linear(input_dim, attention_dim, bias=False)
        self.key_value = nn.Linear(input_dim, 2 * attention_dim, bias=False)
        self.out = nn.Linear(attention_dim, attention_dim) if project_output else nn.Identity()

    def split_heads(self, t: torch.Tensor) -> torch.Tensor:
        """[B, N, attention_dim] -> [B, heads, N, attention_dim / heads]."""
        return t.view(t.shape[0], t.shape[1], self.heads, -1).transpose(1, 2)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None, n_queries: int | None = None) -> torch.Tensor:
        batch, n, _ = x.shape
        m = n if n_queries is None else n_queries
        q = self.split_heads(self.query(x[:, n - m :]))
        k, v = (self.split_heads(t) for t in self.key_value(x).chunk(2, dim=-1))
        allowed = None
        if mask is not None or self.causal:
            query_pos = torch.arange(n - m, n, device=x.device).unsqueeze(1)  # [M, 1]
            key_pos = torch.arange(n, device=x.device).unsqueeze(0)  # [1, N]
            allowed = key_pos <= query_pos if self.causal else torch.ones(m, n, dtype=torch.bool, device=x.device)
            if mask is not None:
                allowed = allowed & mask[:, None, None, :]  # [B, 1, M, N]
            allowed = allowed | (key_pos == query_pos)
        attended = nn.functional.scaled_dot_product_attention(
            q, k, v, attn_mask=allowed, dropout_p=self.dropout if self.training else 0.0
        )  # [B, heads, M, attention_dim / heads]
        return self.out(attended.transpose(1, 2).reshape(batch, m, -1))


class SelfAttentionBlock(nn.Module):
    """A Transformer encoder block as SASRec uses it (Kang & McAuley, ICDM 2018, Sec. III-B/C).

    Two sub-layers, each applied as ``x + Dropout(sublayer(LayerNorm(x)))``: multi-head
    self-attention, then a point-wise two-layer feed-forward network (ReLU) of width ``dim``.
    Dropout acts on the sub-layer outputs only, as in the paper (random masks over the attention
    weights or inside the feed-forward network cost more than the layers themselves on CPU).
    ``n_queries`` is passed to :class:`MultiHeadSelfAttention`: only the last positions come out.

    Example:
        >>> block = SelfAttentionBlock(dim=8, heads=2, causal=True)
        >>> block(torch.randn(3, 5, 8), torch.ones(3, 5, dtype=torch.bool)).shape
        torch.Size([3, 5, 8])
        >>> block(torch.randn(3, 5, 8), n_queries=1).shape
        torch.Size([3, 1, 8])
    """

    def __init__(self, dim: int, heads: int = 1, dropout: float = 0.0, causal: bool = False) -> None:
        super().__init__()
        self.attention_norm = nn.LayerNorm(dim)
        self.attention = MultiHeadSelfAttention(dim, dim, heads, causal=causal)
        self.feed_forward_norm = nn.LayerNorm(dim)
        self.feed_forward = nn.Sequential(nn.Linear(dim, dim), nn.ReLU(), nn.Linear(dim, dim))
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None, n_queries: int | None = None) -> torch.Tensor:
        attended = self.attention(self.attention_norm(x), mask, n_queries)
        x = x[:, x.shape[1] - attended.shape[1] :] + self.dropout(attended)
        return x + self.dropout(self.feed_forward(self.feed_forward_norm(x)))


class CrossNetworkV2(nn.Module):
    """DCN-V2's cross network (Wang et al., WWW 2021, Sec. 3.1, Eq. 1).

    Each layer crosses the current vector with the input: ``x_{l+1} = x_0 * (W_l x_l + b_l) + x_l``
    with a full-rank ``W_l``, so layer l builds feature crosses of degree l + 1 while the
    residual keeps the lower degrees. Input and output are [B, dim].

    Example:
        >>> cross = CrossNetworkV2(dim=6, layers=3)
        >>> cross(torch.randn(2, 6)).shape
        torch.Size([2, 6])
    """

    def __init__(self, dim: int, layers: int) -> None:
        super().__init__()
        self.layers = nn.ModuleList(nn.Linear(dim, dim) for _ in range(layers))
        self.output_dim = dim

    def forward(self, x0: torch.Tensor) -> torch.Tensor:
        x = x0
        for layer in self.layers:
            x = x0 * layer(x) + x
        return x
