"""The paper's Tables 2-4: seeds aggregate, only identical test rows are compared
(nested rows restricted by row id, others kept apart), significance marks, ties, missing runs, figures."""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import numpy as np
import pytest

from recbench.compare import RunView, comparable_sets, compare_to_reference, score
from recbench.errors import RecbenchError
from recbench.figures import draw_figures
from recbench.metrics import auc as auc_score
from recbench.metrics import evaluate
from recbench.paper_tables import build_tables, table2
from recbench.study_tables import table3, table4
from recbench.render import render_tables
from recbench.run_record import RunRecord, StudyTag
from recbench.runstore import RunStore


# --------------------------------------------------------------------------- Tables 2-4 on identical rows

N_ROWS = 1000
LABELS = np.random.default_rng(99).integers(0, 2, N_ROWS)
_clock = itertools.count()


def fabricate(store: RunStore, model: str, seed: int, strength: float, *, rows=None, profile="cpu", study=None,
              variant="ml-100k", digest="a" * 64, timings=None, noise_seed=None, labels=None, overrides=(),
              config=None) -> str:  # fmt: skip
    """Save a run whose probabilities separate the classes by ``strength`` (0 = coin flip)."""
    rows = np.arange(N_ROWS) if rows is None else np.asarray(rows)
    y = (LABELS if labels is None else labels)[rows]
    noise = np.random.default_rng(seed if noise_seed is None else noise_seed).normal(0, 1, len(rows))
    prob = (1 / (1 + np.exp(-(strength * (y - 0.5) + noise)))).astype(np.float32)
    lm = model in ("ctr-bert", "tallrec", "rella", "reclora")
    record = {
        "model": model, "family": "lm" if lm else "id", "purpose": "run", "profile": profile if lm else None,
        "study": study, "dataset": variant, "dataset_variant": variant, "protocol_version": 1,
        "fingerprint": {"digest": digest, "canonical": "yes"}, "seed": seed, "overrides": list(overrides),
        "metrics": {"test": evaluate(y, prob)}, "timings": timings or {},
        "created_at": f"2026-01-01T{next(_clock):08d}", **({"config": config} if config is not None else {}),
    }  # fmt: skip
    return store.save(record, {"test_row": rows, "test_prob": prob, "test_label": y})


@pytest.fixture
def store(tmp_path: Path) -> RunStore:
    return RunStore(tmp_path / "runs")


def md(tables) -> str:
    return render_tables(tables, "md")


def row_of(text: str, name: str) -> list[str]:
    line = next(line for line in text.splitlines() if line.startswith("|") and f"| {name} " in line)
    return [cell.strip() for cell in line.strip("|").split("|")]


def plain(cell: str) -> str:
    """The number in a Markdown cell, without bold / underline / star."""
    for token in ("**", "<u>", "</u>", "\\*"):
        cell = cell.replace(token, "")
    return cell.split(" ± ")[0].strip()


def test_clear_winner_gets_a_star_when_delong_and_t_test_agree(store):
    for seed in (0, 1, 2):
        fabricate(store, "reclora", seed, 4.0)
        fabricate(store, "sim", seed, 0.5)
        fabricate(store, "din", seed, 0.3)
    table = table2(store, store.records())[0]  # the LM-profile table (the ID-only one comes last)
    text = md([table])
    assert "**" in row_of(text, "RecLoRA")[2] and "\\*" in row_of(text, "RecLoRA")[2]
    assert "<u>" in row_of(text, "SIM")[2]
    sim = row_of(text, "SIM")
    assert sim[5].endswith("\\*") and sim[6] != "–"  # DeLong and t-test columns both filled
    rec = {r.model: r.test.auc for r in store.records() if r.seed == 0}
    assert rec["reclora"] > 0.9 and rec["sim"] < 0.7


def test_delong_alone_is_not_enough_when_the_seeds_disagree(store):
    # Two matching seeds with very different margins: every DeLong test is overwhelming but the
    # paired t-test over seeds (df = 1) is not, so no star.
    fabricate(store, "reclora", 0, 4.0)
    fabricate(store, "reclora", 1, 1.6)
    fabricate(store, "sim", 0, 0.5)
    fabricate(store, "sim", 1, 0.5)
    table = table2(store, store.records())[0]  # the LM-profile table (the ID-only one comes last)
    text = md([table])
    assert "\\*" not in row_of(text, "RecLoRA")[2]
    assert "does not beat the best baseline significantly" in text


