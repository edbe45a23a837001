"""What a command line asks for, checked before anything is loaded or run.

Why: a typo in a dataset name, a negative seed or contradictory flags must cost one error line
and no model import, no data load and no record in the run store (the CLI's promise). Each
function here turns one command's options into the request or plan it stands for, or raises a
:class:`RecbenchError` naming the offending option.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from recbench.errors import RecbenchError

if TYPE_CHECKING:
    from rich.console import Console

    from recbench.registry import ModelEntry
    from recbench.runner import RunRequest
    from recbench.suites import Suite

#: prints one line for the user (the CLI's stderr console); the default says nothing
Note = Callable[[str], None]


def _quiet(_line: str) -> None:
    pass


def console_note(console: Console) -> Note:
    """A :data:`Note` that prints its line on ``console`` as written (no markup, no highlighting)."""
    return lambda line: console.print(line, markup=False, highlight=False, soft_wrap=True)


def current_settings(settings: Iterable[str], model: str, note: Note = _quiet, noted: set[str] | None = None) -> tuple[str, ...]:
    """``--set`` assignments for ``model`` with each setting its config declares renamed under the new name.

    Why translate instead of refusing: command lines and scripts written before a rename
    (``--set prompt_history=recent``) keep working, and the run is recorded under the new name,
    so it is the same run as the suite's plan; one note per renamed key (``noted`` collects the
    keys noted already, for a plan of many requests) names the new name, so nothing is silent.
    """
    from recbench.config import migrate_assignments, renamed_settings
    from recbench.registry import get_model

    settings = tuple(settings)
    try:
        config_class = get_model(model).config_class
    except RecbenchError:
        return settings  # not registered here: the runner will say so
    renames = renamed_settings(config_class)
    noted = set() if noted is None else noted
    for text in settings:
        key, sep, value = text.partition("=")
        new = renames.get(key.strip())
        if new is not None and sep and key.strip() not in noted:
            noted.add(key.strip())
            note(f"note: setting {key.strip()} is now called {new}; read as {new}={value.strip()}")
    return migrate_assignments(settings, config_class)


def current_plan(plan: list[RunRequest], note: Note = _quiet) -> list[RunRequest]:
    """A plan's requests with renamed ``--set`` settings (extra overrides) under their new names, noted once each."""
    noted: set[str] = set()
    return [dataclasses.replace(r, overrides=current_settings(r.overrides, r.model, note, noted)) for r in plan]


def suite_named(name: str) -> Suite:
    """The suite ``--suite`` names; an unknown name is one line naming the option and the known suites."""
    from recbench.suites import get_suite, suite_names

    try:
        return get_suite(name)
    except RecbenchError:
        raise RecbenchError(f"--suite {name}: unknown suite; choose one of: {', '.join(suite_names())}") from None


def ablation_study(suite: Suite) -> str:
    """The study name of the suite's ablation table (Table 3), which ``recbench ablate`` runs."""
    if suite.ablation is None:
        raise RecbenchError(f"--suite {suite.name}: the suite declares no ablations (Table 3)")
    return suite.ablation.study


def check_seeds(seeds: Iterable[int]) -> None:
    """Seeds are 0 or positive (they seed numpy and torch, which refuse negative seeds later)."""
    seeds = list(seeds)
    if any(s < 0 for s in seeds):
        raise RecbenchError(f"--seed {min(seeds)}: expected 0 or a positive integer")


