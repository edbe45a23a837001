"""Hyper-parameters of RecLoRA's personalized LoRA module (SPEC 5).

The config is a frozen dataclass so that one value describes one adapter exactly: it is
stored verbatim in every saved adapter file and compared field by field on load, which is
what lets a load refuse a file trained with a different shape or mixing rule.

Example:
    >>> config = PersonalizedLoRAConfig(n_meta=4)
    >>> config.scaling
    2.0
    >>> PersonalizedLoRAConfig.from_dict(config.to_dict()) == config
    True
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Literal

from recbench.errors import RecbenchError

Mixing = Literal["factors", "products"]
MIXINGS: tuple[str, ...] = ("factors", "products")


@dataclass(frozen=True)
class PersonalizedLoRAConfig:
    """Shape and behaviour of every personalized LoRA layer injected into one model.

    Attributes:
        n_meta: N_m, the number of meta-LoRAs each adapted layer owns.
        rank: r, the rank of every meta-LoRA.
        alpha: LoRA's alpha; the update is scaled by ``alpha / rank`` as in plain LoRA, so
            N_m = 1 reproduces a plain LoRA with the same alpha and rank.
        dropout: dropout on the adapted layer's input before the LoRA path (0 in the paper).
        gate_hidden: width of the gate's hidden layer (60 in the reference code).
        gate_dropout: dropout after the gate's ReLU.
        temperature: T in ``softmax(logits / T)``; larger T gives flatter mixtures.
        mixing: ``"factors"`` (the reference code and the default) mixes the factors first,
            ``A_u = sum_k w_k A_k`` and ``B_u = sum_k w_k B_k``, then applies ``x A_u B_u^T``;
            ``"products"`` reads Eq. 11 as a sum of per-meta-LoRA updates,
            ``sum_k w_k x A_k B_k^T``. The two agree only when N_m = 1.
        target_modules: leaf module names to adapt; a module is adapted when the last
            component of its dotted name equals one of these.
        condition_dim: d_c, the size of the CRM representation R_c fed to every gate.
    """

    n_meta: int = 16
    rank: int = 8
    alpha: float = 16.0
    dropout: float = 0.0
    gate_hidden: int = 60
    gate_dropout: float = 0.1
    temperature: float = 5.0
    mixing: Mixing = "factors"
    target_modules: tuple[str, ...] = ("q_proj", "v_proj")
    condition_dim: int = 256

    def __post_init__(self) -> None:
        # Lists arrive from JSON and from users; a tuple keeps the dataclass hashable and frozen.
        if isinstance(self.target_modules, str) or not isinstance(self.target_modules, (tuple, list)):
            raise RecbenchError(
                f"target_modules must be a list of module names, got {self.target_modules!r}"
            )
        object.__setattr__(self, "target_modules", tuple(self.target_modules))
        for name in ("n_meta", "rank", "gate_hidden", "condition_dim"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise RecbenchError(f"{name} must be a positive integer, got {value!r}")
        for name in ("alpha", "temperature"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
                raise RecbenchError(f"{name} must be a positive number, got {value!r}")
            object.__setattr__(self, name, float(value))
        for name in ("dropout", "gate_dropout"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value < 1.0:
                raise RecbenchError(f"{name} must be a probability in [0, 1), got {value!r}")
            object.__setattr__(self, name, float(value))
        if self.mixing not in MIXINGS:
            raise RecbenchError(f"mixing must be one of {', '.join(MIXINGS)}, got {self.mixing!r}")
        if not self.target_modules or not all(isinstance(t, str) and t for t in self.target_modules):
            raise RecbenchError(
                f"target_modules must be a non-empty list of module names, got {list(self.target_modules)!r}"
            )

    @property
    def scaling(self) -> float:
        """LoRA's output scale ``alpha / rank``."""
        return self.alpha / self.rank

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready values (target_modules as a list)."""
        values = dataclasses.asdict(self)
        values["target_modules"] = list(self.target_modules)
        return values

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> PersonalizedLoRAConfig:
        """Inverse of :meth:`to_dict`; unknown keys are an error rather than silently dropped."""
        known = {field.name for field in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise RecbenchError(f"unknown personalized LoRA config keys: {', '.join(unknown)}")
        return cls(**values)
