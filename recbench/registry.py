"""The model registry: a new model is one file with a decorator.

Example (a model file)::

    @register_model("my-model", family="id")
    class MyModel(CTRModel):
        Config = MyConfig
        def forward(self, batch): ...

    >>> from recbench.registry import get_model
    >>> get_model("din").family
    'id'

The harness never imports ``baselines/`` or ``reclora/``; :func:`load_plugins` does, together
with any installed package that declares a ``recbench.models`` entry point.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from importlib.metadata import entry_points
from recbench.errors import RecbenchError

#: id: trained by recbench.training; lm: language models (recbench.lm); reference: fitted by counting
FAMILIES = ("id", "lm", "reference")
BUILTIN_MODEL_PACKAGES = ("baselines", "reclora.model")


@dataclass(frozen=True)
class ModelEntry:
    """A registered model: its name, family (which training loop runs it), class and display name."""

    name: str
    family: str
    cls: type
    description: str
    #: how tables and figures name it (the paper's spelling, e.g. "DCNv2"); defaults to ``name``
    display: str = ""

    @property
    def config_class(self) -> type:
        return self.cls.Config


_MODELS: dict[str, ModelEntry] = {}


def register_model(name: str, *, family: str = "id", display: str | None = None):
    """Class decorator adding a model to the registry under ``name``.

    The class must define a ``Config`` dataclass (its hyper-parameters, with defaults).
    ``display`` is the name tables and figures print (default: ``name``).
    """
    if family not in FAMILIES:
        raise ValueError(f"family must be one of {FAMILIES}, not {family!r}")

    def decorate(cls: type) -> type:
        if name in _MODELS and _MODELS[name].cls is not cls:
            raise ValueError(f"model {name!r} is already registered by {_MODELS[name].cls.__module__}")
        doc = (cls.__doc__ or "").strip().splitlines()
        _MODELS[name] = ModelEntry(name, family, cls, doc[0] if doc else "", display or name)
        cls.name = name
        return cls

    return decorate


def get_model(name: str) -> ModelEntry:
    load_plugins()
    try:
        return _MODELS[name]
    except KeyError:
        raise RecbenchError(f"unknown model {name!r}; choose one of: {', '.join(sorted(_MODELS))}") from None


def model_names() -> list[str]:
    load_plugins()
    return sorted(_MODELS)


def all_models() -> list[ModelEntry]:
    load_plugins()
    return [_MODELS[n] for n in sorted(_MODELS)]


_loaded = False


def load_plugins() -> None:
    """Import the built-in model packages and ``recbench.models`` entry points, once."""
    global _loaded
    if _loaded:
        return
    _loaded = True
    for package in BUILTIN_MODEL_PACKAGES:
        try:
            importlib.import_module(package)
        except ModuleNotFoundError as exc:
            if exc.name not in (package, package.split(".")[0]):
                raise
    for entry in entry_points(group="recbench.models"):
        entry.load()

