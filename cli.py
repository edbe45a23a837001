"""The ``recbench`` command line.

    recbench run --model din --dataset ml-100k --seed 0 --set lr=5e-4
    recbench leaderboard --paper --table all --figures figs
    recbench ablate --dataset ml-1m --profile cpu --dry-run
    recbench study n_meta --dataset ml-1m --profile cpu
    recbench reproduce --profile cpu --dataset ml-1m --seeds 3 [--suite reclora]
    recbench models | datasets
    recbench data fetch ml-1m | data info ml-100k --data-dir ../shared/data/ml-100k

Every user error (unknown name, malformed file, bad ``--set``) is printed as one line and the
command exits with status 2; nothing is written to the run store in that case.

This file declares the commands and their options; what they compute lives beside the package:
:mod:`recbench.cli_requests` (options checked and turned into run requests and plans),
:mod:`recbench.cli_plans` (a plan printed with its costs, then carried out) and
:mod:`recbench.cli_leaderboard` (tables rendered, stamped and written).
"""

from __future__ import annotations

import functools
import inspect
import json
import sys
from pathlib import Path
from typing import Any, Callable, Optional

import typer
from rich.console import Console
from rich.table import Column, Table

from recbench.errors import RecbenchError

app = typer.Typer(add_completion=False, no_args_is_help=True, help="Benchmark harness for LLM-based recommendation.")
data_app = typer.Typer(no_args_is_help=True, help="Find, fetch and inspect datasets.")
app.add_typer(data_app, name="data")
console = Console()
err_console = Console(stderr=True)

DataDirOption = typer.Option(None, "--data-dir", help="Folder holding the dataset's files (default: $RECBENCH_DATA/NAME).")
StoreOption = typer.Option(
    [], "--store", help="Run store folder (repeatable: all are read, the first receives new runs; default: $RECBENCH_RUNS or ./runs)."
)
StrictOption = typer.Option(False, "--strict", help="A damaged run in a store is an error (exit 2), not a skipped run with a note.")
SuiteOption = typer.Option(
    "reclora", "--suite", help="The paper whose tables, studies and numbers to use (recbench/suites/; default: reclora)."
)


def print_note(line: str) -> None:
    """One line for the user on stderr (e.g. a renamed ``--set`` setting read under its new name)."""
    from recbench.cli_requests import console_note

    console_note(err_console)(line)


def user_errors(command: Callable) -> Callable:
    """Turn a RecbenchError into one red line on stderr and exit status 2."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except RecbenchError as exc:
            err_console.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
            raise typer.Exit(2) from None
        except KeyboardInterrupt:
            err_console.print("[bold red]interrupted[/]: nothing was recorded")
            raise typer.Exit(130) from None

    return wrapper


@app.command()
@user_errors
def run(
    model: str = typer.Option(..., "--model", "-m", help="Registered model name (see `recbench models`)."),
    dataset: str = typer.Option(..., "--dataset", "-d", help="Registered dataset name (see `recbench datasets`)."),
    seed: int = typer.Option(0, "--seed", help="Seed for initialisation and shuffling."),
    data_dir: Optional[Path] = DataDirOption,
    store: list[Path] = StoreOption,
    settings: list[str] = typer.Option([], "--set", help="Override a hyper-parameter: key=value (repeatable)."),
    config: Optional[str] = typer.Option(None, "--config", help="Start from a tuned config saved by `recbench tune`."),
    profile: Optional[str] = typer.Option(None, "--profile", help="Sizes of language-model runs: cpu (default) or paper."),
    backbone: Optional[str] = typer.Option(None, "--backbone", help="LM backbone: smollm2-135m, a local folder or a Hugging Face id."),
    load_in_8bit: bool = typer.Option(False, "--load-in-8bit", help="Load the LM backbone in 8-bit (bitsandbytes)."),
    load_in_4bit: bool = typer.Option(False, "--load-in-4bit", help="Load the LM backbone in 4-bit (bitsandbytes)."),
) -> None:
    """Train and evaluate one model under the shared protocol and record the run."""
    from recbench.cli_requests import run_request
    from recbench.runner import run as run_model
    from recbench.runstore import open_stores

    request = run_request(
        model, dataset, seed, data_dir, store, settings, config, profile, backbone, load_in_8bit, load_in_4bit, print_note
    )
    run_store = open_stores(store)
    record = run_model(request, run_store, err_console)
    test, valid = record.metrics["test"], record.valid
    note = f" (valid AUC {valid.auc:.4f}, best epoch {record.best_epoch})" if valid is not None else ""
    console.print(
        f"{record.model} on {record.dataset_variant} seed {seed}: "
        f"test AUC {test.auc:.4f}  LogLoss {test.logloss:.4f} on {test.rows:,} rows{note}"
    )
    console.print(f"recorded run {record.run_id} in {run_store.root}")


@app.command()
@user_errors
def tune(
    model: str = typer.Option(..., "--model", "-m", help="Registered model name."),
    dataset: str = typer.Option(..., "--dataset", "-d", help="Registered dataset name."),
    trials: Optional[int] = typer.Option(None, "--trials", min=1, help="Random grid points to try (default: the whole grid)."),
    seed: int = typer.Option(0, "--seed", help="Seed for the trials and for drawing grid points."),
    data_dir: Optional[Path] = DataDirOption,
    store: list[Path] = StoreOption,
    settings: list[str] = typer.Option([], "--set", help="Fixed override applied to every trial (repeatable)."),
    name: Optional[str] = typer.Option(None, "--name", help="Name of the saved config (default: MODEL-DATASET)."),
) -> None:
    """Search the paper's hyper-parameter grid on the validation split and save the best config."""
    from recbench.cli_requests import tune_model
    from recbench.runstore import open_stores
    from recbench.tuning import tune as run_tuning

    entry, fixed = tune_model(model, dataset, seed, settings, print_note)
    result = run_tuning(
        entry, dataset, open_stores(store), trials=trials, seed=seed, data_dir=data_dir, fixed=fixed,
        name=name, console=err_console,
    )  # fmt: skip
    console.print(f"best validation AUC {result['valid_auc']:.4f} with: {' '.join(result['overrides'])}")
    console.print(f"saved as config {result['name']!r} ({result['path']}); use: recbench run -m {model} -d {dataset} --config {result['name']}")


