"""The shapes a benchmark suite is declared in: Table 2 groups, variant tables, figures, claims, published numbers.

Why here, below the report modules: a suite (``recbench/suites/``, one file per paper) is data,
and the generic tables, figures, claims and plans read it. The vocabulary of that data belongs to
the code that reads it, so the report modules import these types and never the suites; a suite
file imports them to declare its paper. :class:`recbench.suites.Suite` bundles them.

Example:
    >>> v = Variant("w/o meta-LoRA", "reclora", ("n_meta=1", lambda: "lora_rank=128"))
    >>> v.settings()
    ('n_meta=1', 'lora_rank=128')
    >>> Group("ID-based", ("din", "sim"), "id").kind
    'id'
    >>> fig = Figure(4, "n_meta", "N_m", "fig4.png", setting="n_meta", models=("reclora",), values={"cpu": (1, 16)})
    >>> fig.points("cpu")
    (1, 16)
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from recbench.errors import RecbenchError

#: what a Table 2 group's models are: ``reference`` = counting scores (one run, no seeds, no LM
#: profile, never "learned"), ``id`` = ID models (no LM profile), ``lm`` = language models (run
#: at the LM size profile)
GROUP_KINDS = ("reference", "id", "lm")
#: a claim's entry that stands for the best model of the suite's ``id`` groups on those rows
BEST_ID = "<best ID model>"


@dataclass(frozen=True)
class Group:
    """One block of Table 2's rows: its title, its models in order, and what kind of models they are."""

    title: str
    models: tuple[str, ...]
    kind: str = "id"

    def __post_init__(self) -> None:
        if self.kind not in GROUP_KINDS:
            raise RecbenchError(f"group {self.title!r}: kind {self.kind!r}, expected one of {', '.join(GROUP_KINDS)}")


@dataclass(frozen=True)
class Variant:
    """One named row of a variant table: a model and the ``--set`` overrides that make the row.

    An override may be a function returning ``key=value`` for a setting derived from a model's
    registered config (RecLoRA's "same param" rank), read when the plan or table is made.
    """

    label: str
    model: str
    overrides: tuple[str | Callable[[], str], ...] = ()

    def settings(self) -> tuple[str, ...]:
        return tuple(o() if callable(o) else o for o in self.overrides)


@dataclass(frozen=True)
class VariantTable:
    """A table whose rows are named variants (Table 3's ablations, Table 4's history lengths).

    ``study`` is the name its runs are recorded under; the first row is the one the others are
    measured against (the full model; the shortest history).
    """

    study: str
    rows: tuple[Variant, ...]

    def __post_init__(self) -> None:
        if not self.rows:
            raise RecbenchError(f"study {self.study!r}: a variant table needs at least one row")

    @property
    def labels(self) -> tuple[str, ...]:
        return tuple(v.label for v in self.rows)

    @property
    def base(self) -> Variant:
        return self.rows[0]

    def settings(self) -> dict[str, tuple[str, tuple[str, ...]]]:
        """label -> (model, overrides), with derived overrides read now."""
        return {v.label: (v.model, v.settings()) for v in self.rows}


@dataclass(frozen=True)
class Figure:
    """A study drawn as a figure: AUC against one setting's values, one line per model.

    ``values`` holds the x values to plan per LM size profile; ``setting`` is the config key the
    study varies, so runs that change only it (or nothing) are points too.
    """

    number: int
    study: str
    xlabel: str
    filename: str
    log_x: bool = False
    setting: str = ""
    models: tuple[str, ...] = ()
    values: Mapping[str, tuple[int, ...]] = field(default_factory=dict)

    def points(self, profile: str) -> tuple[int, ...]:
        if profile not in self.values:
            raise RecbenchError(f"study {self.study!r} declares no values for profile {profile!r}")
        return tuple(self.values[profile])


@dataclass(frozen=True)
class Claim:
    """"``better`` beats ``worse``" on the identical rows of one table (entries are table labels)."""

    text: str
    better: str
    worse: str


@dataclass(frozen=True)
class Published:
    """A paper's own numbers, shown beside ours (labelled) by ``--paper``.

    ``columns`` maps our dataset names to the paper's column and whether it is the same data;
    ``table4_column`` is the one paper dataset Table 4 reports.
    """

    paper: str
    table2: Mapping[str, Mapping[str, tuple[float, float]]] = field(default_factory=dict)
    table3: Mapping[str, Mapping[str, tuple[float, float]]] = field(default_factory=dict)
    table4: Mapping[str, tuple[float, float, float]] = field(default_factory=dict)
    table4_column: str | None = None
    columns: Mapping[str, tuple[str, bool]] = field(default_factory=dict)

    def column(self, dataset: str) -> tuple[str, bool] | None:
        """The paper dataset whose numbers belong next to ``dataset``, and whether it is the same data."""
        return self.columns.get(dataset)


def parse_time_variant(variant: str) -> tuple[int, int | None]:
    """"10/60" -> (10, 60); "30/-" -> (30, None): text and ID history lengths of a Table 4 row label.

    Example:
        >>> parse_time_variant("10/60"), parse_time_variant("30/-")
        ((10, 60), (30, None))
    """
    text, _, ident = variant.partition("/")
    try:
        return int(text), (None if ident.strip() in ("", "-", "–") else int(ident))
    except ValueError:
        raise RecbenchError(f"time_per_sample variant {variant!r}: expected TEXT/ID such as 10/60 or 30/-") from None