def test_known_significance_against_direct_computation(store):
    a = RunView(RunRecord("a", "a", "synth"), np.arange(N_ROWS), np.where(LABELS == 1, 0.7, 0.3) + 0.01 * np.arange(N_ROWS) / N_ROWS, LABELS)
    b = RunView(RunRecord("b", "b", "synth"), np.arange(N_ROWS), np.random.default_rng(0).random(N_ROWS), LABELS)
    (comp,) = comparable_sets({"a": [a], "b": [b]})
    scored, labels = score(comp)
    sig = compare_to_reference(scored["a"], {"b": scored["b"]}, labels)["b"]
    assert scored["a"].auc_mean == pytest.approx(1.0) and sig.delong_p < 1e-50 and sig.beats
    assert np.isnan(sig.t_p) and sig.t_reason == "fewer than 2 matching seeds"


def test_single_seed_runs_use_delong_only_and_say_so(store):
    fabricate(store, "reclora", 0, 4.0)
    fabricate(store, "sim", 0, 0.5)
    text = md(table2(store, store.records()))
    assert "t-test not applied (fewer than 2 matching seeds), DeLong only: SIM." in text
    assert row_of(text, "SIM")[6] == "–" and "\\*" in row_of(text, "RecLoRA")[2]


def test_ties_share_the_mark_and_earn_no_star(store):
    fabricate(store, "reclora", 0, 2.0, noise_seed=5)
    fabricate(store, "sim", 0, 2.0, noise_seed=5)  # identical predictions
    fabricate(store, "din", 0, 0.5)
    text = md(table2(store, store.records()))
    assert row_of(text, "RecLoRA")[2].startswith("**") and row_of(text, "SIM")[2].startswith("**")
    assert row_of(text, "DIN")[2].startswith("<u>")
    assert "\\*" not in row_of(text, "RecLoRA")[2]
    assert row_of(text, "SIM")[4] == "0.00%" and row_of(text, "SIM")[5] == "1"  # identical models: p = 1


def test_missing_runs_show_a_dash(store):
    fabricate(store, "sim", 0, 1.0)
    fabricate(store, "din", 0, 0.5)
    text = md(table2(store, store.records()))
    assert row_of(text, "DeepFM")[2:4] == ["–", "–"] and row_of(text, "DeepFM")[7] == "0"
    assert "RecLoRA has no run here" in text and "best model, SIM, as the reference" in text


def test_runs_with_changed_settings_are_their_own_rows(store):
    fabricate(store, "sim", 0, 1.0, overrides=("threads=1",))  # placement only: still plain SIM
    fabricate(store, "sim", 1, 1.0)
    fabricate(store, "sim", 0, 0.2, overrides=("item_vectors=lm", "threads=1"))
    text = md(table2(store, store.records()))
    assert row_of(text, "SIM")[-1] == "2"
    assert row_of(text, "SIM [item_vectors=lm]")[-1] == "1"


def test_the_plain_reclora_run_is_table3s_full_row(store):
    fabricate(store, "reclora", 0, 3.0, overrides=("threads=1",))
    fabricate(store, "reclora", 0, 1.0, study={"name": "ablation", "variant": "w/o meta-LoRA"}, overrides=("n_meta=1",))
    (table,) = table3(store, store.records())
    text = md([table])
    assert plain(row_of(text, "RecLoRA")[1]) != "–" and plain(row_of(text, "RecLoRA (w/o meta-LoRA)")[1]) != "–"


def test_a_model_that_beats_nothing(store):
    fabricate(store, "reclora", 0, 0.1)
    fabricate(store, "sim", 0, 2.0)
    fabricate(store, "din", 0, 1.5)
    text = md(table2(store, store.records()))
    assert "RecLoRA is not the best model here (best: SIM)" in text
    assert "RecLoRA beats none of the baselines significantly." in text
    assert row_of(text, "SIM")[4].startswith("-")  # negative RelImpr
    assert "\\*" not in text.split("1. ")[0]


