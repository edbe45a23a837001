"""Injecting personalized LoRA layers into a model, and saving / loading what they learned.

:func:`inject_personalized_lora` wraps every target projection of any Hugging Face causal LM
(any ``nn.Module`` in fact) in place, freezes everything else, and returns a
:class:`PersonalizedAdapter`: the handle through which the caller supplies R_c, collects the
trainable parameters and saves them. Only adapter tensors are saved; the config travels in
the safetensors metadata so a file can never be loaded into an adapter of another shape.

Example:
    >>> import torch
    >>> from torch import nn
    >>> from reclora.config import PersonalizedLoRAConfig
    >>> model = nn.ModuleDict({"q_proj": nn.Linear(8, 8), "v_proj": nn.Linear(8, 8), "o_proj": nn.Linear(8, 8)})
    >>> adapter = inject_personalized_lora(model, PersonalizedLoRAConfig(n_meta=2, condition_dim=4))
    >>> sorted(adapter.layers)
    ['q_proj', 'v_proj']
    >>> with adapter.condition(torch.randn(3, 4)):
    ...     model["q_proj"](torch.randn(3, 5, 8)).shape
    torch.Size([3, 5, 8])
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import AbstractContextManager
from pathlib import Path

import torch
from torch import nn

from recbench.errors import RecbenchError
from reclora.config import PersonalizedLoRAConfig
from reclora.layer import ConditionSlot, PersonalizedLoRALinear, linear_features

FILE_FORMAT = "recbench.reclora/1"


class PersonalizedAdapter:
    """The personalized LoRA layers injected into one model, and the condition they share.

    Not an ``nn.Module``: the layers already live inside the model (so ``model.to``,
    ``model.train`` and the model's own ``state_dict`` see them); this object only indexes
    them by their dotted module name.
    """

    def __init__(
        self,
        model: nn.Module,
        config: PersonalizedLoRAConfig,
        layers: dict[str, PersonalizedLoRALinear],
        slot: ConditionSlot,
    ) -> None:
        self.model = model
        self.config = config
        self.layers = layers
        self.slot = slot

    def condition(self, condition: torch.Tensor) -> AbstractContextManager[torch.Tensor]:
        """Bind R_c [b, d_c] for every personalized layer during a ``with`` block.

        Usage: ``with adapter.condition(rc): logits = model(input_ids, attention_mask).logits``;
        row i of ``rc`` personalizes sample i of the batch.
        """
        return self.slot.bind(condition)

    def named_trainable_parameters(self) -> Iterator[tuple[str, nn.Parameter]]:
        """(``<module name>.<parameter>``, parameter) for every meta-LoRA factor and gate weight."""
        for layer_name, layer in self.layers.items():
            for name, parameter in layer.named_parameters():
                if not name.startswith("base."):
                    yield f"{layer_name}.{name}", parameter

    def trainable_parameters(self) -> list[nn.Parameter]:
        """What the optimizer should update: meta-LoRAs and gates, nothing of the backbone."""
        return [parameter for _, parameter in self.named_trainable_parameters()]

    def num_trainable_parameters(self) -> int:
        return sum(parameter.numel() for parameter in self.trainable_parameters())

    def adapter_state_dict(self) -> dict[str, torch.Tensor]:
        """Detached CPU copies of the adapter tensors, keyed like :meth:`named_trainable_parameters`."""
        return {name: p.detach().to("cpu").contiguous() for name, p in self.named_trainable_parameters()}

    def load_adapter_state_dict(self, state: dict[str, torch.Tensor], source: str = "state dict") -> None:
        """Copy ``state`` into the adapter, refusing missing, extra or mis-shaped tensors."""
        own = dict(self.named_trainable_parameters())
        missing = sorted(set(own) - set(state))
        extra = sorted(set(state) - set(own))
        if missing or extra:
            detail = f"missing {_few(missing)}" if missing else f"unexpected {_few(extra)}"
            raise RecbenchError(f"{source} does not match this model's personalized LoRA layers: {detail}")
        for name, parameter in own.items():
            if tuple(state[name].shape) != tuple(parameter.shape):
                raise RecbenchError(
                    f"{source}: {name} has shape {list(state[name].shape)}, the model expects {list(parameter.shape)}"
                )
        with torch.no_grad():
            for name, parameter in own.items():
                parameter.copy_(state[name].to(device=parameter.device, dtype=parameter.dtype))

    def save_adapter(self, path: str | Path) -> Path:
        """Write the adapter tensors to a safetensors file with the config in its metadata."""
        from safetensors.torch import save_file

        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        metadata = {"format": FILE_FORMAT, "config": json.dumps(self.config.to_dict(), sort_keys=True)}
        save_file(self.adapter_state_dict(), str(path), metadata=metadata)
        return path

    def load_adapter(self, path: str | Path) -> None:
        """Load a file written by :meth:`save_adapter`; its config must equal this adapter's."""
        saved = read_adapter_config(path)
        if saved != self.config:
            ours, theirs = self.config.to_dict(), saved.to_dict()
            differences = ", ".join(f"{k}={theirs[k]!r} (model: {ours[k]!r})" for k in ours if ours[k] != theirs[k])
            raise RecbenchError(f"adapter file {path} was saved with a different config: {differences}")
        from safetensors.torch import load_file

        self.load_adapter_state_dict(load_file(str(path)), source=f"adapter file {path}")


def read_adapter_config(path: str | Path) -> PersonalizedLoRAConfig:
    """The config stored in an adapter file, e.g. to inject a matching adapter before loading."""
    from safetensors import safe_open

    path = Path(path)
    if not path.is_file():
        raise RecbenchError(f"adapter file {path} does not exist")
    try:
        with safe_open(str(path), framework="pt") as handle:
            metadata = handle.metadata() or {}
    except Exception as error:  # safetensors raises several private error types
        raise RecbenchError(f"{path} is not a safetensors file ({error})") from error
    if metadata.get("format") != FILE_FORMAT or "config" not in metadata:
        raise RecbenchError(f"{path} is not a RecLoRA adapter file (no {FILE_FORMAT} metadata)")
    try:
        values = json.loads(metadata["config"])
    except json.JSONDecodeError as error:
        raise RecbenchError(f"{path} has an unreadable adapter config ({error})") from error
    return PersonalizedLoRAConfig.from_dict(values)


def inject_personalized_lora(model: nn.Module, config: PersonalizedLoRAConfig) -> PersonalizedAdapter:
    """Wrap every module whose last name component is in ``config.target_modules``.

    All parameters already in the model are frozen first, so afterwards exactly the adapter's
    parameters require gradients. Works on any module tree; the module is changed in place.
    """
    if any(isinstance(module, PersonalizedLoRALinear) for module in model.modules()):
        raise RecbenchError(f"{type(model).__name__} already has personalized LoRA layers")
    targets = set(config.target_modules)
    chosen = [(name, module) for name, module in model.named_modules() if name.rsplit(".", 1)[-1] in targets]
    if not chosen:
        available = sorted(
            {name.rsplit(".", 1)[-1] for name, module in model.named_modules() if name and _looks_linear(module)}
        )
        raise RecbenchError(
            f"{type(model).__name__} has no module named {' or '.join(config.target_modules)}; "
            f"its linear modules are: {', '.join(available) or 'none'}"
        )
    for name, module in chosen:
        if linear_features(module) is None:
            raise RecbenchError(
                f"target module {name!r} is a {type(module).__name__}, not a linear layer; choose other target_modules"
            )
    for parameter in model.parameters():
        parameter.requires_grad_(False)
    slot = ConditionSlot(config.condition_dim)
    layers: dict[str, PersonalizedLoRALinear] = {}
    for name, module in chosen:
        parent_name, _, leaf = name.rpartition(".")
        parent = model.get_submodule(parent_name) if parent_name else model
        layer = PersonalizedLoRALinear(module, config, slot, name=name)
        setattr(parent, leaf, layer)
        layers[name] = layer
    return PersonalizedAdapter(model, config, layers, slot)


def _looks_linear(module: nn.Module) -> bool:
    # GPT-2 style Conv1D projections have no in/out_features but are linear in all but layout.
    return linear_features(module) is not None or type(module).__name__ == "Conv1D"


def _few(names: list[str], limit: int = 3) -> str:
    shown = ", ".join(names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")
