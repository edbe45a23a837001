"""Carry out a plan of runs for ``recbench ablate``, ``study`` and ``reproduce``.

Why: the language-model half of a programme is many CPU hours, so before anything runs the
plan is printed line by line with what is already recorded and what each missing run will cost
(measured rates only, :mod:`recbench.estimates`); ``--dry-run`` stops there. Then the missing
runs are made (:func:`recbench.plans.execute`) and any failures are listed at the end.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console

if TYPE_CHECKING:
    from recbench.runner import RunRequest


def carry_out(
    plan: list[RunRequest], store: list[Path], dry_run: bool, keep_going: bool, out: Console, err: Console,
    budget: str | None = None,
) -> bool:  # fmt: skip
    """Print the plan with its recorded runs, then (unless --dry-run) run what is missing.

    ``budget`` (``--budget``, e.g. ``2h30m``) limits this process to the runs whose estimate
    fits the time left (:class:`recbench.estimates.Budget`); the dry run marks which those are
    for one process taking the plan in order. Returns whether every run is now recorded.
    """
    from recbench.estimates import Budget, Costs, estimate, fit_in_order, format_duration, format_span, parse_duration
    from recbench.hardware import hardware_key, hardware_signature
    from recbench.plans import check_plan, execute, resolve_variant
    from recbench.runstore import open_stores

    seconds = parse_duration(budget) if budget is not None else None  # a bad --budget fails before any work
    run_store = open_stores(store)
    planned = check_plan(plan, run_store, resolve_variant)
    todo = sum(p.pending for p in planned)
    costs, low, high, unknown = Costs(run_store.records(), hardware_key(hardware_signature())), 0.0, 0.0, 0
    variants: dict[tuple, str] = {}  # resolving a variant hashes the raw files: once per dataset
    spans: dict[int, tuple[float, float] | None] = {}
    for index, item in enumerate(planned):
        if item.pending:
            where = (item.request.dataset, item.request.data_dir)
            if where not in variants:
                variants[where] = resolve_variant(*where)
            spans[index] = span = estimate(item.request, variants[where], costs)
            if span is None:
                unknown += 1
            else:
                low, high = low + span[0], high + span[1]
    fits = dict(zip(spans, fit_in_order(list(spans.values()), seconds))) if seconds is not None else {}
    for index, item in enumerate(planned):
        line = item.describe()
        if index in spans:
            line += f"  {format_span(spans[index])}"
            if index in fits:
                line += "  (within the budget)" if fits[index] else "  (left for later: over the budget)"
        out.print(line, markup=False, highlight=False, soft_wrap=True)
    same = sum(p.same_as is not None for p in planned)
    twice = f", {same} the same run as an earlier line" if same else ""
    out.print(f"{len(planned)} planned runs: {len(planned) - todo - same} already recorded{twice}, {todo} to run")
    if todo:
        caveat = f"; {unknown} run(s) have no measured cost yet (no recorded run of that model)" if unknown else ""
        ranged = "; a range where a run's text history length was never measured and only one other was" if high > low else ""
        where = ("; measured on other hardware than this machine's (no qualifying run recorded its "
                 f"{hardware_key(hardware_signature())}), so expect a different speed here") if costs.foreign else ""  # fmt: skip
        if costs.scaled:
            where += ("; a model measured only on other hardware is scaled by how much faster this machine "
                      "ran the models measured on both")  # fmt: skip
        out.print(
            f"estimated time for the runs to make: {format_span((low, high))[1:]} of one core at the recorded rates{ranged}{caveat}{where}"
        )
    if seconds is not None and todo:
        chosen = [spans[i] for i, ok in fits.items() if ok]
        used = sum(span[1] for span in chosen if span is not None)
        out.print(f"--budget {format_duration(seconds)}: one process taking the plan in order starts {len(chosen)} of the "
                  f"{todo} runs (~{format_duration(used)}); a second process with the same budget takes others")  # fmt: skip
    if dry_run or todo == 0:
        return todo == 0
    made, failures = execute(planned, run_store, err, keep_going=keep_going, budget=Budget(seconds) if seconds else None)
    out.print(f"made {made} run(s) into {run_store.root}")
    for item, message in failures:
        err.print(f"[bold red]failed:[/] {item.describe()}: {message}", highlight=False, soft_wrap=True)
    if seconds is not None:
        left = sum(p.pending for p in check_plan(plan, run_store, resolve_variant))
        if left:
            out.print(f"{left} planned run(s) still to make: they did not fit this budget or another process holds them")
        return not failures and not left
    return not failures


def carry_out_study(
    name: str | None, dataset: str, profile: str, seed: list[int] | None, data_dir: Path | None, store: list[Path],
    settings: list[str], dry_run: bool, keep_going: bool, suite: str, out: Console, err: Console, budget: str | None = None,
) -> bool:
    """Plan study ``name`` of suite ``suite`` from ``ablate``'s or ``study``'s options and carry it out.

    ``name`` None is the suite's ablation study (``ablate``); any other name must be one of
    its other studies (``study``). Returns False when a run failed or is still missing (the
    command exits 2); a dry run only prints, so it is never a failure.
    """
    from recbench.cli_requests import ablation_study, check_study_name, console_note, study_plan, suite_named

    chosen = suite_named(suite)
    if name is None:
        name = ablation_study(chosen)
    else:
        check_study_name(name, chosen)
    plan = study_plan(name, dataset, profile, seed, data_dir, settings, chosen, console_note(err))
    return carry_out(plan, store, dry_run, keep_going, out, err, budget) or dry_run