def test_nested_rows_restrict_the_id_models_by_row_id(store):
    fabricate(store, "sim", 0, 1.0)  # all 1000 rows
    fabricate(store, "reclora", 0, 3.0, rows=np.arange(300))
    table = table2(store, store.records())[0]  # the LM-profile table (the ID-only one comes last)
    text = md([table])
    assert "300 common test rows" in text
    assert "Restricted by row id to these 300 rows, with AUC and LogLoss recomputed on them: SIM (1,000 rows)." in text
    sim_record = next(r for r in store.records() if r.model == "sim")
    probs = store.predictions(sim_record.run_id)["test_prob"]
    assert plain(row_of(text, "SIM")[2]) == f"{auc_score(LABELS[:300], probs[:300]):.4f}"
    assert plain(row_of(text, "SIM")[2]) != f"{sim_record.test.auc:.4f}"


def test_rows_that_are_not_nested_never_share_a_table(store):
    fabricate(store, "sim", 0, 1.0)
    fabricate(store, "reclora", 0, 3.0, rows=np.arange(0, 300))
    fabricate(store, "rella", 0, 2.0, rows=np.arange(200, 500))  # overlaps but is not nested
    tables = table2(store, store.records())[:-1]  # the last is the ID models on all their rows
    assert len(tables) == 2
    first, second = sorted((md([t]) for t in tables), key=lambda t: row_of(t, "RecLoRA")[2] == "–")
    assert row_of(first, "ReLLa")[2] == "–" and row_of(first, "RecLoRA")[2] != "–"
    assert row_of(second, "RecLoRA")[2] == "–" and row_of(second, "ReLLa")[2] != "–"
    assert all("1 other test-row set(s) that are disjoint from or not nested" in t for t in (first, second))


def test_different_data_or_profiles_are_separate_tables(store):
    fabricate(store, "sim", 0, 1.0)
    fabricate(store, "sim", 0, 1.0, digest="b" * 64)
    fabricate(store, "reclora", 0, 3.0, profile="cpu")
    fabricate(store, "reclora", 0, 3.0, profile="paper")
    titles = [t.title for t in table2(store, store.records())]
    assert titles == ["Table 2 — ml-100k (cpu profile)", "Table 2 — ml-100k (paper profile)", "Table 2 — ml-100k", "Table 2 — ml-100k"]


def test_labels_that_disagree_are_an_error(store):
    fabricate(store, "sim", 0, 1.0)
    fabricate(store, "din", 0, 1.0, labels=1 - LABELS)
    with pytest.raises(RecbenchError, match="disagree on the labels"):
        table2(store, store.records())


def test_rerun_of_a_seed_replaces_the_earlier_one(store):
    fabricate(store, "sim", 0, 0.1)
    fabricate(store, "sim", 0, 3.0)
    text = md(table2(store, store.records()))
    assert row_of(text, "SIM")[7] == "1" and float(plain(row_of(text, "SIM")[2])) > 0.8


def test_formats_spell_the_marks_their_own_way(store):
    for seed in (0, 1, 2):
        fabricate(store, "reclora", seed, 4.0)
        fabricate(store, "sim", seed, 0.5)
        fabricate(store, "din", seed, 0.2)
    tables = table2(store, store.records(), paper=True)
    latex = render_tables(tables, "latex")
    assert r"\textbf{" in latex and r"\underline{" in latex and "$^{*}$" in latex and "paper ML-1M AUC" in latex
    html = render_tables(tables, "html")
    assert "<b>" in html and "<u>" in html and "<sup>*</sup>" in html
    csv_text = render_tables(tables, "csv")
    header = csv_text.splitlines()[0].split(",")
    assert header[:3] == ["table", "Group", "Model"] and "AUC mark" in header and "AUC std" in header
    rec = next(line for line in csv_text.splitlines() if ",RecLoRA," in line)
    assert "best*" in rec and "**" not in rec


def test_paper_numbers_are_labelled_and_marked_as_other_data(store):
    fabricate(store, "reclora", 0, 3.0)
    text = md(table2(store, store.records(), paper=True))
    assert row_of(text, "RecLoRA")[-2:] == ["0.8141", "0.5248"]
    assert "other data than ml-100k, shown for orientation only" in text


def test_table3_reldecr_against_full(store):
    for variant, strength in [("full", 3.0), ("w/o meta-LoRA", 1.0), ("w/o long retriever", 2.0)]:
        fabricate(store, "reclora", 0, strength, study={"name": "ablation", "variant": variant}, noise_seed=1)
    (table,) = table3(store, store.records(), paper=True)
    text = md([table])
    full, meta = row_of(text, "RecLoRA"), row_of(text, "RecLoRA (w/o meta-LoRA)")
    expected = (float(plain(meta[1])) - float(plain(full[1]))) / float(plain(full[1]))
    assert full[1].startswith("**") and meta[3] == f"{expected * 100:+.2f}%"
    assert row_of(text, "RecLoRA (w/o short retriever)")[1] == "–"
    assert row_of(text, "RecLoRA (w/o meta-LoRA)")[-3:] == ["0.7869", "0.5517", "-3.34%"]


