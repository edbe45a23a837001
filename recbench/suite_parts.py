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

import string
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
    #: what the paper says its curve shows, as claims between its points
    claims: tuple[PointClaim, ...] = ()

    def __post_init__(self) -> None:
        strangers = sorted({m for c in self.claims for m in c.models} - set(self.models)) if self.models else []
        if strangers:  # a claim on a model the figure has no points of could only ever say "no runs"
            raise RecbenchError(f"figure {self.number}: claims name {strangers}, not its models {list(self.models)}")

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
class PointClaim:
    """"``better`` beats ``worse``" between two points of a figure, each ``"model @ x"``.

    ``x`` is a number, ``min`` / ``max`` (the figure's smallest / largest value at the profile)
    or ``each`` (one claim per value; when both sides say ``each`` they take the same value, and
    a value equal to the other side's is skipped). ``text`` may name them as ``{x}`` (only with
    an ``each`` side), ``{min}`` and ``{max}``. :meth:`expand` turns it into plain claims on point
    labels (:func:`point_label`). Why symbolic: the cpu and paper profiles sweep different values
    (Figure 6's sample sizes), and one declaration must say the paper's sentence at both.

    Example:
        >>> c = PointClaim("A with {max} beats A with {x}", "a @ max", "a @ each")
        >>> [(k.text, k.better, k.worse) for k in c.expand((1, 4, 16))]  # doctest: +NORMALIZE_WHITESPACE
        [('A with 16 beats A with 1', 'a @ 16', 'a @ 1'), ('A with 16 beats A with 4', 'a @ 16', 'a @ 4')]
    """

    text: str
    better: str
    worse: str

    def __post_init__(self) -> None:
        """Check the entries and the text's fields when the suite is declared, not when a table is rendered."""
        sides = self._sides()
        try:
            fields = {name for _, name, _, _ in string.Formatter().parse(self.text) if name is not None}
        except ValueError as e:
            raise RecbenchError(f"claim {self.text!r}: {e}") from None
        if fields - {"x", "min", "max"} or ("x" in fields and all(x != "each" for _, x in sides)):
            raise RecbenchError(f"claim {self.text!r}: its text may name {{min}}, {{max}} and, beside 'each', {{x}}")

    @property
    def models(self) -> tuple[str, str]:
        """The models of the two sides (``better``, ``worse``)."""
        (better, _), (worse, _) = self._sides()
        return better, worse

    def _sides(self) -> tuple[tuple[str, float | str], tuple[str, float | str]]:
        return _split_point(self.better, self.text), _split_point(self.worse, self.text)

    def expand(self, points: tuple[int, ...]) -> tuple[Claim, ...]:
        """The plain claims at a profile whose x values are ``points``: one per value ``each`` takes, else one."""
        values = tuple(dict.fromkeys(points))  # in the figure's order, once each
        if not values:
            return ()
        low, high = min(values), max(values)
        named = {"min": low, "max": high}
        sides = self._sides()
        out = []
        for value in values if any(x == "each" for _, x in sides) else (None,):
            better, worse = ((model, value if x == "each" else named.get(str(x), x)) for model, x in sides)
            if better == worse:  # "16 beats each" at 16 itself
                continue
            text = self.text.format(x=value, min=low, max=high)
            out.append(Claim(text, point_label(*better), point_label(*worse)))
        return tuple(out)


def _split_point(entry: str, text: str) -> tuple[str, float | str]:
    """``"reclora @ 16"`` -> ``("reclora", 16.0)``; ``min`` / ``max`` / ``each`` stay words."""
    model, sep, x = (part.strip() for part in entry.partition("@"))
    if not sep or not model:
        raise RecbenchError(f"claim {text!r}: entry {entry!r}, expected 'model @ x' (x a number, min, max or each)")
    if x in ("min", "max", "each"):
        return model, x
    try:
        return model, float(x)
    except ValueError:
        raise RecbenchError(f"claim {text!r}: entry {entry!r}: x must be a number, min, max or each") from None


def point_label(model: str, x: float) -> str:
    """How a figure's point is named in its claims: ``reclora @ 16``."""
    return f"{model} @ {float(x):g}"


@dataclass(frozen=True)
class CostClaim:
    """A claim on the time per sample of two Table 4 rows, decided on their recorded timings.

    Timings are one measurement per run (on the machine it ran on), not samples, so there is no p-value:
    ``kind="cheaper"`` holds when ``second`` takes at least ``1 + margin`` times as long as
    ``first``, fails when ``first`` takes at least ``1 + margin`` times as long as ``second``, and
    is undecided in between (within timing noise). ``kind="within"`` holds when ``first`` takes at
    most ``1 + margin`` times as long as ``second``, and fails otherwise.
    """

    text: str
    first: str
    second: str
    timing: str = "train"  # "train" or "infer": which seconds-per-sample the records give
    kind: str = "cheaper"
    margin: float = 0.25

    def __post_init__(self) -> None:
        if self.timing not in ("train", "infer") or self.kind not in ("cheaper", "within") or self.margin < 0:
            raise RecbenchError(
                f"cost claim {self.text!r}: timing {self.timing!r} (train or infer), kind {self.kind!r} "
                f"(cheaper or within), margin {self.margin} (>= 0)"
            )


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
