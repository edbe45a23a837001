"""A suite's figures (the RecLoRA paper's Figures 4, 5 and 6) as PNG files, from recorded study runs.

Why from the store: a figure is a view of recorded runs like any table, so it can be redrawn
at any time and always matches the records. Each figure has one panel per dataset variant
(and LM size profile), one line per model, the mean test AUC over seeds with the std over
seeds as error bars. A figure with no recorded runs is skipped with a message: studies are
run one at a time, and a missing one must not stop the others from being drawn.

Points are the recorded test AUCs of the study's runs. Runs of one study and dataset are
planned on the same rows; a panel whose runs were scored on different numbers of test rows
says so in its title instead of silently averaging them.

The figures are suite data (``Suite.figures``, :class:`recbench.suite_parts.Figure`: number,
study, the setting it varies, its values per profile, its models).

Example:
    >>> fig = Figure(4, "n_meta", "N_m", "fig4.png", setting="n_meta", models=("reclora",))
    >>> point_of(RunRecord("r1", "reclora", "ml-1m", overrides=["n_meta=4"], config={"n_meta": 4}), fig)
    4.0
"""

from __future__ import annotations

import textwrap
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from recbench.compare import latest_per_seed
from recbench.run_record import RunRecord, SplitMetrics
from recbench.run_selection import changed_settings, display_name, profile_of, suite_or_default
from recbench.suite_parts import Figure

if TYPE_CHECKING:
    from recbench.suites import Suite


def point_of(record: RunRecord, figure: Figure) -> float | None:
    """The x of ``record`` in ``figure``, or None when it is not one of its points.

    A run tagged with the figure's study is a point. So is any other run of the figure's
    models whose only changed setting is the one the study varies (or none; an override that
    restates a default changes nothing): e.g. the default RecLoRA run is the N_m = 16 point, the
    "w/o meta-LoRA" ablation the N_m = 1 point and Table 4's 10/30 run (``history_length=10
    crm_history_length=30``) Figure 5's ID history 30 point, so no run is made twice.
    """
    if record.study is not None and record.study.name == figure.study:
        return record.study.x
    if record.model not in figure.models or not figure.setting:
        return None
    keys = {text.partition("=")[0] for text in changed_settings(record)}
    if not keys <= {figure.setting}:
        return None
    value = {**(record.train_config or {}), **(record.config or {})}.get(figure.setting)
    return float(value) if isinstance(value, (int, float)) and value > 0 else None


def _series(records: list[RunRecord], figure: Figure) -> dict[tuple, dict[str, dict[float, list[float]]]]:
    """panel -> model -> x -> test AUCs (one per seed, the latest run of each seed)."""
    by_point: dict[tuple, list[RunRecord]] = defaultdict(list)
    for record in records:
        x = point_of(record, figure)
        if x is None:
            continue
        by_point[(record.data_key[:2], profile_of(record), record.model, float(x))].append(record)
    panels: dict[tuple, dict[str, dict[float, list[float]]]] = defaultdict(lambda: defaultdict(dict))
    for (data, profile, model, x), runs in by_point.items():
        aucs = [float(_test(r).auc) for r in latest_per_seed(runs)]
        panels[(data, profile)][model][x] = aucs
    return panels


def _test(record: RunRecord) -> SplitMetrics:
    """A result's test metrics (every run a figure draws is a result: it has them)."""
    assert record.test is not None
    return record.test


def draw_figure(figure: Figure, records: Iterable[RunRecord], out_dir: Path) -> Path | None:
    """Write one figure's PNG; None when no run of its study is recorded."""
    chosen = [r for r in records if r.is_result and point_of(r, figure) is not None]
    panels = _series(chosen, figure)
    if not panels:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    keys = sorted(panels)
    # one colour per model across the panels, so a model reads the same in each of them
    models = sorted({model for key in keys for model in panels[key]})
    cycle = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    colours = {model: cycle[i % len(cycle)] for i, model in enumerate(models)}
    fig, axes = plt.subplots(1, len(keys), figsize=(4.2 * len(keys), 3.6), squeeze=False)
    for ax, key in zip(axes[0], keys):
        (variant, digest), profile = key
        rows = {int(_test(r).rows or 0) for r in chosen
                if r.data_key[:2] == (variant, digest) and profile_of(r) == profile}  # fmt: skip
        for model, points in sorted(panels[key].items()):
            xs = sorted(points)
            means = [float(np.mean(points[x])) for x in xs]
            stds = [float(np.std(points[x], ddof=1)) if len(points[x]) > 1 else 0.0 for x in xs]
            ax.errorbar(xs, means, yerr=stds, marker="o", capsize=3, label=display_name(model), color=colours[model])
        if figure.log_x:
            ax.set_xscale("log", base=2)
        mixed = " (MIXED test-row counts!)" if len(rows) > 1 else ""
        # a drifted profile names its earlier settings at length: wrap it within the panel's width
        ax.set_title(textwrap.fill(f"{variant} [{digest[:8]}], {profile}{mixed}", 52), fontsize=8)
        ax.set_xlabel(figure.xlabel)
        ax.set_ylabel("test AUC")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(f"Figure {figure.number}: AUC vs {figure.xlabel}", fontsize=10)
    fig.tight_layout()
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / figure.filename
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def draw_figures(records: Iterable[RunRecord], out_dir: Path, suite: Suite | None = None) -> tuple[list[Path], list[str]]:
    """Every figure of ``suite`` that has data; returns the written files and one message per skipped figure."""
    records = list(records)
    written, skipped = [], []
    for figure in suite_or_default(suite).figures:
        path = draw_figure(figure, records, out_dir)
        if path is None:
            skipped.append(f"Figure {figure.number} skipped: no recorded runs of study {figure.study!r}")
        else:
            written.append(path)
    return written, skipped