def test_table4_improvements_and_time_increases(store):
    cases = [("rella", "10/-", 1.0, 1.0), ("rella", "60/-", 1.2, 4.0), ("reclora", "10/60", 2.0, 1.1)]
    for model, variant, strength, seconds in cases:
        timings = {"train_seconds_per_sample": seconds, "infer_seconds_per_sample": seconds / 2}
        fabricate(store, model, 0, strength, study={"name": "time_per_sample", "variant": variant}, timings=timings)
    text = md(table4(store, store.records(), paper=True))
    assert row_of(text, "ReLLa")[:3] == ["ReLLa", "10", "–"]
    rows = [[c.strip() for c in line.strip("|").split("|")] for line in text.splitlines() if line.startswith("| ")]
    long_text = next(line for line in text.splitlines() if "| 60 " in line)
    assert "+300.00%" in long_text and "| 4.00 " in long_text
    missing, full = (next(r for r in rows if r[:3] == ["RecLoRA", "10", n]) for n in ("30", "60"))
    assert missing[3] == "–" and missing[-4] == "0"
    assert full[1:3] == ["10", "60"] and full[6] == "+10.00%" and full[-3:] == ["0.7989", "1.45", "0.65"]


def test_build_tables_rejects_an_unknown_table(store):
    with pytest.raises(RecbenchError, match="--table 5: expected 2, 3, 4, claims or all"):
        build_tables(store, [], "5")


def test_figures_are_written_and_empty_ones_skipped(store, tmp_path):
    for k, strength in [(1, 1.0), (4, 2.0), (16, 3.0)]:
        fabricate(store, "reclora", 0, strength, study={"name": "n_meta", "x": k})
    for n in (30, 1024):
        for model in ("reclora", "rella"):
            fabricate(store, model, 0, 1.0 + n / 1000, study={"name": "sample_size", "x": n})
    written, skipped = draw_figures(store.records(), tmp_path / "figs")
    assert [p.name for p in written] == ["fig4_n_meta.png", "fig6_sample_size.png"]
    assert all(p.read_bytes()[:4] == b"\x89PNG" for p in written)
    assert skipped == ["Figure 5 skipped: no recorded runs of study 'id_history'"]


def test_figure_points_reuse_runs_that_vary_only_the_studied_setting():
    from recbench.figures import point_of
    from recbench.suites import get_suite

    FIGURES = get_suite("reclora").figures
    fig4 = FIGURES[0]
    default = RunRecord("r1", "reclora", "ml-1m", overrides=("threads=1",), config={"n_meta": 16})
    ablated = RunRecord("r2", "reclora", "ml-1m", overrides=("n_meta=1",), config={"n_meta": 1},
                        study=StudyTag("ablation", variant="w/o meta-LoRA"))  # fmt: skip
    other = RunRecord("r3", "reclora", "ml-1m", overrides=("crm_history=recent",), config={"n_meta": 16})
    tagged = RunRecord("r4", "reclora", "ml-1m", overrides=("n_meta=4",), study=StudyTag("n_meta", x=4))
    assert [point_of(r, fig4) for r in (default, ablated, other, tagged)] == [16.0, 1.0, None, 4]
    zero_shot = RunRecord("r5", "rella", "ml-1m", overrides=("n_train=0",), train_config={"n_train": 0})
    assert point_of(zero_shot, FIGURES[2]) is None
    table4_row = RunRecord("r6", "reclora", "ml-1m", overrides=("history_length=10", "crm_history_length=30"),
                           config={"history_length": 10, "crm_history_length": 30},
                           study=StudyTag("time_per_sample", variant="10/30"))  # fmt: skip
    assert point_of(table4_row, FIGURES[1]) == 30.0


def test_an_override_that_restates_the_default_is_not_a_new_row(store):
    fabricate(store, "din", 0, 1.0)
    fabricate(store, "din", 1, 1.0, overrides=("history_length=60",))  # 60 is DIN's default
    text = md(table2(store, store.records()))
    assert row_of(text, "DIN")[-1] == "2" and "DIN [" not in text
