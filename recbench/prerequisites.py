"""What a model needs before it can train: another recorded run, declared as data.

Why: RecLoRA's personalized LoRA is gated by a conventional recommender (its CRM) trained on
the full training split. Finding such a run in the store, or training and recording it first,
is the harness's job (it owns the store and starts runs); the model only says *which* run it
needs and receives the loaded result. So a model package never imports the runner or the run
store, and a new model with a stage 1 is a declaration, not a search of its own.

A model class declares its needs with a ``prerequisites(config)`` classmethod returning a tuple
of :class:`Prerequisite` (none when it has no such method). The run layer
(:mod:`recbench.prerequisite_runs`) resolves each one against the store: a recorded run of
``model`` on the same data (same dataset digest and protocol version, weights stored) whose
resolved settings satisfy ``matches`` -- the same seed preferred, then the newest -- or, when
there is none, a run of ``model`` with ``overrides`` trained and recorded now on the same data
and seed. The model is then constructed with ``prerequisites={name: LoadedRun(...)}``: the
reloaded module, frozen and in eval mode, with the record it came from.

Example:
    >>> need = Prerequisite(
    ...     "crm", "din", ("history_length=30",),
    ...     matches=lambda config: config.get("history_length") == 30,
    ...     role="CRM", stage="Few2Many stage 1",
    ... )
    >>> need.matches({"history_length": 30}), need.matches({"history_length": 60})
    (True, False)
    >>> need.description
    'din run with history_length=30'
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import torch

from recbench.run_record import RunRecord


def _any_settings(config: Mapping[str, Any]) -> bool:
    return True


@dataclass(frozen=True)
class Prerequisite:
    """A recorded run a model needs before it can train (see the module docstring)."""

    #: the key the model receives the loaded run under, e.g. ``"crm"``
    name: str
    #: the registered model the run is of (an ID model: its weights are what gets reloaded)
    model: str
    #: the ``key=value`` settings to train it with when no recorded run serves
    overrides: tuple[str, ...]
    #: whether a recorded run's resolved model settings (``record.config``) serve; a run
    #: trained with ``overrides`` must satisfy it, or it would not be found next time
    matches: Callable[[Mapping[str, Any]], bool] = _any_settings
    #: how messages name the run ("CRM"); defaults to ``name``
    role: str = ""
    #: the stage of the model's method it serves, prefixing console messages ("Few2Many stage 1")
    stage: str = ""

    @property
    def label(self) -> str:
        return self.role or self.name

    @property
    def description(self) -> str:
        """What is searched for, in words: ``"sim run with history_length=60, item_vectors=lm"``."""
        return f"{self.model} run" + (f" with {', '.join(self.overrides)}" if self.overrides else "")


@dataclass(frozen=True)
class LoadedRun:
    """A resolved prerequisite: the run's model reloaded from its weights (frozen, eval mode) and its record."""

    model: torch.nn.Module
    record: RunRecord


def declared_prerequisites(cls: type, config: Any) -> tuple[Prerequisite, ...]:
    """What model class ``cls`` needs under ``config``; ``()`` for a model that declares nothing."""
    declare = getattr(cls, "prerequisites", None)
    return tuple(declare(config)) if callable(declare) else ()
