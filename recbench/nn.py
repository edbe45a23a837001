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
        self, target: torch.Tensor, keys: torch.Tensor, values: torch.Tensor, mask: torch.Tensor
    ) -> torch.Tensor:
        # W [t, h, t-h, t*h] = (W_t + W_d) t + (W_h - W_d) h + W_p (t*h): the target's share is
        # computed once per sample instead of once per behaviour, and the 4x-wide concatenation
        # is never built. Same function, about half the FLOPs of the first layer.
        w_t, w_h, w_d, w_p = self.first.weight.split(self.key_dim, dim=1)
        per_target = target @ (w_t + w_d).T + self.first.bias  # [B, H]
        per_behaviour = keys @ (w_h - w_d).T + (target.unsqueeze(1) * keys) @ w_p.T  # [B, L, H]
        hidden = self.rest(self.dropout(torch.relu(per_behaviour + per_target.unsqueeze(1))))
        scores = self.score(hidden).squeeze(-1)  # [B, L]
        if self.softmax:
            scores = scores.masked_fill(~mask, float("-inf")).softmax(dim=1).nan_to_num(0.0)
        else:
            scores = scores * mask.to(scores.dtype)
        return torch.bmm(scores.unsqueeze(1), values).squeeze(1)
