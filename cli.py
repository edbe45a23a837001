"""The ``recbench`` command line.

    recbench run --model din --dataset ml-100k --seed 0 --set lr=5e-4
    recbench models | datasets
    recbench data fetch ml-1m | data info ml-100k --data-dir ../shared/data/ml-100k

Every user error (unknown name, malformed file, bad ``--set``) is printed as one line and the
command exits with status 2; nothing is written to the run store in that case.
"""

from __future__ import annotations

import functools
import json
import sys
import time
from pathlib import Path
from typing import Callable, Optional

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
StoreOption = typer.Option(None, "--store", help="Run store folder (default: $RECBENCH_RUNS or ./runs).")


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
    store: Optional[Path] = StoreOption,
    settings: list[str] = typer.Option([], "--set", help="Override a hyper-parameter: key=value (repeatable)."),
    config: Optional[str] = typer.Option(None, "--config", help="Start from a tuned config saved by `recbench tune`."),
) -> None:
    """Train and evaluate one model under the shared protocol and record the run."""
    from recbench.datasets import get_dataset_info
    from recbench.registry import get_model
    from recbench.runner import RunRequest
    from recbench.runner import run as run_model
    from recbench.runstore import RunStore
    from recbench.tuning import load_named_config

    get_dataset_info(dataset)  # fail fast on a typo, before any model import or data load
    get_model(model)
    overrides = list(settings)
    if config is not None:
        tuned = load_named_config(RunStore(store), config)
        if tuned["model"] != model:
            raise RecbenchError(f"--config {config}: it was tuned for model {tuned['model']!r}, not {model!r}")
        overrides = tuned["overrides"] + overrides  # explicit --set wins
    record = run_model(RunRequest(model, dataset, seed, data_dir, tuple(overrides)), RunStore(store), err_console)
    test, valid = record["metrics"]["test"], record["metrics"]["valid"]
    console.print(
        f"{record['model']} on {record['dataset_variant']} seed {seed}: "
        f"test AUC {test['auc']:.4f}  LogLoss {test['logloss']:.4f}  "
        f"(valid AUC {valid['auc']:.4f}, best epoch {record['best_epoch']})"
    )
    console.print(f"recorded run {record['run_id']} in {RunStore(store).root}")


@app.command()
@user_errors
def tune(
    model: str = typer.Option(..., "--model", "-m", help="Registered model name."),
    dataset: str = typer.Option(..., "--dataset", "-d", help="Registered dataset name."),
    trials: Optional[int] = typer.Option(None, "--trials", min=1, help="Random grid points to try (default: the whole grid)."),
    seed: int = typer.Option(0, "--seed", help="Seed for the trials and for drawing grid points."),
    data_dir: Optional[Path] = DataDirOption,
    store: Optional[Path] = StoreOption,
    settings: list[str] = typer.Option([], "--set", help="Fixed override applied to every trial (repeatable)."),
    name: Optional[str] = typer.Option(None, "--name", help="Name of the saved config (default: MODEL-DATASET)."),
) -> None:
    """Search the paper's hyper-parameter grid on the validation split and save the best config."""
    from recbench.config import apply_overrides
    from recbench.datasets import get_dataset_info
    from recbench.registry import get_model
    from recbench.runstore import RunStore
    from recbench.training import TrainConfig
    from recbench.tuning import tune as run_tuning

    get_dataset_info(dataset)
    entry = get_model(model)
    apply_overrides([entry.config_class(), TrainConfig()], list(settings))  # validate before any trial
    result = run_tuning(
        entry, dataset, RunStore(store), trials=trials, seed=seed, data_dir=data_dir, fixed=tuple(settings),
        name=name, console=err_console,
    )  # fmt: skip
    console.print(f"best validation AUC {result['valid_auc']:.4f} with: {' '.join(result['overrides'])}")
    console.print(f"saved as config {result['name']!r} ({result['path']}); use: recbench run -m {model} -d {dataset} --config {result['name']}")


@app.command()
@user_errors
def leaderboard(
    dataset: list[str] = typer.Option([], "--dataset", "-d", help="Only these datasets (repeatable)."),
    store: Optional[Path] = StoreOption,
    fmt: str = typer.Option("md", "--format", help="md, csv, latex or html."),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="Write to this file (stamped with commit and date)."),
) -> None:
    """Test AUC / LogLoss per model, mean +- std over seeds, one table per set of identical test rows."""
    from recbench.leaderboard import render_summary, summarize
    from recbench.runstore import RunStore

    formats = {"md": "github", "latex": "latex", "html": "html", "csv": "csv"}
    if fmt not in formats:
        raise RecbenchError(f"--format {fmt}: expected one of {', '.join(formats)}")
    rows = summarize(r for r in RunStore(store).records() if not dataset or r.get("dataset_variant") in dataset or r.get("dataset") in dataset)
    if not rows:
        raise RecbenchError(f"no recorded runs{' for ' + ', '.join(dataset) if dataset else ''} in {RunStore(store).root}")
    if fmt == "csv":
        import csv

        writer = csv.DictWriter(sys.stdout, fieldnames=[k for k in rows[0] if k != "commits"], extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
        return
    text = render_summary(rows, formats[fmt])
    if output is None:
        console.print(text, markup=False, highlight=False, soft_wrap=True)
        return
    from recbench.runner import git_commit

    n_runs = sum(r["seeds"] for r in rows)
    stamp = f"Generated by `recbench leaderboard` from {n_runs} recorded runs at commit {git_commit()} on {time.strftime('%Y-%m-%d')}."
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(f"{stamp}\n\n{text}\n")
    console.print(f"wrote {output}")


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
