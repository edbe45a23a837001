"""The layers point one way, checked on the source with ``ast`` so it stays that way.

    core (errors, devices, config, metrics, protocol, protocol_data, datasets, batches, text, retrieval,
          registry, nn, row_gather, ctr, records, run_record, prerequisites)
      <- lm (backbones, prompts, the LM loop) and the model packages (baselines/, reclora/)
      <- run (runner, prerequisite_runs, training, tuning, runstore, estimates, drift, run_claims, plans)
      <- report (compare, stats, row_significance, render, run_selection, suite_parts, paper_tables,
                 study_tables, claims, study_claims, figures, studies)
      <- suites (recbench/suites/: a paper as data, in the report layer's suite_parts types)
      <- cli.py and its helpers (cli_requests, cli_plans, cli_leaderboard)

A core module never imports the LM layer, the run layer, the reports or a model package (the
LM layer registers its item vectors into the core's table instead); a model package never
imports the runner (RecLoRA declares its CRM as a core ``Prerequisite``; the run layer finds or
trains it and hands it over loaded), and ``reclora/`` reads no run store either; the two model
packages never import each other. A report module never imports a suite: it is handed
one, and only ``run_selection.suite_or_default`` reaches up (lazily, inside the function) for the
default; type annotations may name ``recbench.suites.Suite`` under ``TYPE_CHECKING``.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CORE = {"errors", "devices", "config", "metrics", "protocol", "protocol_data", "datasets", "batches", "text", "retrieval", "registry", "nn", "row_gather", "ctr", "records", "run_record", "prerequisites"}
UPPER = ("recbench.lm", "recbench.runner", "recbench.prerequisite_runs", "recbench.training", "recbench.tuning", "recbench.runstore",
         "recbench.estimates", "recbench.drift", "recbench.run_claims", "recbench.plans", "recbench.compare", "recbench.stats", "recbench.row_significance", "recbench.render", "recbench.paper_tables", "recbench.run_selection",
         "recbench.claims", "recbench.study_claims", "recbench.study_tables", "recbench.figures", "recbench.studies", "recbench.testing", "baselines",
         "reclora", "cli", "recbench.cli_requests", "recbench.cli_plans", "recbench.cli_leaderboard",
         "recbench.suite_parts", "recbench.suites")  # fmt: skip
REPORT = ("compare", "stats", "row_significance", "render", "run_selection", "suite_parts", "paper_tables", "study_tables",
          "claims", "study_claims", "figures", "studies")  # fmt: skip
CLI = ("cli", "recbench.cli_requests", "recbench.cli_plans", "recbench.cli_leaderboard")


def imports(path: Path) -> set[str]:
    """Every module name ``path`` imports, at any depth of the file (lazy imports included)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def runtime_imports(path: Path) -> set[str]:
    """Like :func:`imports`, but leaving out what an ``if TYPE_CHECKING:`` block imports (annotations only)."""
    tree = ast.parse(path.read_text(), str(path))
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING":
            skipped.update(id(inner) for child in node.body for inner in ast.walk(child))
    names: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def under(name: str, prefixes) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def core_files() -> list[Path]:
    package = ROOT / "recbench"
    return sorted(p for p in package.rglob("*.py") if p.relative_to(package).parts[0].removesuffix(".py") in CORE)


@pytest.mark.parametrize("path", core_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_core_imports_no_upper_layer(path):
    bad = sorted(n for n in imports(path) if under(n, UPPER))
    assert not bad, f"{path.relative_to(ROOT)} imports {bad}"


@pytest.mark.parametrize("package, other", [("baselines", "reclora"), ("reclora", "baselines")])
def test_model_packages_never_start_runs_nor_import_each_other(package, other):
    for path in sorted((ROOT / package).rglob("*.py")):
        bad = sorted(n for n in imports(path) if under(n, ("recbench.runner", "recbench.tuning", "recbench.suites", other, "cli")))
        assert not bad, f"{path.relative_to(ROOT)} imports {bad}"


def test_reclora_neither_starts_runs_nor_reads_the_store():
    """Its CRM is a declared prerequisite: the run layer resolves it, reclora/ only receives it."""
    for path in sorted((ROOT / "reclora").rglob("*.py")):
        bad = sorted(n for n in imports(path) if under(n, ("recbench.runner", "recbench.runstore", "recbench.prerequisite_runs")))
        assert not bad, f"{path.relative_to(ROOT)} imports {bad}"


@pytest.mark.parametrize("name", REPORT)
def test_report_modules_are_handed_their_suite(name):
    """Suites sit above the report layer: no report module imports one, bar the single lazy default."""
    path = ROOT / "recbench" / f"{name}.py"
    assert not any(under(n, ("recbench.suites.reclora",)) for n in imports(path)), f"{name} imports the RecLoRA suite"
    upward = sorted(n for n in runtime_imports(path) if under(n, ("recbench.suites", "cli", *CLI)))
    allowed = ["recbench.suites"] if name == "run_selection" else []
    assert upward == allowed, f"recbench/{name}.py imports {upward}"


def test_the_default_suite_is_reached_lazily_in_one_function():
    tree = ast.parse((ROOT / "recbench" / "run_selection.py").read_text())
    top = [n for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))]
    assert not any(isinstance(n, ast.ImportFrom) and under(n.module or "", ("recbench.suites",)) for n in top)
    holders = [f.name for f in ast.walk(tree) if isinstance(f, ast.FunctionDef)
               and any(isinstance(n, ast.ImportFrom) and under(n.module or "", ("recbench.suites",)) for n in ast.walk(f))]  # fmt: skip
    assert holders == ["suite_or_default"]


def test_suites_sit_below_the_cli():
    for path in sorted((ROOT / "recbench" / "suites").rglob("*.py")):
        bad = sorted(n for n in imports(path) if under(n, CLI))
        assert not bad, f"{path.relative_to(ROOT)} imports {bad}"
