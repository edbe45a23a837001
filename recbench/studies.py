"""Run plans for a suite's tables and studies, and resumable execution of them.

Why plans are data: reproducing a paper's Tables 2-4 and Figures 4-6 takes hundreds of runs,
some of them hours long. Each study is therefore a list of :class:`~recbench.runner.RunRequest`
objects that carry their ``study`` and ``profile``; a request is skipped when the store
already holds a run with the same model, dataset variant, seed, profile, study and
overrides. Records are written atomically, so after a kill the interrupted run left nothing
and re-running the same command simply does what is still missing.

What to plan comes from a :class:`recbench.suites.Suite` (default: the RecLoRA paper,
:mod:`recbench.suites.reclora`, where the choices the paper leaves open are documented): Table
2's groups (a counting reference runs once, an ID model per seed without an LM profile, an LM
model per seed at the profile), its variant tables (each row a model and ``--set`` overrides)
and its figures (one run per model and x value of the profile). Overrides that only place or
pace a run (``threads``, ``device``, ``eval_batch_size``) do not change what a run measures,
so they are ignored when deciding whether it is recorded.

Example:
    >>> [r.overrides for r in plan_study("ablation", "ml-1m", profile="cpu")][:3]
    [(), ('n_meta=1',), ('n_meta=1', 'lora_rank=128')]
    >>> sorted({r.model for r in plan_study("sample_size", "ml-1m", profile="paper")})
    ['reclora', 'rella']
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from recbench.errors import RecbenchError
from recbench.run_selection import parse_entry, suite_or_default

if TYPE_CHECKING:
    from recbench.runner import RunRequest
    from recbench.suites import Suite


def check_profile(profile: str, suite: Suite) -> None:
    """A plan's LM size profile is one the suite declares values for."""
    if profile not in suite.profiles:
        raise RecbenchError(f"--profile {profile}: expected one of {', '.join(suite.profiles)}")


def _request(model: str, dataset: str, seed: int, profile: str | None, study: dict[str, Any] | None,
             overrides: tuple[str, ...], data_dir: Path | None, extra: tuple[str, ...]) -> RunRequest:  # fmt: skip
    from recbench.runner import RunRequest  # deferred: the runner pulls in torch

    overrides = tuple(overrides) + tuple(extra)
    return RunRequest(model, dataset, seed, data_dir, overrides, purpose="run", profile=profile, study=study)


def _study_profile(model: str, profile: str) -> str | None:
    """A study run's LM size profile: ``profile`` for a language model, none for an ID model
    (its runs are the same at every profile, as in Table 2)."""
    from recbench.registry import get_model

    try:
        return None if get_model(model).family != "lm" else profile
    except RecbenchError:
        return profile  # not registered here: the runner will say so


def plan_study(
    name: str,
    dataset: str,
    profile: str = "cpu",
    seeds: Iterable[int] = (0,),
    data_dir: Path | None = None,
    extra: tuple[str, ...] = (),
    suite: Suite | None = None,
) -> list[RunRequest]:
    """Every run one study of ``suite`` needs on one dataset (``extra`` overrides are added to each).

    A variant table's study plans one run per row (``study.variant`` = the row label), a
    figure's study one run per model and x value of ``profile`` (``study.x``).
    """
    suite = suite_or_default(suite)
    check_profile(profile, suite)
    seeds = list(seeds)
    specs: list[tuple[str, dict[str, Any], tuple[str, ...]]] = []
    table, figure = suite.variant_table(name), suite.figure(name)
    if table is not None:
        rows = table.settings().items()
        specs = [(model, {"name": name, "variant": label}, overrides) for label, (model, overrides) in rows]
    elif figure is not None:
        xs = figure.points(profile)
        specs = [(m, {"name": name, "x": x}, (f"{figure.setting}={x}",)) for m in figure.models for x in xs]
    elif suite.studies:
        raise RecbenchError(f"unknown study {name!r}; choose one of: {', '.join(suite.studies)}")
    else:
        raise RecbenchError(f"unknown study {name!r}: suite {suite.name!r} declares no studies")
    profiles = {m: _study_profile(m, profile) for m in {spec[0] for spec in specs}}
    return [_request(m, dataset, s, profiles[m], study, o, data_dir, extra) for m, study, o in specs for s in seeds]