def run_request(
    model: str, dataset: str, seed: int, data_dir: Path | None, store: list[Path], settings: list[str],
    config: str | None, profile: str | None, backbone: str | None, load_in_8bit: bool, load_in_4bit: bool,
    note: Note = _quiet,
) -> RunRequest:
    """``recbench run``'s options as one request.

    The LM flags become overrides before a tuned ``--config``'s, which come before ``--set``'s,
    so what the user typed last wins. An LM model without ``--profile`` runs the ``cpu`` profile.
    A renamed setting is read under its new name, with a ``note`` (:func:`current_settings`).
    """
    from recbench.datasets import get_dataset_info
    from recbench.registry import get_model
    from recbench.runner import RunRequest
    from recbench.runstore import open_stores
    from recbench.tuning import load_named_config

    get_dataset_info(dataset)  # fail fast on a typo, before any model import or data load
    check_seeds([seed])
    entry = get_model(model)
    if load_in_8bit and load_in_4bit:
        raise RecbenchError("--load-in-8bit and --load-in-4bit exclude each other")
    lm_flags = [f"backbone={backbone}"] if backbone else []
    lm_flags += ["quantization=8bit"] if load_in_8bit else ["quantization=4bit"] if load_in_4bit else []
    if lm_flags and entry.family != "lm":
        raise RecbenchError(f"--backbone / --load-in-8bit / --load-in-4bit apply to language-model runs; {model!r} is an ID model")
    if entry.family == "lm" and profile is None:
        profile = "cpu"
    overrides = list(settings)
    if config is not None:
        tuned = load_named_config(open_stores(store), config)
        if tuned["model"] != model:
            raise RecbenchError(f"--config {config}: it was tuned for model {tuned['model']!r}, not {model!r}")
        overrides = tuned["overrides"] + overrides  # explicit --set wins
    overrides = lm_flags + overrides  # explicit --set wins
    return RunRequest(model, dataset, seed, data_dir, current_settings(overrides, model, note), profile=profile)


def tune_model(model: str, dataset: str, seed: int, settings: list[str], note: Note = _quiet) -> tuple[ModelEntry, tuple[str, ...]]:
    """The model ``recbench tune`` searches and its fixed ``--set`` overrides (renamed settings under
    their new names), once those are known to apply to it."""
    from recbench.config import apply_overrides
    from recbench.datasets import get_dataset_info
    from recbench.registry import get_model
    from recbench.training import TrainConfig

    get_dataset_info(dataset)
    check_seeds([seed])
    entry = get_model(model)
    settings = current_settings(settings, model, note)
    apply_overrides([entry.config_class(), TrainConfig()], list(settings))  # validate before any trial
    return entry, settings


def check_study_name(name: str, suite: Suite) -> None:
    """``recbench study`` runs the suite's studies except the ablations, which have ``recbench ablate``."""
    ablation = suite.ablation.study if suite.ablation is not None else None
    choices = [s for s in suite.studies if s != ablation]
    if name not in choices:
        hint = " (ablations: recbench ablate)" if ablation else ""
        if not choices:
            raise RecbenchError(f"unknown study {name!r}: suite {suite.name!r} declares no studies{hint}")
        raise RecbenchError(f"unknown study {name!r}; choose one of: {', '.join(choices)}{hint}")


def study_plan(name: str, dataset: str, profile: str, seeds: list[int] | None, data_dir: Path | None,
               settings: list[str], suite: Suite, note: Note = _quiet) -> list[RunRequest]:  # fmt: skip
    """Every run of the suite's study ``name`` on ``dataset`` (seed 0 unless ``--seed`` says otherwise);
    a renamed setting among the extra ``--set`` overrides is read under its new name, noted once."""
    from recbench.datasets import get_dataset_info
    from recbench.studies import plan_study

    get_dataset_info(dataset)
    check_seeds(seeds or [])
    return current_plan(plan_study(name, dataset, profile, seeds or [0], data_dir, tuple(settings), suite), note)


def reproduce_plan(datasets: list[str], profile: str, seeds: int, data_dir: Path | None, settings: list[str],
                   suite: Suite, note: Note = _quiet, only: list[str] | None = None) -> tuple[list[str], list[RunRequest]]:  # fmt: skip
    """The datasets ``recbench reproduce`` covers (default: the suite's) and every run behind their
    tables, or behind the parts ``only`` names (renamed ``--set`` settings under their new names,
    as in :func:`study_plan`)."""
    from recbench.datasets import get_dataset_info
    from recbench.studies import plan_reproduce

    datasets = list(datasets) or list(suite.datasets)
    if not datasets:
        raise RecbenchError(f"--suite {suite.name} names no datasets: give --dataset")
    if data_dir is not None and len(datasets) != 1:
        raise RecbenchError("--data-dir needs exactly one --dataset (use $RECBENCH_DATA for several)")
    for name in datasets:
        get_dataset_info(name)
    plan = plan_reproduce(datasets, profile, range(seeds), data_dir, tuple(settings), suite, only or ())
    return datasets, current_plan(plan, note)
