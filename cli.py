"""The ``recbench`` command line.

    recbench run --model din --dataset ml-100k --seed 0 --set lr=5e-4
    recbench leaderboard --paper --table all --figures figs
    recbench ablate --dataset ml-1m --profile cpu --dry-run
    recbench study n_meta --dataset ml-1m --profile cpu
    recbench reproduce --profile cpu --dataset ml-1m --seeds 3
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
StoreOption = typer.Option(
    [], "--store", help="Run store folder (repeatable: all are read, the first receives new runs; default: $RECBENCH_RUNS or ./runs)."
)
StrictOption = typer.Option(False, "--strict", help="A damaged run in a store is an error (exit 2), not a skipped run with a note.")


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
    from recbench.datasets import get_dataset_info
    from recbench.registry import get_model
    from recbench.runner import RunRequest
    from recbench.runner import run as run_model
    from recbench.runstore import open_stores
    from recbench.tuning import load_named_config

    get_dataset_info(dataset)  # fail fast on a typo, before any model import or data load
    if seed < 0:
        raise RecbenchError(f"--seed {seed}: expected 0 or a positive integer")
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
    request = RunRequest(model, dataset, seed, data_dir, tuple(overrides), profile=profile)
    run_store = open_stores(store)
    record = run_model(request, run_store, err_console)
    test, valid = record["metrics"]["test"], record["metrics"].get("valid")
    note = f" (valid AUC {valid['auc']:.4f}, best epoch {record['best_epoch']})" if valid else ""
    console.print(
        f"{record['model']} on {record['dataset_variant']} seed {seed}: "
        f"test AUC {test['auc']:.4f}  LogLoss {test['logloss']:.4f} on {test['rows']:,} rows{note}"
    )
    console.print(f"recorded run {record['run_id']} in {run_store.root}")


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
    from recbench.config import apply_overrides
    from recbench.datasets import get_dataset_info
    from recbench.registry import get_model
    from recbench.runstore import open_stores
    from recbench.training import TrainConfig
    from recbench.tuning import tune as run_tuning

    get_dataset_info(dataset)
    if seed < 0:
        raise RecbenchError(f"--seed {seed}: expected 0 or a positive integer")
    entry = get_model(model)
    apply_overrides([entry.config_class(), TrainConfig()], list(settings))  # validate before any trial
    result = run_tuning(
        entry, dataset, open_stores(store), trials=trials, seed=seed, data_dir=data_dir, fixed=tuple(settings),
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
    reference: Optional[str] = typer.Option(None, "--reference", help="Table 2's reference entry, e.g. your own model (default: RecLoRA, else the best)."),
) -> None:
    """The paper's Tables 2-4 from recorded runs, each on identical test rows, with significance marks."""
    from recbench.paper_tables import filter_datasets, filter_profile
    from recbench.render import FORMATS
    from recbench.runstore import open_stores

    if fmt not in FORMATS:
        raise RecbenchError(f"--format {fmt}: expected one of {', '.join(FORMATS)}")
    run_store = open_stores(store)
    records = filter_profile(filter_datasets(run_store.records(), dataset), profile)
    text, n_tables = _render_leaderboard(run_store, records, table, paper, fmt, dataset, reference=reference)
    _report_problems(run_store, strict)
    if figures is not None:
        _draw_figures(records, figures)
    if n_tables == 0:
        return
    if output is None:
        console.print(text, markup=False, highlight=False, soft_wrap=True)
        return
    output.parent.mkdir(parents=True, exist_ok=True)
    words = [f"--store {p}" for p in store] + [f"-d {d}" for d in dataset] + ([f"--profile {profile}"] if profile else [])
    words += ([f"--reference {reference}"] if reference else []) + (["--paper"] if paper else []) + ([f"--table {table}"] if table != "all" else []) + ([f"--format {fmt}"] if fmt != "md" else [])
    command = " ".join(["recbench leaderboard", *words])
    output.write_text(_stamped(text, fmt, f"Generated by `{command}` from {len(records)} recorded runs"))
    console.print(f"wrote {output}")


def _report_problems(run_store, strict: bool) -> None:
    """One warning line per damaged run (they also appear in the tables' notes); --strict: exit 2."""
    for problem in run_store.problems:
        err_console.print(f"[yellow]warning:[/] skipped damaged run {problem}", highlight=False, soft_wrap=True)
    if strict and run_store.problems:
        raise RecbenchError(f"--strict: {len(run_store.problems)} damaged run(s) in the store, first: {run_store.problems[0]}")


