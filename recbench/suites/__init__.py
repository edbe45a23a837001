"""Benchmark suites: a paper's tables, variants, studies, profiles and published numbers, as data.

Why: the harness (plans, tables, figures, claims) is generic; what makes it "the RecLoRA
paper" is a list of names and numbers. A :class:`Suite` holds that list, so reproducing another
paper, or making your own model the reference of Table 2, is a new suite file that calls
:func:`register_suite`, not an edit of the harness. The CLI picks one with ``--suite`` (default
``reclora``, :mod:`recbench.suites.reclora`); the report modules receive it as an argument and
never import a suite file themselves (``tests/test_layers.py``).

A suite's parts are the types of :mod:`recbench.suite_parts` (re-exported here for suite authors).

Example:
    >>> suite = Suite("mine", "my comparison", groups=(Group("ID-based", ("din", "sim"), "id"),), reference="din")
    >>> suite.models_of("id"), suite.studies
    (('din', 'sim'), ())
    >>> get_suite("reclora").reference
    'reclora'
    >>> get_suite("nope")
    Traceback (most recent call last):
    ...
    recbench.errors.RecbenchError: unknown suite 'nope'; known suites: reclora
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from recbench.errors import RecbenchError
from recbench.suite_parts import BEST_ID, Claim, CostClaim, Figure, Group, PointClaim, Published, Variant, VariantTable

__all__ = ["BEST_ID", "DEFAULT_SUITE", "SUITES", "Claim", "CostClaim", "Figure", "Group", "PointClaim", "Published",
           "Suite", "Variant", "VariantTable", "get_suite", "register_suite", "suite_names"]  # fmt: skip

#: the suite every command and every report function uses unless told otherwise
DEFAULT_SUITE = "reclora"


@dataclass(frozen=True)
class Suite:
    """One paper (or one comparison of your own) as data.

    * ``groups``, ``reference``, ``floor``: Table 2's row blocks, the entry whose RelImpr and
      significance tests it reports, and the model every learned model must beat (or None;
      ``floor_meaning`` says what its score is).
    * ``datasets``: what ``recbench reproduce`` runs when no ``--dataset`` is given;
      ``profiles``: the LM size profiles its plans accept.
    * ``studies``: the studies ``reproduce`` plans, in order; each is ``ablation.study``
      (Table 3), ``timing.study`` (Table 4) or a figure's study (its x values per profile).
    * ``claims`` (decided on Table 2's rows), ``ablation_claims`` (on Table 3's rows),
      ``timing_claims`` (AUC, on Table 4's rows) and ``cost_claims`` (time per sample, on Table
      4's timings); a figure's own claims are ``Figure.claims``.
    * ``published``: the paper's own numbers for ``--paper``, or None.
    """

    name: str
    title: str
    groups: tuple[Group, ...]
    reference: str
    floor: str | None = None
    #: what the floor model's score is, said in the floor note
    floor_meaning: str = ""
    datasets: tuple[str, ...] = ()
    profiles: tuple[str, ...] = ("cpu", "paper")
    studies: tuple[str, ...] = ()
    ablation: VariantTable | None = None
    timing: VariantTable | None = None
    figures: tuple[Figure, ...] = ()
    claims: tuple[Claim, ...] = ()
    ablation_claims: tuple[Claim, ...] = ()
    timing_claims: tuple[Claim, ...] = ()
    cost_claims: tuple[CostClaim, ...] = ()
    published: Published | None = None

    def __post_init__(self) -> None:
        declared = [t.study for t in (self.ablation, self.timing) if t is not None] + [f.study for f in self.figures]
        if len(set(declared)) != len(declared):
            raise RecbenchError(f"suite {self.name!r}: two tables or figures share a study name: {declared}")
        unknown = [s for s in self.studies if s not in declared]
        unplanned = [s for s in declared if s not in self.studies]
        if unknown or unplanned:
            raise RecbenchError(
                f"suite {self.name!r}: studies {list(self.studies)} must list exactly the declared tables' and "
                f"figures' studies {declared}"
            )
        # a claim naming a row its table does not have could only ever say "no runs": a typo, caught here
        for what, claims, table in (("ablation", self.ablation_claims, self.ablation),
                                    ("timing", self.timing_claims, self.timing)):  # fmt: skip
            self._check_rows(what, [(c.text, (c.better, c.worse)) for c in claims], table)
        self._check_rows("cost", [(c.text, (c.first, c.second)) for c in self.cost_claims], self.timing)
        for figure in self.figures:
            extra = sorted(set(figure.values) - set(self.profiles))
            if extra:
                raise RecbenchError(f"suite {self.name!r}: figure {figure.number} has values for unknown profile(s) {extra}")

    def _check_rows(self, what: str, claims: list[tuple[str, tuple[str, str]]], table: VariantTable | None) -> None:
        """Each claim's two entries must be row labels of ``table`` (none when there is no table)."""
        labels = set(table.labels) if table is not None else set()
        for text, entries in claims:
            unknown = [e for e in entries if e not in labels]
            if unknown:
                where = f"suite {self.name!r}: {what} claim {text!r}"
                raise RecbenchError(f"{where} names {unknown}, not rows of its table {sorted(labels)}")

    def models_of(self, kind: str) -> tuple[str, ...]:
        """The models of every Table 2 group of ``kind`` (``reference``, ``id`` or ``lm``), in order."""
        return tuple(m for g in self.groups if g.kind == kind for m in g.models)

    def parts(self) -> dict[str, str]:
        """The names ``reproduce --only`` accepts, each mapped to the part of the plan it selects.

        ``table2`` is Table 2's rows and the runs its claims name; ``table3`` / ``table4`` are the
        ablation and timing tables' studies, ``figureN`` a figure's study, and every study also
        answers to its own name.

        Example:
            >>> get_suite("reclora").parts()["figure4"]
            'n_meta'
        """
        names = {"table2": "table2"}
        for label, table in (("table3", self.ablation), ("table4", self.timing)):
            if table is not None:
                names[label] = table.study
        names.update({f"figure{f.number}": f.study for f in self.figures})
        names.update({study: study for study in self.studies})
        return names

    def select_parts(self, names: Iterable[str]) -> frozenset[str]:
        """The parts (``table2`` or study names) that ``--only`` names; an unknown name is an error."""
        known = self.parts()
        unknown = [n for n in names if n.strip().lower() not in known]
        if unknown:
            raise RecbenchError(f"--only {unknown[0]}: expected one of {', '.join(known)}")
        return frozenset(known[n.strip().lower()] for n in names)

    def variant_table(self, study: str) -> VariantTable | None:
        """Table 3 or Table 4 when ``study`` is its study name."""
        return next((t for t in (self.ablation, self.timing) if t is not None and t.study == study), None)

    def figure(self, study: str) -> Figure | None:
        return next((f for f in self.figures if f.study == study), None)


#: every registered suite by name (the built-in ones are registered when this package is imported)
SUITES: dict[str, Suite] = {}


def register_suite(suite: Suite, *, replace: bool = False) -> Suite:
    """Make ``suite`` available to ``get_suite`` and ``--suite``; a second suite of one name is an error."""
    if suite.name in SUITES and not replace and SUITES[suite.name] is not suite:
        raise RecbenchError(f"suite {suite.name!r} is registered already")
    SUITES[suite.name] = suite
    return suite


def suite_names() -> list[str]:
    return sorted(SUITES)


def get_suite(name: str) -> Suite:
    """The registered suite ``name``, or an error naming the known ones."""
    try:
        return SUITES[name]
    except KeyError:
        raise RecbenchError(f"unknown suite {name!r}; known suites: {', '.join(suite_names())}") from None


from recbench.suites import reclora as _reclora  # noqa: F401  (registers the built-in suite)
