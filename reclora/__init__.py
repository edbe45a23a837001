"""RecLoRA: personalized low-rank adaptation for LLM recommenders (SPEC 5).

The personalized LoRA machinery lives in ``reclora.config`` / ``reclora.layer`` /
``reclora.adapter``; its public names are re-exported here lazily, so importing the package
stays cheap (no torch) and registers no model.
"""

from __future__ import annotations

from typing import Any

_EXPORTS = {
    "PersonalizedLoRAConfig": "reclora.config",
    "ConditionSlot": "reclora.layer",
    "LoRAGate": "reclora.layer",
    "PersonalizedLoRALinear": "reclora.layer",
    "PersonalizedAdapter": "reclora.adapter",
    "inject_personalized_lora": "reclora.adapter",
    "read_adapter_config": "reclora.adapter",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        import importlib

        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'reclora' has no attribute {name!r}")