def _render_leaderboard(
    run_store, records: list, table: str, paper: bool, fmt: str, dataset: list[str], quiet_empty: bool = False,
    reference: Optional[str] = None,
) -> tuple[str, int]:
    """Rendered tables and how many; an error when nothing at all matches the request."""
    from recbench.paper_tables import build_tables
    from recbench.render import render_tables

    tables = build_tables(run_store, records, table, paper, reference)
    if not tables and not quiet_empty:
        kinds = {"all": "recorded runs", "2": "plain (non-study) runs", "3": "ablation runs"}
        kinds["4"] = "time_per_sample runs"
        what = kinds.get(table, "runs")
        where = ", ".join(str(r) for r in run_store.roots)
        damaged = f" ({len(run_store.problems)} damaged run(s) skipped; first: {run_store.problems[0]})" if run_store.problems else ""
        raise RecbenchError(f"no {what}{' for ' + ', '.join(dataset) if dataset else ''} in {where}{damaged}")
    return render_tables(tables, fmt), len(tables)


def _stamped(text: str, fmt: str, origin: str) -> str:
    """Prefix a provenance line (commit, date) in the format's own comment syntax; CSV stays pure data."""
    from recbench.runner import git_commit

    stamp = f"{origin} at commit {git_commit()} on {time.strftime('%Y-%m-%d')}."
    if fmt == "csv":
        return text
    if fmt == "latex":
        return f"% {stamp}\n\n{text}"
    if fmt == "html":
        return f"<p>{stamp}</p>\n{text}"
    return f"{stamp}\n\n{text}"


def _draw_figures(records: list, folder: Path) -> None:
    from recbench.figures import draw_figures

    written, skipped = draw_figures(records, folder)
    for path in written:
        console.print(f"wrote {path}")
    for message in skipped:
        err_console.print(message, highlight=False)


SeedsOption = typer.Option(None, "--seed", help="Seed (repeatable; default 0).")
ProfileOption = typer.Option("cpu", "--profile", help="Size profile of the LM runs: cpu or paper.")
DryRunOption = typer.Option(False, "--dry-run", help="Only print the plan and which runs are already recorded.")
KeepGoingOption = typer.Option(False, "--keep-going", help="Continue past a failed run; report failures at the end.")
PlanSetOption = typer.Option([], "--set", help="Extra override for every planned run, e.g. threads=1 (repeatable).")


def _carry_out(plan: list, store: list[Path], dry_run: bool, keep_going: bool) -> bool:
    """Print the plan with its recorded runs, then (unless --dry-run) run what is missing.

    Returns whether every run is now recorded.
    """
    from recbench.runstore import open_stores
    from recbench.studies import check_plan, execute, resolve_variant

    from recbench.estimates import Costs, estimate, format_duration

    run_store = open_stores(store)
    planned = check_plan(plan, run_store, resolve_variant)
    todo = sum(p.pending for p in planned)
    costs, total, unknown = Costs(run_store.records()), 0.0, 0
    variants: dict[tuple, str] = {}  # resolving a variant hashes the raw files: once per dataset
    for item in planned:
        line = item.describe()
        if item.pending:
            where = (item.request.dataset, item.request.data_dir)
            if where not in variants:
                variants[where] = resolve_variant(*where)
            seconds = estimate(item.request, variants[where], costs)
            total, unknown = total + (seconds or 0.0), unknown + (seconds is None)
            line += f"  ~{format_duration(seconds)}"
        console.print(line, markup=False, highlight=False, soft_wrap=True)
    same = sum(p.same_as is not None for p in planned)
    twice = f", {same} the same run as an earlier line" if same else ""
    console.print(f"{len(planned)} planned runs: {len(planned) - todo - same} already recorded{twice}, {todo} to run")
    if todo:
        caveat = f"; {unknown} run(s) have no measured cost yet (no recorded run of that model)" if unknown else ""
        console.print(f"estimated time for the runs to make: {format_duration(total)} of one core at the recorded rates{caveat}")
    if dry_run or todo == 0:
        return todo == 0
    made, failures = execute(planned, run_store, err_console, keep_going=keep_going)
    console.print(f"made {made} run(s) into {run_store.root}")
    for item, message in failures:
        err_console.print(f"[bold red]failed:[/] {item.describe()}: {message}", highlight=False, soft_wrap=True)
    return not failures


@app.command()
@user_errors
def ablate(
    dataset: str = typer.Option(..., "--dataset", "-d", help="Registered dataset name."),
    profile: str = ProfileOption,
    seed: Optional[list[int]] = SeedsOption,
    data_dir: Optional[Path] = DataDirOption,
    store: list[Path] = StoreOption,
    settings: list[str] = PlanSetOption,
    dry_run: bool = DryRunOption,
    keep_going: bool = KeepGoingOption,
) -> None:
    """Run the RecLoRA ablations of Table 3 that are not recorded yet."""
    _study_command("ablation", dataset, profile, seed, data_dir, store, settings, dry_run, keep_going)