@app.command()
@user_errors
def leaderboard(
    dataset: list[str] = typer.Option([], "--dataset", "-d", help="Only these datasets (repeatable)."),
    store: list[Path] = StoreOption,
    fmt: str = typer.Option("md", "--format", help="md, csv, latex or html."),
    paper: bool = typer.Option(False, "--paper", help="Show the paper's published numbers beside ours, labelled."),
    table: str = typer.Option("all", "--table", help="2 (models), 3 (ablations), 4 (time per sample), claims (the paper's claims decided) or all."),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="Write to this file (stamped with commit and date)."),
    figures: Optional[Path] = typer.Option(None, "--figures", help="Also draw Figures 4-6 as PNGs into this folder."),
    profile: Optional[str] = typer.Option(None, "--profile", help="Only this LM size profile's LM runs (cpu or paper); ID runs always."),
    strict: bool = StrictOption,
    reference: Optional[str] = typer.Option(None, "--reference", help="Table 2's reference entry, e.g. your own model (default: the suite's, else the best)."),
    suite: str = SuiteOption,
) -> None:
    """A suite's Tables 2-4 (default: RecLoRA's) from recorded runs, on identical test rows, with significance marks."""
    from recbench.cli_leaderboard import (
        draw_figures,
        leaderboard_command,
        render_leaderboard,
        report_problems,
        stored_records,
        write_stamped,
    )
    from recbench.cli_requests import suite_named
    from recbench.render import FORMATS

    if fmt not in FORMATS:
        raise RecbenchError(f"--format {fmt}: expected one of {', '.join(FORMATS)}")
    chosen = suite_named(suite)
    run_store, records = stored_records(store, dataset, profile)
    text, n_tables = render_leaderboard(run_store, records, table, paper, fmt, dataset, reference=reference, suite=chosen)
    report_problems(run_store, strict, err_console)
    if figures is not None:
        draw_figures(records, figures, console, err_console, chosen)
    if n_tables == 0:
        return
    if output is None:
        console.print(text, markup=False, highlight=False, soft_wrap=True)
        return
    command = leaderboard_command(store, dataset, profile, reference, paper, table, fmt, suite)
    write_stamped(output, text, fmt, f"Generated by `{command}` from {len(records)} recorded runs", console)


SeedsOption = typer.Option(None, "--seed", help="Seed (repeatable; default 0).")
ProfileOption = typer.Option("cpu", "--profile", help="Size profile of the LM runs: cpu or paper.")
DryRunOption = typer.Option(False, "--dry-run", help="Only print the plan and which runs are already recorded.")
KeepGoingOption = typer.Option(False, "--keep-going", help="Continue past a failed run; report failures at the end.")
PlanSetOption = typer.Option([], "--set", help="Extra override for every planned run, e.g. threads=1 (repeatable).")
BudgetOption = typer.Option(
    None, "--budget", help="Wall-clock time this process may spend, e.g. 2h30m: start only the runs whose estimate fits what is left."
)


