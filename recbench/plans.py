"""Carrying out a plan: which planned runs are made already, and making the rest.

A plan (``recbench.studies``) is a list of run requests. ``check_plan`` marks each request
recorded (a finished run in the store with the same model, data, seed, profile and resolved
settings, whichever study made it), the same run as an earlier line of the plan, or still to
run; ``execute`` makes what is left, claiming each run first (``recbench.run_claims``) so
several processes can share one plan.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from recbench.drift import resolve_settings, settings_difference, settings_drift, settings_signature
from recbench.errors import RecbenchError
from recbench.records import measured_overrides

if TYPE_CHECKING:
    from rich.console import Console

    from recbench.estimates import Budget
    from recbench.run_record import RunRecord
    from recbench.runner import RunRequest
    from recbench.runstore import RunStore

def identity(model: str, variant: str, seed: int, profile: str | None, study: Mapping[str, Any] | None,
             overrides: Iterable[str]) -> tuple:  # fmt: skip
    """What makes two runs "the same run" for resuming."""
    study_key = tuple(sorted((k, str(v)) for k, v in (study or {}).items()))
    return (model, variant, int(seed), profile, study_key, measured_overrides(overrides))


def record_identity(record: RunRecord) -> tuple:
    study = record.study.to_dict() if record.study is not None else None
    return identity(record.model, record.variant, record.seed, record.profile, study, record.overrides)


def resolve_variant(dataset: str, data_dir: Path | None = None) -> str:
    """The dataset variant a run on ``dataset`` will record (e.g. ml-1m files that are really
    ml-1m-u2999), read from the files' fingerprint when they are present; else the name."""
    from recbench.datasets import fingerprint_files, get_dataset_info, resolve_data_dir

    info = get_dataset_info(dataset)
    if info.embedded:
        return dataset
    directory = resolve_data_dir(dataset, data_dir)
    if not all((directory / f).is_file() for f in info.files):
        return dataset
    return fingerprint_files(info, directory).variant or dataset


@dataclass(frozen=True)
class PlannedRun:
    """A planned request and, when the store already holds it, that run's id."""

    request: RunRequest
    recorded: str | None
    #: 1-based line of an earlier planned request with the same settings (this one is that run)
    same_as: int | None = None
    #: the dataset variant the run will record (resolved once, from the data's fingerprint)
    variant: str = ""

    @property
    def pending(self) -> bool:
        """Still to run: neither recorded nor the same run as an earlier line of the plan."""
        return self.recorded is None and self.same_as is None

    def describe(self) -> str:
        r = self.request
        study = r.study or {}
        what = study.get("variant", study.get("x", ""))
        label = f"{study['name']}={what}" if study else "table2"
        extra = " ".join(r.overrides) or "-"
        state = f"recorded {self.recorded}" if self.recorded else f"= line {self.same_as}" if self.same_as else "to run"
        return f"{r.model:<8} {r.dataset:<12} seed {r.seed}  {r.profile or '-':<5} {label:<40} {extra:<48} {state}"