@app.command()
@user_errors
def study(
    name: str = typer.Argument(..., help="n_meta, id_history, sample_size (Figs 4-6) or time_per_sample (Table 4)."),
    dataset: str = typer.Option(..., "--dataset", "-d", help="Registered dataset name."),
    profile: str = ProfileOption,
    seed: Optional[list[int]] = SeedsOption,
    data_dir: Optional[Path] = DataDirOption,
    store: list[Path] = StoreOption,
    settings: list[str] = PlanSetOption,
    dry_run: bool = DryRunOption,
    keep_going: bool = KeepGoingOption,
) -> None:
    """Run one of the paper's studies (the runs not recorded yet)."""
    from recbench.studies import STUDIES

    if name not in STUDIES or name == "ablation":
        choices = ", ".join(s for s in STUDIES if s != "ablation")
        raise RecbenchError(f"unknown study {name!r}; choose one of: {choices} (ablations: recbench ablate)")
    _study_command(name, dataset, profile, seed, data_dir, store, settings, dry_run, keep_going)


def _study_command(name: str, dataset: str, profile: str, seeds: Optional[list[int]], data_dir: Optional[Path],
                   store: list[Path], settings: list[str], dry_run: bool, keep_going: bool) -> None:  # fmt: skip
    from recbench.datasets import get_dataset_info
    from recbench.studies import plan_study

    get_dataset_info(dataset)
    if any(s < 0 for s in seeds or []):
        raise RecbenchError(f"--seed {min(seeds or [0])}: expected 0 or a positive integer")
    plan = plan_study(name, dataset, profile, seeds or [0], data_dir, tuple(settings))
    if not _carry_out(plan, store, dry_run, keep_going):
        if not dry_run:
            raise typer.Exit(2)


@app.command()
@user_errors
def reproduce(
    profile: str = typer.Option(..., "--profile", help="Size profile of the LM runs: cpu or paper."),
    dataset: list[str] = typer.Option([], "--dataset", "-d", help="Datasets (repeatable; default: the paper's three)."),
    seeds: int = typer.Option(3, "--seeds", min=1, help="Seeds 0..N-1 for every run."),
    data_dir: Optional[Path] = DataDirOption,
    store: list[Path] = StoreOption,
    settings: list[str] = PlanSetOption,
    dry_run: bool = DryRunOption,
    keep_going: bool = KeepGoingOption,
    out: Path = typer.Option(Path("leaderboards"), "--out", help="Folder for the rendered tables and figures."),
    strict: bool = StrictOption,
) -> None:
    """Run every missing run behind Tables 2-4 and Figures 4-6, then render them into leaderboards/."""
    from recbench.datasets import get_dataset_info
    from recbench.paper_tables import filter_datasets, filter_profile
    from recbench.runstore import open_stores
    from recbench.studies import PAPER_DATASETS, plan_reproduce

    datasets = list(dataset) or list(PAPER_DATASETS)
    if data_dir is not None and len(datasets) != 1:
        raise RecbenchError("--data-dir needs exactly one --dataset (use $RECBENCH_DATA for several)")
    for name in datasets:
        get_dataset_info(name)
    plan = plan_reproduce(datasets, profile, range(seeds), data_dir, tuple(settings))
    complete = _carry_out(plan, store, dry_run, keep_going)
    if dry_run:
        return
    run_store = open_stores(store)
    # this profile's LM runs beside the ID runs (which have no profile)
    records = filter_profile(filter_datasets(run_store.records(), datasets), profile)
    folder = out / profile
    text, n_tables = _render_leaderboard(run_store, records, "all", True, "md", datasets, quiet_empty=True)
    _report_problems(run_store, strict)
    if n_tables:
        digests = sorted({f"{r.get('dataset_variant')} {(r.get('fingerprint') or {}).get('digest', '?')[:12]}"
                          for r in records})  # fmt: skip
        again = " ".join(["recbench leaderboard", *(f"--store {p}" for p in store), *(f"-d {d}" for d in datasets), f"--profile {profile}", "--paper"])
        origin = (f"Generated by `{again}` (recbench reproduce) from {len(records)} recorded runs "
                  f"(profile {profile}; data {', '.join(digests)})")  # fmt: skip
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "tables.md").write_text(_stamped(text, "md", origin))
        console.print(f"wrote {folder / 'tables.md'}")
    _draw_figures(records, folder / "figures")
    if not complete:
        raise typer.Exit(2)


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