def plan_main(
    dataset: str,
    profile: str = "cpu",
    seeds: Iterable[int] = (0, 1, 2),
    data_dir: Path | None = None,
    extra: tuple[str, ...] = (),
    suite: Suite | None = None,
) -> list[RunRequest]:
    """Table 2's runs, group by group: a counting reference once (seed 0, no profile, no extra
    overrides), each ID model per seed (no profile), each LM model per seed at ``profile``."""
    suite = suite_or_default(suite)
    check_profile(profile, suite)
    seeds = list(seeds)
    plan: list[RunRequest] = []
    for group in suite.groups:
        if group.kind == "reference":
            plan += [_request(m, dataset, 0, None, None, (), data_dir, ()) for m in group.models]
        else:
            at = profile if group.kind == "lm" else None
            plan += [_request(m, dataset, s, at, None, (), data_dir, extra) for m in group.models for s in seeds]
    return plan


def plan_reproduce(
    datasets: Iterable[str],
    profile: str,
    seeds: Iterable[int] = (0, 1, 2),
    data_dir: Path | None = None,
    extra: tuple[str, ...] = (),
    suite: Suite | None = None,
    only: Iterable[str] = (),
) -> list[RunRequest]:
    """Everything behind a suite's tables, claims and figures: Table 2 runs first, then the runs its
    claims name beyond those rows (:func:`plan_claimed`), then each study.

    ``only`` (``reproduce --only``) keeps the named parts (:meth:`Suite.parts`: ``table2``,
    ``table3``, ``figure4``, a study's name...), so a programme can finish what one dataset's
    tables need before it spends hours on another's figures.

    Example:
        >>> sorted({r.study["name"] for r in plan_reproduce(["ml-1m"], "cpu", [0], only=["table3", "figure4"])})
        ['ablation', 'n_meta']
    """
    suite = suite_or_default(suite)
    parts = suite.select_parts(only) if only else frozenset(["table2", *suite.studies])
    seeds = list(seeds)
    plan: list[RunRequest] = []
    for dataset in datasets:
        if "table2" in parts:
            plan += plan_main(dataset, profile, seeds, data_dir, extra, suite)
            plan += plan_claimed(dataset, profile, seeds, data_dir, extra, suite)
        for name in suite.studies:
            if name in parts:
                plan += plan_study(name, dataset, profile, seeds, data_dir, extra, suite)
    return plan


def plan_claimed(
    dataset: str,
    profile: str = "cpu",
    seeds: Iterable[int] = (0, 1, 2),
    data_dir: Path | None = None,
    extra: tuple[str, ...] = (),
    suite: Suite | None = None,
) -> list[RunRequest]:
    """The runs Table 2's claims name that are not Table 2 rows: an entry ``model [k=v, ...]``
    (the untrained backbone, a setting re-tested) is that model with those settings, per seed.

    A run that trains on no rows (``n_train=0``) is the same at every seed, so it is planned once.

    Example:
        >>> [(r.model, r.overrides, r.seed) for r in plan_claimed("ml-1m", seeds=[0, 1])][:3]
        [('rella', ('n_train=0',), 0), ('rella', ('item_vectors=cooccurrence',), 0), ('rella', ('item_vectors=cooccurrence',), 1)]
    """
    suite = suite_or_default(suite)
    check_profile(profile, suite)
    seeds = list(seeds)
    entries = dict.fromkeys(e for claim in suite.claims for e in (claim.better, claim.worse) if " [" in e)
    plan: list[RunRequest] = []
    for entry in entries:
        model, overrides = parse_entry(entry)
        at = _study_profile(model, profile)
        for seed in seeds[:1] if "n_train=0" in overrides else seeds:
            plan.append(_request(model, dataset, seed, at, None, overrides, data_dir, extra))
    return plan