def check_plan(
    plan: list[RunRequest], store: RunStore, variant_of: Callable[[str, Path | None], str] | None = None
) -> list[PlannedRun]:
    """Mark each planned request recorded (with its run id), the same run as an earlier line, or to run.

    A request is recorded when the store holds a finished run of the same model, data, seed and
    profile whose settings equal the request's resolved settings, whichever study made it: the
    default RecLoRA run is also Table 3's "full" row and Figure 4's N_m = 16 point, so it is
    made once. A study request that changes no setting is the model's plain run even for a
    record without settings. Runs whose profile changed since they ran never count
    (``recbench.drift``).
    """
    variant_of = variant_of or (lambda name, _dir: name)
    done: dict[tuple, str] = {}
    by_run: dict[tuple, list[RunRecord]] = defaultdict(list)
    for record in store.records():
        if record.is_result and not settings_drift(record):  # a run of since-changed settings is not done
            done[record_identity(record)] = record.run_id
            if record.config is not None:
                by_run[_run_key(record.model, record.variant, record.seed, record.profile)].append(record)
    cache: dict[tuple, str] = {}
    first_line: dict[tuple, int] = {}
    out = []
    for line, request in enumerate(plan, 1):
        where = (request.dataset, request.data_dir)
        if where not in cache:
            cache[where] = variant_of(request.dataset, request.data_dir)
        key = identity(request.model, cache[where], request.seed, request.profile, request.study, request.overrides)
        recorded = done.get(key)
        if recorded is None and request.study and not measured_overrides(request.overrides):
            # a study row that changes nothing (Table 3's "full") is the model's plain Table-2 run: never run it twice
            plain = identity(request.model, cache[where], request.seed, request.profile, None, request.overrides)
            recorded = done.get(plain)
        run_key = _run_key(request.model, cache[where], request.seed, request.profile)
        resolved = resolve_settings(request.model, request.overrides, request.profile)
        if recorded is None and resolved is not None:
            same = [r for r in by_run.get(run_key, []) if not settings_difference(r, *resolved)]
            recorded = same[-1].run_id if same else None
        signature = settings_signature(request.model, request.overrides, request.profile)
        same_as = None
        if recorded is None and signature is not None:
            same_as = first_line.setdefault((*run_key, signature), line)
            same_as = None if same_as == line else same_as
        out.append(PlannedRun(request, recorded, same_as, cache[where]))
    return out


def _run_key(model: str, variant: str, seed: int, profile: str | None) -> tuple:
    return (model, variant, int(seed), profile)


def execute(
    planned: list[PlannedRun],
    store: RunStore,
    console: Console,
    run_fn: Callable[..., RunRecord] | None = None,
    keep_going: bool = False,
    budget: Budget | None = None,
) -> tuple[int, list[tuple[PlannedRun, str]]]:
    """Run every planned request not yet recorded; returns (runs made, failures).

    Stops at the first failure unless ``keep_going``; then failures are collected and
    reported by the caller. Already-recorded requests are never re-run. Several processes may
    carry out the same plan on the same store side by side: each claims a run before making it
    (:mod:`recbench.run_claims`) and skips the runs another live process holds. With a
    ``budget`` a run starts only when its estimate, from the rates recorded so far (this
    process's finished runs included), fits the time left; the others are skipped and said so.
    """
    if run_fn is None:
        from recbench.runner import run as run_fn
    from recbench.estimates import Costs, estimate
    from recbench.hardware import hardware_key, hardware_signature
    from recbench.run_claims import RunClaims

    def here() -> str | None:
        return hardware_key(hardware_signature())

    claims = RunClaims(store.root)
    todo = [p for p in planned if p.pending]
    made, failures = 0, []
    for i, item in enumerate(todo, 1):
        variant = item.variant or item.request.dataset
        key = repr(identity(item.request.model, variant, item.request.seed, item.request.profile, item.request.study,
                            item.request.overrides))  # fmt: skip
        if budget is not None and (reason := budget.refusal(estimate(item.request, variant, Costs(store.records(), here())))):
            console.print(f"[{i}/{len(todo)}] left for later ({reason}): {item.describe()}", highlight=False)
            continue
        if not claims.acquire(key):
            console.print(f"[{i}/{len(todo)}] another process is making it: {item.describe()}", highlight=False)
            continue
        try:
            if check_plan([item.request], store, lambda *_: variant)[0].recorded:  # another process recorded it meanwhile
                continue
            console.print(f"[{i}/{len(todo)}] {item.describe()}", highlight=False)
            record = run_fn(item.request, store, console)
        except RecbenchError as exc:
            if not keep_going:
                raise
            failures.append((item, str(exc)))
            console.print(f"[red]failed[/]: {exc}", highlight=False)
            continue
        finally:
            claims.release(key)
        made += 1
        console.print(f"recorded {record.run_id}", highlight=False)
    return made, failures
