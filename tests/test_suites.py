"""A suite is data: a toy suite declared here (DIN as the reference, two ID models) renders its own
Table 2 and Table 3 and plans its own runs, through the same code as the RecLoRA paper, and the
CLI picks it with ``--suite``; unknown suites are one-line errors naming the known ones."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from cli import app
from recbench.errors import RecbenchError
from recbench.metrics import evaluate
from recbench.paper_tables import table2
from recbench.render import render_tables
from recbench.runstore import RunStore
from recbench.studies import plan_main, plan_study
from recbench.study_tables import table3
from recbench.suites import SUITES, Group, Suite, Variant, VariantTable, get_suite, register_suite

TOY = Suite(
    "toy", "a toy comparison of two sequence models",
    groups=(Group("Counting", ("user-mean",), "reference"), Group("Sequence models", ("din", "sim"), "id")),
    reference="din", floor="user-mean", datasets=("synth",), studies=("ablation",),
    ablation=VariantTable("ablation", (Variant("full", "din"), Variant("short history", "din", ("history_length=10",)))),
)  # fmt: skip

LABELS = np.random.default_rng(5).integers(0, 2, 600)
_clock = itertools.count()
runner = CliRunner()


def record_run(store: RunStore, model: str, seed: int, strength: float, study: dict | None = None) -> str:
    """A hand-written ID run on 600 test rows whose probabilities separate the classes by ``strength``."""
    noise = np.random.default_rng(100 * seed + len(model)).normal(0, 1, len(LABELS))
    prob = (1 / (1 + np.exp(-(strength * (LABELS - 0.5) + noise)))).astype(np.float32)
    record = {
        "model": model, "family": "reference" if model == "user-mean" else "id", "purpose": "run", "profile": None,
        "study": study, "dataset": "synth", "dataset_variant": "synth", "protocol_version": 1,
        "fingerprint": {"digest": "e" * 64, "canonical": "yes"}, "seed": seed, "overrides": [],
        "metrics": {"test": evaluate(LABELS, prob)}, "created_at": f"2026-02-01T{next(_clock):08d}",
    }  # fmt: skip
    return store.save(record, {"test_row": np.arange(len(LABELS)), "test_prob": prob, "test_label": LABELS})


@pytest.fixture
def store(tmp_path: Path) -> RunStore:
    store = RunStore(tmp_path / "runs")
    record_run(store, "user-mean", 0, 0.2)
    for seed in (0, 1):
        record_run(store, "din", seed, 3.0)
        record_run(store, "sim", seed, 1.0)
    record_run(store, "deepfm", 0, 1.0)  # in no group of the toy suite: an "Other" row
    return store


@pytest.fixture
def registered():
    register_suite(TOY)
    yield TOY
    SUITES.pop(TOY.name)


def cells(text: str, name: str) -> list[str]:
    line = next(line for line in text.splitlines() if line.startswith("|") and f"| {name} " in line)
    return [cell.strip() for cell in line.strip("|").split("|")]


# --------------------------------------------------------------------------- the suite as data


def test_a_toy_suite_renders_its_own_table2_without_touching_the_harness(store):
    text = render_tables(table2(store, store.records(), suite=TOY), "md")
    assert "RelImpr (DIN over)" in text and "RecLoRA" not in text and "LM-based" not in text
    order = [cells(text, name)[:2] for name in ("User-mean", "DIN", "SIM", "DeepFM")]
    assert order == [["Counting", "User-mean"], ["Sequence models", "DIN"], ["", "SIM"], ["Other", "DeepFM"]]
    din, sim = cells(text, "DIN"), cells(text, "SIM")
    assert "\\*" in din[2]  # DIN beats the best baseline on every seed pair
    assert sim[4].endswith("%") and din[4] == "–"
    assert "Every learned model beats User-mean with p < 0.01 by DeLong." in text
    # the same runs under the RecLoRA suite: its groups, and no RecLoRA run to be the reference
    default = render_tables(table2(store, store.records()), "md")
    assert "| ID-based " in default and "RecLoRA has no run here" in default


def test_a_toy_suite_plans_and_renders_its_own_variant_table(store):
    plan = plan_study("ablation", "synth", profile="cpu", seeds=[0], suite=TOY)
    assert [(r.model, r.study["variant"], r.overrides) for r in plan] == [
        ("din", "full", ()), ("din", "short history", ("history_length=10",))]  # fmt: skip
    assert [r.model for r in plan_main("synth", "cpu", seeds=[0], suite=TOY)] == ["user-mean", "din", "sim"]
    record_run(store, "din", 0, 2.0, study={"name": "ablation", "variant": "short history"})
    (table,) = table3(store, store.records(), suite=TOY)
    text = render_tables([table], "md")
    assert cells(text, "DIN")[0] == "DIN" and cells(text, "DIN (short history)")[3].startswith("-")
    assert table3(store, store.records(), suite=Suite("bare", "no ablations", groups=(), reference="din")) == []


def test_get_suite_and_register_suite_errors():
    assert get_suite("reclora").reference == "reclora"
    with pytest.raises(RecbenchError, match=r"^unknown suite 'nope'; known suites: reclora$"):
        get_suite("nope")
    with pytest.raises(RecbenchError, match="suite 'reclora' is registered already"):
        register_suite(Suite("reclora", "another", groups=(), reference="din"))
    with pytest.raises(RecbenchError, match="must list exactly the declared tables' and figures' studies"):
        Suite("odd", "a study nothing declares", groups=(), reference="din", studies=("n_meta",))
    with pytest.raises(RecbenchError, match="kind 'llm'"):
        Group("LMs", ("rella",), "llm")


def test_the_reclora_suite_keeps_the_papers_values():
    suite = get_suite("reclora")
    assert [(g.title, g.kind) for g in suite.groups] == [("Reference", "reference"), ("ID-based", "id"), ("LM-based", "lm")]
    assert suite.models_of("lm") == ("ctr-bert", "tallrec", "rella", "reclora") and suite.floor == "user-mean"
    assert suite.datasets == ("ml-25m", "ml-1m", "goodreads") and suite.profiles == ("cpu", "paper")
    assert suite.studies == ("ablation", "n_meta", "id_history", "sample_size", "time_per_sample")
    assert [f.number for f in suite.figures] == [4, 5, 6] and suite.figure("n_meta").points("paper") == (1, 2, 4, 8, 16)
    assert suite.timing.labels == ("10/-", "30/-", "60/-", "10/30", "10/60")
    assert suite.published.table3["ML-1M"]["w/o meta-LoRA"] == (0.7869, 0.5517)


# --------------------------------------------------------------------------- --suite on the command line


def test_leaderboard_suite_option_renders_and_stamps_the_toy_suite(store, registered, tmp_path):
    base = ["leaderboard", "--store", str(store.root), "--table", "2"]
    result = runner.invoke(app, [*base, "--suite", "toy"])
    assert result.exit_code == 0, result.output
    assert "RelImpr (DIN over)" in result.stdout and "| Sequence models " in result.stdout
    target = tmp_path / "toy.md"
    written = runner.invoke(app, [*base, "--suite", "toy", "-o", str(target)])
    assert written.exit_code == 0, written.output
    assert target.read_text().startswith(f"Generated by `recbench leaderboard --store {store.root} --suite toy --table 2`")
    default = runner.invoke(app, base)
    assert default.exit_code == 0 and "| ID-based " in default.stdout


@pytest.mark.parametrize(
    "args",
    [
        ["leaderboard", "--suite", "nope"],
        ["ablate", "-d", "synth", "--suite", "nope", "--dry-run"],
        ["study", "n_meta", "-d", "synth", "--suite", "nope", "--dry-run"],
        ["reproduce", "--profile", "cpu", "--suite", "nope", "--dry-run"],
    ],
)
def test_an_unknown_suite_is_one_line_naming_the_option(store, args):
    result = runner.invoke(app, [*args, "--store", str(store.root)])
    assert result.exit_code == 2
    assert result.output.startswith("error: --suite nope: unknown suite; choose one of: reclora")
    assert len(result.output.strip().splitlines()) == 1


def test_plan_commands_follow_the_suite(store, registered):
    base = ["--store", str(store.root), "--dry-run"]
    plan = runner.invoke(app, ["reproduce", "--profile", "cpu", "--seeds", "1", "--suite", "toy", *base])
    assert plan.exit_code == 0, plan.output
    assert "5 planned runs: 4 already recorded, 1 to run" in plan.output
    study = runner.invoke(app, ["study", "n_meta", "-d", "synth", "--suite", "toy", *base])
    assert study.exit_code == 2 and "unknown study 'n_meta': suite 'toy' declares no studies (ablations: recbench ablate)" in study.output
    ablate = runner.invoke(app, ["ablate", "-d", "synth", "--suite", "toy", *base])
    assert ablate.exit_code == 0 and "ablation=short history" in ablate.output