def _plan_options(
    dataset: str = typer.Option(..., "--dataset", "-d", help="Registered dataset name."),
    profile: str = ProfileOption,
    seed: Optional[list[int]] = SeedsOption,
    data_dir: Optional[Path] = DataDirOption,
    store: list[Path] = StoreOption,
    settings: list[str] = PlanSetOption,
    dry_run: bool = DryRunOption,
    keep_going: bool = KeepGoingOption,
    suite: str = SuiteOption,
    budget: Optional[str] = BudgetOption,
) -> None:
    """The options of the commands that plan one study (ablate, study), declared once."""


def with_plan_options(command: Callable) -> Callable:
    """Give ``command`` the options of :func:`_plan_options` after its own parameters.

    Why: ``ablate`` and ``study`` take the same ten options, and one declaration keeps their
    names, defaults and help from drifting apart. Typer reads a command's options from its
    signature, so the command takes them as ``**options`` and its ``__signature__`` lists them.
    """
    own = [p for p in inspect.signature(command, eval_str=True).parameters.values() if p.kind is not p.VAR_KEYWORD]
    shared = inspect.signature(_plan_options, eval_str=True).parameters.values()
    command.__signature__ = inspect.Signature([*own, *shared], return_annotation=None)
    return command


@app.command()
@user_errors
@with_plan_options
def ablate(**options: Any) -> None:
    """Run the suite's ablations (Table 3; default: RecLoRA's) that are not recorded yet."""
    from recbench.cli_plans import carry_out_study

    if not carry_out_study(None, **options, out=console, err=err_console):
        raise typer.Exit(2)


@app.command()
@user_errors
@with_plan_options
def study(
    name: str = typer.Argument(..., help="n_meta, id_history, sample_size (Figs 4-6) or time_per_sample (Table 4)."),
    **options: Any,
) -> None:
    """Run one of the suite's studies (the runs not recorded yet)."""
    from recbench.cli_plans import carry_out_study

    if not carry_out_study(name, **options, out=console, err=err_console):
        raise typer.Exit(2)


@app.command()
@user_errors
def reproduce(
    profile: str = typer.Option(..., "--profile", help="Size profile of the LM runs: cpu or paper."),
    dataset: list[str] = typer.Option([], "--dataset", "-d", help="Datasets (repeatable; default: the suite's, for RecLoRA the paper's three)."),
    seeds: int = typer.Option(3, "--seeds", min=1, help="Seeds 0..N-1 for every run."),
    data_dir: Optional[Path] = DataDirOption,
    store: list[Path] = StoreOption,
    settings: list[str] = PlanSetOption,
    dry_run: bool = DryRunOption,
    keep_going: bool = KeepGoingOption,
    budget: Optional[str] = BudgetOption,
    out: Path = typer.Option(Path("leaderboards"), "--out", help="Folder for the rendered tables and figures."),
    strict: bool = StrictOption,
    suite: str = SuiteOption,
    only: list[str] = typer.Option([], "--only", help="Only these parts (repeatable): table2, table3, table4, figure4, ... or a study's name."),
) -> None:
    """Run every missing run behind a suite's tables and figures (RecLoRA: Tables 2-4, Figures 4-6), then render them."""
    from recbench.cli_leaderboard import render_reproduced
    from recbench.cli_plans import carry_out
    from recbench.cli_requests import reproduce_plan, suite_named

    chosen = suite_named(suite)
    datasets, plan = reproduce_plan(dataset, profile, seeds, data_dir, settings, chosen, print_note, only)
    complete = carry_out(plan, store, dry_run, keep_going, console, err_console, budget)
    if dry_run:
        return
    render_reproduced(store, datasets, profile, out / profile, strict, console, err_console, chosen)
    if not complete:
        raise typer.Exit(2)


