"""One personalized LoRA layer: a frozen linear plus N_m meta-LoRAs mixed per sample by a gate.

RecLoRA (SPEC 5, paper Sec. 3.2) gives every adapted projection N_m low-rank pairs
(A_k: d_in x r, B_k: d_out x r) and a small gate that turns the user's CRM representation
R_c into mixture weights w = softmax(gate(R_c) / T). Each sample of a batch therefore gets
its own low-rank update, computed here with batched matmuls only: the per-sample factors
are [b, d_in, r] and [b, d_out, r], never a d_in x d_out matrix.

R_c is not an argument of ``forward`` because Hugging Face models call their projections
with the hidden states alone. Instead all layers of one model share a :class:`ConditionSlot`
that the caller fills for the duration of one model call.

Example:
    >>> import torch
    >>> from torch import nn
    >>> from reclora.config import PersonalizedLoRAConfig
    >>> config = PersonalizedLoRAConfig(n_meta=4, condition_dim=6)
    >>> slot = ConditionSlot(config.condition_dim)
    >>> layer = PersonalizedLoRALinear(nn.Linear(8, 5), config, slot)
    >>> with slot.bind(torch.randn(2, 6)):
    ...     layer(torch.randn(2, 3, 8)).shape
    torch.Size([2, 3, 5])
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import nn

from recbench.errors import RecbenchError
from reclora.config import PersonalizedLoRAConfig


class ConditionSlot:
    """The per-sample condition R_c [b, d_c] that every personalized layer of a model reads.

    One slot is shared by all layers injected into a model; :meth:`bind` fills it for the
    duration of a ``with`` block and restores the previous value afterwards, so nested or
    interrupted forwards never leak a stale condition into a later call.
    """

    def __init__(self, dim: int) -> None:
        self.dim = dim
        self._value: torch.Tensor | None = None

    @property
    def value(self) -> torch.Tensor | None:
        """The bound condition, or None outside a :meth:`bind` block."""
        return self._value

    @contextmanager
    def bind(self, condition: torch.Tensor) -> Iterator[torch.Tensor]:
        """Make ``condition`` [b, d_c] visible to every layer until the block exits."""
        if not isinstance(condition, torch.Tensor):
            raise RecbenchError(f"the condition must be a tensor [batch, {self.dim}], got {type(condition).__name__}")
        if condition.dim() != 2 or condition.shape[1] != self.dim:
            raise RecbenchError(
                f"the condition must have shape [batch, {self.dim}], got {list(condition.shape)}"
            )
        if not condition.is_floating_point():
            raise RecbenchError(f"the condition must be a floating-point tensor, got {condition.dtype}")
        previous, self._value = self._value, condition
        try:
            yield condition
        finally:
            self._value = previous

    def require(self, batch_size: int, layer_name: str) -> torch.Tensor:
        """The bound condition, checked against the batch a layer is processing."""
        if self._value is None:
            raise RecbenchError(
                f"personalized LoRA layer {layer_name!r} ran without a condition; "
                "call the model inside `with adapter.condition(rc):`"
            )
        if self._value.shape[0] != batch_size:
            raise RecbenchError(
                f"personalized LoRA layer {layer_name!r} got a batch of {batch_size} "
                f"but the condition has {self._value.shape[0]} rows; pass one R_c row per sample"
            )
        return self._value


class LoRAGate(nn.Module):
    """LayerNorm -> Linear -> ReLU -> Dropout -> Linear, then softmax(logits / T) (paper Eq. 13-14).

    The temperature is applied before the softmax, so a large T keeps the mixture close to
    uniform early in training and every meta-LoRA receives gradient.
    """

    def __init__(self, condition_dim: int, hidden: int, n_meta: int, dropout: float, temperature: float) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(condition_dim)
        self.hidden = nn.Linear(condition_dim, hidden)
        self.dropout = nn.Dropout(dropout)
        self.out = nn.Linear(hidden, n_meta)
        self.temperature = temperature

    def forward(self, condition: torch.Tensor) -> torch.Tensor:
        """Mixture weights [b, N_m], each row summing to one."""
        hidden = self.dropout(torch.relu(self.hidden(self.norm(condition))))
        return torch.softmax(self.out(hidden) / self.temperature, dim=-1)


def linear_features(module: nn.Module) -> tuple[int, int] | None:
    """(in_features, out_features) of a linear-like module, or None when it is not one.

    Read from attributes rather than the weight's shape because quantised linears
    (bitsandbytes' Linear8bitLt / Linear4bit) store packed weights whose shape is not
    [out, in], while still exposing the logical sizes.
    """
    in_features = getattr(module, "in_features", None)
    out_features = getattr(module, "out_features", None)
    if isinstance(in_features, int) and isinstance(out_features, int):
        return in_features, out_features
    return None


def is_quantized(module: nn.Module) -> bool:
    """True for bitsandbytes layers and any layer whose weight is not floating-point."""
    if type(module).__module__.split(".")[0] == "bitsandbytes":
        return True
    weight = getattr(module, "weight", None)
    return isinstance(weight, torch.Tensor) and not weight.is_floating_point()


class PersonalizedLoRALinear(nn.Module):
    """A frozen linear ``base`` plus RecLoRA's gated mixture of N_m meta-LoRAs.

    ``forward(x) = base(x) + (alpha / r) * delta(x, R_c)`` where R_c comes from the shared
    :class:`ConditionSlot`. The meta-LoRA path is computed in the adapter's own dtype: the
    base weight's dtype for ordinary layers, float32 for quantised ones (whose int8 / 4-bit
    weights cannot host trainable parameters); its result is cast back to the base output's
    dtype so the surrounding model never sees a dtype change.

    Parameters (all trainable): ``meta_A`` [N_m, d_in, r], Kaiming-uniform as LoRA's A;
    ``meta_B`` [N_m, d_out, r], zero so that a fresh layer leaves the backbone unchanged;
    ``gate``, a :class:`LoRAGate`.
    """

    def __init__(
        self, base: nn.Module, config: PersonalizedLoRAConfig, slot: ConditionSlot, name: str = "<layer>"
    ) -> None:
        super().__init__()
        features = linear_features(base)
        if features is None:
            raise RecbenchError(
                f"module {name!r} ({type(base).__name__}) is not a linear layer with in_features/out_features"
            )
        if slot.dim != config.condition_dim:
            raise RecbenchError(f"condition slot has {slot.dim} dims but the config says {config.condition_dim}")
        self.in_features, self.out_features = features
        self.base = base
        self.name = name
        self.n_meta = config.n_meta
        self.rank = config.rank
        self.scaling = config.scaling
        self.mixing = config.mixing
        self._slot = slot
        weight = getattr(base, "weight", None)
        device = weight.device if isinstance(weight, torch.Tensor) else None
        dtype = torch.float32 if is_quantized(base) or not isinstance(weight, torch.Tensor) else weight.dtype
        placement = {"device": device, "dtype": dtype}
        self.meta_A = nn.Parameter(torch.empty(config.n_meta, self.in_features, config.rank, **placement))
        self.meta_B = nn.Parameter(torch.zeros(config.n_meta, self.out_features, config.rank, **placement))
        self.gate = LoRAGate(
            config.condition_dim, config.gate_hidden, config.n_meta, config.gate_dropout, config.temperature
        ).to(device=device, dtype=dtype)
        self.lora_dropout: nn.Module = nn.Dropout(config.dropout) if config.dropout > 0 else nn.Identity()
        self.reset_meta_lora()

    def reset_meta_lora(self) -> None:
        """A_k ~ U(-1/sqrt(d_in), 1/sqrt(d_in)), B_k = 0.

        The bound is what ``kaiming_uniform_(a=sqrt(5))`` gives LoRA's A stored as [r, d_in]
        (fan-in d_in); it is written out because our [N_m, d_in, r] layout would make
        torch's fan-in computation pick the wrong axis.
        """
        bound = 1.0 / math.sqrt(self.in_features)
        with torch.no_grad():
            self.meta_A.uniform_(-bound, bound)
            self.meta_B.zero_()

    @property
    def weight(self) -> torch.Tensor:
        """The base layer's weight, for model code that inspects ``proj.weight`` (dtype, device)."""
        return self.base.weight

    @property
    def bias(self) -> torch.Tensor | None:
        """The base layer's bias, for the same reason as :attr:`weight`."""
        return getattr(self.base, "bias", None)

    def gate_weights(self, condition: torch.Tensor) -> torch.Tensor:
        """Mixture weights w [b, N_m] this layer gives each row of ``condition`` [b, d_c]."""
        return self.gate(condition.to(device=self.meta_A.device, dtype=self.meta_A.dtype))

    def delta(self, x: torch.Tensor, condition: torch.Tensor) -> torch.Tensor:
        """The scaled personalized update for ``x`` [b, ..., d_in], in the adapter's dtype."""
        dtype = self.meta_A.dtype
        batch = x.shape[0]
        h_in = self.lora_dropout(x.to(dtype)).reshape(batch, -1, self.in_features)
        w = self.gate_weights(condition)  # [b, N_m]
        # alpha / r is folded into the B-side weights: it then costs b * N_m multiplies.
        w_scaled = w * self.scaling
        if self.mixing == "factors":
            # One [b, N_m] x [N_m, d * r] matmul per factor; no [b, N_m, d, r] intermediate.
            a_user = (w @ self.meta_A.flatten(1)).view(batch, self.in_features, self.rank)
            b_user = (w_scaled @ self.meta_B.flatten(1)).view(batch, self.out_features, self.rank)
            low = torch.bmm(h_in, a_user)  # [b, T, r]
            out = torch.bmm(low, b_user.transpose(1, 2))  # [b, T, d_out]
        else:
            # Stack the meta-LoRAs side by side: x A_cat gives all N_m rank-r projections at once,
            # each rank block is scaled by its sample's weight, and B_cat sums them back.
            a_cat = self.meta_A.permute(1, 0, 2).reshape(self.in_features, self.n_meta * self.rank)
            b_cat = self.meta_B.permute(1, 0, 2).reshape(self.out_features, self.n_meta * self.rank)
            low = (h_in @ a_cat).view(batch, -1, self.n_meta, self.rank)
            low = (low * w_scaled[:, None, :, None]).flatten(2)  # [b, T, N_m * r]
            out = low @ b_cat.T
        return out.view(*x.shape[:-1], self.out_features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        result = self.base(x)
        condition = self._slot.require(x.shape[0], self.name)
        return result + self.delta(x, condition).to(result.dtype)

    def extra_repr(self) -> str:
        return f"n_meta={self.n_meta}, rank={self.rank}, scaling={self.scaling:g}, mixing={self.mixing!r}"