@app.command()
@user_errors
def checkpoints(
    store: list[Path] = StoreOption,
    keep: bool = typer.Option(False, "--keep", help="Copy each state small enough for git into <store>/inflight/ (stop the runs first)."),
) -> None:
    """List the runs in flight in the store(s): training state, progress, size; --keep readies the small ones for git."""
    from recbench.inflight import FILE_BYTES, KEEPABLE_BYTES, KEPT, keep_states, list_checkpoints
    from recbench.runstore import open_stores

    roots = open_stores(store).roots
    states = [state for root in roots for state in list_checkpoints(root)]
    for state in states:
        console.print(state.describe(), markup=False, highlight=False, soft_wrap=True)
    for root in roots:
        for state in list_checkpoints(root, KEPT):
            console.print(f"kept in git: {state.describe()}", markup=False, highlight=False, soft_wrap=True)
    if not states:
        console.print("no run in flight (no saved training state)")
        return
    if not keep:
        console.print(f"--keep copies each state of at most {KEEPABLE_BYTES // 2**20} MiB (no file over "
                      f"{FILE_BYTES // 2**20} MiB) into <store>/{KEPT}/ for git, "
                      "so that the next machine resumes it", highlight=False)  # fmt: skip
        return
    kept = keep_states(roots[0])
    names = ", ".join(state.folder.name for state in kept) or "none"
    console.print(f"kept {len(kept)} state(s) in {roots[0] / KEPT} ({names}): commit that folder", highlight=False)


@app.command()
@user_errors
def prune(
    store: list[Path] = StoreOption,
    apply: bool = typer.Option(False, "--apply", help="Delete the superseded runs (default: only list them)."),
) -> None:
    """List (--apply: delete) runs a newer run with the same settings supersedes and no run reads.

    Every --store given is pruned; a run that a run of another given store reads stays."""
    from recbench.prune import prune_store, runs_read_by
    from recbench.runstore import open_stores

    roots = open_stores(store).roots
    read_by = {root: runs_read_by(root) for root in roots}
    for root in roots:
        elsewhere = frozenset().union(*(ids for other, ids in read_by.items() if other != root))
        for line in prune_store(root, apply, elsewhere):
            console.print(line, markup=False, highlight=False, soft_wrap=True)


@app.command()
@user_errors
def models() -> None:
    """List the registered models."""
    from recbench.registry import all_models

    table = Table("family", "description")
    table.columns.insert(0, Column("model", no_wrap=True))
    for entry in all_models():
        table.add_row(entry.name, entry.family, entry.description)
    console.print(table)


@app.command()
@user_errors
def datasets() -> None:
    """List the registered datasets and where each is looked for."""
    from recbench.datasets import dataset_names, get_dataset_info, resolve_data_dir

    table = Table("description", "location")
    table.columns.insert(0, Column("dataset", no_wrap=True))
    for name in dataset_names():
        info = get_dataset_info(name)
        where = "embedded" if info.embedded else str(resolve_data_dir(name))
        table.add_row(name, info.description, where)
    console.print(table)


@data_app.command("fetch")
@user_errors
def data_fetch(
    name: str = typer.Argument(..., help="Dataset to download from its publisher."),
    data_dir: Optional[Path] = DataDirOption,
) -> None:
    """Download a dataset, verify its size and checksum, and extract it safely."""
    from recbench.datasets import fingerprint_files, get_dataset_info, resolve_data_dir
    from recbench.datasets.fetch import fetch

    info = get_dataset_info(name)
    if info.embedded:
        console.print(f"{name} is generated in-process; nothing to fetch")
        return
    if not info.downloads:
        raise RecbenchError(f"dataset {name!r} has no public download; {info.notes or 'provide its files by hand'}")
    directory = resolve_data_dir(name, data_dir)
    if all((directory / f).is_file() for f in info.files):
        console.print(f"{name} is already in {directory}")
    else:
        for download in info.downloads:
            fetch(download, directory)
    fp = fingerprint_files(info, directory)
    console.print(f"{name} in {directory}: fingerprint {fp.short()} (canonical: {fp.canonical}) {fp.note}")


@data_app.command("info")
@user_errors
def data_info(
    name: str = typer.Argument(..., help="Dataset to describe."),
    data_dir: Optional[Path] = DataDirOption,
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
) -> None:
    """Apply the protocol to a dataset and print its sample and split counts."""
    from recbench.protocol import load_protocol
    from recbench.runner import describe_data

    info = describe_data(load_protocol(name, data_dir, fetch_missing=False))
    if as_json:
        console.print_json(json.dumps(info))
        return
    table = Table("field", "value")
    fp = info.pop("fingerprint")
    for key, value in info.items():
        table.add_row(key, f"{value:,}" if isinstance(value, int) else str(value))
    table.add_row("fingerprint", f"{fp['digest'][:12]} (canonical: {fp['canonical']}) {fp['note']}")
    console.print(table)


def main() -> None:
    app()


if __name__ == "__main__":
    sys.exit(main())
